// The loop's pure parts: how much each round reads (Cadence), what to do when the cgroups and the
// runtime's list disagree (RuntimeMembership), the changes a decision reports (ReportedState), and
// the ledger record an eviction becomes (eviction_order).
#include <gtest/gtest.h>

#include "daemon/agent/cadence.h"
#include "daemon/agent/eviction_order.h"
#include "daemon/agent/membership.h"
#include "daemon/agent/transitions.h"

namespace evictd::agent {
namespace {

using namespace std::chrono_literals;
using cgroups::SampleDepth;
using cgroups::WakeCause;

constexpr Nanos kBoot = 1h;

TEST(Cadence, FullSamplesEveryMinuteWhenCalmEveryTenSecondsUnderPressure) {
  Cadence cadence;
  EXPECT_EQ(cadence.first_depth(kBoot, false, WakeCause::kTimer), SampleDepth::kFull);
  EXPECT_EQ(cadence.first_depth(kBoot + 1s, false, WakeCause::kTimer), SampleDepth::kNode);
  EXPECT_EQ(cadence.first_depth(kBoot + 9s, true, WakeCause::kTimer), SampleDepth::kNode);
  EXPECT_EQ(cadence.first_depth(kBoot + 10s, true, WakeCause::kTimer), SampleDepth::kFull)
      << "under pressure: every 10 s";
  EXPECT_EQ(cadence.first_depth(kBoot + 69s, false, WakeCause::kTimer), SampleDepth::kNode);
  EXPECT_EQ(cadence.first_depth(kBoot + 70s, false, WakeCause::kTimer), SampleDepth::kFull)
      << "calm: every minute";
}

TEST(Cadence, TheSecondFullSampleComesTenSecondsAfterTheFirstForTheCpuRate) {
  Cadence cadence;
  EXPECT_EQ(cadence.first_depth(kBoot, false, WakeCause::kTimer), SampleDepth::kFull);
  EXPECT_EQ(cadence.first_depth(kBoot + 10s, false, WakeCause::kTimer), SampleDepth::kFull);
  EXPECT_EQ(cadence.first_depth(kBoot + 20s, false, WakeCause::kTimer), SampleDepth::kNode)
      << "then every minute when calm";
  EXPECT_EQ(cadence.first_depth(kBoot + 70s, false, WakeCause::kTimer), SampleDepth::kFull);
}

TEST(Cadence, AKernelNotificationReadsThePodsInTheSamePass) {
  Cadence cadence;
  cadence.first_depth(kBoot, false, WakeCause::kTimer);
  for (auto cause : {WakeCause::kMemoryThreshold, WakeCause::kPsi, WakeCause::kMemoryEvents})
    EXPECT_EQ(cadence.first_depth(kBoot + 1s, false, cause), SampleDepth::kDecision);
  for (auto cause : {WakeCause::kTimer, WakeCause::kPodsChanged, WakeCause::kInterrupt})
    EXPECT_EQ(cadence.first_depth(kBoot + 1s, false, cause), SampleDepth::kNode);
}

TEST(Cadence, PodCgroupsAreListedEveryTenSecondsUnlessTheRoundReadThePods) {
  Cadence cadence;
  cadence.sampled(SampleDepth::kDecision, kBoot);
  EXPECT_FALSE(cadence.listing_due(kBoot + 9s));
  EXPECT_TRUE(cadence.listing_due(kBoot + 10s));
  cadence.sampled(SampleDepth::kNode, kBoot + 10s);  // a node round that listed
  EXPECT_FALSE(cadence.listing_due(kBoot + 19s));
  cadence.sampled(SampleDepth::kDecision, kBoot + 15s);
  EXPECT_FALSE(cadence.listing_due(kBoot + 24s));
  EXPECT_TRUE(cadence.listing_due(kBoot + 25s));
}

TEST(Cadence, TheStatusLineAtOnceAndEveryTenSecondsHousekeepingEveryThirty) {
  Cadence cadence;
  EXPECT_TRUE(cadence.status_line_due(kBoot));
  EXPECT_FALSE(cadence.status_line_due(kBoot + 9s));
  EXPECT_TRUE(cadence.status_line_due(kBoot + 10s));
  EXPECT_FALSE(cadence.housekeeping_due(kBoot)) << "the first comes one period after start";
  EXPECT_FALSE(cadence.housekeeping_due(kBoot + 29s));
  EXPECT_TRUE(cadence.housekeeping_due(kBoot + 30s));
  EXPECT_FALSE(cadence.housekeeping_due(kBoot + 31s));
}

// Thresholds as the evaluator holds them: hard memory.available 100Mi, soft 1Gi (grace 1m).
std::vector<Threshold> memory_thresholds() {
  auto hard = ThresholdValue{Quantity::parse("100Mi").value(), 0};
  auto soft = ThresholdValue{Quantity::parse("1Gi").value(), 0};
  return {
      Threshold{Signal::kMemoryAvailable, hard, 0s, std::nullopt},
      Threshold{Signal::kMemoryAvailable, soft, 1min, std::nullopt},
      Threshold{Signal::kNodeFsAvailable, ThresholdValue{std::nullopt, 0.1f}, 0s, std::nullopt}};
}

Observations memory_available(int64_t mib) {
  Observations observations;
  observations.set(Signal::kMemoryAvailable, SignalObservation{mib << 20, int64_t{8} << 30, 0s});
  return observations;
}

constexpr int64_t kGiBPerSecond = int64_t{1} << 30;

TEST(HeadroomPacing, TheNextReadComesBeforeTheTightestHeadroomCouldBeUsedUp) {
  const auto thresholds = memory_thresholds();
  // 1 124 MiB available: 100 MiB above the soft threshold, at 1 GiB/s ~98 ms.
  auto wait = paced_wait({memory_available(1124), thresholds, false, kGiBPerSecond});
  ASSERT_TRUE(wait.has_value());
  EXPECT_NEAR(std::chrono::duration<double>(*wait).count(), 100.0 / 1024, 1e-6);
  // The soft threshold met: the hard one's 412 MiB of headroom paces the reads.
  wait = paced_wait({memory_available(512), thresholds, false, kGiBPerSecond});
  ASSERT_TRUE(wait.has_value());
  EXPECT_NEAR(std::chrono::duration<double>(*wait).count(), 412.0 / 1024, 1e-6);
  // A MiB from the hard threshold: no closer than kMinimumPace.
  EXPECT_EQ(paced_wait({memory_available(101), thresholds, false, kGiBPerSecond}), kMinimumPace);
}

TEST(HeadroomPacing, NothingIsPacedThatTheKernelSignalsOrThatIsMetOrTurnedOff) {
  const auto thresholds = memory_thresholds();
  // v1 signals the hard threshold's crossing; the soft one is still paced.
  EXPECT_TRUE(paced_wait({memory_available(2048), thresholds, true, kGiBPerSecond}).has_value());
  EXPECT_FALSE(paced_wait({memory_available(512), thresholds, true, kGiBPerSecond}).has_value())
      << "the soft threshold met, the hard one notified";
  EXPECT_FALSE(paced_wait({memory_available(50), thresholds, false, kGiBPerSecond}).has_value())
      << "every threshold met: the evaluator's, at the poll interval";
  EXPECT_FALSE(paced_wait({memory_available(2048), thresholds, false, 0}).has_value());
  EXPECT_FALSE(paced_wait({Observations{}, thresholds, false, kGiBPerSecond}).has_value())
      << "no observation, nothing to pace";
}

TEST(HeadroomPacing, EvictdsOwnHardThresholdsArePacedEvenWhereTheKernelSignalsTheKubelets) {
  Threshold both{
      Signal::kMemoryAndSwapAvailable,
      ThresholdValue{Quantity::from_int(int64_t{100} << 20, QuantityFormat::kBinarySI), 0}, 0s,
      std::nullopt};
  Threshold stall{Signal::kMemoryPressure, ThresholdValue{std::nullopt, 0.2f}, 0s, std::nullopt};
  Observations observations;
  observations.set(Signal::kMemoryAndSwapAvailable,
                   SignalObservation{int64_t{612} << 20, int64_t{10} << 30, 0s});
  observations.set(Signal::kMemoryPressure, SignalObservation{0, 10'000'000, 0s});
  // v1 arms memcg thresholds for memory.available only: memory and swap is read before its
  // 512 MiB of headroom could go at 1 GiB/s, and a stall share has no headroom to pace.
  const auto wait = paced_wait({observations, {both, stall}, true, kGiBPerSecond});
  ASSERT_TRUE(wait.has_value());
  EXPECT_NEAR(std::chrono::duration<double>(*wait).count(), 0.5, 1e-6);
  EXPECT_FALSE(paced_wait({observations, {stall}, false, kGiBPerSecond}).has_value());
}

cgroups::PodSample cgroup_pod(const std::string& uid) {
  cgroups::PodSample pod;
  pod.uid = uid;
  return pod;
}

cri::RuntimePod listed_pod(const std::string& uid) {
  cri::RuntimePod pod;
  pod.uid = uid;
  return pod;
}

using Action = Reconciliation::Action;

TEST(RuntimeMembership, AStartingPodUnderPressureIsListedInTheLoop) {
  RuntimeMembership membership;
  const std::vector<cgroups::PodSample> cgroups = {cgroup_pod("a"), cgroup_pod("new")};
  const std::vector<cri::RuntimePod> runtime = {listed_pod("a")};
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot, true, 1s).action, Action::kListNow);
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 1s, true, 50ms).action, Action::kNone)
      << "a list younger than 100 ms is not taken again";
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 2s, true, 1s).action, Action::kListNow);
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 10s, true, 1s).action, Action::kNone)
      << "unlisted for 10 s: a leftover cgroup, not a starting pod";
}

TEST(RuntimeMembership, AYoungListAskedBeforeAStartingPodsMemoryGrewIsTakenAgain) {
  RuntimeMembership membership;
  std::vector<cgroups::PodSample> cgroups = {cgroup_pod("a"), cgroup_pod("new")};
  const std::vector<cri::RuntimePod> runtime = {listed_pod("a")};
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot, false, 1s).action, Action::kExpect);
  cgroups[1].usage.memory.usage_bytes = 150 << 20;
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 500ms, true, 50ms).action,
            Action::kListNow)
      << "asked 50 ms ago, before the pod's memory was seen to grow";
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 600ms, true, 60ms).action, Action::kNone)
      << "asked after the growth was seen: not taken again within 100 ms";
  cgroups[1].usage.memory.usage_bytes = 200 << 20;
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 700ms, true, 50ms).action,
            Action::kListNow)
      << "it grew again since";
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 800ms, false, 50ms).action,
            Action::kNone)
      << "without pressure the loop does not list";
}

TEST(RuntimeMembership, WithoutPressureTheCacheIsAskedOncePerChange) {
  RuntimeMembership membership;
  std::vector<cgroups::PodSample> cgroups = {cgroup_pod("a"), cgroup_pod("new")};
  std::vector<cri::RuntimePod> runtime = {listed_pod("a")};
  auto first = membership.reconcile(cgroups, runtime, kBoot, false, 1s);
  EXPECT_EQ(first.action, Action::kExpect);
  EXPECT_EQ(first.expected, std::vector<std::string>{"new"});
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 1s, false, 1s).action, Action::kNone)
      << "asked already";
  runtime.push_back(listed_pod("new"));
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 2s, false, 1s).action, Action::kNone);
  // The pod went: its sandbox is no longer listed, its cgroup lingers.
  runtime.pop_back();
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 3s, true, 1s).action, Action::kExpect)
      << "a pod listed once that went is not a starting pod, even under pressure";
  cgroups.pop_back();
  runtime.push_back(listed_pod("gone"));
  EXPECT_EQ(membership.reconcile(cgroups, runtime, kBoot + 4s, false, 1s).action,
            Action::kRefreshSoon)
      << "listed without a cgroup: the list is stale";
}

Decision decision_with(std::vector<NodeCondition> conditions, std::vector<Threshold> crossed,
                       int64_t available = 900 << 20) {
  Decision decision;
  decision.conditions = std::move(conditions);
  for (auto& threshold : crossed) {
    ThresholdState state;
    state.threshold = threshold;
    state.observation.available = available;
    decision.crossed.push_back(state);
  }
  return decision;
}

Threshold hard_memory(int64_t bytes) {
  Threshold threshold;
  threshold.signal = Signal::kMemoryAvailable;
  threshold.value.quantity = Quantity::from_bytes(static_cast<uint64_t>(bytes));
  return threshold;
}

std::vector<status::EventType> types(const Transitions& transitions) {
  std::vector<status::EventType> out;
  for (const auto& event : transitions.events)
    out.push_back(event.type);
  return out;
}

TEST(ReportedState, ConditionsAndThresholdsAreReportedWhenTheyChangeOnly) {
  ReportedState reported;
  const status::WallTime t0{std::chrono::seconds(1'796'083'200)};
  const auto met = decision_with({NodeCondition::kMemoryPressure}, {hard_memory(1 << 30)});
  auto first = reported.update(met, t0, WakeCause::kMemoryThreshold);
  EXPECT_EQ(types(first), (std::vector<status::EventType>{status::EventType::kPressureBegun,
                                                          status::EventType::kThresholdMet}));
  EXPECT_EQ(first.events[1].detail,
            "memory.available<1Gi(hard), available 900Mi (woken by memcg-threshold)");
  ASSERT_EQ(first.lines.size(), 2u);
  EXPECT_EQ(first.lines[0].message, "node pressure: MemoryPressure");
  EXPECT_EQ(first.lines[1].message, "threshold met: memory.available<1Gi(hard)");
  EXPECT_TRUE(reported.under_pressure());
  EXPECT_EQ(reported.condition_since().at(NodeCondition::kMemoryPressure), t0);

  auto again = reported.update(met, t0 + std::chrono::seconds(1), WakeCause::kTimer);
  EXPECT_TRUE(again.events.empty());
  EXPECT_TRUE(again.lines.empty());

  // Relief: the threshold clears at once; the condition holds until the evaluator drops it.
  auto cleared =
      reported.update(decision_with({NodeCondition::kMemoryPressure}, {}), t0, WakeCause::kTimer);
  EXPECT_EQ(types(cleared), std::vector<status::EventType>{status::EventType::kThresholdCleared});
  EXPECT_EQ(cleared.events[0].signal, "memory.available");
  auto ended = reported.update(decision_with({}, {}), t0, WakeCause::kTimer);
  EXPECT_EQ(types(ended), std::vector<status::EventType>{status::EventType::kPressureEnded});
  EXPECT_EQ(ended.lines[0].message, "node pressure ended");
  EXPECT_FALSE(reported.under_pressure());
  EXPECT_TRUE(reported.condition_since().empty());
}

TEST(EvictionOrder, TheRecordCarriesWhatTheExecutorAndAReplayNeed) {
  Decision decision;
  ThresholdState acted;
  acted.threshold = hard_memory(1 << 30);
  acted.quantity = Quantity::from_bytes(1 << 30);
  acted.observation.available = 900 << 20;
  acted.observation.time = kBoot - 2s;
  decision.to_reclaim = acted;
  Eviction eviction;
  eviction.signal = Signal::kMemoryAvailable;
  eviction.grace_period_seconds = 1;
  eviction.message = "The node was low on resource: memory. ";
  eviction.disruption_target = true;
  model::PodEntry entry;
  entry.pod.name = "batch";
  entry.pod.namespace_name = "jobs";
  entry.pod.uid = "u-1";
  entry.pod.generation = 4;
  entry.cgroup = "kubepods/besteffort/podu-1";
  const OrderContext context{.node_name = "node1",
                             .api_evictions = true,
                             .now = status::WallTime(std::chrono::milliseconds(1'796'083'200'123)),
                             .decided_at = kBoot};
  const auto order = eviction_order(decision, eviction, entry, context);
  const ledger::Record& record = order.decision;
  EXPECT_EQ(record.eviction_id, "u-1-1796083200123");
  EXPECT_EQ(record.step, ledger::Step::kDecided);
  EXPECT_EQ(record.time_unix_ms, 1'796'083'200'123);
  EXPECT_EQ(record.pod_generation, 4);
  EXPECT_EQ(record.signal, "memory.available");
  EXPECT_TRUE(record.hard);
  EXPECT_FALSE(record.eviction_api) << "a hard threshold always stops the pod directly";
  EXPECT_EQ(record.observed, "900Mi");
  EXPECT_EQ(record.threshold, "1Gi (1Gi)");
  EXPECT_EQ(record.node_name, "node1");
  EXPECT_EQ(order.cgroup, entry.cgroup);
  EXPECT_EQ(order.decided_at, kBoot);
  EXPECT_DOUBLE_EQ(stats_age_seconds(decision, kBoot), 2.0);

  decision.to_reclaim->threshold.grace_period = 30s;  // soft
  EXPECT_TRUE(eviction_order(decision, eviction, entry, context).decision.eviction_api);
  eviction.cause = EvictionCause::kEmptyDirLimit;
  eviction.signal.reset();
  const auto local = eviction_order(decision, eviction, entry, context).decision;
  EXPECT_EQ(local.signal, "emptyDirLimit");
  EXPECT_FALSE(local.eviction_api) << "local-storage limits always stop the pod directly";
  EXPECT_TRUE(local.observed.empty());
}

}  // namespace
}  // namespace evictd::agent
