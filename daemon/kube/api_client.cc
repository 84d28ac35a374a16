#include "daemon/kube/api_client.h"

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "daemon/files/text_file.h"

namespace evictd::kube {
namespace {

// A service account token is a JWT of a few kilobytes.
constexpr size_t kMaxTokenBytes = 64 << 10;

size_t append(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

size_t capture_retry_after(char* data, size_t size, size_t count, void* out) {
  std::string_view line(data, size * count);
  constexpr std::string_view kHeader = "retry-after:";
  if (line.size() > kHeader.size()) {
    std::string lower(line.substr(0, kHeader.size()));
    for (auto& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kHeader) {
      std::string value(line.substr(kHeader.size()));
      while (!value.empty() &&
             (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
        value.pop_back();
      while (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      *static_cast<std::string*>(out) = value;
    }
  }
  return size * count;
}

// libcurl's progress callback, called about once a second even when no data flows: a non-zero
// return aborts the transfer, so that cancel() ends a quiet watch or a slow request.
int abort_when_cancelled(void* cancelled, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(cancelled)->load() ? 1 : 0;
}

bool retryable(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

}  // namespace

ApiClient::ApiClient(ApiClientConfig config) : config_(std::move(config)) {
  static CurlGlobal global;
  handle_ = curl_easy_init();
}

ApiClient::~ApiClient() {
  if (handle_ != nullptr)
    curl_easy_cleanup(handle_);
}

std::string ApiClient::bearer_token() {
  if (config_.credentials.token_file.empty())
    return config_.credentials.token;
  // Service account tokens rotate: re-read the file whenever it changed.
  std::error_code error;
  const auto mtime = std::filesystem::last_write_time(config_.credentials.token_file, error);
  if (!error && (token_.empty() || mtime != token_mtime_)) {
    // A file that cannot be read keeps the last token; the API server says 401 if it is stale.
    auto text = files::read_text_file(config_.credentials.token_file, kMaxTokenBytes);
    if (!text)
      return token_;
    token_ = std::move(*text);
    while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r'))
      token_.pop_back();
    token_mtime_ = mtime;
  }
  return token_;
}

void ApiClient::configure(CURL* handle, curl_slist** headers, const std::string& content_type) {
  const ApiCredentials& c = config_.credentials;
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, abort_when_cancelled);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &cancelled_);
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, config_.user_agent.c_str());
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!c.ca_file.empty())
    curl_easy_setopt(handle, CURLOPT_CAINFO, c.ca_file.c_str());
  if (!c.ca_data.empty()) {
    curl_blob blob{const_cast<char*>(c.ca_data.data()), c.ca_data.size(), CURL_BLOB_COPY};
    curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!c.client_cert_file.empty())
    curl_easy_setopt(handle, CURLOPT_SSLCERT, c.client_cert_file.c_str());
  if (!c.client_key_file.empty())
    curl_easy_setopt(handle, CURLOPT_SSLKEY, c.client_key_file.c_str());
  if (!c.client_cert_data.empty()) {
    curl_blob blob{const_cast<char*>(c.client_cert_data.data()), c.client_cert_data.size(),
                   CURL_BLOB_COPY};
    curl_easy_setopt(handle, CURLOPT_SSLCERT_BLOB, &blob);
    curl_easy_setopt(handle, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!c.client_key_data.empty()) {
    curl_blob blob{const_cast<char*>(c.client_key_data.data()), c.client_key_data.size(),
                   CURL_BLOB_COPY};
    curl_easy_setopt(handle, CURLOPT_SSLKEY_BLOB, &blob);
    curl_easy_setopt(handle, CURLOPT_SSLKEYTYPE, "PEM");
  }
  *headers = curl_slist_append(*headers, "Accept: application/json");
  if (!content_type.empty())
    *headers = curl_slist_append(*headers, ("Content-Type: " + content_type).c_str());
  const std::string token = bearer_token();
  if (!token.empty())
    *headers = curl_slist_append(*headers, ("Authorization: Bearer " + token).c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, *headers);
}

Result<HttpResponse> ApiClient::once(CURL* handle, const std::string& verb, const std::string& path,
                                     const std::string& body, const std::string& content_type) {
  curl_easy_reset(handle);  // keeps the connection cache, clears the previous request's options
  curl_slist* headers = nullptr;
  configure(handle, &headers, content_type);
  HttpResponse response;
  const std::string url = config_.credentials.server + path;
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, verb.c_str());
  if (!body.empty() || verb == "POST" || verb == "PATCH") {
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(config_.timeout.count() / 1'000'000));
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, capture_retry_after);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &response.retry_after);
  const CURLcode code = curl_easy_perform(handle);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    Error error;
    error.message = curl_easy_strerror(code);
    error.code = -static_cast<int>(code);  // transport failures are negative
    return error;
  }
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

void ApiClient::cancel() {
  std::lock_guard lock(cancel_mutex_);
  cancelled_ = true;
  cancel_wake_.notify_all();
}

void ApiClient::wait_before_retry(Nanos wait) {
  std::unique_lock lock(cancel_mutex_);
  cancel_wake_.wait_for(lock, wait, [this] { return cancelled_.load(); });
}

Result<HttpResponse> ApiClient::call(const std::string& what, const std::string& verb,
                                     const std::string& path, const std::string& body,
                                     const std::string& content_type,
                                     std::initializer_list<long> accepted) {
  std::lock_guard lock(mutex_);
  thread_local std::mt19937_64 random(std::random_device{}());
  std::string last;
  attempts_ = 0;
  for (int attempt = 0; attempt < config_.max_attempts; ++attempt) {
    if (cancelled_)
      return make_error(what + ": not sent: evictd is stopping" +
                        (last.empty() ? "" : " (last attempt: " + last + ")"));
    ++attempts_;
    auto response = once(handle_, verb, path, body, content_type);
    Nanos wait{0};
    if (!response) {
      // Certificate problems will not fix themselves: report at once.
      if (response.error().code == -CURLE_PEER_FAILED_VERIFICATION ||
          response.error().code == -CURLE_SSL_CACERT_BADFILE ||
          response.error().code == -CURLE_SSL_CERTPROBLEM) {
        Error error = response.error();
        error.message = what + ": TLS: " + error.message;
        return error;
      }
      last = response.error().message;
    } else {
      const long status = response->status;
      if ((status >= 200 && status < 300) ||
          std::find(accepted.begin(), accepted.end(), status) != accepted.end()) {
        return response;
      }
      if (status == 401 || status == 403) {
        Error error;
        error.message = what + ": " + std::to_string(status) +
                        (status == 401 ? " Unauthorized" : " Forbidden") +
                        " (check the credentials and the RBAC rules in deploy/)";
        error.code = static_cast<int>(status);
        return error;
      }
      if (!retryable(status)) {
        Error error;
        error.message =
            what + ": HTTP " + std::to_string(status) + ": " + response->body.substr(0, 300);
        error.code = static_cast<int>(status);
        return error;
      }
      last = "HTTP " + std::to_string(status);
      if (!response->retry_after.empty()) {
        try {
          wait = std::chrono::seconds(std::stol(response->retry_after));
        } catch (...) {
          wait = Nanos{0};
        }
      }
    }
    if (attempt + 1 == config_.max_attempts)
      break;
    if (wait == Nanos{0}) {
      // Exponential backoff with full jitter.
      const Nanos cap = std::min(config_.max_backoff,
                                 config_.initial_backoff * (int64_t{1} << std::min(attempt, 20)));
      wait = Nanos{std::uniform_int_distribution<int64_t>(cap.count() / 2, cap.count())(random)};
    }
    wait_before_retry(
        std::min(wait, std::max(config_.max_backoff, Nanos{std::chrono::seconds(30)})));
  }
  Error error;
  error.message = what + ": gave up after " + std::to_string(attempts_) + " attempts: " + last;
  return error;
}

Result<long> ApiClient::stream(const std::string& what, const std::string& path,
                               const std::function<bool(std::string_view)>& on_line,
                               Nanos timeout) {
  CURL* handle = curl_easy_init();
  curl_slist* headers = nullptr;
  configure(handle, &headers, "");
  const std::string url = config_.credentials.server + path;
  struct Sink {
    std::string pending;
    const std::function<bool(std::string_view)>* on_line;
    bool stopped = false;
  } sink{{}, &on_line};
  auto write = +[](char* data, size_t size, size_t count, void* out) -> size_t {
    auto* s = static_cast<Sink*>(out);
    s->pending.append(data, size * count);
    size_t start = 0;
    for (size_t end; (end = s->pending.find('\n', start)) != std::string::npos; start = end + 1) {
      if (!(*s->on_line)(std::string_view(s->pending).substr(start, end - start))) {
        s->stopped = true;
        return 0;  // abort the transfer
      }
    }
    s->pending.erase(0, start);
    return size * count;
  };
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count() / 1'000'000));
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  const CURLcode code = curl_easy_perform(handle);
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(handle);
  if (code != CURLE_OK && !sink.stopped && status == 0) {
    Error error;
    error.message = what + ": " + curl_easy_strerror(code);
    error.code = -static_cast<int>(code);
    return error;
  }
  if (!sink.pending.empty() && status != 200)
    on_line(sink.pending);  // an error Status body
  return status;
}

}  // namespace evictd::kube
