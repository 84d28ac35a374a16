// evictctl: asks the node's evictd what it sees, what it would evict next and why, and what it did.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "daemon/cli/typed_command.h"
#include "daemon/evictctl/format.h"
#include "status.grpc.pb.h"

namespace {

using namespace evictd;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kExitDenied = 4;

struct Options {
  std::string socket = "/run/evictd/evictd.sock";
  std::string address;  // host:port instead of the socket
  std::string output = "table";
  double timeout_seconds = 5;
};

std::string json(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  if (pretty && !out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

// The socket's failures, worded for the operator before gRPC words them for a developer.
int check_socket(const Options& options) {
  if (!options.address.empty())
    return 0;
  struct stat status {};
  if (stat(options.socket.c_str(), &status) != 0) {
    if (errno == EACCES) {
      std::cerr << "evictctl: access denied to " << options.socket
                << ": its directory is not open to you (the socket's group can reach it)\n";
      return kExitDenied;
    }
    std::cerr << "evictctl: evictd is not running here: no socket at " << options.socket
              << " (statusSocket in evictd's configuration; --socket to choose another)\n";
    return kExitUnreachable;
  }
  if (!S_ISSOCK(status.st_mode)) {
    std::cerr << "evictctl: " << options.socket << " is not a socket\n";
    return kExitError;
  }
  if (access(options.socket.c_str(), R_OK | W_OK) != 0) {
    std::cerr << "evictctl: access denied to " << options.socket << ": " << std::strerror(errno)
              << " (the socket is mode 0660; join its group, gid " << status.st_gid
              << ", or run as root)\n";
    return kExitDenied;
  }
  return 0;
}

int report(const grpc::Status& status, const Options& options) {
  const std::string where = options.address.empty() ? options.socket : options.address;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      std::cerr << "evictctl: evictd at " << where
                << " is not available: " << status.error_message() << "\n";
      return kExitUnreachable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      std::cerr << "evictctl: evictd at " << where << " did not answer within "
                << options.timeout_seconds << " s\n";
      return kExitUnreachable;
    case grpc::StatusCode::PERMISSION_DENIED:
      std::cerr << "evictctl: access denied: " << status.error_message() << "\n";
      return kExitDenied;
    default:
      std::cerr << "evictctl: " << status.error_message() << "\n";
      return kExitError;
  }
}

class Client {
 public:
  explicit Client(const Options& options) : options_(options) {
    const std::string target = options.address.empty() ? "unix:" + options.socket : options.address;
    stub_ = v1::Status::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<grpc::ClientContext> context(bool deadline = true) const {
    auto context = std::make_unique<grpc::ClientContext>();
    if (deadline) {
      context->set_deadline(
          std::chrono::system_clock::now() +
          std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
    }
    return context;
  }
  v1::Status::Stub& stub() { return *stub_; }

 private:
  const Options& options_;
  std::unique_ptr<v1::Status::Stub> stub_;
};

int run_status(const Options& options) {
  Client client(options);
  v1::NodeStatus status;
  if (auto result = client.stub().GetStatus(client.context().get(), {}, &status); !result.ok())
    return report(result, options);
  std::cout << (options.output == "json"
                    ? json(status, true) + "\n"
                    : evictctl::format_status(status, std::chrono::system_clock::now()));
  return 0;
}

int run_pods(const Options& options, const std::string& signal) {
  Client client(options);
  v1::ListPodsRequest request;
  request.set_signal(signal);
  v1::ListPodsResponse pods;
  if (auto result = client.stub().ListPods(client.context().get(), request, &pods); !result.ok())
    return report(result, options);
  std::cout << (options.output == "json" ? json(pods, true) + "\n" : evictctl::format_pods(pods));
  return 0;
}

int run_explain(const Options& options, const std::string& pod) {
  const auto slash = pod.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == pod.size()) {
    std::cerr << "evictctl: explain: expected NAMESPACE/NAME, not \"" << pod << "\"\n";
    return kExitUsage;
  }
  Client client(options);
  v1::ExplainRequest request;
  request.set_namespace_(pod.substr(0, slash));
  request.set_name(pod.substr(slash + 1));
  v1::ExplainResponse explanation;
  if (auto result = client.stub().Explain(client.context().get(), request, &explanation);
      !result.ok())
    return report(result, options);
  std::cout << (options.output == "json" ? json(explanation, true) + "\n"
                                         : evictctl::format_explain(explanation));
  return 0;
}

int run_evictions(const Options& options, const std::string& since, int limit) {
  v1::ListEvictionsRequest request;
  if (!since.empty()) {
    const auto from = evictctl::parse_since(since, std::chrono::system_clock::now());
    if (!from) {
      std::cerr << "evictctl: evictions: --since: expected a duration such as 30m, 2h or 7d, or "
                   "an RFC 3339 time, not \""
                << since << "\"\n";
      return kExitUsage;
    }
    *request.mutable_since() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
        std::chrono::duration_cast<std::chrono::nanoseconds>(from->time_since_epoch()).count());
  }
  Client client(options);
  v1::ListEvictionsResponse all;  // every page, in order
  do {
    request.set_page_size(limit > 0 ? std::min(limit - all.evictions_size(), 1000) : 1000);
    v1::ListEvictionsResponse page;
    if (auto result = client.stub().ListEvictions(client.context().get(), request, &page);
        !result.ok())
      return report(result, options);
    all.mutable_evictions()->MergeFrom(page.evictions());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty() && (limit <= 0 || all.evictions_size() < limit));
  std::cout << (options.output == "json" ? json(all, true) + "\n"
                                         : evictctl::format_evictions(all));
  return 0;
}

// watch --resume EPOCH:SEQUENCE: the epoch is evictd's start, the sequence an event's number.
struct ResumePoint {
  std::string epoch;
  uint64_t sequence = 0;
};

std::optional<ResumePoint> parse_resume(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0)
    return std::nullopt;
  ResumePoint point{text.substr(0, colon)};
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  const auto [end, error] = std::from_chars(first, last, point.sequence);
  if (first == last || error != std::errc() || end != last)
    return std::nullopt;
  return point;
}

// Ends a watch on SIGINT or SIGTERM. A signal handler may not cancel a gRPC call (gRPC takes
// locks), so the signals are blocked in every thread — gRPC's inherit the mask, hence this is
// made before the channel — and one thread waits for them and cancels the call in flight.
class WatchStop {
 public:
  WatchStop() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    waiter_ = std::thread([this] {
      int signal = 0;
      sigwait(&signals_, &signal);
      stop();
    });
  }
  ~WatchStop() {
    stop();
    pthread_kill(waiter_.native_handle(), SIGTERM);  // ends its sigwait if no signal came
    waiter_.join();
  }
  WatchStop(const WatchStop&) = delete;
  WatchStop& operator=(const WatchStop&) = delete;

  // The call a signal cancels from now on (nullptr: none); false once stopped.
  bool follow(grpc::ClientContext* context) {
    std::lock_guard lock(mutex_);
    context_ = context;
    return !stopped_;
  }
  // Waits before reconnecting; true when stopped meanwhile.
  bool stopped_within(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    return woken_.wait_for(lock, wait, [this] { return stopped_; });
  }

 private:
  void stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    if (context_ != nullptr)
      context_->TryCancel();
    woken_.notify_all();
  }

  sigset_t signals_{};
  std::mutex mutex_;
  std::condition_variable woken_;
  grpc::ClientContext* context_ = nullptr;
  bool stopped_ = false;
  std::thread waiter_;
};

// Follows the events until SIGINT or SIGTERM; when the stream breaks (evictd restarting),
// reconnects from the last event seen so that nothing is missed that evictd still holds.
int run_watch(const Options& options, const std::string& resume, bool reconnect) {
  WatchStop stop;
  Client client(options);
  v1::WatchRequest request;
  if (const auto point = parse_resume(resume); point) {
    request.set_epoch(point->epoch);
    request.set_after_sequence(point->sequence);
  }
  bool reported_outage = false;
  while (true) {
    auto context = client.context(false);
    if (!stop.follow(context.get()))
      return 0;
    auto reader = client.stub().Watch(context.get(), request);
    v1::Event event;
    while (reader->Read(&event)) {
      request.set_epoch(event.epoch());
      request.set_after_sequence(event.sequence());
      reported_outage = false;
      std::cout << (options.output == "json" ? json(event, false) : evictctl::format_event(event))
                << std::endl;
    }
    const auto status = reader->Finish();
    if (!stop.follow(nullptr))
      return 0;
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED || !reconnect ||
        (status.error_code() != grpc::StatusCode::UNAVAILABLE && !status.ok()))
      return report(status, options);
    // Said once per outage: a restart of evictd may take a while, and each try would repeat it.
    if (!reported_outage) {
      std::cerr << "evictctl: stream ended (" << status.error_message()
                << "); reconnecting from sequence " << request.after_sequence() << "\n";
      reported_outage = true;
    }
    if (stop.stopped_within(std::chrono::seconds(1)))
      return 0;
  }
}

// --limit and --timeout: a count or a time of zero or less would ask for nothing, or give up at
// once.
const CLI::Validator kPositive(
    [](std::string& text) {
      char* end = nullptr;
      const double value = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0' || !(value > 0))
        return "must be positive, not " + text;
      return std::string();
    },
    "POSITIVE");

// --address: the status API has no authentication beyond the socket's permissions, so over TCP it
// is offered, and asked, on loopback only.
const CLI::Validator kLoopback(
    [](std::string& text) {
      for (const char* prefix : {"127.0.0.1:", "[::1]:", "localhost:"}) {
        if (text.starts_with(prefix) && text.size() > std::string_view(prefix).size())
          return std::string();
      }
      return "must be a loopback host:port (127.0.0.1:PORT, [::1]:PORT or localhost:PORT), not " +
             text;
    },
    "HOST:PORT");

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"evictctl: ask evictd what it sees, what it would evict next and why"};
  app.require_subcommand(1);
  // Options may come before or after the subcommand (evictctl status -o json): subcommands made
  // from here on pass the options they do not know to the app.
  app.fallthrough();
  Options options;
  app.add_option("--socket", options.socket, "evictd's status socket")
      ->envname("EVICTD_SOCKET")
      ->capture_default_str();
  app.add_option("--address", options.address, "a loopback host:port instead of the socket")
      ->check(kLoopback);
  app.add_option("-o,--output", options.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout", options.timeout_seconds, "seconds to wait for an answer")
      ->check(kPositive)
      ->capture_default_str();

  auto* status = app.add_subcommand("status", "the node's signals, thresholds and conditions");
  std::string signal;
  auto* pods = app.add_subcommand("pods", "the pods, their usage and eviction rank");
  pods->add_option("--signal", signal, "rank for this signal only (e.g. memory.available)");
  std::string pod;
  auto* explain = app.add_subcommand("explain", "why a pod ranks where it does, or was evicted");
  explain->add_option("pod", pod, "NAMESPACE/NAME")->required();
  std::string since;
  int limit = 0;
  auto* evictions = app.add_subcommand("evictions", "what evictd evicted, newest first");
  evictions->add_option("--since", since, "only since: 30m, 2h, 7d or an RFC 3339 time");
  evictions->add_option("--limit", limit, "at most this many")->check(kPositive);
  std::string resume;
  bool no_reconnect = false;
  auto* watch = app.add_subcommand("watch", "follow pressure and eviction events");
  watch->add_option("--resume", resume, "EPOCH:SEQUENCE of the last event seen")
      ->check(CLI::Validator(
          [](std::string& text) {
            return parse_resume(text) ? std::string()
                                      : "expected EPOCH:SEQUENCE (a number), not \"" + text + "\"";
          },
          ""))
      ->type_name("EPOCH:SEQUENCE");
  watch->add_flag("--no-reconnect", no_reconnect, "stop when the stream ends");

  static constexpr std::string_view kValued[] = {"--socket", "--address", "-o", "--output",
                                                 "--timeout"};
  static constexpr std::string_view kCommands[] = {"status", "pods", "explain", "evictions",
                                                   "watch"};
  if (const auto unknown = cli::unknown_command(argc, argv, kValued, kCommands)) {
    std::cerr << "evictctl: " << *unknown << "\n";
    return kExitUsage;
  }
  // Usage errors exit 2, as documented (CLI11's own codes, 105 and on, say nothing to a script);
  // --help exits 0.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : kExitUsage;
  }
  if (const int failed = check_socket(options); failed != 0)
    return failed;
  if (*status)
    return run_status(options);
  if (*pods)
    return run_pods(options, signal);
  if (*explain)
    return run_explain(options, pod);
  if (*evictions)
    return run_evictions(options, since, limit);
  if (*watch)
    return run_watch(options, resume, !no_reconnect);
  return kExitError;
}
