#include "daemon/agent/cadence.h"

#include <algorithm>

namespace evictd::agent {

bool notified(cgroups::WakeCause cause) {
  return cause == cgroups::WakeCause::kMemoryThreshold || cause == cgroups::WakeCause::kPsi ||
         cause == cgroups::WakeCause::kMemoryEvents;
}

cgroups::SampleDepth Cadence::first_depth(Nanos now, bool under_pressure,
                                          cgroups::WakeCause cause) {
  // The second full sample comes as soon as under pressure: CPU in use is a rate between two.
  const Nanos full_every =
      under_pressure || full_samples_ < 2 ? Nanos(kFullSampleEvery) : Nanos(kIdleFullSampleEvery);
  if (now - last_full_ >= full_every) {
    last_full_ = now;
    ++full_samples_;
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

namespace {

// The signals whose headroom is bytes that memory growth eats: memory.pressure has none.
bool memory_signal(Signal signal) {
  return is_memory_signal(signal) && !met_from_above(signal);
}

}  // namespace

std::optional<Nanos> paced_wait(const PacingInput& input) {
  if (input.growth_bytes_per_second <= 0)
    return std::nullopt;
  std::optional<int64_t> tightest;
  for (const Threshold& threshold : input.thresholds) {
    // The kernel's notifications cover the kubelet's hard memory thresholds only (memcg
    // thresholds on v1); evictd's own are paced always.
    if (!memory_signal(threshold.signal) ||
        (threshold.hard() && input.hard_memory_crossings_notified &&
         is_kubelet_signal(threshold.signal)))
      continue;
    const auto& observation = input.observations.get(threshold.signal);
    if (!observation)
      continue;
    const Quantity capacity = Quantity::from_int(observation->capacity, QuantityFormat::kBinarySI);
    const int64_t headroom = observation->available - threshold.value.resolve(capacity).value();
    if (headroom > 0 && (!tightest || headroom < *tightest))
      tightest = headroom;
  }
  if (!tightest)
    return std::nullopt;
  const double seconds =
      static_cast<double>(*tightest) / static_cast<double>(input.growth_bytes_per_second);
  // Beyond a day is "not soon": the poll interval bounds the wait anyway.
  const Nanos wait =
      std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(std::min(seconds, 86400.0)));
  return std::max(wait, kMinimumPace);
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
