// The node's CPU and pressure stall information on /metrics, and per pod (opt-in: podMetrics) CPU,
// memory and swap: reports beside the eviction metrics, read from the samples that read them. The
// kernel keeps the totals; the counters here follow them by their increase, so a rate() over them
// is the kernel's.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/parse.h"

namespace evictd::metrics {

struct NodeUsageFigures {
  std::optional<double> cpu_seconds;  // cumulative busy time of every CPU
  int cpus = 0;
  // [cpu, memory, io][some, full], as the kernel writes them; absent where it has none.
  std::array<std::array<std::optional<cgroups::PsiLine>, 2>, 3> pressure;
};

struct PodUsageFigures {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::optional<double> cpu_seconds;  // cumulative
  std::optional<uint64_t> memory_working_set_bytes;
  std::optional<uint64_t> memory_swap_bytes;  // while the node has swap (cgroup v2)
};

class UsageMetrics {
 public:
  explicit UsageMetrics(prometheus::Registry& registry);

  void node(const NodeUsageFigures& figures);
  // The per-pod series become these pods': a pod not among them loses its series.
  void pods(const std::vector<PodUsageFigures>& pods);

 private:
  // A counter that follows a total the kernel keeps.
  struct Followed {
    prometheus::Counter* counter = nullptr;
    double last = 0;
  };
  struct PodSeries {
    Followed cpu;
    prometheus::Gauge* memory = nullptr;
    prometheus::Gauge* swap = nullptr;
  };

  static void follow(Followed& followed, double total);
  void update_pod(const PodUsageFigures& figures, PodSeries& series);
  void remove_pod(PodSeries& series);

  prometheus::Family<prometheus::Counter>& node_cpu_;
  prometheus::Gauge& node_cpus_;
  prometheus::Family<prometheus::Counter>& stalled_;
  prometheus::Family<prometheus::Gauge>& stall_ratio_;
  prometheus::Family<prometheus::Counter>& pod_cpu_;
  prometheus::Family<prometheus::Gauge>& pod_memory_;
  prometheus::Family<prometheus::Gauge>& pod_swap_;

  std::mutex mutex_;
  Followed node_cpu_seconds_;
  std::array<std::array<Followed, 2>, 3> stalled_seconds_{};
  std::array<std::array<std::array<prometheus::Gauge*, 3>, 2>, 3> ratios_{};  // …, by window
  std::map<std::string, PodSeries> pods_;                                     // by UID
};

}  // namespace evictd::metrics
