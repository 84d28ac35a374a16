// Running the evictd binary for end-to-end tests and the demo: its config and log in a directory,
// SIGTERM or SIGKILL, its metrics over HTTP, and the service manager's environment when asked;
// with the small helpers those need (a free port, an HTTP GET, waiting for a condition).
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "read_text.h"

namespace evictd::testing_util {

inline std::string shell(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr)
    return "";
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe))
    output.append(buffer, n);
  pclose(pipe);
  return output;
}

// An environment variable's value, "" when unset (the tests' paths and settings come this way).
inline std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// Plain HTTP GET (metrics, Prometheus); "" when nothing answers.
inline std::string http_get(const std::string& url) {
  CURL* handle = curl_easy_init();
  std::string body;
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(
      handle, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* out) {
        static_cast<std::string*>(out)->append(data, size * count);
        return size * count;
      });
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &body);
  const CURLcode code = curl_easy_perform(handle);
  curl_easy_cleanup(handle);
  return code == CURLE_OK ? body : "";
}

// A call to the test API server's /_test/ controls (TLS, verified against its CA); true on 200.
template <typename Server>
bool api_control(const Server& server, const std::string& verb, const std::string& path,
                 const std::string& body) {
  CURL* handle = curl_easy_init();
  const std::string url = server.url() + path;
  const std::string ca = server.dir() + "/certs/ca.crt";
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_CAINFO, ca.c_str());
  curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, verb.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(
      handle, CURLOPT_WRITEFUNCTION,
      +[](char*, size_t size, size_t count, void*) { return size * count; });
  const CURLcode code = curl_easy_perform(handle);
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(handle);
  return code == CURLE_OK && status == 200;
}

// A pod object for the test API server, as kubectl would show a running pod with one container
// "app": the values are JSON text where the field is JSON (resources, labels, spec_extra).
struct ApiPod {
  std::string name{};
  std::string namespace_name{};
  std::string uid{};
  std::string node{};
  std::string qos_class{};  // Guaranteed, Burstable or BestEffort
  std::string resources = "{}";
  std::string labels = "{}";
  std::map<std::string, std::string> annotations{};
  std::string spec_extra{};  // more fields of the spec, each after a comma: ,"priority":10
};

// The pod's QoS class from its tier in the cgroup tree (TestPod::tier: "" is Guaranteed).
inline std::string qos_class_of(const std::string& tier) {
  return tier.empty() ? "Guaranteed" : tier == "burstable" ? "Burstable" : "BestEffort";
}

inline std::string api_pod_json(const ApiPod& pod) {
  std::string annotations = "{";
  for (const auto& [key, value] : pod.annotations)
    annotations += (annotations.size() > 1 ? ",\"" : "\"") + key + "\":\"" + value + "\"";
  annotations += "}";
  return R"({"metadata":{"name":")" + pod.name + R"(","namespace":")" + pod.namespace_name +
         R"(","uid":")" + pod.uid + R"(","labels":)" + pod.labels + R"(,"annotations":)" +
         annotations + R"(},"spec":{"nodeName":")" + pod.node +
         R"(","terminationGracePeriodSeconds":30,"containers":[{"name":"app","resources":)" +
         pod.resources + "}]" + pod.spec_extra + R"(},"status":{"phase":"Running","qosClass":")" +
         pod.qos_class + R"("}})";
}

inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

inline std::string make_uid() {
  static std::mt19937_64 random(std::random_device{}());
  char text[40];
  std::snprintf(text, sizeof(text), "%08x-0000-4000-8000-%012llx",
                static_cast<unsigned>(random() & 0xffffffff),
                static_cast<unsigned long long>(random() & 0xffffffffffffULL));
  return text;
}

// One evictd process: its config, its log, SIGTERM or SIGKILL.
class Daemon {
 public:
  Daemon(const std::string& dir, const std::string& config_text) : dir_(dir) {
    metrics_port_ = free_port();
    config_ = dir_ + "/evictd-" + std::to_string(metrics_port_) + ".yaml";
    log_ = dir_ + "/evictd-" + std::to_string(metrics_port_) + ".log";
    status_socket_ = dir_ + "/evictd-" + std::to_string(metrics_port_) + ".sock";
    std::ofstream(config_) << config_text << "metricsAddress: 127.0.0.1:" << metrics_port_ << "\n"
                           << "statusSocket: " << status_socket_ << "\n";
  }
  ~Daemon() { stop(SIGTERM); }

  // Runs it as systemd would for Type=notify with WatchdogSec: NOTIFY_SOCKET, WATCHDOG_USEC/PID.
  void notify_to(const std::string& socket_path, int64_t watchdog_usec) {
    notify_socket_ = socket_path;
    watchdog_usec_ = watchdog_usec;
  }
  const std::string& config_path() const { return config_; }
  const std::string& status_socket() const { return status_socket_; }
  pid_t pid() const { return pid_; }

  bool start() {
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 2);
      if (!notify_socket_.empty()) {
        setenv("NOTIFY_SOCKET", notify_socket_.c_str(), 1);
        setenv("WATCHDOG_USEC", std::to_string(watchdog_usec_).c_str(), 1);
        setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
      }
      const char* binary = std::getenv("EVICTD_BINARY");
      execl(binary, "evictd", "run", "--config", config_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return eventually([this] { return !metrics().empty() || exited(); },
                      std::chrono::seconds(15)) &&
           !exited();
  }
  // Returns the exit status (or -1 when it had to be killed).
  int stop(int signal) {
    if (pid_ <= 0)
      return 0;
    kill(pid_, signal);
    int status = 0;
    const bool done = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; },
                                 std::chrono::seconds(10));
    if (!done) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    return done ? status : -1;
  }
  bool exited() {
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return pid_ <= 0;
  }
  std::string metrics() const {
    return http_get("http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics");
  }
  std::string log() const { return read_text(log_); }
  int metrics_port() const { return metrics_port_; }

 private:
  std::string dir_;
  std::string config_;
  std::string log_;
  std::string status_socket_;
  int metrics_port_ = 0;
  pid_t pid_ = -1;
  std::string notify_socket_;
  int64_t watchdog_usec_ = 0;
};

}  // namespace evictd::testing_util
