#include "daemon/metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include "ranking/signal.h"

namespace evictd::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Latencies from 100 µs (a kernel notification) to a minute (a graceful stop).
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,    0.5,    1,     2.5,   5,     10,   30,    60};
const prometheus::Histogram::BucketBoundaries kStopBuckets = {0.05, 0.1, 0.2, 0.3, 0.5, 1,  2,
                                                              5,    10,  20,  30,  60,  120};

prometheus::Histogram& histogram(prometheus::Registry& registry, const std::string& name,
                                 const std::string& help,
                                 const prometheus::Histogram::BucketBoundaries& buckets) {
  return BuildHistogram().Name(name).Help(help).Register(registry).Add({}, buckets);
}

}  // namespace

Metrics::Metrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      pod_status_reason_(BuildGauge()
                             .Name("kube_pod_status_reason")
                             .Help("The pod status reasons of pods this node evicted "
                                   "(as kube-state-metrics reports them).")
                             .Register(*registry_)),
      evictions_(BuildCounter()
                     .Name("evictd_evictions_total")
                     .Help("Pods evicted, by the signal (or local-storage cause) that made evictd "
                           "evict them.")
                     .Register(*registry_)),
      stats_age_(histogram(*registry_, "evictd_eviction_stats_age_seconds",
                           "Age of the observation an eviction was decided on.", kLatencyBuckets)),
      detection_latency_(histogram(*registry_, "evictd_detection_latency_seconds",
                                   "From the wake-up (kernel notification or timer) to the "
                                   "eviction decision.",
                                   kLatencyBuckets)),
      eviction_duration_(histogram(*registry_, "evictd_eviction_duration_seconds",
                                   "From the eviction decision to the pod's processes being gone.",
                                   kStopBuckets)),
      sample_duration_(histogram(*registry_, "evictd_sample_duration_seconds",
                                 "Wall time of one sample of the node and its pods.",
                                 kLatencyBuckets)),
      available_(BuildGauge()
                     .Name("evictd_signal_available")
                     .Help("Available amount of each eviction signal (bytes, inodes or PIDs).")
                     .Register(*registry_)),
      capacity_(BuildGauge()
                    .Name("evictd_signal_capacity")
                    .Help("Capacity of each eviction signal (bytes, inodes or PIDs).")
                    .Register(*registry_)),
      threshold_(BuildGauge()
                     .Name("evictd_eviction_threshold")
                     .Help("Configured eviction thresholds against the current capacity: the "
                           "available amount below which the signal is met.")
                     .Register(*registry_)),
      condition_(BuildGauge()
                     .Name("evictd_node_condition")
                     .Help("Node pressure conditions (1 while the condition holds).")
                     .Register(*registry_)),
      runtime_errors_(BuildCounter()
                          .Name("evictd_runtime_errors_total")
                          .Help("Failed calls to the container runtime.")
                          .Register(*registry_)
                          .Add({})),
      api_errors_(BuildCounter()
                      .Name("evictd_api_errors_total")
                      .Help("Failed calls to the Kubernetes API server.")
                      .Register(*registry_)
                      .Add({})),
      corrections_(BuildCounter()
                       .Name("evictd_eviction_corrections_total")
                       .Help("What the watch after an eviction put right: an evicted pod that ran "
                             "again (restarted), a status changed back (status).")
                       .Register(*registry_)),
      pending_writes_(BuildGauge()
                          .Name("evictd_evictions_pending_writes")
                          .Help("Evictions carried out whose status, Event or deletion waits for "
                                "the API server.")
                          .Register(*registry_)
                          .Add({})),
      memory_locked_(BuildGauge()
                         .Name("evictd_memory_locked_bytes")
                         .Help("Memory evictd locked at start-up so that node-level pressure "
                               "cannot page it out; 0: not locked (no CAP_IPC_LOCK or unlimited "
                               "memlock limit).")
                         .Register(*registry_)
                         .Add({})),
      dry_run_evictions_(BuildCounter()
                             .Name("evictd_dry_run_evictions_total")
                             .Help("Pods a threshold set to dry run would have evicted, by "
                                   "signal (counted once per pod and signal in a row).")
                             .Register(*registry_)),
      stall_ratio_(BuildGauge()
                       .Name("evictd_memory_pressure_stall_ratio")
                       .Help("memory.pressure: the share of its last window during which tasks "
                             "of the kubepods cgroup stalled on memory (0 to 1).")
                       .Register(*registry_)
                       .Add({})),
      stall_threshold_(BuildGauge()
                           .Name("evictd_memory_pressure_threshold_ratio")
                           .Help("memory.pressure thresholds: the stall share above which the "
                                 "signal is met (0 to 1).")
                           .Register(*registry_)),
      cgroup_kills_(BuildCounter()
                        .Name("evictd_cgroup_kills_total")
                        .Help("Hard evictions whose pod was killed through its cgroup because "
                              "the container runtime did not answer in time.")
                        .Register(*registry_)
                        .Add({})),
      usage_(*registry_) {
  BuildGauge()
      .Name("evictd_build_info")
      .Help("evictd's version; always 1.")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
  // Known labels start at 0, so that increase() over them sees the first one.
  for (const char* what : {"restarted", "status"})
    corrections_.Add({{"what", what}});
  size_t index = 0;
  for (const char* name : {"MemoryPressure", "DiskPressure", "PIDPressure"})
    conditions_[index++] = &condition_.Add({{"condition", name}});
}

Metrics::~Metrics() = default;

Result<void> Metrics::serve(const std::string& address) {
  auto server = HttpServer::start(address, [this] { return render(); });
  if (!server)
    return server.error();
  server_ = std::move(server).value();
  return {};
}

void Metrics::cgroup_kill() {
  cgroup_kills_.Increment();
}

void Metrics::memory_locked(int64_t bytes) {
  memory_locked_.Set(static_cast<double>(bytes));
}

std::string Metrics::render() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

void Metrics::pod_evicted(const std::string& namespace_name, const std::string& pod,
                          const std::string& uid, bool disruption_target,
                          std::chrono::system_clock::time_point at) {
  std::lock_guard lock(mutex_);
  if (evicted_.contains(uid))
    return;
  EvictedPod entry;
  entry.last_seen = at;
  std::vector<std::string> reasons = {"Evicted"};
  if (disruption_target)
    reasons.push_back("TerminationByKubelet");
  for (const auto& reason : reasons) {
    auto& gauge = pod_status_reason_.Add(
        {{"namespace", namespace_name}, {"pod", pod}, {"uid", uid}, {"reason", reason}});
    gauge.Set(1);
    entry.gauges.push_back(&gauge);
  }
  evicted_.emplace(uid, std::move(entry));
}

void Metrics::expire(std::chrono::system_clock::time_point now, std::chrono::nanoseconds retention,
                     const std::function<bool(const std::string& uid)>& object_exists) {
  std::lock_guard lock(mutex_);
  for (auto it = evicted_.begin(); it != evicted_.end();) {
    if (object_exists && object_exists(it->first)) {
      it->second.last_seen = now;
      ++it;
      continue;
    }
    if (now - it->second.last_seen < retention) {
      ++it;
      continue;
    }
    for (auto* gauge : it->second.gauges)
      pod_status_reason_.Remove(gauge);
    it = evicted_.erase(it);
  }
}

size_t Metrics::evicted_pods() const {
  std::lock_guard lock(mutex_);
  return evicted_.size();
}

void Metrics::eviction_decided(const std::string& signal, double stats_age_seconds,
                               double detection_latency_seconds) {
  evictions_.Add({{"signal", signal}}).Increment();
  if (stats_age_seconds >= 0)
    stats_age_.Observe(stats_age_seconds);
  if (detection_latency_seconds >= 0)
    detection_latency_.Observe(detection_latency_seconds);
}

void Metrics::eviction_finished(double seconds) {
  eviction_duration_.Observe(seconds);
}

// memory.pressure is a share of time, not an amount: it has gauges of its own, as ratios.
void Metrics::observe_signals(const Observations& observations,
                              const std::vector<Threshold>& thresholds) {
  if (const auto& stall = observations.get(Signal::kMemoryPressure); stall && stall->capacity > 0)
    stall_ratio_.Set(static_cast<double>(stall->available) / static_cast<double>(stall->capacity));
  for (Signal signal : kAllSignals) {
    const auto& observation = observations.get(signal);
    if (!observation || met_from_above(signal))
      continue;
    const size_t index = signal_index(signal);
    if (available_by_signal_[index] == nullptr) {
      const std::string name(signal_name(signal));
      available_by_signal_[index] = &available_.Add({{"signal", name}});
      capacity_by_signal_[index] = &capacity_.Add({{"signal", name}});
    }
    available_by_signal_[index]->Set(static_cast<double>(observation->available));
    capacity_by_signal_[index]->Set(static_cast<double>(observation->capacity));
  }
  for (const auto& threshold : thresholds) {
    if (threshold.dry_run && !dry_run_known_[signal_index(threshold.signal)]) {
      // At 0 until its first choice, so that increase() sees the first one.
      dry_run_evictions_.Add({{"signal", std::string(signal_name(threshold.signal))}});
      dry_run_known_[signal_index(threshold.signal)] = true;
    }
    if (met_from_above(threshold.signal)) {
      auto& gauge = stall_threshold_by_kind_[threshold.hard() ? 0 : 1];
      if (gauge == nullptr) {
        gauge = &stall_threshold_.Add({{"kind", threshold.hard() ? "hard" : "soft"}});
        evictions_.Add({{"signal", std::string(signal_name(threshold.signal))}});
      }
      gauge->Set(static_cast<double>(threshold.value.percentage));
      continue;
    }
    const auto& observation = observations.get(threshold.signal);
    if (!observation)
      continue;
    const int64_t value =
        threshold.value
            .resolve(Quantity::from_int(observation->capacity, QuantityFormat::kBinarySI))
            .value();
    auto& gauge = threshold_by_signal_[{threshold.signal, threshold.hard()}];
    if (gauge == nullptr) {
      const std::string name(signal_name(threshold.signal));
      gauge = &threshold_.Add({{"signal", name}, {"kind", threshold.hard() ? "hard" : "soft"}});
      evictions_.Add({{"signal", name}});  // at 0 until the first eviction for it
    }
    gauge->Set(static_cast<double>(value));
  }
}

void Metrics::dry_run_eviction(const std::string& signal) {
  dry_run_evictions_.Add({{"signal", signal}}).Increment();
}

void Metrics::node_conditions(bool memory, bool disk, bool pid) {
  conditions_[0]->Set(memory ? 1 : 0);
  conditions_[1]->Set(disk ? 1 : 0);
  conditions_[2]->Set(pid ? 1 : 0);
}

void Metrics::sample_finished(double seconds) {
  sample_duration_.Observe(seconds);
}
void Metrics::runtime_error() {
  runtime_errors_.Increment();
}
void Metrics::api_error() {
  api_errors_.Increment();
}
void Metrics::evictions_pending_writes(size_t count) {
  pending_writes_.Set(static_cast<double>(count));
}
void Metrics::eviction_corrected(const std::string& what) {
  corrections_.Add({{"what", what}}).Increment();
}

}  // namespace evictd::metrics
