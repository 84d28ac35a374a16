// HTTPS to the Kubernetes API with libcurl: TLS verification always on, connection reuse, timeouts,
// retries with backoff and jitter on 429, 5xx and transport failures (honouring Retry-After), and
// 401/403 reported with the verb and resource, never retried.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "daemon/kube/kubeconfig.h"
#include "ranking/duration.h"
#include "ranking/result.h"

namespace evictd::kube {

struct ApiClientConfig {
  ApiCredentials credentials;
  Nanos timeout = std::chrono::seconds(10);
  int max_attempts = 5;
  Nanos initial_backoff = std::chrono::milliseconds(200);
  Nanos max_backoff = std::chrono::seconds(5);
  std::string user_agent = "evictd/0.1";
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string retry_after;  // the header, when present
};

class ApiClient {
 public:
  explicit ApiClient(ApiClientConfig config);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // One API call with retries. `what` names it for errors ("patch pods/status shop/web"). 2xx and
  // the statuses in `accepted` are returned as responses; others are errors carrying the HTTP code.
  Result<HttpResponse> call(const std::string& what, const std::string& verb,
                            const std::string& path, const std::string& body = "",
                            const std::string& content_type = "",
                            std::initializer_list<long> accepted = {});
  // A streaming GET (watch): `on_line` gets each line; returning false stops. Returns the HTTP
  // status.
  Result<long> stream(const std::string& what, const std::string& path,
                      const std::function<bool(std::string_view)>& on_line, Nanos timeout);

  // For shutdown: ends streams and requests in progress (within about a second), cuts a wait
  // between retries short, and refuses new calls. What was not written waits in the ledger.
  void cancel();
  const std::string& server() const { return config_.credentials.server; }

  int attempts_made() const { return attempts_; }  // of the last call, for tests and metrics

 private:
  Result<HttpResponse> once(CURL* handle, const std::string& verb, const std::string& path,
                            const std::string& body, const std::string& content_type);
  void configure(CURL* handle, curl_slist** headers, const std::string& content_type);
  std::string bearer_token();
  void wait_before_retry(Nanos wait);

  ApiClientConfig config_;
  std::mutex mutex_;
  std::atomic<bool> cancelled_{false};
  std::mutex cancel_mutex_;  // for cancel_wake_ alone: mutex_ is held through a whole call
  std::condition_variable cancel_wake_;
  // one reused handle (and its connections) per client
  CURL* handle_ = nullptr;
  std::string token_;
  std::filesystem::file_time_type token_mtime_{};
  int attempts_ = 0;
};

}  // namespace evictd::kube
