// The agent's and the executor's dependencies, each a small interface: the loop runs the same on
// the node's real parts (built by the composition root, daemon/node/) and on the fakes of its
// tests (tests/unit/loop_test.cc). Every port is an abstract class; an optional one is a pointer
// that may be null.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/notifier.h"
#include "cgroups/sampler.h"
#include "daemon/config/config.h"
#include "daemon/cri/runtime_pods.h"
#include "daemon/kube/eviction_writer.h"
#include "daemon/ledger/ledger.h"
#include "daemon/model/pod_view.h"
#include "ranking/evaluator.h"

namespace evictd::agent {

using WallTime = std::chrono::system_clock::time_point;

// Time as the loop and the executor see it. monotonic() is the evaluator's clock (CLOCK_MONOTONIC,
// the clock the notifier stamps its wakes with); wall() dates records and events; sleep_for()
// waits, where a test's clock moves its hands instead.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos monotonic() const = 0;
  virtual WallTime wall() const = 0;
  virtual void sleep_for(Nanos duration) = 0;
};

// The node's cgroups, /proc and filesystems.
class NodeSampler {
 public:
  virtual ~NodeSampler() = default;
  // The round's sample, valid until the next call.
  virtual const cgroups::NodeSample& sample(Nanos now, cgroups::SampleDepth depth) = 0;
  // The node's signals alone, leaving the round's sample as it is (after node-level reclaim).
  virtual Observations observe_node(Nanos now) = 0;
  // Whether pod cgroups came or went since the pods were last read: cheap (link counts) and
  // thorough (a listing).
  virtual bool subdirectories_changed() = 0;
  virtual bool pods_changed() = 0;
  // The memory.pressure window starts over: called once an evicted pod is gone, so that the
  // stall it caused is not charged to the next pod.
  virtual void restart_pressure_window() = 0;
};

// What wakes the loop: the kernel's pressure notifications, pod cgroups coming and going, the poll
// timer, or interrupt().
class PressureSource {
 public:
  virtual ~PressureSource() = default;
  virtual cgroups::Wake wait(std::optional<Nanos> timeout) = 0;
  virtual void interrupt() = 0;
  // Re-places the notifications that depend on the sample; true when usage passed one while it
  // was being armed (the kernel signals later crossings only, so the loop must sample again).
  virtual bool rearm(const cgroups::NodeSample& sample,
                     const std::vector<Threshold>& thresholds) = 0;
  // Whether the kernel signals every hard memory threshold's crossing (v1 memcg thresholds, all
  // armed by the last rearm); the rest are paced (daemon/agent/cadence.h).
  virtual bool hard_memory_crossings_notified() const = 0;
  // One line per notification path and fallback; what could not be armed.
  virtual std::vector<std::string> describe() const = 0;
  virtual std::vector<std::string> errors() const = 0;
};

// The container runtime's pods, refreshed beside the loop.
class RuntimeView {
 public:
  virtual ~RuntimeView() = default;
  virtual std::shared_ptr<const model::RuntimeSnapshot> snapshot() const = 0;
  virtual Nanos age(Nanos now) const = 0;  // since the last successful refresh was asked
  virtual bool connected() const = 0;
  // A refresh in the caller's thread: the listing only, or with the disk stats.
  virtual void refresh_now() = 0;
  virtual void refresh_now_with_stats() = 0;
  // Refreshes beside the loop: once soon, or until these pods are listed (a starting pod).
  virtual void refresh_soon() = 0;
  virtual void expect(std::vector<std::string> uids) = 0;
  virtual void set_interval(Nanos interval) = 0;
};

// Node-level reclaim through the runtime: unused containers and images.
class ResourceReclaimer {
 public:
  virtual ~ResourceReclaimer() = default;
  virtual cri::ReclaimReport reclaim(ReclaimAction action, Nanos now) = 0;
};

// The pods of this node as the API server knows them; absent in standalone mode.
class PodSpecs {
 public:
  virtual ~PodSpecs() = default;
  virtual std::optional<Pod> find(const std::string& uid) const = 0;
  virtual bool connected() const = 0;
};

// An eviction decided by the loop, for the executor.
struct EvictionOrder {
  ledger::Record decision;  // step kDecided, complete
  Nanos decided_at{0};      // Clock::monotonic()
  std::string cgroup;       // the pod's cgroup, relative to the memory hierarchy ("" unknown)
};

// Where the loop hands its eviction: the executor, which acts beside the loop.
class EvictionSink {
 public:
  virtual ~EvictionSink() = default;
  // False (and nothing done) while another eviction is still in flight.
  virtual bool submit(EvictionOrder order) = 0;
  virtual bool busy() const = 0;
  virtual size_t pending() const = 0;  // evictions whose API writes wait
  // Pods whose disruption budget refused an eviction a moment ago.
  virtual std::vector<std::string> refused_pods() const = 0;
};

// The node's pressure conditions in the API server (nodeConditions: true); optional.
class ConditionSink {
 public:
  virtual ~ConditionSink() = default;
  virtual void publish(bool memory, bool disk, bool pid) = 0;
};

// The daemon's life as others watch it: the service manager (READY, STATUS, WATCHDOG, RELOADING,
// STOPPING) and the status API's health.
class Lifecycle {
 public:
  virtual ~Lifecycle() = default;
  // How often the loop must show it is alive; nullopt when nobody watches.
  virtual std::optional<Nanos> watchdog_interval() const = 0;
  virtual void ready(const std::string& status) = 0;
  virtual void status(const std::string& status) = 0;
  virtual void watchdog() = 0;
  virtual void reloading(const std::string& status) = 0;
  virtual void stopping() = 0;
};

// The configuration file, read again on reload.
class ConfigSource {
 public:
  virtual ~ConfigSource() = default;
  virtual Result<config::Config> load() = 0;
  virtual const std::string& path() const = 0;
};

// The runtime as the executor acts on a pod.
class PodRuntime {
 public:
  virtual ~PodRuntime() = default;
  // The pod as the runtime reports it now (nullopt: no ready sandbox with this UID); an error
  // when the runtime cannot be asked.
  virtual Result<std::optional<cri::RuntimePod>> find_pod(const std::string& uid) = 0;
  // The whole pod: its containers, then its sandbox.
  virtual cri::StopReport stop(const cri::RuntimePod& pod, int64_t grace_seconds, bool hard) = 0;
  // The halves, for an eviction beside the kubelet. stop_containers thaws the pod's cgroup
  // (`cgroup` as in EvictionOrder) first where its tasks could not otherwise die or handle the
  // signal, and after.
  virtual cri::StopReport stop_containers(const cri::RuntimePod& pod, int64_t grace_seconds,
                                          bool hard, const std::string& cgroup) = 0;
  virtual cri::StopReport stop_sandbox(const cri::RuntimePod& pod) = 0;
  // Stops the pod's tasks where they are, at once (cgroup freezer); thaw() lets them go on.
  virtual Result<void> freeze(const std::string& cgroup) = 0;
  virtual Result<void> thaw(const std::string& cgroup) = 0;
  // Kills the pod's tasks through its cgroup, without the runtime; the processes found.
  virtual Result<int> kill(const std::string& cgroup) = 0;
  // No ready sandbox and no process left in its cgroup (`cgroup` as in EvictionOrder).
  virtual bool pod_gone(const std::string& uid, const std::string& cgroup) = 0;
};

// A pod's status as evictd's own watch of the API server shows it now.
struct ObservedStatus {
  std::string phase;
  std::string reason;
  std::string message;
  bool deleting = false;
};

// The API server's pods as evictd watches them; absent in standalone mode.
class PodStatusView {
 public:
  virtual ~PodStatusView() = default;
  // nullopt: not in the watch's cache (never listed, or deleted).
  virtual std::optional<ObservedStatus> observed(const std::string& uid) const = 0;
};

// The API server as the executor writes an eviction to it; absent in standalone mode and dry-run.
class EvictionApi {
 public:
  virtual ~EvictionApi() = default;
  virtual Result<void> patch_status(const kube::EvictionRecord& record) = 0;
  virtual Result<void> post_event(const kube::EvictionRecord& record) = 0;
  // DELETE with a grace period and the record's UID as precondition.
  virtual Result<void> delete_pod(const kube::EvictionRecord& record, int64_t grace_seconds) = 0;
  // POST pods/<name>/eviction with the decided grace period.
  virtual Result<kube::ApiEvictionOutcome> evict(const kube::EvictionRecord& record,
                                                 int64_t grace_seconds) = 0;
};

}  // namespace evictd::agent
