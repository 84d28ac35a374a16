// Whether a memory.available threshold leaves evictd room to act before the kernel does. The kernel
// keeps a reserve of free memory, its watermarks: kswapd reclaims when free memory falls below the
// low watermark until it passes the high one, and below min every allocation reclaims directly.
// memory.available counts free memory and inactive file pages; when it is down to the high
// watermark, the inactive file pages are gone and the node reclaims hard — active file pages (the
// code of everything running), stalls, then the OOM killer. A threshold there comes too late: the
// kubelet's 100Mi is under the watermarks of a 3 GiB node, and barely above them on large ones.
//
// The advice: room above the high watermark for kReactionBudget of growth at the fastest pace
// evictd is configured for (memoryGrowthBound) — evictd's decision and freeze come within tens of
// milliseconds of a crossing when it is locked in memory (docs/benchmarks.md), and the budget
// leaves room for a loaded node.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "ranking/threshold.h"

namespace evictd {

inline constexpr std::chrono::milliseconds kReactionBudget{100};
// The growth the advice assumes when pacing is off (memoryGrowthBound 0): its default.
inline constexpr int64_t kDefaultGrowthBound = int64_t{2} << 30;

struct KernelReserve {
  int64_t min_bytes = 0;
  int64_t low_bytes = 0;
  int64_t high_bytes = 0;
};

struct HeadroomAdvice {
  Threshold threshold;      // a memory.available threshold that comes too late
  int64_t threshold_bytes;  // resolved against the node's memory
  int64_t suggested_bytes;  // the least that leaves room, rounded up to a whole Mi
  std::string text;         // what it means, in one paragraph
};

// The least memory.available threshold that leaves room to act above the kernel's watermarks.
int64_t suggested_memory_threshold(const KernelReserve& reserve, int64_t growth_bound);

// One piece of advice for each memory.available threshold under the suggested value; none when
// every one leaves room (or the node has none).
std::vector<HeadroomAdvice> advise_memory_headroom(const std::vector<Threshold>& thresholds,
                                                   int64_t memory_capacity,
                                                   const KernelReserve& reserve,
                                                   int64_t growth_bound);

// Swap thresholds on a node without swap: swap.available is never observed, so its thresholds are
// never met, and memoryAndSwap.available is memory.available under another name. One line each.
std::vector<std::string> advise_swap_thresholds(const std::vector<Threshold>& thresholds,
                                                int64_t swap_total);

}  // namespace evictd
