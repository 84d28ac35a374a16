// The ledger's record of an eviction the evaluator decided: everything the executor needs to carry
// it out, and to finish it after a restart, built from the decision and the pod it names.
#pragma once

#include <string>

#include "daemon/agent/ports.h"
#include "daemon/model/pod_view.h"
#include "ranking/evaluator.h"

namespace evictd::agent {

struct OrderContext {
  std::string node_name;
  bool api_evictions = false;  // soft threshold evictions go through the Eviction API
  WallTime now;
  Nanos decided_at{0};  // Clock::monotonic()
};

// The signal an eviction was for, or its local-storage cause.
std::string eviction_reason(const Eviction& eviction);

// The order for `decision`'s first eviction of `entry`.
EvictionOrder eviction_order(const Decision& decision, const Eviction& eviction,
                             const model::PodEntry& entry, const OrderContext& context);

// How old the acted-on observation was when the decision was taken, in seconds; -1 when the
// eviction was not for a threshold or the observation carries no time.
double stats_age_seconds(const Decision& decision, Nanos now);

}  // namespace evictd::agent
