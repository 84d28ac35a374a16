// The loop: woken by a kernel pressure notification, a pod cgroup coming or going, or the poll
// timer, each round samples the node, reconciles the runtime's pods with the cgroups, builds the
// pods' view with their specs, runs the kubelet's decision step (ranking/, pure), reports what
// changed, and hands an eviction to the executor, which acts beside the loop so that sampling never
// stalls. Everything it touches comes in through ports (ports.h): the composition root
// (daemon/node/) gives it the node's real parts, tests give it fakes and a fake clock. At run time
// a misbehaving runtime, API server or cgroup is logged and counted and the loop goes on.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "cgroups/kernel_reserve.h"
#include "daemon/agent/cadence.h"
#include "daemon/agent/membership.h"
#include "daemon/agent/ports.h"
#include "daemon/agent/transitions.h"
#include "daemon/config/config.h"
#include "daemon/log/log.h"
#include "daemon/status/event_hub.h"
#include "daemon/status/snapshot.h"
#include "ranking/evaluator.h"

namespace evictd::metrics {
class Metrics;
}

namespace evictd::agent {

inline constexpr std::chrono::seconds kRuntimeRefreshEvery{10};
inline constexpr std::chrono::seconds kIdleRuntimeRefreshEvery{60};

log::Level log_level(config::LogLevel level);

struct AgentSettings {
  config::Config config;
  FilesystemLayout filesystems = FilesystemLayout::kShared;
  // The node's memory and the kernel's watermarks, for the advice on memory thresholds; unset when
  // /proc could not tell.
  std::optional<cgroups::NodeMemory> node_memory;
  // What the configuration asks of sampling that this node cannot give (memory.pressure without
  // PSI on the kubepods cgroup).
  std::vector<std::string> sampling_warnings;
  // What the status API shows of this daemon; null without a status API.
  std::shared_ptr<const status::DaemonInfo> info;
};

struct AgentPorts {
  Clock& clock;
  NodeSampler& sampler;
  PressureSource& pressure;
  RuntimeView& runtime;
  ResourceReclaimer& reclaimer;
  EvictionSink& evictions;
  Lifecycle& lifecycle;
  ConfigSource& config_source;
  metrics::Metrics& metrics;
  PodSpecs* specs = nullptr;                 // null: standalone, no API server
  ConditionSink* conditions = nullptr;       // null: nodeConditions off
  status::SnapshotBox* snapshots = nullptr;  // null: no status API
  status::EventHub* events = nullptr;        // null: no status API
  model::LimitLookup limits;                 // container memory limits, for rebuilt specs
};

class Agent {
 public:
  Agent(AgentSettings settings, AgentPorts ports);
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs rounds until stop(); returns the process exit code.
  int run();
  // Both may be called from any thread (the signal thread).
  void stop();
  void reload();

  // One round for one wake: what run() does each time the pressure source wakes it.
  void run_round(const cgroups::Wake& wake);

  const Evaluator& evaluator() const { return *evaluator_; }

 private:
  struct Round;

  cgroups::Wake next_wake();
  void apply_reload();
  void note_warnings();
  void adopt(const config::Config& fresh);
  void sample(Round& round);
  void reconcile_runtime(Round& round);
  void refresh_view(Round& round);
  void decide(Round& round);
  void report(Round& round);
  void export_usage(const Round& round);
  void restart_pressure_window_after_relief();
  bool terminated(const model::PodEntry& entry, const model::RuntimeSnapshot& runtime);
  void submit_eviction(Round& round);
  void note_dry_run(const Decision& decision, const Eviction& eviction,
                    const model::PodEntry& entry);
  void log_eviction(const Round& round, const EvictionOrder& order,
                    const model::PodEntry& entry) const;
  void rearm(const Round& round);
  void pace(const Round& round);
  void publish_status(const Round& round);
  void track_connections();
  void housekeeping(const Round& round);
  bool api_evictions() const;

  AgentSettings settings_;
  AgentPorts ports_;
  std::unique_ptr<Evaluator> evaluator_;
  config::SamplingNeeds sampled_;  // what the sampler was started to read
  std::shared_ptr<const std::vector<Threshold>> thresholds_;  // shared with status snapshots
  std::shared_ptr<const std::vector<std::string>> notifications_;
  std::shared_ptr<const std::vector<std::string>> notification_errors_;
  std::shared_ptr<const std::vector<std::string>> warnings_;  // about the configuration
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> reload_requested_{false};

  Cadence cadence_;
  RuntimeMembership membership_;
  ReportedState reported_;
  bool ready_ = false;
  bool sample_again_ = false;  // usage passed a memcg threshold point while it was being armed
  std::optional<Nanos> paced_wait_;  // headroom pacing's bound on the next wait
  std::string last_waiting_;  // the pod whose eviction waits for the previous one, logged once
  std::set<std::string> dry_run_choices_;  // "uid/signal" said in the current run of choices
  bool evicting_ = false;                  // an eviction was submitted and its pod is not yet gone
  std::string last_submitted_;             // the UID of the last pod submitted for eviction
  // Pods evicted and gone, by UID: when they were found gone (the loop's clock).
  std::map<std::string, Nanos> evicted_at_;

  // The last round's pods, shared with the status API, and what they were built from.
  std::shared_ptr<const model::PodView> view_;
  std::shared_ptr<const model::RuntimeSnapshot> view_runtime_;
  WallTime view_at_;
  bool local_storage_limits_ = false;  // some pod has an ephemeral-storage or emptyDir limit

  status::ConnectionState runtime_state_;
  status::ConnectionState api_state_;
  uint64_t evictions_decided_ = 0;
};

}  // namespace evictd::agent
