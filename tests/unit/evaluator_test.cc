#include "ranking/evaluator.h"

#include <gtest/gtest.h>

#include "unit/builders.h"

namespace evictd {
namespace {

using std::chrono::seconds;
using testing_util::bytes;
using testing_util::container;
using testing_util::memory_stats;
using testing_util::observed;
using testing_util::pod;
using testing_util::q;
using SignalMap = EvictionSettings::SignalMap;

// Records what the evaluator asked for and answers with fixed post-reclaim observations.
class FakeReclaimer : public NodeReclaimer {
 public:
  std::optional<Observations> after;
  std::vector<std::vector<ReclaimAction>> calls;
  std::optional<Observations> reclaim(Signal /*signal*/,
                                      std::span<const ReclaimAction> actions) override {
    calls.emplace_back(actions.begin(), actions.end());
    return after;
  }
};

struct World {
  std::vector<Pod> pods;
  std::vector<std::optional<PodStats>> stats;

  void add(Pod p, std::optional<PodStats> s) {
    pods.push_back(std::move(p));
    stats.push_back(std::move(s));
  }
  std::vector<ActivePod> active() const {
    std::vector<ActivePod> out;
    for (size_t i = 0; i < pods.size(); ++i) {
      out.push_back(ActivePod{&pods[i], stats[i] ? &*stats[i] : nullptr});
    }
    return out;
  }
};

EvictionConfig config_of(const EvictionSettings& settings) {
  auto config = build_eviction_config(settings);
  EXPECT_TRUE(config.ok()) << config.error().message;
  return config.value();
}

Observations memory_at(const char* available, Nanos time, const char* capacity = "10Gi") {
  Observations o;
  SignalObservation s = observed(available, capacity);
  s.time = time;
  o.set(Signal::kMemoryAvailable, s);
  return o;
}

std::string evicted_name(const Decision& d, const World& w) {
  if (d.evictions.empty())
    return "";
  return w.pods[d.evictions[0].pod_index].name;
}

std::vector<std::string> condition_names(const Decision& d) {
  std::vector<std::string> out;
  for (auto c : d.conditions)
    out.emplace_back(condition_name(c));
  return out;
}

TEST(Evaluator, SoftGracePeriodThenHardThresholdThenTransitionPeriod) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"memory.available", "1Gi"}};
  s.eviction_soft = SignalMap{{"memory.available", "2Gi"}};
  s.eviction_soft_grace_period = SignalMap{{"memory.available", "2m"}};
  s.eviction_max_pod_grace_period = 5;
  s.enforce_node_allocatable = std::vector<std::string>{};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  w.add(pod("hog", {container("c")}), memory_stats("3Gi"));
  w.add(pod("steady", {container("c", {{"memory", q("4Gi")}})}), memory_stats("3Gi"));

  // Crossed at t=0: condition at once, no eviction during the grace period.
  auto d = evaluator.synchronize(memory_at("1900Mi", seconds(0)), w.active(), seconds(0), nullptr);
  EXPECT_EQ(condition_names(d), std::vector<std::string>{"MemoryPressure"});
  EXPECT_EQ(d.crossed.size(), 1U);
  EXPECT_TRUE(d.met.empty());
  EXPECT_TRUE(d.evictions.empty());
  d = evaluator.synchronize(memory_at("1800Mi", seconds(119)), w.active(), seconds(119), nullptr);
  EXPECT_TRUE(d.evictions.empty());
  // Grace period over: the soft eviction takes min(evictionMaxPodGracePeriod, the pod's 30 s).
  d = evaluator.synchronize(memory_at("1800Mi", seconds(120)), w.active(), seconds(120), nullptr);
  ASSERT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(evicted_name(d, w), "hog");
  EXPECT_EQ(d.evictions[0].grace_period_seconds, 5);
  EXPECT_TRUE(d.evictions[0].disruption_target);
  EXPECT_EQ(d.evictions[0].message,
            "The node was low on resource: memory. Threshold quantity: 2Gi, available: 1800Mi. ");
  EXPECT_EQ(d.evictions[0].annotations.at("starved_resource"), "memory");
  // Below the hard threshold: evicted at once with 1 s, even though the soft one restarted.
  w.pods.erase(w.pods.begin());
  w.stats.erase(w.stats.begin());
  d = evaluator.synchronize(memory_at("900Mi", seconds(130)), w.active(), seconds(130), nullptr);
  ASSERT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(d.evictions[0].grace_period_seconds, 1);
  EXPECT_EQ(d.to_reclaim->threshold.hard(), true);
  // Pressure gone: the condition stays for the 5m transition period after the last crossing.
  d = evaluator.synchronize(memory_at("5Gi", seconds(200)), w.active(), seconds(200), nullptr);
  EXPECT_EQ(condition_names(d), std::vector<std::string>{"MemoryPressure"});
  d = evaluator.synchronize(memory_at("5Gi", seconds(429)), w.active(), seconds(429), nullptr);
  EXPECT_EQ(condition_names(d), std::vector<std::string>{"MemoryPressure"});
  d = evaluator.synchronize(memory_at("5Gi", seconds(430)), w.active(), seconds(430), nullptr);
  EXPECT_TRUE(d.conditions.empty());
}

TEST(Evaluator, MinReclaimKeepsAThresholdMetAboveItsValue) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"memory.available", "1Gi"}};
  s.eviction_minimum_reclaim = SignalMap{{"memory.available", "500Mi"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  for (const char* name : {"a", "b", "c"})
    w.add(pod(name, {container("c")}), memory_stats("1Gi"));
  auto d = evaluator.synchronize(memory_at("900Mi", seconds(1)), w.active(), seconds(1), nullptr);
  EXPECT_EQ(d.evictions.size(), 1U);
  // 1.2Gi is above 1Gi but below 1Gi + 500Mi: still met, another pod goes.
  d = evaluator.synchronize(memory_at("1200Mi", seconds(2)), w.active(), seconds(2), nullptr);
  EXPECT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(d.met[0].quantity.to_string(), "1524Mi");
  d = evaluator.synchronize(memory_at("1600Mi", seconds(3)), w.active(), seconds(3), nullptr);
  EXPECT_TRUE(d.evictions.empty());
  EXPECT_TRUE(d.met.empty());
  // Once resolved, min-reclaim no longer applies: 1.2Gi is fine again.
  d = evaluator.synchronize(memory_at("1200Mi", seconds(4)), w.active(), seconds(4), nullptr);
  EXPECT_TRUE(d.evictions.empty());
}

TEST(Evaluator, MetNowIgnoresMinReclaimAndGracePeriods) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"memory.available", "1Gi"}};
  s.eviction_minimum_reclaim = SignalMap{{"memory.available", "500Mi"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  w.add(pod("a", {container("c")}), memory_stats("1Gi"));
  EXPECT_TRUE(evaluator.met_now(memory_at("1Gi", seconds(1))).empty());  // strictly below only
  ASSERT_EQ(evaluator.met_now(memory_at("900Mi", seconds(1))).size(), 1U);
  EXPECT_EQ(evaluator.met_now(memory_at("900Mi", seconds(1)))[0].quantity.to_string(), "1Gi");
  evaluator.synchronize(memory_at("900Mi", seconds(1)), w.active(), seconds(1), nullptr);
  // Still reclaiming to 1Gi + 500Mi, which needs_pod_stats counts and met_now does not.
  EXPECT_TRUE(evaluator.needs_pod_stats(memory_at("1200Mi", seconds(2))));
  EXPECT_TRUE(evaluator.met_now(memory_at("1200Mi", seconds(2))).empty());
}

TEST(Evaluator, ActsOnlyOnObservationsNewerThanTheLastOne) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"memory.available", "1Gi"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  w.add(pod("a", {container("c")}), memory_stats("1Gi"));
  auto d = evaluator.synchronize(memory_at("900Mi", seconds(10)), w.active(), seconds(10), nullptr);
  EXPECT_EQ(d.evictions.size(), 1U);
  // The same sample again (say, the stats were not refreshed): met, but no second eviction.
  d = evaluator.synchronize(memory_at("900Mi", seconds(10)), w.active(), seconds(11), nullptr);
  EXPECT_EQ(d.met.size(), 1U);
  EXPECT_TRUE(d.actionable.empty());
  EXPECT_TRUE(d.evictions.empty());
}

TEST(Evaluator, CriticalPodsAreSkippedForTheNextCandidate) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"memory.available", "1Gi"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  Pod static_pod = pod("etcd", {container("c")}, 0, "kube-system");
  static_pod.annotations["kubernetes.io/config.source"] = "file";
  w.add(static_pod, memory_stats("5Gi"));
  w.add(pod("node-critical", {container("c")}, 2000001000), memory_stats("4Gi"));
  w.add(pod("user", {container("c", {{"memory", q("2Gi")}})}), memory_stats("1Gi"));
  auto d = evaluator.synchronize(memory_at("500Mi", seconds(1)), w.active(), seconds(1), nullptr);
  ASSERT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(evicted_name(d, w), "user");
  EXPECT_EQ(d.skipped_critical.size(), 2U);
  // Only critical pods left: nothing is evicted.
  w.pods.pop_back();
  w.stats.pop_back();
  d = evaluator.synchronize(memory_at("500Mi", seconds(2)), w.active(), seconds(2), nullptr);
  EXPECT_TRUE(d.evictions.empty());
  EXPECT_EQ(d.notes.back(), "unable to evict any pods from the node");
}

TEST(Evaluator, SoftThresholdsPassOverPodsWhoseBudgetRefusedAndHardOnesDoNot) {
  EvictionSettings s;
  s.eviction_soft = SignalMap{{"memory.available", "2Gi"}};
  s.eviction_soft_grace_period = SignalMap{{"memory.available", "10s"}};
  s.eviction_hard = SignalMap{{"memory.available", "500Mi"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  w.add(pod("guarded", {container("c")}), memory_stats("3Gi"));
  w.add(pod("next", {container("c")}), memory_stats("1Gi"));
  auto active = w.active();
  active[0].soft_eviction_refused = true;
  evaluator.synchronize(memory_at("1Gi", seconds(1)), active, seconds(1), nullptr);
  auto d = evaluator.synchronize(memory_at("1Gi", seconds(12)), active, seconds(12), nullptr);
  ASSERT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(evicted_name(d, w), "next");
  EXPECT_EQ(d.skipped_refused, std::vector<size_t>{0});
  // Below the hard threshold the budget is not asked: the first in rank goes.
  d = evaluator.synchronize(memory_at("400Mi", seconds(13)), active, seconds(13), nullptr);
  ASSERT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(evicted_name(d, w), "guarded");
  EXPECT_TRUE(d.skipped_refused.empty());
}

TEST(Evaluator, AllocatableMemoryThresholdIsDerivedFromTheHardMemoryThreshold) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"memory.available", "500Mi"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  w.add(pod("a", {container("c")}), memory_stats("1Gi"));
  Observations o = memory_at("4Gi", seconds(1));
  SignalObservation allocatable = observed("400Mi", "8Gi");
  allocatable.time = seconds(1);
  o.set(Signal::kAllocatableMemoryAvailable, allocatable);
  auto d = evaluator.synchronize(o, w.active(), seconds(1), nullptr);
  ASSERT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(*d.evictions[0].signal, Signal::kAllocatableMemoryAvailable);
  EXPECT_EQ(d.evictions[0].message,
            "The node was low on resource: memory. Threshold quantity: 500Mi, available: 400Mi. ");
}

TEST(Evaluator, ContainerUsageAboveRequestIsNamedInTheMessage) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"memory.available", "2Gi"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  PodStats stats;
  ContainerStats above;
  above.name = "above-requests";
  above.memory_working_set_bytes = bytes("700Mi");
  ContainerStats within;
  within.name = "within";
  within.memory_working_set_bytes = bytes("50Mi");
  stats.containers = {above, within};
  stats.memory_working_set_bytes = bytes("750Mi");
  w.add(pod("p", {container("above-requests", {{"memory", q("100Mi")}}),
                  container("within", {{"memory", q("64Mi")}})}),
        stats);
  auto d = evaluator.synchronize(memory_at("1500Mi", seconds(1)), w.active(), seconds(1), nullptr);
  ASSERT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(d.evictions[0].message,
            "The node was low on resource: memory. Threshold quantity: 2Gi, available: 1500Mi. "
            "Container above-requests was using 700Mi, request is 100Mi, has larger consumption of "
            "memory. ");
  EXPECT_EQ(d.evictions[0].annotations.at("offending_containers"), "above-requests");
  EXPECT_EQ(d.evictions[0].annotations.at("offending_containers_usage"), "700Mi");
}

TEST(Evaluator, PidPressure) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"pid.available", "1000"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  PodStats forky;
  forky.process_count = 30000;
  PodStats calm;
  calm.process_count = 10;
  w.add(pod("calm", {container("c")}), calm);
  w.add(pod("forky", {container("c")}), forky);
  Observations o;
  SignalObservation pids{500, 32768, seconds(1)};
  o.set(Signal::kPidAvailable, pids);
  auto d = evaluator.synchronize(o, w.active(), seconds(1), nullptr);
  EXPECT_EQ(condition_names(d), std::vector<std::string>{"PIDPressure"});
  ASSERT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(evicted_name(d, w), "forky");
  EXPECT_EQ(d.evictions[0].message,
            "The node was low on resource: pids. Threshold quantity: 1k, available: 500. ");
  EXPECT_EQ(d.evictions[0].annotations.at("starved_resource"), "pids");
}

Observations disk(Signal signal, const char* available, const char* capacity, Nanos time) {
  Observations o;
  SignalObservation s = observed(available, capacity);
  s.time = time;
  o.set(signal, s);
  return o;
}

TEST(Evaluator, NodeReclaimThatSufficesAvoidsEviction) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"nodefs.available", "10%"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  w.add(pod("a", {container("c")}), PodStats{});
  FakeReclaimer reclaimer;
  reclaimer.after = disk(Signal::kNodeFsAvailable, "16Gi", "100Gi", seconds(1));
  auto d = evaluator.synchronize(disk(Signal::kNodeFsAvailable, "5Gi", "100Gi", seconds(1)),
                                 w.active(), seconds(1), &reclaimer);
  EXPECT_TRUE(d.reclaim_attempted);
  EXPECT_TRUE(d.reclaim_sufficed);
  EXPECT_TRUE(d.evictions.empty());
  ASSERT_EQ(reclaimer.calls.size(), 1U);
  EXPECT_EQ(reclaimer.calls[0], (std::vector<ReclaimAction>{ReclaimAction::kDeleteUnusedContainers,
                                                            ReclaimAction::kDeleteUnusedImages}));
  EXPECT_EQ(condition_names(d), std::vector<std::string>{"DiskPressure"});
  // Not enough freed: evict, ranked by the pod's disk use.
  reclaimer.after = disk(Signal::kNodeFsAvailable, "6Gi", "100Gi", seconds(2));
  d = evaluator.synchronize(disk(Signal::kNodeFsAvailable, "5Gi", "100Gi", seconds(2)), w.active(),
                            seconds(2), &reclaimer);
  EXPECT_TRUE(d.reclaim_attempted);
  EXPECT_FALSE(d.reclaim_sufficed);
  ASSERT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(d.evictions[0].message,
            "The node was low on resource: ephemeral-storage. Threshold quantity: 10737418400, "
            "available: 5Gi. ");
}

TEST(Evaluator, DedicatedImageFsHasNothingToReclaimForNodeFs) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"nodefs.available", "1Gi"}, {"imagefs.available", "1Gi"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kDedicatedImageFs);
  World w;
  w.add(pod("a", {container("c")}), PodStats{});
  FakeReclaimer reclaimer;
  auto d = evaluator.synchronize(disk(Signal::kNodeFsAvailable, "500Mi", "10Gi", seconds(1)),
                                 w.active(), seconds(1), &reclaimer);
  EXPECT_FALSE(d.reclaim_attempted);
  EXPECT_TRUE(reclaimer.calls.empty());
  EXPECT_EQ(d.evictions.size(), 1U);
  // Split layout: imagefs pressure deletes images only.
  Evaluator split(config_of(s), FilesystemLayout::kSplit);
  d = split.synchronize(disk(Signal::kImageFsAvailable, "500Mi", "10Gi", seconds(1)), w.active(),
                        seconds(1), &reclaimer);
  ASSERT_EQ(reclaimer.calls.size(), 1U);
  EXPECT_EQ(reclaimer.calls[0], std::vector<ReclaimAction>{ReclaimAction::kDeleteUnusedImages});
}

TEST(Evaluator, InodePressureStarvesInodes) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"nodefs.inodesFree", "5%"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  w.add(pod("a", {container("c")}), PodStats{});
  FakeReclaimer reclaimer;  // cannot re-observe: evict as if nothing was freed
  auto d = evaluator.synchronize(disk(Signal::kNodeFsInodesFree, "1000", "1000000", seconds(1)),
                                 w.active(), seconds(1), &reclaimer);
  ASSERT_EQ(d.evictions.size(), 1U);
  EXPECT_EQ(d.evictions[0].message,
            "The node was low on resource: inodes. Threshold quantity: 50000, available: 1k. ");
}

TEST(Evaluator, MemoryIsReclaimedBeforeDiskAndHardBeforeSoft) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"nodefs.available", "1Gi"}, {"memory.available", "1Gi"}};
  s.eviction_soft = SignalMap{{"memory.available", "2Gi"}};
  s.eviction_soft_grace_period = SignalMap{{"memory.available", "0s"}};
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  w.add(pod("a", {container("c")}), PodStats{});
  Observations o = memory_at("500Mi", seconds(1));
  o.set(Signal::kNodeFsAvailable, SignalObservation{100, 1 << 30, seconds(1)});
  auto d = evaluator.synchronize(o, w.active(), seconds(1), nullptr);
  ASSERT_TRUE(d.to_reclaim);
  EXPECT_EQ(d.to_reclaim->threshold.signal, Signal::kMemoryAvailable);
  EXPECT_EQ(d.to_reclaim->threshold.value.text(), "1Gi");
  EXPECT_EQ(condition_names(d), (std::vector<std::string>{"DiskPressure", "MemoryPressure"}));
}

EvictionSettings no_thresholds() {
  EvictionSettings s;
  s.eviction_hard = SignalMap{};
  return s;
}

TEST(Evaluator, LocalStorageLimitsEvictWithoutAnyThreshold) {
  Evaluator evaluator(config_of(no_thresholds()), FilesystemLayout::kShared);
  World w;
  Pod empty_dir = pod("empty-dir", {container("c")});
  Volume cache;
  cache.name = "cache";
  cache.source = VolumeSource::kEmptyDir;
  cache.size_limit = q("1Gi");
  empty_dir.volumes.push_back(cache);
  PodStats empty_dir_stats;
  empty_dir_stats.volumes.push_back(VolumeStats{"cache", bytes("2Gi"), std::nullopt});
  w.add(empty_dir, empty_dir_stats);

  Pod pod_limit = pod("pod-limit", {container("a", {}, {{"ephemeral-storage", q("1Gi")}}),
                                    container("b", {}, {{"ephemeral-storage", q("1Gi")}})});
  PodStats pod_limit_stats;
  pod_limit_stats.ephemeral_storage_used_bytes = bytes("3Gi");
  w.add(pod_limit, pod_limit_stats);

  Pod container_limit =
      pod("container-limit", {container("c", {}, {{"ephemeral-storage", q("500Mi")}}),
                              container("d", {}, {{"ephemeral-storage", q("10Gi")}})});
  PodStats container_limit_stats;
  ContainerStats c;
  c.name = "c";
  c.rootfs_used_bytes = bytes("400Mi");
  c.logs_used_bytes = bytes("200Mi");
  container_limit_stats.containers.push_back(c);
  container_limit_stats.ephemeral_storage_used_bytes = bytes("600Mi");
  w.add(container_limit, container_limit_stats);

  auto d = evaluator.synchronize(Observations{}, w.active(), seconds(1), nullptr);
  ASSERT_EQ(d.evictions.size(), 3U);
  EXPECT_EQ(d.evictions[0].message,
            "Usage of EmptyDir volume \"cache\" exceeds the limit \"1Gi\". ");
  EXPECT_EQ(d.evictions[1].message,
            "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi. ");
  EXPECT_EQ(d.evictions[2].message,
            "Container c exceeded its local ephemeral storage limit \"500Mi\". ");
  for (const auto& e : d.evictions) {
    EXPECT_EQ(e.grace_period_seconds, 1);
    EXPECT_FALSE(e.disruption_target);
    EXPECT_TRUE(e.annotations.empty());
  }
  // With a dedicated imagefs the writable layer is not counted against the container's limit.
  Evaluator imagefs(config_of(no_thresholds()), FilesystemLayout::kDedicatedImageFs);
  World only_container;
  only_container.add(container_limit, container_limit_stats);
  d = imagefs.synchronize(Observations{}, only_container.active(), seconds(1), nullptr);
  EXPECT_TRUE(d.evictions.empty());
}

TEST(Evaluator, GracePeriods) {
  EvictionSettings s;
  s.eviction_soft = SignalMap{{"memory.available", "2Gi"}};
  s.eviction_hard = SignalMap{};
  s.eviction_soft_grace_period = SignalMap{{"memory.available", "1m"}};
  s.eviction_max_pod_grace_period = 60;
  Pod quick = pod("quick", {container("c")});
  quick.termination_grace_period_seconds = 10;
  Pod slow = pod("slow", {container("c")});
  slow.termination_grace_period_seconds = 600;
  Evaluator capped(config_of(s), FilesystemLayout::kShared);
  const Threshold& soft = capped.thresholds().front();
  EXPECT_FALSE(soft.hard());
  EXPECT_EQ(capped.grace_period_seconds(soft, quick), 10);
  EXPECT_EQ(capped.grace_period_seconds(soft, slow), 60);
  EXPECT_EQ(capped.grace_period_seconds(soft, pod("default", {container("c")})), 30);
  s.eviction_max_pod_grace_period = -1;  // documented: negative defers to the pod
  Evaluator deferring(config_of(s), FilesystemLayout::kShared);
  EXPECT_EQ(deferring.grace_period_seconds(soft, slow), 600);
  Threshold hard = soft;
  hard.grace_period = Nanos{0};
  EXPECT_EQ(capped.grace_period_seconds(hard, slow), 1);
}

TEST(Evaluator, ZeroTransitionPeriodReportsNoCondition) {
  EvictionSettings s;
  s.eviction_hard = SignalMap{{"memory.available", "1Gi"}};
  s.eviction_pressure_transition_period = "0s";
  Evaluator evaluator(config_of(s), FilesystemLayout::kShared);
  World w;
  w.add(pod("a", {container("c")}), memory_stats("1Gi"));
  // The kubelet keeps a condition only while now - lastObserved < period, never with a zero period.
  auto d = evaluator.synchronize(memory_at("500Mi", seconds(1)), w.active(), seconds(1), nullptr);
  EXPECT_TRUE(d.conditions.empty());
  EXPECT_EQ(d.evictions.size(), 1U);
}

}  // namespace
}  // namespace evictd
