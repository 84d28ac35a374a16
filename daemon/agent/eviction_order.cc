#include "daemon/agent/eviction_order.h"

namespace evictd::agent {

std::string eviction_reason(const Eviction& eviction) {
  return eviction.signal ? std::string(signal_name(*eviction.signal))
                         : std::string(eviction_cause_name(eviction.cause));
}

EvictionOrder eviction_order(const Decision& decision, const Eviction& eviction,
                             const model::PodEntry& entry, const OrderContext& context) {
  const int64_t unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(context.now.time_since_epoch()).count();
  const bool for_threshold = eviction.cause == EvictionCause::kThreshold;
  ledger::Record record;
  record.eviction_id = entry.pod.uid + "-" + std::to_string(unix_ms);
  record.step = ledger::Step::kDecided;
  record.time_unix_ms = unix_ms;
  record.namespace_name = entry.pod.namespace_name;
  record.pod_name = entry.pod.name;
  record.pod_uid = entry.pod.uid;
  record.pod_generation = entry.pod.generation;
  record.signal = eviction_reason(eviction);
  record.message = eviction.message;
  record.annotations = eviction.annotations;
  record.grace_period_seconds = eviction.grace_period_seconds;
  record.hard = decision.to_reclaim && decision.to_reclaim->threshold.hard() && for_threshold;
  record.disruption_target = eviction.disruption_target;
  // Hard thresholds and local-storage limits always stop the pod directly.
  record.eviction_api = context.api_evictions && !record.hard && for_threshold;
  record.node_name = context.node_name;
  if (decision.to_reclaim && for_threshold) {
    const auto& acted = *decision.to_reclaim;
    const Signal signal = acted.threshold.signal;
    record.observed = amount_text(signal, acted.observation.available, acted.observation.capacity);
    const std::string quantity =
        met_from_above(signal)
            ? amount_text(signal, acted.quantity.value(), acted.observation.capacity)
            : acted.quantity.to_string();
    record.threshold = acted.threshold.value.text() + " (" + quantity + ")";
  }
  return EvictionOrder{std::move(record), context.decided_at, entry.cgroup};
}

double stats_age_seconds(const Decision& decision, Nanos now) {
  if (!decision.to_reclaim || !decision.to_reclaim->observation.time)
    return -1;
  return std::chrono::duration<double>(now - *decision.to_reclaim->observation.time).count();
}

}  // namespace evictd::agent
