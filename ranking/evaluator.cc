#include "ranking/evaluator.h"

#include <algorithm>
#include <numeric>

namespace evictd {
namespace {

constexpr int64_t kImmediateEvictionGracePeriodSeconds = 1;

std::string seconds_text(Nanos duration) {
  return format_go_duration(duration);
}

}  // namespace

std::string_view reclaim_action_name(ReclaimAction action) {
  switch (action) {
    case ReclaimAction::kDeleteUnusedContainers:
      return "deleteUnusedContainers";
    case ReclaimAction::kDeleteUnusedImages:
      return "deleteUnusedImages";
  }
  return "";
}

std::vector<ReclaimAction> reclaim_actions(Signal signal, FilesystemLayout layout) {
  using enum ReclaimAction;
  const auto filesystem = signal_filesystem(signal);
  if (!filesystem)
    return {};
  const bool nodefs = filesystem == Filesystem::kNodeFs;
  const bool imagefs = filesystem == Filesystem::kImageFs;
  switch (layout) {
    case FilesystemLayout::kShared:
      return {kDeleteUnusedContainers, kDeleteUnusedImages};
    case FilesystemLayout::kDedicatedImageFs:
      // nodefs holds only logs and volumes, which nothing at node level can free.
      if (nodefs)
        return {};
      return {kDeleteUnusedContainers, kDeleteUnusedImages};
    case FilesystemLayout::kSplit:
      if (imagefs)
        return {kDeleteUnusedImages};
      return {kDeleteUnusedContainers};
  }
  return {};
}

std::string_view eviction_cause_name(EvictionCause cause) {
  switch (cause) {
    case EvictionCause::kThreshold:
      return "threshold";
    case EvictionCause::kEmptyDirLimit:
      return "emptyDirLimit";
    case EvictionCause::kPodEphemeralStorageLimit:
      return "podEphemeralStorageLimit";
    case EvictionCause::kContainerEphemeralStorageLimit:
      return "containerEphemeralStorageLimit";
  }
  return "";
}

Evaluator::Evaluator(const EvictionConfig& config, FilesystemLayout layout,
                     bool local_storage_capacity_isolation)
    : thresholds_(with_containerfs_thresholds(config.thresholds, layout, &warnings_)),
      layout_(layout),
      pressure_transition_period_(config.pressure_transition_period),
      max_pod_grace_period_seconds_(config.max_pod_grace_period_seconds),
      swap_aware_ranking_(config.swap_aware_ranking),
      local_storage_capacity_isolation_(local_storage_capacity_isolation) {
  all_thresholds_.resize(thresholds_.size());
  std::iota(all_thresholds_.begin(), all_thresholds_.end(), size_t{0});
  warnings_.insert(warnings_.begin(), config.warnings.begin(), config.warnings.end());
}

int64_t Evaluator::grace_period_seconds(const Threshold& threshold, const Pod& pod) const {
  if (threshold.hard())
    return kImmediateEvictionGracePeriodSeconds;
  const int64_t pod_grace = termination_grace_period_seconds(pod);
  if (max_pod_grace_period_seconds_ < 0)
    return pod_grace;
  return std::min(max_pod_grace_period_seconds_, pod_grace);
}

bool Evaluator::needs_pod_stats(const Observations& observations) const {
  return !met_thresholds(all_thresholds_, observations, false).empty() ||
         !met_thresholds(thresholds_met_, observations, true).empty();
}

std::vector<ThresholdState> Evaluator::met_thresholds(std::span<const size_t> indices,
                                                      const Observations& observations,
                                                      bool enforce_min_reclaim) const {
  std::vector<ThresholdState> result;
  for (const size_t index : indices) {
    const Threshold& threshold = thresholds_[index];
    const auto& observed = observations.get(threshold.signal);
    if (!observed)
      continue;
    const QuantityFormat format = observation_format(threshold.signal);
    const Quantity capacity = Quantity::from_int(observed->capacity, format);
    Quantity quantity = threshold.value.resolve(capacity);
    if (enforce_min_reclaim && threshold.min_reclaim) {
      quantity.add(threshold.min_reclaim->resolve(capacity));
    }
    // Met when available is strictly below the threshold (a stall share strictly above it).
    const int order = quantity.compare(Quantity::from_int(observed->available, format));
    if (met_from_above(threshold.signal) ? order < 0 : order > 0) {
      result.push_back(ThresholdState{index, threshold, quantity, *observed, Nanos{0}});
    }
  }
  return result;
}

Decision Evaluator::synchronize(const Observations& observations, std::span<const ActivePod> pods,
                                Nanos now, NodeReclaimer* reclaimer) {
  Decision decision;
  decision.now = now;
  if (thresholds_.empty() && !local_storage_capacity_isolation_)
    return decision;

  std::vector<ThresholdState> crossed = met_thresholds(all_thresholds_, observations, false);
  // Thresholds that drove action before stay met until min-reclaim is satisfied as well.
  for (auto& state : met_thresholds(thresholds_met_, observations, true)) {
    const bool duplicate =
        std::any_of(crossed.begin(), crossed.end(),
                    [&](const ThresholdState& s) { return s.threshold.same_as(state.threshold); });
    if (!duplicate)
      crossed.push_back(std::move(state));
  }

  std::map<size_t, Nanos> first_observed_at;
  for (auto& state : crossed) {
    const auto previous = first_observed_at_.find(state.index);
    state.first_observed_at = previous != first_observed_at_.end() ? previous->second : now;
    first_observed_at.emplace(state.index, state.first_observed_at);
  }

  // Conditions are raised as soon as a threshold is crossed (grace periods do not delay them) and
  // held until none was seen for the whole transition period.
  // A threshold set to dry run changes nothing on the node: it raises no condition either.
  for (const auto& state : crossed) {
    if (state.threshold.dry_run)
      continue;
    condition_last_observed_at_[static_cast<size_t>(signal_condition(state.threshold.signal))] =
        now;
  }
  for (size_t i = 0; i < kNodeConditionCount; ++i) {
    const auto& last = condition_last_observed_at_[i];
    if (last && now - *last < pressure_transition_period_) {
      decision.conditions.push_back(static_cast<NodeCondition>(i));
    }
  }

  std::vector<ThresholdState> met;
  for (const auto& state : crossed) {
    if (now - state.first_observed_at >= state.threshold.grace_period) {
      met.push_back(state);
    } else {
      decision.notes.push_back("threshold " + state.threshold.statement() + " met for " +
                               seconds_text(now - state.first_observed_at) + " of its " +
                               seconds_text(state.threshold.grace_period) + " grace period");
    }
  }
  std::sort(met.begin(), met.end(),
            [](const ThresholdState& a, const ThresholdState& b) { return a.index < b.index; });

  first_observed_at_ = std::move(first_observed_at);
  thresholds_met_.clear();
  for (const auto& state : met)
    thresholds_met_.push_back(state.index);

  // Act only on signals observed after the previous evaluation, so one sample never evicts twice.
  for (const auto& state : met) {
    const auto& last = last_observations_.get(state.threshold.signal);
    const auto& time = state.observation.time;
    if (!time || !last || !last->time || *time > *last->time) {
      decision.actionable.push_back(state);
    } else {
      decision.notes.push_back("threshold " + std::string(signal_name(state.threshold.signal)) +
                               " met, but its observation is not newer than the last one");
    }
  }
  last_observations_ = observations;
  decision.crossed = std::move(crossed);
  decision.met = std::move(met);

  if (local_storage_capacity_isolation_) {
    evict_for_local_storage(pods, decision);
    if (!decision.evictions.empty())
      return decision;
  }
  if (decision.actionable.empty())
    return decision;

  // Thresholds that evict before dry-run ones (which would otherwise hold a real one back); then
  // memory first, then the fixed signal order; for one signal the hard threshold before a soft one.
  std::stable_sort(decision.actionable.begin(), decision.actionable.end(),
                   [](const ThresholdState& a, const ThresholdState& b) {
                     if (a.threshold.dry_run != b.threshold.dry_run)
                       return !a.threshold.dry_run;
                     if (a.threshold.signal != b.threshold.signal) {
                       return signal_index(a.threshold.signal) < signal_index(b.threshold.signal);
                     }
                     return a.threshold.hard() && !b.threshold.hard();
                   });
  const ThresholdState& target = decision.actionable.front();
  decision.to_reclaim = target;
  const Resource resource = signal_resource(target.threshold.signal);
  decision.notes.push_back("attempting to reclaim " + std::string(resource_name(resource)) +
                           " for " + target.threshold.statement() +
                           (target.threshold.dry_run ? " (dry run)" : ""));

  if (reclaim_node_resources(target, reclaimer, decision))
    return decision;

  if (pods.empty()) {
    decision.notes.push_back("eviction thresholds have been met, but no pods are active to evict");
    return decision;
  }
  decision.ranking = rank_pods(target.threshold.signal, layout_, pods, swap_aware_ranking_);
  // Ranking is a comparison sort: leaving terminated pods out keeps the others' order.
  std::erase_if(decision.ranking->order, [&](size_t index) { return pods[index].terminated; });
  for (const size_t index : decision.ranking->order) {
    const ActivePod& candidate = pods[index];
    if (is_critical_pod(*candidate.pod)) {
      decision.skipped_critical.push_back(index);
      decision.notes.push_back("cannot evict a critical pod: " + candidate.pod->key());
      continue;
    }
    if (candidate.soft_eviction_refused && !target.threshold.hard()) {
      decision.skipped_refused.push_back(index);
      decision.notes.push_back("passing over " + candidate.pod->key() +
                               ": its disruption budget refused an eviction a moment ago");
      continue;
    }
    Eviction eviction;
    eviction.pod_index = index;
    eviction.cause = EvictionCause::kThreshold;
    eviction.signal = target.threshold.signal;
    eviction.grace_period_seconds = grace_period_seconds(target.threshold, *candidate.pod);
    auto message = threshold_eviction_message(target.threshold.signal, *candidate.pod,
                                              candidate.stats, &target.threshold,
                                              &target.observation, decision.ranking->counts_swap);
    eviction.message = std::move(message.message);
    eviction.annotations = std::move(message.annotations);
    eviction.disruption_target = true;
    eviction.dry_run = target.threshold.dry_run;
    decision.evictions.push_back(std::move(eviction));
    return decision;  // at most one pod per pass
  }
  decision.notes.push_back("unable to evict any pods from the node");
  return decision;
}

bool Evaluator::reclaim_node_resources(const ThresholdState& state, NodeReclaimer* reclaimer,
                                       Decision& decision) const {
  decision.reclaim_actions = reclaim_actions(state.threshold.signal, layout_);
  if (decision.reclaim_actions.empty() || reclaimer == nullptr)
    return false;
  decision.reclaim_attempted = true;
  const auto after = reclaimer->reclaim(state.threshold.signal, decision.reclaim_actions);
  if (!after) {
    decision.notes.push_back("failed to observe the node after node-level reclaim");
    return false;
  }
  // Every threshold, ignoring grace periods and with min-reclaim, must be clear to skip evicting.
  if (!met_thresholds(all_thresholds_, *after, true).empty()) {
    decision.notes.push_back("node-level reclaim did not relieve the pressure; must evict pods");
    return false;
  }
  decision.reclaim_sufficed = true;
  decision.notes.push_back("node-level reclaim relieved the pressure without evicting pods");
  return true;
}

void Evaluator::evict_for_local_storage(std::span<const ActivePod> pods, Decision& decision) const {
  const bool dedicated_image_fs = layout_ != FilesystemLayout::kShared;
  for (size_t index = 0; index < pods.size(); ++index) {
    const Pod& pod = *pods[index].pod;
    const PodStats* stats = pods[index].stats;
    if (stats == nullptr || pods[index].terminated)
      continue;
    std::optional<Eviction> eviction;
    auto make = [&](EvictionCause cause, std::string message) {
      Eviction e;
      e.pod_index = index;
      e.cause = cause;
      e.grace_period_seconds = kImmediateEvictionGracePeriodSeconds;
      e.message = std::move(message);
      return e;
    };
    for (const auto& volume : pod.volumes) {
      if (volume.source != VolumeSource::kEmptyDir || !volume.size_limit ||
          volume.size_limit->sign() <= 0) {
        continue;
      }
      const auto used = std::find_if(stats->volumes.begin(), stats->volumes.end(),
                                     [&](const VolumeStats& v) { return v.name == volume.name; });
      if (used != stats->volumes.end() && used->used_bytes &&
          Quantity::from_bytes(*used->used_bytes).compare(*volume.size_limit) > 0) {
        eviction = make(EvictionCause::kEmptyDirLimit,
                        empty_dir_limit_message(volume.name, *volume.size_limit));
        break;
      }
    }
    if (!eviction) {
      if (const auto limit = pod_limit(pod, kResourceEphemeralStorage)) {
        if (Quantity::from_bytes(stats->ephemeral_storage_used_bytes.value_or(0)).compare(*limit) >
            0) {
          eviction = make(EvictionCause::kPodEphemeralStorageLimit,
                          pod_ephemeral_storage_limit_message(*limit));
        }
      }
    }
    if (!eviction) {
      for (const auto& container_stats : stats->containers) {
        const auto spec =
            std::find_if(pod.containers.begin(), pod.containers.end(),
                         [&](const Container& c) { return c.name == container_stats.name; });
        if (spec == pod.containers.end())
          continue;
        const auto limit = spec->resources.limits.find(kResourceEphemeralStorage);
        if (limit == spec->resources.limits.end() || limit->second.value() == 0)
          continue;
        uint64_t used = container_stats.logs_used_bytes.value_or(0);
        if (!dedicated_image_fs)
          used += container_stats.rootfs_used_bytes.value_or(0);
        if (limit->second.compare(Quantity::from_bytes(used)) < 0) {
          eviction = make(EvictionCause::kContainerEphemeralStorageLimit,
                          container_ephemeral_storage_limit_message(spec->name, limit->second));
          break;
        }
      }
    }
    if (!eviction)
      continue;
    if (is_critical_pod(pod)) {
      decision.skipped_critical.push_back(index);
      decision.notes.push_back("cannot evict a critical pod: " + pod.key() + " (" +
                               eviction->message + ")");
      continue;
    }
    decision.evictions.push_back(std::move(*eviction));
  }
}

}  // namespace evictd
