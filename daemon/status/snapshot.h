// What the status API serves: a snapshot the loop publishes after every round (cheap: the pods and
// thresholds are shared, not copied), so that no status query ever waits on the loop, and the
// eviction history as the executor holds it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "daemon/model/pod_view.h"
#include "ranking/evaluator.h"

namespace evictd::status {

using WallTime = std::chrono::system_clock::time_point;

enum class Mode { kNormal, kStandalone, kDryRun };
inline std::string_view mode_name(Mode mode) {
  return mode == Mode::kNormal ? "normal" : mode == Mode::kStandalone ? "standalone" : "dry-run";
}

// What does not change while the daemon runs.
struct DaemonInfo {
  std::string node_name;
  Mode mode = Mode::kNormal;
  std::string version;
  std::string epoch;  // unique per run
  WallTime started_at;
  std::string cgroup_version;
  std::string cgroup_driver;
  std::string kubepods;
  std::string runtime_endpoint;
  std::string api_server;  // empty: none configured
  Nanos polling_interval{0};
  FilesystemLayout filesystems = FilesystemLayout::kShared;
};

struct ConnectionState {
  bool connected = false;
  WallTime since;
};

struct ConditionSince {
  NodeCondition condition = NodeCondition::kMemoryPressure;
  WallTime since;
};

// The node's CPU and pressure stall information, as the last sample that read them found them
// (every sample that reads the pods does).
struct NodeUsage {
  std::optional<double> cpu_cores;    // in use between the last two readings
  std::optional<double> cpu_seconds;  // cumulative busy time of all CPUs
  int cpus = 0;
  cgroups::Psi cpu_pressure;
  cgroups::Psi memory_pressure;
  cgroups::Psi io_pressure;
  WallTime read_at;
};

struct StatusSnapshot {
  std::shared_ptr<const DaemonInfo> info;
  std::shared_ptr<const std::vector<Threshold>> thresholds;
  bool swap_aware_ranking = false;  // the kubelet's memory signals rank by working set + swap
  std::shared_ptr<const std::vector<std::string>> notifications;
  std::shared_ptr<const std::vector<std::string>> notification_errors;
  std::shared_ptr<const std::vector<std::string>> warnings;  // about the configuration
  ConnectionState runtime;
  ConnectionState api;
  Observations observations;
  Nanos sampled_monotonic{0};  // the loop's clock, to date each observation
  WallTime sampled_at;
  Nanos sample_duration{0};
  std::vector<ConditionSince> conditions;
  std::vector<size_t>
      met;  // indices into `thresholds` met in the last round (before grace periods)
  NodeUsage usage;
  std::shared_ptr<const model::PodView> pods;
  WallTime pods_at;  // when `pods` was read
  int evictions_in_flight = 0;
  int evictions_pending_writes = 0;
  uint64_t evictions_total = 0;
};

// One eviction as the status API shows it.
struct EvictionView {
  ledger::EvictionState state;
  bool in_flight = false;
  bool pending_writes = false;
};
using HistorySource = std::function<std::vector<EvictionView>()>;

// The latest snapshot, swapped under a mutex held for a pointer copy only.
class SnapshotBox {
 public:
  void publish(std::shared_ptr<const StatusSnapshot> snapshot) {
    std::lock_guard lock(mutex_);
    current_.swap(snapshot);
  }
  std::shared_ptr<const StatusSnapshot> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const StatusSnapshot> current_;
};

}  // namespace evictd::status
