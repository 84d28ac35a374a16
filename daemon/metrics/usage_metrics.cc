#include "daemon/metrics/usage_metrics.h"

namespace evictd::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;

constexpr std::array<const char*, 3> kResources = {"cpu", "memory", "io"};
constexpr std::array<const char*, 2> kKinds = {"some", "full"};
constexpr std::array<const char*, 3> kWindows = {"10s", "60s", "300s"};

}  // namespace

UsageMetrics::UsageMetrics(prometheus::Registry& registry)
    : node_cpu_(BuildCounter()
                    .Name("evictd_node_cpu_usage_seconds_total")
                    .Help("Busy CPU time of every CPU of the node (/proc/stat), as of the last "
                          "sample that read it.")
                    .Register(registry)),
      node_cpus_(BuildGauge()
                     .Name("evictd_node_cpus")
                     .Help("CPUs online on the node.")
                     .Register(registry)
                     .Add({})),
      stalled_(BuildCounter()
                   .Name("evictd_node_pressure_stalled_seconds_total")
                   .Help("Time in which some (or all non-idle) tasks stalled on the resource, the "
                         "kernel's pressure stall information (/proc/pressure).")
                   .Register(registry)),
      stall_ratio_(BuildGauge()
                       .Name("evictd_node_pressure_stall_ratio")
                       .Help("Share of the last 10, 60 or 300 s in which some (or all non-idle) "
                             "tasks stalled on the resource, as the kernel averages it.")
                       .Register(registry)),
      pod_cpu_(BuildCounter()
                   .Name("evictd_pod_cpu_usage_seconds_total")
                   .Help("CPU time of the pod's cgroup (podMetrics: true).")
                   .Register(registry)),
      pod_memory_(BuildGauge()
                      .Name("evictd_pod_memory_working_set_bytes")
                      .Help("Working set of the pod's cgroup, as the kubelet ranks it "
                            "(podMetrics: true).")
                      .Register(registry)),
      pod_swap_(BuildGauge()
                    .Name("evictd_pod_memory_swap_bytes")
                    .Help("Memory of the pod's cgroup in swap (memory.swap.current; cgroup v2 "
                          "while the node has swap; podMetrics: true).")
                    .Register(registry)) {}

void UsageMetrics::follow(Followed& followed, double total) {
  if (total > followed.last)
    followed.counter->Increment(total - followed.last);
  followed.last = total;
}

void UsageMetrics::node(const NodeUsageFigures& figures) {
  std::lock_guard lock(mutex_);
  if (figures.cpu_seconds) {
    if (node_cpu_seconds_.counter == nullptr)
      node_cpu_seconds_.counter = &node_cpu_.Add({});
    follow(node_cpu_seconds_, *figures.cpu_seconds);
  }
  node_cpus_.Set(figures.cpus);
  for (size_t resource = 0; resource < kResources.size(); ++resource) {
    for (size_t kind = 0; kind < kKinds.size(); ++kind) {
      const auto& line = figures.pressure[resource][kind];
      if (!line)
        continue;
      Followed& stalled = stalled_seconds_[resource][kind];
      auto& ratios = ratios_[resource][kind];
      if (stalled.counter == nullptr) {
        const prometheus::Labels labels = {{"resource", kResources[resource]},
                                           {"kind", kKinds[kind]}};
        stalled.counter = &stalled_.Add(labels);
        for (size_t window = 0; window < kWindows.size(); ++window) {
          prometheus::Labels windowed = labels;
          windowed.emplace("window", kWindows[window]);
          ratios[window] = &stall_ratio_.Add(windowed);
        }
      }
      follow(stalled, static_cast<double>(line->total_us) / 1e6);
      ratios[0]->Set(line->avg10 / 100);
      ratios[1]->Set(line->avg60 / 100);
      ratios[2]->Set(line->avg300 / 100);
    }
  }
}

void UsageMetrics::pods(const std::vector<PodUsageFigures>& pods) {
  std::lock_guard lock(mutex_);
  std::map<std::string, PodSeries> kept;
  for (const auto& figures : pods) {
    auto found = pods_.find(figures.uid);
    PodSeries series;
    if (found != pods_.end()) {
      series = found->second;
      pods_.erase(found);
    }
    update_pod(figures, series);
    kept.emplace(figures.uid, series);
  }
  for (auto& [uid, series] : pods_)
    remove_pod(series);
  pods_ = std::move(kept);
}

void UsageMetrics::update_pod(const PodUsageFigures& figures, PodSeries& series) {
  const auto labels = [&]() -> prometheus::Labels {
    return {{"namespace", figures.namespace_name}, {"pod", figures.name}, {"uid", figures.uid}};
  };
  if (figures.cpu_seconds) {
    // A total that went back is a new cgroup under the same UID: a new series, not a decrease.
    if (series.cpu.counter != nullptr && *figures.cpu_seconds < series.cpu.last) {
      pod_cpu_.Remove(series.cpu.counter);
      series.cpu = {};
    }
    if (series.cpu.counter == nullptr)
      series.cpu.counter = &pod_cpu_.Add(labels());
    follow(series.cpu, *figures.cpu_seconds);
  }
  if (figures.memory_working_set_bytes) {
    if (series.memory == nullptr)
      series.memory = &pod_memory_.Add(labels());
    series.memory->Set(static_cast<double>(*figures.memory_working_set_bytes));
  }
  if (figures.memory_swap_bytes) {
    if (series.swap == nullptr)
      series.swap = &pod_swap_.Add(labels());
    series.swap->Set(static_cast<double>(*figures.memory_swap_bytes));
  }
}

void UsageMetrics::remove_pod(PodSeries& series) {
  if (series.cpu.counter != nullptr)
    pod_cpu_.Remove(series.cpu.counter);
  if (series.memory != nullptr)
    pod_memory_.Remove(series.memory);
  if (series.swap != nullptr)
    pod_swap_.Remove(series.swap);
}

}  // namespace evictd::metrics
