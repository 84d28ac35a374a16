// Stopping pods through a real containerd (needs root): time from the stop request to the pod's
// last process gone, hard and graceful, over N pods, with containerd's own StopPodSandbox time
// beside it; and the CPU cost to evictd of one discovery + stats round with M pods. Usage (meson
// sets the EVICTD_E2E_* variables for `meson test`; run by hand via scripts/bench cri):
//   cri_bench [pods-per-kind] [pods-for-discovery]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "daemon/cri/runtime_pods.h"
#include "e2e/containerd_harness.h"
#include "report.h"

namespace evictd {
namespace {

using testing_util::ContainerdHarness;
using testing_util::TestContainer;
using testing_util::TestPod;

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

int run(int per_kind, int discovery_pods) {
  ContainerdHarness harness;
  if (auto error = harness.start(); !error.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  cri::PodStopper stopper(harness.client(), false);
  for (const bool hard : {true, false}) {
    std::vector<double> gone_ms;
    std::vector<double> sandbox_ms;
    for (int i = 0; i < per_kind; ++i) {
      TestPod pod;
      pod.name = (hard ? "hard-" : "graceful-") + std::to_string(i);
      pod.tier = "burstable";
      TestContainer container;
      container.name = "app";
      container.mib = 4;
      container.ignore_term = hard;  // a hard stop must not depend on the workload's cooperation
      if (auto error = harness.create_pod(pod, {container}); !error.empty()) {
        std::fprintf(stderr, "%s\n", error.c_str());
        return 1;
      }
      auto pods = cri::discover_pods(harness.client());
      const auto it =
          std::find_if(pods->begin(), pods->end(), [&](const auto& p) { return p.uid == pod.uid; });
      const auto started = std::chrono::steady_clock::now();
      std::thread stop([&] {
        const auto result = stopper.stop(*it, hard ? 1 : 30, hard);
        sandbox_ms.push_back(
            std::chrono::duration<double, std::milli>(result.steps.back().duration).count());
      });
      while (testing_util::processes_in(pod) > 0)
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      gone_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count());
      stop.join();
      (void)harness.client().remove_pod_sandbox(pod.sandbox_id);
    }
    bench::report(hard ? "hard stop: request -> last process gone"
                       : "graceful stop: request -> last process gone",
                  gone_ms, 1);
    bench::report(hard ? "  containerd StopPodSandbox (after hard)"
                       : "  containerd StopPodSandbox (after graceful)",
                  sandbox_ms, 1);
  }
  for (int i = 0; i < discovery_pods; ++i) {
    TestPod pod;
    pod.name = "idle-" + std::to_string(i);
    pod.tier = "besteffort";
    TestContainer container;
    container.name = "app";
    container.mib = 1;
    if (auto error = harness.create_pod(pod, {container}); !error.empty()) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
  }
  std::vector<double> cpu_ms;
  std::vector<double> wall_ms;
  for (int round = 0; round < 20; ++round) {
    const double cpu = cpu_seconds();
    const auto wall = std::chrono::steady_clock::now();
    auto pods = cri::discover_pods(harness.client());
    auto stats = cri::container_stats_by_pod(harness.client());
    if (!pods || !stats || static_cast<int>(pods->size()) < discovery_pods) {
      std::fprintf(stderr, "discovery failed\n");
      return 1;
    }
    cpu_ms.push_back((cpu_seconds() - cpu) * 1000);
    wall_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall).count());
  }
  char what[64];
  std::snprintf(what, sizeof(what), "discovery + stats, %d pods: evictd CPU", discovery_pods);
  bench::report(what, cpu_ms, 1);
  std::snprintf(what, sizeof(what), "discovery + stats, %d pods: wall", discovery_pods);
  bench::report(what, wall_ms, 1);
  return 0;
}

}  // namespace
}  // namespace evictd

int main(int argc, char** argv) {
  return evictd::run(argc > 1 ? std::atoi(argv[1]) : 20, argc > 2 ? std::atoi(argv[2]) : 100);
}
