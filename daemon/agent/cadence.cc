#include "daemon/agent/cadence.h"

namespace evictd::agent {

bool notified(cgroups::WakeCause cause) {
  return cause == cgroups::WakeCause::kMemoryThreshold || cause == cgroups::WakeCause::kPsi ||
         cause == cgroups::WakeCause::kMemoryEvents;
}

cgroups::SampleDepth Cadence::first_depth(Nanos now, bool under_pressure,
                                          cgroups::WakeCause cause) {
  const Nanos full_every = under_pressure ? Nanos(kFullSampleEvery) : Nanos(kIdleFullSampleEvery);
  if (now - last_full_ >= full_every) {
    last_full_ = now;
    return cgroups::SampleDepth::kFull;
  }
  // A notification's round reads node and pods in one pass rather than the node twice.
  return notified(cause) ? cgroups::SampleDepth::kDecision : cgroups::SampleDepth::kNode;
}

void Cadence::sampled(cgroups::SampleDepth depth, Nanos now) {
  if (depth != cgroups::SampleDepth::kNode || listing_due(now))
    last_listing_ = now;
}

bool Cadence::status_line_due(Nanos now) {
  if (last_status_line_ && now - *last_status_line_ < kStatusLineEvery)
    return false;
  last_status_line_ = now;
  return true;
}

bool Cadence::housekeeping_due(Nanos now) {
  if (!last_housekeeping_) {
    last_housekeeping_ = now;  // the first comes one period after start
    return false;
  }
  if (now - *last_housekeeping_ < kHousekeepingEvery)
    return false;
  last_housekeeping_ = now;
  return true;
}

}  // namespace evictd::agent
