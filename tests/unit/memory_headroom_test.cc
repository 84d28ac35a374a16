#include "ranking/memory_headroom.h"

#include <gtest/gtest.h>

namespace evictd {
namespace {

constexpr int64_t kMi = int64_t{1} << 20;

// The lab's guest: 2.9 GiB, watermarks 44/55/66 MiB.
const KernelReserve kGuest{44 * kMi, 55 * kMi, 66 * kMi};
constexpr int64_t kGuestMemory = 2970 * kMi;
constexpr int64_t kGrowth2Gi = int64_t{2} << 30;

Threshold hard_memory(const std::string& value) {
  Threshold threshold;
  threshold.signal = Signal::kMemoryAvailable;
  if (value.ends_with('%'))
    threshold.value.percentage = std::stof(value) / 100.0F;
  else
    threshold.value.quantity = Quantity::parse(value).value();
  return threshold;
}

TEST(MemoryHeadroom, TheSuggestionIsTheHighWatermarkAndTheReactionBudgetsGrowth) {
  // 66 MiB + 100 ms of 2 GiB/s (204.8 MiB), rounded up to a whole Mi.
  EXPECT_EQ(suggested_memory_threshold(kGuest, kGrowth2Gi), 271 * kMi);
  // Pacing off: the advice assumes the default bound; a slower bound asks for less room.
  EXPECT_EQ(suggested_memory_threshold(kGuest, 0), 271 * kMi);
  EXPECT_EQ(suggested_memory_threshold(kGuest, 512 * kMi), 118 * kMi);
}

TEST(MemoryHeadroom, TheKubeletsDefaultOnASmallNodeIsNamedWithAValueThatLeavesRoom) {
  const auto advice =
      advise_memory_headroom({hard_memory("100Mi")}, kGuestMemory, kGuest, kGrowth2Gi);
  ASSERT_EQ(advice.size(), 1U);
  EXPECT_EQ(advice[0].threshold_bytes, 100 * kMi);
  EXPECT_EQ(advice[0].suggested_bytes, 271 * kMi);
  EXPECT_NE(advice[0].text.find("memory.available < 100Mi (hard) leaves 34Mi above the kernel's "
                                "free-memory watermarks on this node (min 44Mi, low 55Mi, high "
                                "66Mi), less than 100 ms of growth at memoryGrowthBound (205Mi)"),
            std::string::npos)
      << advice[0].text;
  EXPECT_NE(advice[0].text.find("Use at least 271Mi"), std::string::npos);
}

TEST(MemoryHeadroom, APercentageIsResolvedAgainstTheNodesMemoryAndUnderTheWatermarkSaysSo) {
  // 2% of 2970 MiB is 59.4 MiB: under the high watermark.
  const auto advice = advise_memory_headroom({hard_memory("2%")}, kGuestMemory, kGuest, kGrowth2Gi);
  ASSERT_EQ(advice.size(), 1U);
  EXPECT_NE(advice[0].text.find("memory.available < 2% (60Mi of 2970Mi) (hard) is at or under"),
            std::string::npos)
      << advice[0].text;
}

TEST(MemoryHeadroom, ThresholdsWithRoomOtherSignalsAndAnUnknownReserveGetNoAdvice) {
  EXPECT_TRUE(advise_memory_headroom({hard_memory("271Mi"), hard_memory("10%")}, kGuestMemory,
                                     kGuest, kGrowth2Gi)
                  .empty());
  Threshold disk = hard_memory("1Mi");
  disk.signal = Signal::kNodeFsAvailable;
  EXPECT_TRUE(advise_memory_headroom({disk}, kGuestMemory, kGuest, kGrowth2Gi).empty());
  EXPECT_TRUE(
      advise_memory_headroom({hard_memory("100Mi")}, kGuestMemory, KernelReserve{}, kGrowth2Gi)
          .empty());
}

TEST(SwapAdvice, ANodeWithoutSwapNamesTheSwapThresholdsItMakesUseless) {
  Threshold swap;
  swap.signal = Signal::kSwapAvailable;
  swap.value.percentage = 0.1F;
  Threshold both;
  both.signal = Signal::kMemoryAndSwapAvailable;
  both.value.quantity = Quantity::from_int(int64_t{500} << 20, QuantityFormat::kBinarySI);
  Threshold stall;
  stall.signal = Signal::kMemoryPressure;
  stall.value.percentage = 0.2F;
  const std::vector<Threshold> thresholds = {swap, both, stall};
  EXPECT_EQ(advise_swap_thresholds(thresholds, 0),
            (std::vector<std::string>{
                "swap.available<10% is never met: the node has no swap (SwapTotal 0 in "
                "/proc/meminfo)",
                "memoryAndSwap.available<500Mi counts no swap: the node has none, so it acts as "
                "its memory-only twin"}));
  EXPECT_TRUE(advise_swap_thresholds(thresholds, int64_t{1} << 30).empty());
}

}  // namespace
}  // namespace evictd
