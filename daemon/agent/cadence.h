// The loop's timetable: how much each round reads, and when the slower work is due. Idle rounds
// read the node's signals only; the pods are read when a threshold is met (in the same round,
// before deciding), when a kernel notification woke the loop, when pod cgroups come or go, and
// with containers, CPU and PSI every 10 s under pressure or every minute when calm (the second 10 s
// after the first, so that CPU in use, a rate, is known soon after the start).
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "cgroups/notifier.h"
#include "cgroups/sampler.h"
#include "ranking/stats.h"
#include "ranking/threshold.h"

namespace evictd::agent {

inline constexpr std::chrono::seconds kFullSampleEvery{10};
inline constexpr std::chrono::seconds kIdleFullSampleEvery{60};
// Pod cgroups are listed this often when nothing else made the round read the pods.
inline constexpr std::chrono::seconds kListingEvery{10};
inline constexpr std::chrono::seconds kStatusLineEvery{10};
inline constexpr std::chrono::seconds kHousekeepingEvery{30};

class Cadence {
 public:
  // The depth of the round's first sample, noting a full one.
  cgroups::SampleDepth first_depth(Nanos now, bool under_pressure, cgroups::WakeCause cause);
  // Whether a node-only round should list the pod cgroups (to notice one that came or went).
  bool listing_due(Nanos now) const { return now - last_listing_ >= kListingEvery; }
  // The round read at `depth`; a round that read the pods, or listed them, restarts the listing's
  // clock.
  void sampled(cgroups::SampleDepth depth, Nanos now);
  // Whether the service manager's status line, and the housekeeping, are due (noting them).
  bool status_line_due(Nanos now);
  bool housekeeping_due(Nanos now);

 private:
  Nanos last_full_{0};
  int full_samples_ = 0;
  Nanos last_listing_{0};
  std::optional<Nanos> last_status_line_;
  std::optional<Nanos> last_housekeeping_;
};

// Headroom pacing. Where no kernel notification marks a memory threshold's crossing (cgroup v2 has
// no memcg usage thresholds; soft thresholds have none anywhere), the loop reads the node again
// once the tightest headroom could be used up at `growth_bytes_per_second`. Far from every
// threshold that is the poll interval; near one, a few ms: growth slower than the bound is met
// by a read no more than kMinimumPace after the crossing.
inline constexpr Nanos kMinimumPace = std::chrono::milliseconds(5);

struct PacingInput {
  const Observations& observations;
  const std::vector<Threshold>& thresholds;
  // The kernel signals the hard memory thresholds' crossings (v1 memcg thresholds, all armed).
  bool hard_memory_crossings_notified = false;
  int64_t growth_bytes_per_second = 0;  // 0: no pacing
};
// The wait before the next read: nullopt when no memory threshold is paced (none, all notified,
// or all met already: a met threshold is the evaluator's, re-read at the poll interval).
std::optional<Nanos> paced_wait(const PacingInput& input);

// Whether a kernel pressure notification woke the loop: a threshold is then most likely met, and
// the pods are read in the same pass as the node.
bool notified(cgroups::WakeCause cause);

}  // namespace evictd::agent
