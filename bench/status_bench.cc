// The status API under an offered load of 1 000 requests/s with 1 000 pods on the node: GetStatus
// and ListPods latency (p50/p99), answered from a snapshot like the daemon's, over the unix
// socket. The CPU the server spends per request is reported beside it.
//   status_bench [SECONDS] [RATE]
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "bench/report.h"
#include "bench/status_load.h"
#include "daemon/status/server.h"
#include "daemon/status/service.h"

namespace {

using namespace evictd;

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// 1 000 pods in three QoS tiers with memory usage, as the loop would publish them.
std::shared_ptr<status::StatusSnapshot> snapshot_with_pods(size_t count) {
  auto view = std::make_shared<model::PodView>();
  view->entries.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    model::PodEntry entry;
    entry.pod.name = "pod-" + std::to_string(i);
    entry.pod.namespace_name = "ns-" + std::to_string(i % 20);
    entry.pod.uid = "uid-" + std::to_string(i);
    entry.pod.priority = static_cast<int32_t>(i % 3) * 1000;
    Container container;
    container.name = "app";
    if (i % 3 != 2)
      container.resources.requests["memory"] =
          Quantity::from_int(static_cast<int64_t>(64 + i % 128) << 20, QuantityFormat::kBinarySI);
    if (i % 3 == 0)
      container.resources.limits = container.resources.requests;
    entry.pod.containers.push_back(container);
    entry.stats.memory_working_set_bytes = static_cast<uint64_t>(32 + (i * 37) % 256) << 20;
    entry.stats.process_count = 1 + i % 7;
    view->entries.push_back(std::move(entry));
  }
  for (const auto& entry : view->entries)
    view->active.push_back({&entry.pod, &entry.stats});
  auto info = std::make_shared<status::DaemonInfo>();
  info->node_name = "bench-node";
  info->version = "bench";
  info->epoch = "bench";
  info->started_at = std::chrono::system_clock::now();
  auto snapshot = std::make_shared<status::StatusSnapshot>();
  snapshot->info = info;
  auto thresholds = std::make_shared<std::vector<Threshold>>();
  for (Signal signal : {Signal::kMemoryAvailable, Signal::kAllocatableMemoryAvailable,
                        Signal::kNodeFsAvailable, Signal::kPidAvailable}) {
    Threshold threshold;
    threshold.signal = signal;
    threshold.value.percentage = 0.1f;
    thresholds->push_back(threshold);
  }
  snapshot->thresholds = thresholds;
  snapshot->notifications = std::make_shared<std::vector<std::string>>();
  snapshot->notification_errors = std::make_shared<std::vector<std::string>>();
  for (Signal signal : {Signal::kMemoryAvailable, Signal::kAllocatableMemoryAvailable,
                        Signal::kNodeFsAvailable, Signal::kPidAvailable})
    snapshot->observations.set(signal, SignalObservation{1 << 30, 8LL << 30, Nanos{0}});
  snapshot->sampled_at = std::chrono::system_clock::now();
  snapshot->pods = view;
  snapshot->pods_at = snapshot->sampled_at;
  return snapshot;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 10;
  const double rate = argc > 2 ? std::atof(argv[2]) : 1000;
  char pattern[] = "/tmp/evictd-status-bench-XXXXXX";
  const std::string directory = mkdtemp(pattern);
  const std::string socket = directory + "/status.sock";
  status::SnapshotBox snapshots;
  snapshots.publish(snapshot_with_pods(1000));
  status::EventHub events;
  status::StatusService service(snapshots, {}, events);
  auto server = status::StatusServer::start(
      status::ServerConfig{.socket_path = socket, .socket_group = "", .tcp_address = ""}, service,
      events);
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().message.c_str());
    return 1;
  }
  std::printf("status API, 1000 pods, %.0f requests/s offered for %d s per call, 4 clients\n", rate,
              seconds);
  for (auto [name, calls] :
       {std::pair{"GetStatus", bench::StatusCalls::kGetStatus},
        std::pair{"ListPods (1000 pods)", bench::StatusCalls::kListPods},
        std::pair{"ListPods, answer unparsed", bench::StatusCalls::kListPodsBytes}}) {
    bench::StatusLoad load("unix:" + socket, rate, 4, calls);
    const double cpu_before = cpu_seconds();
    load.start();
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    load.stop();
    const double cpu = cpu_seconds() - cpu_before;
    const auto ms =
        calls == bench::StatusCalls::kGetStatus ? load.get_status_ms() : load.list_pods_ms();
    bench::report(name, ms, 3);
    std::printf(
        "  answered %zu of %.0f offered (%.0f/s), %d failed; process CPU %.2f s: the clients' "
        "calls and parsing %.2f s, the server %.2f s (%.3f ms per answer)\n",
        ms.size(), load.offered(), static_cast<double>(ms.size()) / seconds, load.failures(), cpu,
        load.client_cpu_seconds(), cpu - load.client_cpu_seconds(),
        (cpu - load.client_cpu_seconds()) * 1000.0 / static_cast<double>(ms.size()));
  }
  (*server)->stop();
  std::filesystem::remove_all(directory);
  return 0;
}
