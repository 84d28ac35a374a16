// What an idle process costs on this machine before it does any work of its own: the floor under
// evictd's idle CPU figure (docs/benchmarks.md, Idle cost). Each case runs in a child process; the
// parent sums the child's threads' schedstat run times (ns) and voluntary context switches over
// SECONDS after a warm-up.
//
//   idle_floor [SECONDS]
//
// Cases: a loop woken once a second by a timerfd that reads one cgroup file (the least a 1 s poll
// costs); a gRPC sync server with one service on a unix socket, no client; the same server with a
// connected client channel (evictd has both: its status API and its runtime's CRI channel).
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Usage {
  double cpu_ms = 0;
  long wakes = 0;
};

Usage usage_of(pid_t pid) {
  Usage usage;
  std::error_code error;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::ifstream schedstat(task.path() / "schedstat");
    double run_ns = 0;
    if (schedstat >> run_ns)
      usage.cpu_ms += run_ns / 1e6;
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("voluntary_ctxt_switches:"))
        usage.wakes += std::stol(line.substr(24));
    }
  }
  return usage;
}

[[noreturn]] void timerfd_loop() {
  const int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  const itimerspec every_second{{1, 0}, {1, 0}};
  timerfd_settime(timer, 0, &every_second, nullptr);
  const int poll = epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  epoll_ctl(poll, EPOLL_CTL_ADD, timer, &event);
  std::FILE* file = std::fopen("/proc/loadavg", "re");
  const int fd = fileno(file);
  char buffer[128];
  for (;;) {
    epoll_event ready{};
    epoll_wait(poll, &ready, 1, -1);
    uint64_t expirations = 0;
    if (read(timer, &expirations, sizeof expirations) < 0 ||
        pread(fd, buffer, sizeof buffer, 0) < 0)
      std::_Exit(1);
  }
}

[[noreturn]] void idle_grpc_server(bool with_channel, const std::string& socket) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  auto server = builder.BuildAndStart();
  std::shared_ptr<grpc::Channel> channel;
  if (with_channel) {
    channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5)))
      std::_Exit(1);
  }
  for (;;)
    pause();
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 60;
  const std::string socket =
      (std::filesystem::temp_directory_path() / ("idle-floor-" + std::to_string(getpid())))
          .string();
  const std::vector<std::pair<const char*, std::function<void()>>> cases = {
      {"1 Hz timerfd loop, one pread", [] { timerfd_loop(); }},
      {"gRPC sync server, one service, idle", [&] { idle_grpc_server(false, socket); }},
      {"gRPC sync server + connected channel", [&] { idle_grpc_server(true, socket); }},
  };
  std::printf("idle floor over %d s (after 10 s warm-up)\n", seconds);
  for (const auto& [name, body] : cases) {
    std::filesystem::remove(socket);
    const pid_t child = fork();
    if (child == 0) {
      body();
      std::_Exit(0);
    }
    std::this_thread::sleep_for(std::chrono::seconds(10));
    const auto before = usage_of(child);
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    const auto after = usage_of(child);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    const double cpu_ms = after.cpu_ms - before.cpu_ms;
    std::printf("  %-40s CPU %6.2f ms (%5.2f ms per minute), %ld wake-ups\n", name, cpu_ms,
                cpu_ms * 60.0 / seconds, after.wakes - before.wakes);
  }
  std::filesystem::remove(socket);
  return 0;
}
