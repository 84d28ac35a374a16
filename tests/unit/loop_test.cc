// The agent's loop on fakes and a fake clock, without root, in milliseconds — the way the kubelet's
// eviction_manager_test drives its manager: the kubelet's choice evicted and the critical pod
// skipped, one eviction at a time, a soft threshold's grace period and the pressure transition
// period over time, stale stats not acted on, a pod starting under pressure, node-level reclaim
// before evicting for disk, reload, the API server and the runtime down, and the loop with the real
// executor behind it.
#include <gtest/gtest.h>

#include <thread>

#include "daemon/agent/agent.h"
#include "daemon/agent/executor.h"
#include "daemon/metrics/metrics.h"
#include "daemon/status/event_hub.h"
#include "daemon/status/snapshot.h"
#include "unit/agent_fakes.h"

namespace evictd::agent {
namespace {

using namespace std::chrono_literals;
using cgroups::QosTier;
using cgroups::WakeCause;
using testing_util::FakeClock;
using testing_util::FakeConfigSource;
using testing_util::FakeLifecycle;
using testing_util::FakeNode;
using testing_util::FakePod;
using testing_util::FakePressure;
using testing_util::FakeReclaimer;
using testing_util::FakeRuntimeView;
using testing_util::FakeSpecs;
using testing_util::FakeWorld;
using testing_util::RecordingSink;

constexpr int64_t kMi = 1 << 20;

FakePod pod(const std::string& name, QosTier tier, uint64_t working_set_mi, int64_t request_mi = 0,
            int32_t priority = 0) {
  FakePod pod;
  pod.uid = "uid-" + name;
  pod.name = name;
  pod.namespace_name = "shop";
  pod.tier = tier;
  pod.working_set = working_set_mi * kMi;
  pod.spec.name = name;
  pod.spec.namespace_name = "shop";
  pod.spec.uid = pod.uid;
  pod.spec.priority = priority;
  Container container;
  container.name = "app";
  if (request_mi > 0) {
    container.resources.requests.emplace(
        "memory", Quantity::from_int(request_mi * kMi, QuantityFormat::kBinarySI));
    if (tier == QosTier::kGuaranteed)
      container.resources.limits = container.resources.requests;
  }
  pod.spec.containers.push_back(container);
  return pod;
}

// An 8 GiB node with four pods: a Guaranteed database within its requests, a BestEffort batch
// job, a Burstable web server above its requests, and a static (critical) proxy, the biggest.
std::vector<FakePod> node_pods() {
  std::vector<FakePod> pods = {
      pod("db", QosTier::kGuaranteed, 1536, 2048, 1000), pod("batch", QosTier::kBestEffort, 1024),
      pod("web", QosTier::kBurstable, 512, 256), pod("proxy", QosTier::kBestEffort, 3072)};
  pods[3].spec.annotations["kubernetes.io/config.source"] = "file";
  return pods;
}

class LoopTest : public testing::Test {
 protected:
  void SetUp() override { node_.pods = node_pods(); }

  // The agent over the fakes; `yaml` is its configuration file.
  Agent& start(const std::string& yaml, bool with_api = true,
               std::optional<cgroups::NodeMemory> node_memory = std::nullopt) {
    auto config = config::parse_config(yaml, "evictd.yaml");
    EXPECT_TRUE(config.ok()) << config.error().message;
    config_source_.text = yaml;
    auto info = std::make_shared<status::DaemonInfo>();
    info->node_name = "node1";
    info->started_at = clock_.wall();
    agent_ = std::make_unique<Agent>(
        AgentSettings{
            .config = *config, .node_memory = node_memory, .sampling_warnings = {}, .info = info},
        AgentPorts{.clock = clock_,
                   .sampler = node_,
                   .pressure = pressure_,
                   .runtime = runtime_,
                   .reclaimer = reclaimer_,
                   .evictions = evictions(),
                   .lifecycle = lifecycle_,
                   .config_source = config_source_,
                   .metrics = metrics_,
                   .specs = with_api ? &specs_ : nullptr,
                   .snapshots = &snapshots_,
                   .events = &events_,
                   .limits = {}});
    return *agent_;
  }
  virtual EvictionSink& evictions() { return sink_; }

  // One round a second later, woken by `cause`; the runtime's cache refreshed before it, as its
  // thread would have.
  void round(WakeCause cause = WakeCause::kTimer, Nanos after = 1s) {
    clock_.advance(after);
    runtime_.refresh();
    agent_->run_round(cgroups::Wake{cause, "test", clock_.monotonic()});
  }
  void memory_available(int64_t mi) { node_.available = mi * kMi; }
  // The evicted pod is gone: from the cgroups, the runtime and the executor's hands.
  void gone(const std::string& name) {
    std::erase_if(node_.pods, [&](const FakePod& p) { return p.name == name; });
    sink_.in_flight = false;
  }
  std::vector<std::string> conditions() const {
    std::vector<std::string> names;
    for (const auto& held : snapshots_.current()->conditions)
      names.emplace_back(condition_name(held.condition));
    return names;
  }
  std::vector<status::EventType> events() const {
    std::vector<status::EventType> types;
    bool gap = false;
    auto stream = events_.open(0, [] {});
    for (const auto& event : stream->next(0ms, &gap))
      types.push_back(event.type);
    return types;
  }

  FakeClock clock_;
  FakeNode node_;
  FakePressure pressure_{clock_};
  FakeRuntimeView runtime_{node_, clock_};
  FakeReclaimer reclaimer_;
  FakeSpecs specs_{node_};
  RecordingSink sink_;
  FakeLifecycle lifecycle_;
  FakeConfigSource config_source_;
  metrics::Metrics metrics_{"test"};
  status::SnapshotBox snapshots_;
  mutable status::EventHub events_;
  std::unique_ptr<Agent> agent_;
};

constexpr const char* kHardMemory1Gi = "eviction:\n  evictionHard: {memory.available: 1Gi}\n";

TEST_F(LoopTest, EvictsTheKubeletsChoiceOnANotificationAndNeverTheCriticalPod) {
  start(kHardMemory1Gi);
  round();
  EXPECT_TRUE(sink_.orders.empty());
  EXPECT_EQ(lifecycle_.said.front(), "READY watching 4 pods");
  EXPECT_TRUE(conditions().empty());

  memory_available(900);
  const int pod_reads = node_.pod_samples;
  round(WakeCause::kMemoryThreshold, 1ms);
  EXPECT_EQ(node_.pod_samples, pod_reads + 1) << "a notification's round reads the pods at once";
  // Above their requests: proxy (3 GiB, critical: never), batch (1 GiB), web (256 Mi above).
  ASSERT_EQ(sink_.evicted(), std::vector<std::string>{"batch"});
  const ledger::Record& decided = sink_.orders[0].decision;
  EXPECT_EQ(decided.pod_uid, "uid-batch");
  EXPECT_EQ(decided.signal, "memory.available");
  EXPECT_TRUE(decided.hard);
  EXPECT_EQ(decided.grace_period_seconds, 1);
  EXPECT_TRUE(decided.disruption_target);
  EXPECT_EQ(decided.message.rfind("The node was low on resource: memory. Threshold quantity: "
                                  "1Gi, available: 900Mi.",
                                  0),
            0u)
      << decided.message;
  EXPECT_EQ(decided.observed, "900Mi");
  EXPECT_EQ(decided.threshold, "1Gi (1Gi)");
  EXPECT_EQ(decided.eviction_id.rfind("uid-batch-", 0), 0u);
  EXPECT_EQ(sink_.orders[0].cgroup, "kubepods/besteffort/poduid-batch");
  EXPECT_EQ(conditions(), std::vector<std::string>{"MemoryPressure"});
  EXPECT_EQ(snapshots_.current()->evictions_total, 1u);
  const auto seen = events();
  EXPECT_NE(std::find(seen.begin(), seen.end(), status::EventType::kPressureBegun), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), status::EventType::kThresholdMet), seen.end());
  EXPECT_NE(metrics_.render().find(R"(kube_pod_status_reason{namespace="shop",pod="batch",)"
                                   R"(reason="Evicted",uid="uid-batch"} 1)"),
            std::string::npos);
}

TEST_F(LoopTest, OneEvictionAtATimeThenTheNextInRank) {
  start(kHardMemory1Gi);
  memory_available(900);
  round(WakeCause::kMemoryThreshold);
  ASSERT_EQ(sink_.evicted(), std::vector<std::string>{"batch"});
  round();
  round();
  EXPECT_EQ(sink_.orders.size(), 1u) << "the next eviction waits for the previous pod to be gone";
  gone("batch");
  round();
  EXPECT_EQ(sink_.evicted(), (std::vector<std::string>{"batch", "web"}));
}

// memory.pressure: the pod with the most memory and swap goes; once it is gone the stall window
// starts over, so the stall it caused cannot choose a second pod.
TEST_F(LoopTest, AStallEvictsThePodWithTheMostMemoryAndSwapThenTheWindowStartsOver) {
  node_.pod("uid-web").swap = 2048 * kMi;  // 512 Mi resident, the rest in swap
  start(
      "eviction:\n  evictionHard: {memory.available: 100Mi}\n"
      "pressureSignals:\n  evictionHard: {memory.pressure: 20%}\n");
  node_.stall_window_open = true;
  node_.stalled_us = 1'000'000;
  round();
  EXPECT_TRUE(sink_.orders.empty()) << "10% of the window is under 20%";

  node_.stalled_us = 4'000'000;
  round(WakeCause::kPsi);
  // By working set alone batch (1 GiB, no request) would go; with swap, web (2.5 GiB, 256 Mi
  // request) is the larger above its requests.
  ASSERT_EQ(sink_.evicted(), std::vector<std::string>{"web"});
  const ledger::Record& decided = sink_.orders[0].decision;
  EXPECT_EQ(decided.signal, "memory.pressure");
  EXPECT_EQ(decided.observed, "40.0%");
  EXPECT_EQ(decided.threshold, "20% (20.0%)");
  EXPECT_EQ(decided.message.rfind("The node was under memory pressure: tasks stalled on memory "
                                  "for 40.0% of the last 10s, threshold 20%. ",
                                  0),
            0u)
      << decided.message;
  EXPECT_EQ(conditions(), std::vector<std::string>{"MemoryPressure"});
  EXPECT_EQ(node_.pressure_restarts, 0);

  round();
  EXPECT_EQ(node_.pressure_restarts, 0) << "not while the pod is still being stopped";
  gone("web");
  node_.stall_window_open = false;  // what a restarted window observes until it is whole again
  round();
  EXPECT_EQ(node_.pressure_restarts, 1);
  EXPECT_EQ(sink_.orders.size(), 1u);
  round();
  EXPECT_EQ(node_.pressure_restarts, 1) << "once per eviction";
}

// The executor may finish while a round samples and decides: the stall the round judged still
// holds the evicted pod's, so the window starts over and no second pod goes on it.
TEST_F(LoopTest, APodGoneWhileTheRoundDecidesDoesNotLetItsStallChooseTheNext) {
  start(
      "eviction:\n  evictionHard: {memory.available: 100Mi}\n"
      "pressureSignals:\n  evictionHard: {memory.pressure: 20%}\n");
  node_.stall_window_open = true;
  node_.stalled_us = 4'000'000;
  round(WakeCause::kPsi);
  ASSERT_EQ(sink_.orders.size(), 1u);
  const std::string first = sink_.orders[0].decision.pod_name;
  node_.on_sample = [&] {  // gone between the round's start and its decision
    if (sink_.in_flight)
      gone(first);
  };
  round();
  EXPECT_EQ(sink_.orders.size(), 1u)
      << "evicted " << sink_.evicted().back() << " on the stall of the pod just gone";
  EXPECT_EQ(node_.pressure_restarts, 1);
}

TEST_F(LoopTest, ADryRunThresholdLogsItsChoiceOnceAndNeverEvicts) {
  start(
      "eviction:\n  evictionHard: {memory.available: 100Mi}\n"
      "pressureSignals:\n  evictionHard: {memory.pressure: 20%}\n"
      "  dryRun: [memory.pressure]\n");
  node_.stall_window_open = true;
  node_.stalled_us = 5'000'000;
  round(WakeCause::kPsi);
  round();
  EXPECT_TRUE(sink_.orders.empty());
  EXPECT_NE(metrics_.render().find(R"(evictd_dry_run_evictions_total{signal="memory.pressure"} 1)"),
            std::string::npos)
      << "counted once for the same pod";
  EXPECT_TRUE(conditions().empty()) << "a dry-run threshold raises no condition";
  // A kubelet threshold met beside it evicts as ever.
  memory_available(50);
  round(WakeCause::kMemoryThreshold);
  ASSERT_EQ(sink_.orders.size(), 1u);
  EXPECT_EQ(sink_.orders[0].decision.signal, "memory.available");
}

// An evicted pod whose sandbox lingers (the kubelet stops it) and whose cgroup still holds page
// cache is terminated, as the kubelet sees it: never ranked again, unless it runs again.
TEST_F(LoopTest, AnEvictedPodStillListedIsNotEvictedAgainUnlessItRunsAgain) {
  start(kHardMemory1Gi);
  memory_available(900);
  round(WakeCause::kMemoryThreshold);
  ASSERT_EQ(sink_.evicted(), std::vector<std::string>{"batch"});
  node_.pod("uid-batch").stopped = true;  // stopped; its sandbox and cgroup still there
  sink_.in_flight = false;
  round();
  EXPECT_EQ(sink_.evicted(), (std::vector<std::string>{"batch", "web"}));
  sink_.in_flight = false;
  node_.pod("uid-web").stopped = true;
  node_.pod("uid-batch").stopped = false;  // the kubelet ran it again: a pod like any other
  round();
  EXPECT_EQ(sink_.evicted(), (std::vector<std::string>{"batch", "web", "batch"}));
}

TEST_F(LoopTest, ASoftThresholdEvictsOnlyOnceItsGracePeriodHasRun) {
  start(
      "eviction:\n"
      "  evictionHard: {memory.available: 100Mi}\n"
      "  evictionSoft: {memory.available: 2Gi}\n"
      "  evictionSoftGracePeriod: {memory.available: 30s}\n"
      "  evictionMaxPodGracePeriod: 20\n");
  memory_available(1536);
  round(WakeCause::kTimer);
  EXPECT_EQ(conditions(), std::vector<std::string>{"MemoryPressure"}) << "met: the condition holds";
  round(WakeCause::kTimer, 28s);
  EXPECT_TRUE(sink_.orders.empty()) << "29 s into a 30 s grace period";
  // Relief before the grace period ends restarts it.
  memory_available(4096);
  round();
  memory_available(1536);
  round();
  round(WakeCause::kTimer, 29s);
  EXPECT_TRUE(sink_.orders.empty()) << "the grace period began again at the new crossing";
  round(WakeCause::kTimer, 1s);
  ASSERT_EQ(sink_.evicted(), std::vector<std::string>{"batch"});
  EXPECT_FALSE(sink_.orders[0].decision.hard);
  EXPECT_EQ(sink_.orders[0].decision.grace_period_seconds, 20)
      << "min(evictionMaxPodGracePeriod, terminationGracePeriodSeconds)";
}

TEST_F(LoopTest, TheConditionHoldsForTheTransitionPeriodAfterRelief) {
  start(kHardMemory1Gi);
  memory_available(900);
  round(WakeCause::kMemoryThreshold);
  gone("batch");
  memory_available(4096);
  round();
  EXPECT_EQ(conditions(), std::vector<std::string>{"MemoryPressure"});
  round(WakeCause::kTimer, 4min + 58s);
  EXPECT_EQ(conditions(), std::vector<std::string>{"MemoryPressure"}) << "within 5 minutes";
  round(WakeCause::kTimer, 2s);
  EXPECT_TRUE(conditions().empty());
  const auto seen = events();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), status::EventType::kPressureEnded), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), status::EventType::kThresholdCleared), 1);
  EXPECT_EQ(sink_.orders.size(), 1u);
}

TEST_F(LoopTest, StaleStatsAreNotActedOnAgain) {
  start(kHardMemory1Gi);
  memory_available(900);
  node_.frozen_time = clock_.monotonic() + 1s;  // what the next round reads, then never newer
  round(WakeCause::kMemoryThreshold);
  ASSERT_EQ(sink_.evicted(), std::vector<std::string>{"batch"});
  gone("batch");
  round();
  round();
  EXPECT_EQ(sink_.orders.size(), 1u) << "the same observation is not a reason to evict again";
  node_.frozen_time.reset();
  round();
  EXPECT_EQ(sink_.evicted(), (std::vector<std::string>{"batch", "web"}));
}

TEST_F(LoopTest, APodStartingUnderPressureIsListedInTheLoopAndEvicted) {
  start(kHardMemory1Gi);
  round();
  // A pod's cgroup appears and it allocates at once; the runtime's cache has not listed it yet.
  FakePod hog = pod("hog", QosTier::kBestEffort, 2048);
  hog.listed = false;
  node_.pods.push_back(hog);
  memory_available(900);
  clock_.advance(1s);
  node_.pod("uid-hog").listed = true;  // the runtime would list it now; its cache does not yet
  agent_->run_round(cgroups::Wake{WakeCause::kPodsChanged, "pods-besteffort", clock_.monotonic()});
  EXPECT_EQ(runtime_.refreshes_in_loop, 1);
  ASSERT_EQ(sink_.evicted(), std::vector<std::string>{"hog"});
}

// The cache's list is young but was asked before the starting pod's sandbox was ready; the pod
// then allocates past the threshold. Deciding on that list would rank every pod but the one using
// the memory, and evict a bystander.
TEST_F(LoopTest, AYoungListAskedBeforeAStartingPodGrewIsTakenAgainUnderPressure) {
  start(kHardMemory1Gi);
  round();
  FakePod hog = pod("hog", QosTier::kBestEffort, 0);
  hog.listed = false;
  node_.pods.push_back(hog);
  round(WakeCause::kPodsChanged);
  EXPECT_EQ(runtime_.expected, std::vector<std::string>{"uid-hog"});
  clock_.advance(200ms);
  runtime_.refresh();  // the cache's own refresh, 50 ms before the crossing: no sandbox yet
  node_.pod("uid-hog").listed = true;
  node_.pod("uid-hog").working_set = 2048 * kMi;
  memory_available(900);
  clock_.advance(50ms);
  agent_->run_round(cgroups::Wake{WakeCause::kMemoryThreshold, "test", clock_.monotonic()});
  EXPECT_EQ(runtime_.refreshes_in_loop, 1);
  ASSERT_EQ(sink_.evicted(), std::vector<std::string>{"hog"}) << "never the bystander batch";
}

TEST_F(LoopTest, APodStartingWithoutPressureIsLeftToTheCachesOwnRefresh) {
  start(kHardMemory1Gi);
  round();
  FakePod fresh = pod("fresh", QosTier::kBurstable, 64, 128);
  fresh.listed = false;
  node_.pods.push_back(fresh);
  clock_.advance(1s);
  agent_->run_round(cgroups::Wake{WakeCause::kPodsChanged, "pods-burstable", clock_.monotonic()});
  EXPECT_EQ(runtime_.refreshes_in_loop, 0);
  EXPECT_EQ(runtime_.expected, std::vector<std::string>{"uid-fresh"});
  EXPECT_TRUE(sink_.orders.empty());
}

TEST_F(LoopTest, DiskPressureReclaimsNodeResourcesBeforeEvictingAPod) {
  start("eviction:\n  evictionHard: {memory.available: 100Mi, nodefs.available: 10%}\n");
  round();
  node_.nodefs_available = node_.nodefs_capacity / 20;  // 5 %
  node_.on_observe_node = [this] { node_.nodefs_available = node_.nodefs_capacity / 2; };
  round();
  EXPECT_EQ(reclaimer_.asked, (std::vector<ReclaimAction>{ReclaimAction::kDeleteUnusedContainers,
                                                          ReclaimAction::kDeleteUnusedImages}));
  EXPECT_EQ(node_.node_observations, 1) << "observed again after the reclaim, alone";
  EXPECT_TRUE(sink_.orders.empty()) << "the reclaim freed enough";
  EXPECT_EQ(conditions(), std::vector<std::string>{"DiskPressure"});
}

TEST_F(LoopTest, AThresholdAtTheKernelsWatermarksIsNamedInStatusAndGoneWhenReloadedAbove) {
  // A 3 GiB node whose kernel reclaims hard below 66 MiB free: 100Mi comes too late.
  cgroups::NodeMemory memory;
  memory.total_bytes = 3072 * kMi;
  memory.reserve = KernelReserve{44 * kMi, 55 * kMi, 66 * kMi};
  Agent& agent = start(
      "eviction:\n  evictionHard: {memory.available: 100Mi}\n  mergeDefaultEvictionSettings: "
      "true\n",
      true, memory);
  memory_available(2048);
  round();
  ASSERT_EQ(snapshots_.current()->warnings->size(), 1u);
  const std::string& warning = snapshots_.current()->warnings->front();
  EXPECT_NE(warning.find("memory.available < 100Mi (hard)"), std::string::npos) << warning;
  EXPECT_NE(warning.find("Use at least 271Mi"), std::string::npos) << warning;
  config_source_.text =
      "eviction:\n  evictionHard: {memory.available: 300Mi}\n  mergeDefaultEvictionSettings: "
      "true\n";
  agent.reload();
  round();
  EXPECT_TRUE(snapshots_.current()->warnings->empty());
  // A partial evictionHard without the merge is named too, at a reload as at the start.
  config_source_.text = "eviction:\n  evictionHard: {memory.available: 300Mi}\n";
  agent.reload();
  round();
  ASSERT_EQ(snapshots_.current()->warnings->size(), 1u);
  EXPECT_NE(snapshots_.current()->warnings->front().find("mergeDefaultEvictionSettings"),
            std::string::npos);
}

TEST_F(LoopTest, AReloadTakesNewThresholdsAndABadFileKeepsTheRunningOnes) {
  Agent& agent = start(kHardMemory1Gi);
  memory_available(2048);
  round();
  config_source_.text = "eviction:\n  evictionHard: {memory.available: zero}\n";
  agent.reload();
  EXPECT_TRUE(pressure_.interrupted) << "a reload wakes the loop";
  round();
  EXPECT_TRUE(sink_.orders.empty());
  EXPECT_EQ(
      std::count(lifecycle_.said.begin(), lifecycle_.said.end(), "RELOADING reloading evictd.yaml"),
      0)
      << "a refused file is not a reload";
  EXPECT_EQ(agent.evaluator().thresholds()[0].value.text(), "1Gi");
  config_source_.text = "eviction:\n  evictionHard: {memory.available: 3Gi}\n";
  agent.reload();
  round();
  EXPECT_EQ(agent.evaluator().thresholds()[0].value.text(), "3Gi");
  EXPECT_EQ(
      std::count(lifecycle_.said.begin(), lifecycle_.said.end(), "RELOADING reloading evictd.yaml"),
      1);
  EXPECT_EQ(lifecycle_.said.back(), "READY running") << "READY=1 ends a reload for systemd";
  EXPECT_EQ(sink_.evicted(), std::vector<std::string>{"batch"});
}

TEST_F(LoopTest, WithTheApiServerDownTheLoopGoesOnWithTheLastSpecs) {
  start(kHardMemory1Gi);
  round();
  specs_.up = false;
  memory_available(900);
  round(WakeCause::kMemoryThreshold);
  EXPECT_FALSE(snapshots_.current()->api.connected);
  ASSERT_EQ(sink_.evicted(), std::vector<std::string>{"batch"});
  specs_.up = true;
  round();
  EXPECT_TRUE(snapshots_.current()->api.connected);
  // The first round found it connected (a restored connection, as every start reports it), the
  // second lost, the third restored.
  auto seen = events();
  std::erase_if(seen, [](status::EventType type) {
    return type != status::EventType::kApiLost && type != status::EventType::kApiRestored;
  });
  EXPECT_EQ(seen, (std::vector<status::EventType>{status::EventType::kApiRestored,
                                                  status::EventType::kApiLost,
                                                  status::EventType::kApiRestored}));
}

TEST_F(LoopTest, StandaloneRebuildsTheSpecsFromTheNode) {
  start(kHardMemory1Gi, /*with_api=*/false);
  memory_available(900);
  round(WakeCause::kMemoryThreshold);
  // Without the API server nothing is known of requests or priority: the pods rank by usage, and
  // the proxy's static-pod annotation is not on its sandbox here, so it is just the biggest.
  ASSERT_EQ(sink_.evicted(), std::vector<std::string>{"proxy"});
  EXPECT_EQ(snapshots_.current()->pods->entries[0].spec_source, model::SpecSource::kNode);
}

TEST_F(LoopTest, RunWakesOnThePressureSourceUntilStoppedAndSaysSo) {
  Agent& agent = start(kHardMemory1Gi);
  pressure_.on_wait = [&](int waits) {
    if (waits == 3)
      agent.stop();
  };
  EXPECT_EQ(agent.run(), 0);
  EXPECT_EQ(pressure_.waits, 3);
  EXPECT_EQ(lifecycle_.said.back(), "STOPPING");
  EXPECT_EQ(pressure_.rearms, 2) << "two rounds ran, each re-arming after its decision";
}

TEST_F(LoopTest, UsagePassingAPointWhileItWasArmedIsSampledAgainAtOnce) {
  Agent& agent = start(kHardMemory1Gi);
  pressure_.passed_on_rearm = 1;
  pressure_.on_wait = [&](int waits) {
    if (waits == 2)
      agent.stop();
  };
  agent.run();
  // wait, round (passed), round without waiting, wait (stop).
  EXPECT_EQ(pressure_.waits, 2);
  EXPECT_EQ(pressure_.rearms, 2);
}

TEST_F(LoopTest, WithoutKernelThresholdsTheWaitShortensAsTheHeadroomShrinks) {
  Agent& agent = start(std::string(kHardMemory1Gi) + "memoryGrowthBound: 1Gi\n");
  pressure_.on_wait = [&](int waits) {
    memory_available(waits == 1 ? 2048 : 1034);  // 1 GiB, then 10 MiB above the threshold
    if (waits == 3)
      agent.stop();
  };
  agent.run();
  ASSERT_EQ(pressure_.timeouts.size(), 3u);
  EXPECT_EQ(pressure_.timeouts[0], std::nullopt) << "before the first read, the poll timer alone";
  ASSERT_TRUE(pressure_.timeouts[1].has_value());
  EXPECT_EQ(*pressure_.timeouts[1], 1s) << "1 GiB of headroom at 1 GiB/s";
  ASSERT_TRUE(pressure_.timeouts[2].has_value());
  EXPECT_NEAR(std::chrono::duration<double>(*pressure_.timeouts[2]).count(), 10.0 / 1024, 1e-6);
}

TEST_F(LoopTest, WithKernelThresholdsForTheHardMemorySignalsTheWaitIsThePollTimers) {
  Agent& agent = start(std::string(kHardMemory1Gi) + "memoryGrowthBound: 1Gi\n");
  pressure_.memcg_thresholds = true;
  memory_available(1034);
  pressure_.on_wait = [&](int waits) {
    if (waits == 2)
      agent.stop();
  };
  agent.run();
  ASSERT_EQ(pressure_.timeouts.size(), 2u);
  EXPECT_EQ(pressure_.timeouts[1], std::nullopt);
}

// The loop with the real executor behind it, on the fake world.
class LoopWithExecutorTest : public LoopTest {
 protected:
  EvictionSink& evictions() override {
    executor_ =
        std::make_unique<Executor>(nullptr, world_, &world_, &metrics_, clock_, ExecutorOptions{});
    executor_->resume();
    return *executor_;
  }
  FakeWorld world_;
  std::unique_ptr<Executor> executor_;
};

TEST_F(LoopWithExecutorTest, ARuntimeThatCannotStopThePodIsAskedAgainByTheNextDecision) {
  world_.runtime_can_stop = false;
  start(kHardMemory1Gi);
  round();
  runtime_.up = false;  // the loop goes on with the last list it had
  memory_available(900);
  round(WakeCause::kMemoryThreshold);
  EXPECT_FALSE(snapshots_.current()->runtime.connected);
  EXPECT_TRUE(executor_->busy());
  executor_->run_once();  // the stop fails for the kubelet's 30 s
  EXPECT_FALSE(executor_->busy());
  EXPECT_TRUE(executor_->history()[0].state.has(ledger::Step::kFailed));
  world_.runtime_can_stop = true;
  runtime_.up = true;
  round(WakeCause::kTimer);
  ASSERT_TRUE(executor_->busy()) << "still under pressure: decided again";
  executor_->run_once();
  const auto history = executor_->history();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_TRUE(history[1].state.has(ledger::Step::kDone));
}

TEST_F(LoopWithExecutorTest, WithTheApiServerDownThePodIsStoppedAndItsStatusWrittenLater) {
  world_.api_up = false;
  start(kHardMemory1Gi);
  memory_available(900);
  round(WakeCause::kMemoryThreshold);
  executor_->run_once();
  EXPECT_FALSE(world_.pod_running);
  round();
  EXPECT_EQ(snapshots_.current()->evictions_pending_writes, 1);
  world_.api_up = true;
  executor_->nudge();
  executor_->run_once();
  round();
  EXPECT_EQ(snapshots_.current()->evictions_pending_writes, 0);
  EXPECT_TRUE(executor_->history()[0].state.has(ledger::Step::kStatusWritten));
}

}  // namespace
}  // namespace evictd::agent
