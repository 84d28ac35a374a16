// One evaluation step of the kubelet's eviction manager (eviction_manager.go synchronize), pure and
// clock-injected: thresholds met (strictly below), min-reclaim for thresholds met before, soft
// grace periods, node conditions held for the transition period, action only on fresh observations,
// local-storage limit evictions, node-level reclaim before evicting for disk, ranking, critical
// pods skipped, at most one pod per pass for thresholds, the kubelet's grace periods and messages.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ranking/message.h"
#include "ranking/rank.h"
#include "ranking/threshold.h"

namespace evictd {

enum class ReclaimAction { kDeleteUnusedContainers, kDeleteUnusedImages };
std::string_view reclaim_action_name(ReclaimAction action);
// kubelet buildSignalToNodeReclaimFuncs: what may be freed for a signal on a layout (none for
// memory).
std::vector<ReclaimAction> reclaim_actions(Signal signal, FilesystemLayout layout);

// The port through which the evaluator frees node-level resources (unused containers and images).
class NodeReclaimer {
 public:
  virtual ~NodeReclaimer() = default;
  // Runs `actions` for `signal` and observes the node again; nullopt when no new observation could
  // be made, in which case pods are evicted as if nothing had been freed.
  virtual std::optional<Observations> reclaim(Signal signal,
                                              std::span<const ReclaimAction> actions) = 0;
};

enum class EvictionCause {
  kThreshold,
  kEmptyDirLimit,
  kPodEphemeralStorageLimit,
  kContainerEphemeralStorageLimit,
};
std::string_view eviction_cause_name(EvictionCause cause);

struct Eviction {
  size_t pod_index = 0;  // into the active pods of the step
  EvictionCause cause = EvictionCause::kThreshold;
  std::optional<Signal> signal;  // for threshold evictions
  int64_t grace_period_seconds = 0;
  std::string message;
  std::map<std::string, std::string> annotations;
  // Threshold evictions set the DisruptionTarget condition (reason TerminationByKubelet); the
  // kubelet's local-storage limit evictions do not.
  bool disruption_target = false;
  // Chosen for a threshold set to dry run: decided and explained, never carried out.
  bool dry_run = false;
};

struct ThresholdState {
  size_t index = 0;  // into Evaluator::thresholds()
  Threshold threshold;
  Quantity
      quantity;  // the threshold against the observed capacity (plus min-reclaim when enforced)
  SignalObservation observation;
  Nanos first_observed_at{0};
};

struct Decision {
  Nanos now{0};
  std::vector<NodeCondition> conditions;       // sorted by name
  std::vector<ThresholdState> crossed;         // met now, before grace periods
  std::vector<ThresholdState> met;             // met after grace periods
  std::vector<ThresholdState> actionable;      // met, with stats newer than the last evaluation
  std::optional<ThresholdState> to_reclaim;    // the threshold acted on
  std::vector<ReclaimAction> reclaim_actions;  // tried before evicting
  bool reclaim_attempted = false;
  bool reclaim_sufficed = false;
  std::optional<Ranking> ranking;
  std::vector<Eviction> evictions;
  std::vector<size_t> skipped_critical;  // pods passed over: critical pods are never evicted
  std::vector<size_t> skipped_refused;   // passed over by a soft threshold: a budget refused it
  std::vector<std::string> notes;        // what happened, one line each, for logs and explanations
};

class Evaluator {
 public:
  // `config` as built by build_eviction_config; containerfs thresholds are derived for `layout`.
  Evaluator(const EvictionConfig& config, FilesystemLayout layout,
            bool local_storage_capacity_isolation = true);

  Decision synchronize(const Observations& observations, std::span<const ActivePod> pods, Nanos now,
                       NodeReclaimer* reclaimer);

  // Whether a step on these observations could rank pods: a threshold is met now, or one met
  // before still is with its minimum reclaim. When not, the pods' usage is not read by the step,
  // and a sampler may skip reading it.
  bool needs_pod_stats(const Observations& observations) const;
  // The thresholds met on these observations (available strictly below the threshold; grace
  // periods and min-reclaim aside), in the order of thresholds().
  std::vector<ThresholdState> met_now(const Observations& observations) const {
    return met_thresholds(all_thresholds_, observations, false);
  }

  const std::vector<Threshold>& thresholds() const { return thresholds_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  FilesystemLayout layout() const { return layout_; }
  bool swap_aware_ranking() const { return swap_aware_ranking_; }
  // Soft evictions: min(evictionMaxPodGracePeriod, terminationGracePeriodSeconds); a negative
  // maximum defers to the pod, as the kubelet's flag documents. Hard evictions: 1 s.
  int64_t grace_period_seconds(const Threshold& threshold, const Pod& pod) const;

 private:
  std::vector<ThresholdState> met_thresholds(std::span<const size_t> indices,
                                             const Observations& observations,
                                             bool enforce_min_reclaim) const;
  void evict_for_local_storage(std::span<const ActivePod> pods, Decision& decision) const;
  bool reclaim_node_resources(const ThresholdState& state, NodeReclaimer* reclaimer,
                              Decision& decision) const;

  std::vector<Threshold> thresholds_;
  std::vector<size_t> all_thresholds_;  // 0..n-1, the indices of every threshold
  std::vector<std::string> warnings_;
  FilesystemLayout layout_;
  Nanos pressure_transition_period_;
  int64_t max_pod_grace_period_seconds_;
  bool swap_aware_ranking_;
  bool local_storage_capacity_isolation_;

  // State carried between steps, as the kubelet's managerImpl keeps it.
  std::map<size_t, Nanos> first_observed_at_;
  std::array<std::optional<Nanos>, kNodeConditionCount> condition_last_observed_at_;
  std::vector<size_t> thresholds_met_;
  Observations last_observations_;
};

}  // namespace evictd
