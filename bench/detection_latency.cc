// Detection latency on a real cgroup v1 memory hierarchy (needs root): from the moment a child
// starts the allocation that crosses a threshold to the moment the loop wakes, with evictd's memcg
// eventfd notification, and beside it with polling every 1 s and 10 s (the kubelet's default
// housekeeping). Figures: docs/benchmarks.md. Usage: detection_latency [crossings] [poll-crossings]
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cgroups/notifier.h"
#include "cgroups/pressure_watch.h"
#include "cgroups/sampler.h"
#include "integration/allocating_child.h"
#include "integration/v1_pod_tree.h"
#include "ranking/evaluator.h"
#include "report.h"

namespace evictd::cgroups {
namespace {

using testing_util::AllocatingChild;
constexpr uint64_t kMiB = 1024 * 1024;

uint64_t read_usage(const std::string& dir) {
  std::ifstream file(dir + "/memory.usage_in_bytes");
  uint64_t value = 0;
  file >> value;
  return value;
}

// Polls usage every `interval` from a random phase, as a polling agent would; returns the
// latencies.
std::vector<double> measure_polling(AllocatingChild& child, const std::string& dir, Nanos interval,
                                    int crossings) {
  std::vector<double> result;
  std::mt19937 random(7);
  for (int i = 0; i < crossings; ++i) {
    const uint64_t threshold = read_usage(dir) + kMiB + kMiB / 2;
    child.allocate(kMiB);
    UniqueFd timer(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
    itimerspec spec{};
    spec.it_interval.tv_sec = interval.count() / 1'000'000'000;
    spec.it_interval.tv_nsec = interval.count() % 1'000'000'000;
    spec.it_value = spec.it_interval;
    timerfd_settime(timer.get(), 0, &spec, nullptr);
    // Cross at a random point of the polling period.
    std::this_thread::sleep_for(std::chrono::nanoseconds(
        std::uniform_int_distribution<int64_t>(0, interval.count() - 1)(random)));
    const int64_t started = child.allocate(kMiB);
    for (;;) {
      uint64_t ticks = 0;
      if (::read(timer.get(), &ticks, sizeof(ticks)) != sizeof(ticks))
        continue;
      if (read_usage(dir) >= threshold) {
        result.push_back(static_cast<double>(testing_util::monotonic_ns() - started) / 1e6);
        break;
      }
    }
  }
  return result;
}

// Crossing -> decision with the daemon's own steps after a notification: a decision sample (node
// and pods), the kubelet's synchronize over the pod, then the thresholds armed again. The bench
// builds kubepods/burstable/pod<uid>/<container> in the memory, pids and cpuacct hierarchies, puts
// the child in the container, and before each crossing sets the kubepods limit so that the derived
// allocatableMemory.available<100Mi point lies 260 KiB above usage. Not here: the daemon's join
// with the runtime's pods (0.03-0.15 ms in the OOM race).
std::vector<double> measure_decision(const CgroupLayout& layout, int crossings) {
  testing_util::V1PodTree tree(layout, "evictd-latency-kubepods-" + std::to_string(getpid()));
  std::vector<double> result;
  {
    AllocatingChild child(tree.container_procs());
    Sampler sampler(layout, tree.sampler_config());
    auto notifier_owner = PressureNotifier::create(std::chrono::seconds(3600));
    if (!notifier_owner) {
      std::fprintf(stderr, "%s\n", notifier_owner.error().message.c_str());
      return result;
    }
    PressureNotifier& notifier = **notifier_owner;
    PressureWatch watch(notifier, sampler);
    const auto eviction = testing_util::hard_memory_100mi_config();
    if (!tree.error().empty() || !child.running() || !eviction) {
      std::fprintf(stderr, "cannot set up the decision measurement: %s\n", tree.error().c_str());
      crossings = 0;
    }
    Evaluator evaluator(eviction ? *eviction : EvictionConfig{}, FilesystemLayout::kShared);
    Pod pod;
    pod.name = "leak";
    pod.uid = testing_util::V1PodTree::kUid;
    pod.status_qos_class = QosClass::kBurstable;
    child.allocate(8 * kMiB);
    const std::string kubepods_dir = layout.memory_root + "/" + tree.kubepods();
    for (int i = 0; i < crossings; ++i) {
      const uint64_t limit = (read_usage(kubepods_dir) + 100 * kMiB + 260 * 1024 + 4095) & ~4095ULL;
      std::ofstream(kubepods_dir + "/memory.limit_in_bytes") << limit;
      if (watch.rearm(sampler.sample(PressureNotifier::monotonic_now(), SampleDepth::kDecision),
                      evaluator.thresholds()) ||
          !watch.errors().empty() || notifier.wait(Nanos{0}).cause != WakeCause::kTimer) {
        std::fprintf(stderr, "the threshold could not be armed above usage\n");
        break;
      }
      const int64_t started = child.allocate(kMiB);
      const Wake wake = notifier.wait(std::chrono::seconds(5));
      if (wake.cause != WakeCause::kMemoryThreshold) {
        std::fprintf(stderr, "no notification within 5 s\n");
        break;
      }
      const NodeSample& sample = sampler.sample(wake.at, SampleDepth::kDecision);
      PodStats stats;
      if (!sample.pods.empty())
        stats.memory_working_set_bytes = sample.pods[0].usage.memory.working_set_bytes;
      const ActivePod active[] = {ActivePod{&pod, &stats}};
      const Decision decision =
          evaluator.synchronize(sample.observations, active, wake.at, nullptr);
      const Nanos decided = PressureNotifier::monotonic_now();
      if (decision.evictions.empty()) {
        std::fprintf(stderr, "crossing %d: no eviction decided\n", i + 1);
        break;
      }
      result.push_back(static_cast<double>(decided.count() - started) / 1e6);
      watch.rearm(sample, evaluator.thresholds());
    }
  }  // the child is gone before the tree is removed
  return result;
}

int run(int crossings, int poll_crossings) {
  std::stringstream mountinfo;
  mountinfo << std::ifstream("/proc/self/mountinfo").rdbuf();
  auto layout = detect_layout(parse_mountinfo(mountinfo.str()));
  if (!layout || layout->memory_root.empty()) {
    std::fprintf(stderr, "needs a cgroup v1 memory hierarchy\n");
    return 1;
  }
  const std::string dir = layout->memory_root + "/evictd-latency-" + std::to_string(getpid());
  if (::mkdir(dir.c_str(), 0755) != 0) {
    std::perror(("mkdir " + dir).c_str());
    return 1;
  }
  std::vector<double> eventfd;
  std::vector<double> decision;
  std::vector<double> poll_1s;
  std::vector<double> poll_10s;
  {
    AllocatingChild child({dir + "/cgroup.procs"});
    if (!child.running())
      return 1;
    child.allocate(8 * kMiB);
    auto notifier_owner = PressureNotifier::create(std::chrono::seconds(3600));
    if (!notifier_owner) {
      std::fprintf(stderr, "%s\n", notifier_owner.error().message.c_str());
      return 1;
    }
    PressureNotifier& notifier = **notifier_owner;
    for (int i = 0; i < crossings; ++i) {
      // Arm just above the current usage (beyond the per-CPU charge batch of 64 pages), then
      // allocate 1 MiB that crosses it within its first quarter.
      const uint64_t threshold = read_usage(dir) + 260 * 1024;
      if (auto armed = notifier.arm_memory_threshold("node", dir, threshold); !armed) {
        std::fprintf(stderr, "%s\n", armed.error().message.c_str());
        return 1;
      }
      if (notifier.wait(Nanos{0}).cause == WakeCause::kMemoryThreshold) {
        std::fprintf(stderr, "threshold fired before the crossing\n");
        return 1;
      }
      const int64_t started = child.allocate(kMiB);
      const Wake wake = notifier.wait(std::chrono::seconds(5));
      if (wake.cause != WakeCause::kMemoryThreshold) {
        std::fprintf(stderr, "no notification within 5 s\n");
        return 1;
      }
      eventfd.push_back(static_cast<double>(wake.at.count() - started) / 1e6);
    }
    decision = measure_decision(*layout, crossings);
    poll_1s = measure_polling(child, dir, std::chrono::seconds(1), poll_crossings);
    poll_10s =
        measure_polling(child, dir, std::chrono::seconds(10), std::max(1, poll_crossings / 2));
  }
  ::rmdir(dir.c_str());
  bench::report("memcg eventfd (evictd)", eventfd, 3);
  bench::report("crossing -> decision (evictd's steps)", decision, 3);
  bench::report("polling every 1 s", poll_1s, 3);
  bench::report("polling every 10 s (kubelet)", poll_10s, 3);
  return 0;
}

}  // namespace
}  // namespace evictd::cgroups

int main(int argc, char** argv) {
  const int crossings = argc > 1 ? std::atoi(argv[1]) : 100;
  const int poll_crossings = argc > 2 ? std::atoi(argv[2]) : 20;
  return evictd::cgroups::run(crossings, poll_crossings);
}
