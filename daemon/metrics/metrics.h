// evictd's Prometheus metrics (prometheus-cpp): what it evicted — kube_pod_status_reason as
// kube-state-metrics derives it from an evicted pod's status and condition — and how well it works:
// evictions by signal, stats age at eviction, detection latency, eviction duration, every signal's
// available and capacity with the thresholds, node conditions, sample duration, runtime and API
// errors, build info; and the node's CPU and pressure (usage_metrics.h). Thread-safe: the loop,
// the eviction executor and scrapes all touch it.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/metrics/http_server.h"
#include "daemon/metrics/usage_metrics.h"
#include "ranking/result.h"
#include "ranking/stats.h"
#include "ranking/threshold.h"

namespace evictd::metrics {

class Metrics {
 public:
  explicit Metrics(const std::string& version);
  ~Metrics();

  // Serves /metrics on `address` ("127.0.0.1:9851"); the error names the address and the reason.
  Result<void> serve(const std::string& address);
  // The text exposition format, as a scrape would get it.
  std::string render() const;

  // An evicted pod: kube_pod_status_reason{reason="Evicted"} (and reason="TerminationByKubelet"
  // when the DisruptionTarget condition was set) become 1. `at` is wall-clock time.
  void pod_evicted(const std::string& namespace_name, const std::string& pod,
                   const std::string& uid, bool disruption_target,
                   std::chrono::system_clock::time_point at);
  // Drops evicted pods whose object is gone (per `object_exists`; always "gone" without an API
  // server) for longer than `retention`.
  void expire(std::chrono::system_clock::time_point now, std::chrono::nanoseconds retention,
              const std::function<bool(const std::string& uid)>& object_exists);
  size_t evicted_pods() const;

  void eviction_decided(const std::string& signal, double stats_age_seconds,
                        double detection_latency_seconds);
  void eviction_finished(double seconds);
  // A threshold set to dry run chose a pod that evictd did not evict.
  void dry_run_eviction(const std::string& signal);
  void observe_signals(const Observations& observations, const std::vector<Threshold>& thresholds);
  void node_conditions(bool memory, bool disk, bool pid);
  void sample_finished(double seconds);
  void runtime_error();
  // A hard eviction's pod killed through its cgroup because the runtime did not answer.
  void cgroup_kill();
  void api_error();
  // The watch after an eviction put something right: `what` is "restarted" (the pod ran again and
  // was stopped again) or "status" (its status was written again).
  void eviction_corrected(const std::string& what);
  // Evictions carried out whose API writes (status, Event, deletion) wait for the API server.
  void evictions_pending_writes(size_t count);
  // What evictd locked in memory at start-up (VmLck); 0 when it could not lock itself.
  void memory_locked(int64_t bytes);
  // The node's CPU and PSI, and the pods' usage when podMetrics asks for it.
  UsageMetrics& usage() { return usage_; }

 private:
  struct EvictedPod {
    std::vector<prometheus::Gauge*> gauges;
    std::chrono::system_clock::time_point last_seen;
  };

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<HttpServer> server_;  // after registry_: stopped before the registry goes
  prometheus::Family<prometheus::Gauge>& pod_status_reason_;
  prometheus::Family<prometheus::Counter>& evictions_;
  prometheus::Histogram& stats_age_;
  prometheus::Histogram& detection_latency_;
  prometheus::Histogram& eviction_duration_;
  prometheus::Histogram& sample_duration_;
  prometheus::Family<prometheus::Gauge>& available_;
  prometheus::Family<prometheus::Gauge>& capacity_;
  prometheus::Family<prometheus::Gauge>& threshold_;
  prometheus::Family<prometheus::Gauge>& condition_;
  prometheus::Counter& runtime_errors_;
  prometheus::Counter& api_errors_;
  prometheus::Family<prometheus::Counter>& corrections_;
  prometheus::Gauge& pending_writes_;
  prometheus::Gauge& memory_locked_;
  prometheus::Family<prometheus::Counter>& dry_run_evictions_;
  prometheus::Gauge& stall_ratio_;
  prometheus::Family<prometheus::Gauge>& stall_threshold_;
  prometheus::Counter& cgroup_kills_;
  UsageMetrics usage_;

  // The per-signal series, looked up once: a round then costs a store per gauge, not a label hash.
  std::array<prometheus::Gauge*, kSignalCount> available_by_signal_{};
  std::array<prometheus::Gauge*, kSignalCount> capacity_by_signal_{};
  std::map<std::pair<Signal, bool>, prometheus::Gauge*> threshold_by_signal_;
  std::array<prometheus::Gauge*, 2> stall_threshold_by_kind_{};  // hard, soft
  std::array<bool, kSignalCount> dry_run_known_{};               // its dry-run counter exists
  std::array<prometheus::Gauge*, 3> conditions_{};

  mutable std::mutex mutex_;
  std::map<std::string, EvictedPod> evicted_;  // by UID
};

}  // namespace evictd::metrics
