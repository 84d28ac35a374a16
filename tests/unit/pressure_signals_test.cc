// evictd's own signals in the decision core: memory and swap available, swap available and
// memory.pressure (a stall share met from above), their configuration, swap-aware ranking, the
// stall window and dry-run thresholds.
#include <gtest/gtest.h>

#include "ranking/evaluator.h"
#include "ranking/stall_window.h"
#include "unit/builders.h"

namespace evictd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing_util::bytes;
using testing_util::container;
using testing_util::pod;
using testing_util::q;
using SignalMap = EvictionSettings::SignalMap;

PodStats usage(const char* working_set, const char* swap) {
  PodStats stats;
  stats.memory_working_set_bytes = bytes(working_set);
  stats.memory_swap_bytes = bytes(swap);
  ContainerStats c;
  c.name = "c";
  c.memory_working_set_bytes = stats.memory_working_set_bytes;
  c.memory_swap_bytes = stats.memory_swap_bytes;
  stats.containers.push_back(c);
  return stats;
}

std::vector<Threshold> pressure_thresholds(const PressureSettings& settings,
                                           bool enforce_pods = true) {
  auto built = build_pressure_thresholds(settings, enforce_pods, "pressureSignals");
  EXPECT_TRUE(built.ok()) << built.error().message;
  return built.ok() ? built.value() : std::vector<Threshold>{};
}

// An evaluator with no kubelet threshold at all (an empty evictionHard) plus `extra`.
Evaluator evaluator_with(std::vector<Threshold> extra, bool swap_aware_ranking = false) {
  EvictionSettings settings;
  settings.eviction_hard = SignalMap{};
  auto config = build_eviction_config(settings);
  EXPECT_TRUE(config.ok());
  EvictionConfig eviction = config.value();
  eviction.thresholds.insert(eviction.thresholds.end(), extra.begin(), extra.end());
  eviction.swap_aware_ranking = swap_aware_ranking;
  return Evaluator(eviction, FilesystemLayout::kShared, false);
}

SignalObservation stall(int64_t stalled_us, int64_t window_us, Nanos time) {
  return SignalObservation{stalled_us, window_us, time};
}

TEST(PressureSignalNames, AreEvictdsOwnAndMemorySignals) {
  for (const char* name : {"memoryAndSwap.available", "allocatableMemoryAndSwap.available",
                           "swap.available", "memory.pressure"}) {
    const auto signal = parse_signal(name);
    ASSERT_TRUE(signal) << name;
    EXPECT_FALSE(is_kubelet_signal(*signal)) << name;
    EXPECT_TRUE(is_memory_signal(*signal)) << name;
    EXPECT_EQ(signal_condition(*signal), NodeCondition::kMemoryPressure) << name;
    EXPECT_TRUE(counts_swap(*signal)) << name;
  }
  EXPECT_TRUE(is_kubelet_signal(Signal::kMemoryAvailable));
  EXPECT_FALSE(counts_swap(Signal::kMemoryAvailable));
  EXPECT_TRUE(met_from_above(Signal::kMemoryPressure));
  EXPECT_FALSE(met_from_above(Signal::kSwapAvailable));
  EXPECT_EQ(amount_text(Signal::kMemoryPressure, 2'500'000, 10'000'000), "25.0%");
  EXPECT_EQ(amount_text(Signal::kSwapAvailable, int64_t{512} << 20, int64_t{1} << 30), "512Mi");
}

TEST(PressureThresholds, TakeTheKubeletsFieldsAndDeriveAllocatable) {
  PressureSettings settings;
  settings.eviction_hard = SignalMap{{"memoryAndSwap.available", "200Mi"}};
  settings.eviction_soft = SignalMap{{"memory.pressure", "20%"}, {"swap.available", "10%"}};
  settings.eviction_soft_grace_period =
      SignalMap{{"memory.pressure", "5s"}, {"swap.available", "30s"}};
  settings.eviction_minimum_reclaim = SignalMap{{"swap.available", "100Mi"}};
  settings.dry_run = {"memoryAndSwap.available"};
  const auto thresholds = pressure_thresholds(settings);
  ASSERT_EQ(thresholds.size(), 4U);
  EXPECT_EQ(thresholds[0].statement(), "memoryAndSwap.available<200Mi");
  EXPECT_TRUE(thresholds[0].hard());
  EXPECT_TRUE(thresholds[0].dry_run);
  EXPECT_EQ(thresholds[1].statement(), "memory.pressure>20%");
  EXPECT_EQ(thresholds[1].grace_period, seconds(5));
  EXPECT_FALSE(thresholds[1].dry_run);
  EXPECT_EQ(thresholds[2].statement(), "swap.available<10%");
  ASSERT_TRUE(thresholds[2].min_reclaim);
  // The derived allocatable threshold follows its node signal, dry run included.
  EXPECT_EQ(thresholds[3].statement(), "allocatableMemoryAndSwap.available<200Mi");
  EXPECT_TRUE(thresholds[3].dry_run);
  EXPECT_EQ(pressure_thresholds(settings, false).size(), 3U);
}

struct Refused {
  const char* map;
  const char* signal;
  const char* value;
  const char* field;
  const char* message;
};

class PressureThresholdRejectTest : public testing::TestWithParam<Refused> {};

TEST_P(PressureThresholdRejectTest, NamesFieldAndReason) {
  const Refused& c = GetParam();
  PressureSettings settings;
  const std::string map = c.map;
  SignalMap entries{{c.signal, c.value}};
  if (map == "evictionHard")
    settings.eviction_hard = entries;
  if (map == "evictionSoft")
    settings.eviction_soft = entries;
  if (map == "evictionMinimumReclaim")
    settings.eviction_minimum_reclaim = entries;
  if (map == "dryRun")
    settings.dry_run = {c.signal};
  auto built = build_pressure_thresholds(settings, true, "pressureSignals");
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().field, c.field);
  EXPECT_EQ(built.error().message, c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PressureThresholdRejectTest,
    testing::Values(
        Refused{"evictionHard", "memory.available", "100Mi",
                "pressureSignals.evictionHard[memory.available]",
                "memory.available is the kubelet's signal: set it in the kubelet's eviction "
                "fields (eviction or kubeletConfigFile)"},
        Refused{"evictionHard", "memory.pressure", "500ms",
                "pressureSignals.evictionHard[memory.pressure]",
                "memory.pressure is a share of time stalled on memory; give a percentage such as "
                "\"20%\", not \"500ms\""},
        Refused{"evictionMinimumReclaim", "memory.pressure", "5%",
                "pressureSignals.evictionMinimumReclaim[memory.pressure]",
                "memory.pressure has no amount to reclaim: after each eviction its window starts "
                "over instead"},
        Refused{"evictionSoft", "swap.available", "1Gi",
                "pressureSignals.evictionSoftGracePeriod[swap.available]",
                "grace period must be specified for the soft eviction threshold swap.available"},
        Refused{"evictionHard", "memory.pressure", "0%",
                "pressureSignals.evictionHard[memory.pressure]",
                "memory.pressure must be above 0% and below 100%, not 0%"},
        Refused{"dryRun", "nodefs.available", "", "pressureSignals.dryRun[0]",
                "nodefs.available is the kubelet's signal: set it in the kubelet's eviction "
                "fields (eviction or kubeletConfigFile)"},
        Refused{"dryRun", "swap.free", "", "pressureSignals.dryRun[0]",
                "unsupported eviction signal swap.free; the signals are memoryAndSwap.available, "
                "allocatableMemoryAndSwap.available, swap.available, memory.pressure"}));

TEST(SwapAwareRanking, EvictdsSignalsCountSwapTheKubeletsOnlyWhenAsked) {
  // `swapped` keeps most of its memory in swap: by working set alone it looks the smaller one.
  std::vector<Pod> pods = {pod("resident", {container("c", {{"memory", q("100Mi")}})}),
                           pod("swapped", {container("c", {{"memory", q("100Mi")}})})};
  std::vector<PodStats> stats = {usage("600Mi", "0"), usage("300Mi", "900Mi")};
  std::vector<ActivePod> active = {{&pods[0], &stats[0]}, {&pods[1], &stats[1]}};

  const Ranking kubelet = rank_pods(Signal::kMemoryAvailable, FilesystemLayout::kShared, active);
  EXPECT_FALSE(kubelet.counts_swap);
  EXPECT_EQ(kubelet.order.front(), 0U);

  for (const Ranking& ranking :
       {rank_pods(Signal::kMemoryPressure, FilesystemLayout::kShared, active),
        rank_pods(Signal::kMemoryAvailable, FilesystemLayout::kShared, active, true)}) {
    EXPECT_TRUE(ranking.counts_swap);
    EXPECT_EQ(ranking.order.front(), 1U);
    EXPECT_EQ(Quantity::from_nano(ranking.keys[1].usage, QuantityFormat::kBinarySI).to_string(),
              "1200Mi");
    EXPECT_EQ(Quantity::from_nano(ranking.keys[1].swap, QuantityFormat::kBinarySI).to_string(),
              "900Mi");
  }
  // Disk and PID rankings never count memory of any kind.
  EXPECT_FALSE(
      rank_pods(Signal::kNodeFsAvailable, FilesystemLayout::kShared, active, true).counts_swap);
}

TEST(MemoryPressureThreshold, IsMetWhenTheStallShareRisesStrictlyAbove) {
  PressureSettings settings;
  settings.eviction_hard = SignalMap{{"memory.pressure", "20%"}};
  Evaluator evaluator = evaluator_with(pressure_thresholds(settings));
  std::vector<Pod> pods = {pod("leaker", {container("c")}), pod("probe", {container("c")})};
  std::vector<PodStats> stats = {usage("500Mi", "700Mi"), usage("800Mi", "0")};
  std::vector<ActivePod> active = {{&pods[0], &stats[0]}, {&pods[1], &stats[1]}};

  Observations at_threshold;
  at_threshold.set(Signal::kMemoryPressure, stall(2'000'000, 10'000'000, seconds(1)));
  Decision quiet = evaluator.synchronize(at_threshold, active, seconds(1), nullptr);
  EXPECT_TRUE(quiet.crossed.empty());
  EXPECT_TRUE(quiet.conditions.empty());

  Observations stalled;
  stalled.set(Signal::kMemoryPressure, stall(3'250'000, 10'000'000, seconds(2)));
  Decision decision = evaluator.synchronize(stalled, active, seconds(2), nullptr);
  ASSERT_EQ(decision.evictions.size(), 1U);
  EXPECT_EQ(decision.conditions, std::vector<NodeCondition>{NodeCondition::kMemoryPressure});
  const Eviction& eviction = decision.evictions.front();
  EXPECT_EQ(eviction.pod_index, 0U);  // by working set + swap, the leaker
  EXPECT_EQ(eviction.grace_period_seconds, 1);
  EXPECT_TRUE(eviction.disruption_target);
  EXPECT_FALSE(eviction.dry_run);
  EXPECT_EQ(eviction.message,
            "The node was under memory pressure: tasks stalled on memory for 32.5% of the last "
            "10s, threshold 20%. Container c was using 500Mi of memory and 700Mi of swap, "
            "request is 0, has larger consumption of memory. ");
  EXPECT_EQ(eviction.annotations.at("offending_containers_usage"), "1200Mi");
  EXPECT_EQ(eviction.annotations.at("starved_resource"), "memory");
}

TEST(SwapThresholds, NameTheirResourceInTheKubeletsSentence) {
  PressureSettings settings;
  settings.eviction_hard = SignalMap{{"memoryAndSwap.available", "1Gi"}, {"swap.available", "10%"}};
  Evaluator evaluator = evaluator_with(pressure_thresholds(settings, false));
  std::vector<Pod> pods = {pod("p", {container("c")})};
  std::vector<PodStats> stats = {usage("100Mi", "50Mi")};
  std::vector<ActivePod> active = {{&pods[0], &stats[0]}};

  Observations both;
  both.set(Signal::kMemoryAndSwapAvailable,
           SignalObservation{q("900Mi").value(), q("6Gi").value(), seconds(1)});
  both.set(Signal::kSwapAvailable,
           SignalObservation{q("100Mi").value(), q("2Gi").value(), seconds(1)});
  Decision decision = evaluator.synchronize(both, active, seconds(1), nullptr);
  ASSERT_EQ(decision.evictions.size(), 1U);
  EXPECT_EQ(decision.met.size(), 2U);
  // Memory and swap together comes before swap alone in the signal order.
  EXPECT_EQ(decision.to_reclaim->threshold.signal, Signal::kMemoryAndSwapAvailable);
  EXPECT_EQ(decision.evictions.front().message,
            "The node was low on resource: memory and swap. Threshold quantity: 1Gi, available: "
            "900Mi. Container c was using 100Mi of memory and 50Mi of swap, request is 0, has "
            "larger consumption of memory. ");

  Observations swap_only;
  swap_only.set(Signal::kSwapAvailable,
                SignalObservation{q("100Mi").value(), q("2Gi").value(), seconds(2)});
  decision = evaluator.synchronize(swap_only, active, seconds(2), nullptr);
  ASSERT_EQ(decision.evictions.size(), 1U);
  EXPECT_EQ(decision.evictions.front().message,
            "The node was low on resource: swap. Threshold quantity: 214748368, available: 100Mi. "
            "Container c was using 100Mi of memory and 50Mi of swap, request is 0, has larger "
            "consumption of memory. ");
}

TEST(DryRunThresholds, NeverHoldBackAThresholdThatEvicts) {
  PressureSettings settings;
  settings.eviction_hard = SignalMap{{"memory.pressure", "10%"}};
  settings.dry_run = {"memory.pressure"};
  EvictionSettings kubelet;
  kubelet.eviction_hard = SignalMap{{"nodefs.available", "10%"}};
  EvictionConfig config = build_eviction_config(kubelet).value();
  for (const auto& threshold : pressure_thresholds(settings))
    config.thresholds.push_back(threshold);
  Evaluator evaluator(config, FilesystemLayout::kShared, false);
  std::vector<Pod> pods = {pod("p", {container("c")})};
  std::vector<PodStats> stats = {usage("100Mi", "0")};
  std::vector<ActivePod> active = {{&pods[0], &stats[0]}};

  Observations stalled;
  stalled.set(Signal::kMemoryPressure, stall(5'000'000, 10'000'000, seconds(1)));
  Decision dry = evaluator.synchronize(stalled, active, seconds(1), nullptr);
  ASSERT_EQ(dry.evictions.size(), 1U);
  EXPECT_TRUE(dry.evictions.front().dry_run);

  // With a real threshold met too, the real one is acted on, although memory comes first.
  stalled.set(Signal::kMemoryPressure, stall(5'000'000, 10'000'000, seconds(2)));
  stalled.set(Signal::kNodeFsAvailable,
              SignalObservation{q("1Gi").value(), q("100Gi").value(), seconds(2)});
  Decision real = evaluator.synchronize(stalled, active, seconds(2), nullptr);
  ASSERT_EQ(real.evictions.size(), 1U);
  EXPECT_FALSE(real.evictions.front().dry_run);
  EXPECT_EQ(real.to_reclaim->threshold.signal, Signal::kNodeFsAvailable);
}

TEST(StallWindowTest, MeasuresExactlyTheWindowFromTheTotals) {
  StallWindow window(seconds(10));
  EXPECT_FALSE(window.observe());
  window.add(seconds(0), 1'000'000);
  window.add(seconds(5), 1'500'000);
  EXPECT_FALSE(window.observe()) << "half a window is not a window";
  window.add(seconds(10), 3'000'000);
  auto observed = window.observe();
  ASSERT_TRUE(observed);
  EXPECT_EQ(observed->available, 2'000'000);
  EXPECT_EQ(observed->capacity, 10'000'000);
  EXPECT_EQ(observed->time, seconds(10));

  // The base moves forward: the stall of the first five seconds drops out.
  window.add(seconds(15), 3'000'000);
  observed = window.observe();
  ASSERT_TRUE(observed);
  EXPECT_EQ(observed->available, 1'500'000);
  EXPECT_EQ(observed->capacity, 10'000'000);
}

TEST(StallWindowTest, StartsOverAfterARestartOrACounterThatWentBack) {
  StallWindow window(seconds(2));
  window.add(seconds(0), 0);
  window.add(seconds(2), 1'800'000);
  ASSERT_TRUE(window.observe());
  window.restart();
  EXPECT_FALSE(window.observe());
  window.add(seconds(3), 1'900'000);
  window.add(seconds(4), 1'900'000);
  EXPECT_FALSE(window.observe());
  window.add(seconds(5), 1'900'000);
  auto observed = window.observe();
  ASSERT_TRUE(observed);
  EXPECT_EQ(observed->available, 0) << "only the stall after the restart counts";

  window.add(seconds(6), 10);  // the cgroup was made anew
  EXPECT_FALSE(window.observe());
}

TEST(StallWindowTest, ABurstOfReadingsKeepsTheListShort) {
  StallWindow window(seconds(10));
  for (int i = 0; i <= 10'000; ++i)
    window.add(milliseconds(i), static_cast<uint64_t>(i) * 500);
  auto observed = window.observe();
  ASSERT_TRUE(observed);
  EXPECT_EQ(observed->capacity, 10'000'000);
  EXPECT_EQ(observed->available, 5'000'000);
}

}  // namespace
}  // namespace evictd
