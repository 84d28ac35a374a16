#include "ranking/memory_headroom.h"

namespace evictd {
namespace {

constexpr int64_t kMi = int64_t{1} << 20;

std::string mi(int64_t bytes) {
  return std::to_string((bytes + kMi - 1) / kMi) + "Mi";
}

}  // namespace

int64_t suggested_memory_threshold(const KernelReserve& reserve, int64_t growth_bound) {
  const int64_t pace = growth_bound > 0 ? growth_bound : kDefaultGrowthBound;
  const int64_t room = pace / 1000 * kReactionBudget.count();
  const int64_t least = reserve.high_bytes + room;
  return (least + kMi - 1) / kMi * kMi;
}

std::vector<HeadroomAdvice> advise_memory_headroom(const std::vector<Threshold>& thresholds,
                                                   int64_t memory_capacity,
                                                   const KernelReserve& reserve,
                                                   int64_t growth_bound) {
  std::vector<HeadroomAdvice> advice;
  if (reserve.high_bytes <= 0 || memory_capacity <= 0)
    return advice;
  const int64_t suggested = suggested_memory_threshold(reserve, growth_bound);
  for (const auto& threshold : thresholds) {
    if (threshold.signal != Signal::kMemoryAvailable)
      continue;
    const int64_t bytes =
        threshold.value.resolve(Quantity::from_int(memory_capacity, QuantityFormat::kBinarySI))
            .value();
    if (bytes >= suggested)
      continue;
    const std::string watermarks = "the kernel's free-memory watermarks on this node (min " +
                                   mi(reserve.min_bytes) + ", low " + mi(reserve.low_bytes) +
                                   ", high " + mi(reserve.high_bytes) + ")";
    const std::string budget =
        std::to_string(kReactionBudget.count()) + " ms of growth at memoryGrowthBound";
    std::string text =
        "memory.available < " + threshold.value.text() +
        (threshold.value.quantity ? "" : " (" + mi(bytes) + " of " + mi(memory_capacity) + ")") +
        (threshold.hard() ? " (hard)" : " (soft)") +
        (bytes <= reserve.high_bytes
             ? " is at or under " + watermarks
             : " leaves " + mi(bytes - reserve.high_bytes) + " above " + watermarks +
                   ", less than " + budget + " (" + mi(suggested - reserve.high_bytes) + ")") +
        ": by the time it is met the kernel is reclaiming hard — active file pages, stalls, then "
        "its OOM killer — before evictd can act. Use at least " +
        mi(suggested) + " (the high watermark and " + budget + ").";
    advice.push_back(HeadroomAdvice{threshold, bytes, suggested, std::move(text)});
  }
  return advice;
}

std::vector<std::string> advise_swap_thresholds(const std::vector<Threshold>& thresholds,
                                                int64_t swap_total) {
  std::vector<std::string> advice;
  if (swap_total > 0)
    return advice;
  for (const auto& threshold : thresholds) {
    if (threshold.signal == Signal::kSwapAvailable) {
      advice.push_back(threshold.statement() +
                       " is never met: the node has no swap (SwapTotal 0 in /proc/meminfo)");
    } else if (counts_swap(threshold.signal) && !met_from_above(threshold.signal)) {
      advice.push_back(threshold.statement() +
                       " counts no swap: the node has none, so it acts as its memory-only twin");
    }
  }
  return advice;
}

}  // namespace evictd
