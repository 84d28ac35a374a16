// The daemon's parts with stand-ins for the runtime and the API server: the executor's step order
// and ledger records, pending API writes, replay after a crash, dry-run and a runtime that cannot
// stop a pod; the metrics' kube_pod_status_reason, its retention, and a scrape that promtool
// accepts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "daemon/agent/executor.h"
#include "daemon/metrics/metrics.h"
#include "daemon/model/pod_view.h"
#include "ranking/pod.h"

namespace evictd::agent {
namespace {

bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 300; ++i) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// A runtime and an API server that record what was asked of them.
struct FakeWorld {
  std::mutex mutex;
  std::vector<std::string> calls;
  bool pod_running = true;
  bool api_up = true;
  bool runtime_can_stop = true;
  // The Eviction API's answer, or an error when unset; whether a kubelet acts on the deletion.
  std::optional<kube::ApiEvictionOutcome> eviction_outcome = kube::ApiEvictionOutcome::kEvicted;
  bool kubelet_stops_deleted_pods = true;

  void note(const std::string& call) {
    std::lock_guard lock(mutex);
    calls.push_back(call);
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex);
    return calls;
  }

  ExecutorPorts ports(bool with_api = true) {
    ExecutorPorts ports;
    ports.stop = [this](const cri::RuntimePod& pod, int64_t grace, bool hard) {
      note("stop " + pod.name + " grace=" + std::to_string(grace) + (hard ? " hard" : ""));
      cri::StopReport report;
      std::lock_guard lock(mutex);
      report.stopped = runtime_can_stop;
      report.steps.push_back(cri::StopStep{"StopPodSandbox", {}, runtime_can_stop, ""});
      if (runtime_can_stop)
        pod_running = false;
      return report;
    };
    ports.find_pod = [this](const std::string& uid) -> Result<std::optional<cri::RuntimePod>> {
      std::lock_guard lock(mutex);
      if (!pod_running)
        return std::optional<cri::RuntimePod>();
      cri::RuntimePod pod;
      pod.uid = uid;
      pod.name = "web";
      return std::optional<cri::RuntimePod>(pod);
    };
    ports.pod_gone = [this](const std::string&) {
      std::lock_guard lock(mutex);
      return !pod_running;
    };
    if (with_api) {
      ports.patch_status = [this](const kube::EvictionRecord& record) -> Result<void> {
        note("status " + record.name + (record.disruption_target ? " +DisruptionTarget" : ""));
        std::lock_guard lock(mutex);
        if (!api_up)
          return make_error("patch pods/status: 503");
        return {};
      };
      ports.post_event = [this](const kube::EvictionRecord& record) -> Result<void> {
        note("event " + record.name);
        std::lock_guard lock(mutex);
        if (!api_up)
          return make_error("create events: 503");
        return {};
      };
      ports.evict = [this](const kube::EvictionRecord& record,
                           int64_t grace) -> Result<kube::ApiEvictionOutcome> {
        note("evict " + record.name + " grace=" + std::to_string(grace));
        std::lock_guard lock(mutex);
        if (!api_up || !eviction_outcome)
          return make_error("create pods/eviction: 503");
        if (*eviction_outcome == kube::ApiEvictionOutcome::kEvicted && kubelet_stops_deleted_pods)
          pod_running = false;
        return *eviction_outcome;
      };
    }
    return ports;
  }
};

ledger::Record decision(const std::string& id = "e1") {
  ledger::Record record;
  record.eviction_id = id;
  record.step = ledger::Step::kDecided;
  record.time_unix_ms = 1'795'000'000'000;
  record.namespace_name = "shop";
  record.pod_name = "web";
  record.pod_uid = "uid-web";
  record.signal = "memory.available";
  record.message = "The node was low on resource: memory. ";
  record.grace_period_seconds = 1;
  record.hard = true;
  record.disruption_target = true;
  record.node_name = "node1";
  return record;
}

std::vector<std::string> steps_in(const std::string& directory) {
  auto replayed = ledger::replay_file(directory + "/ledger");
  std::vector<std::string> out;
  if (!replayed.ok())
    return {"unreadable: " + replayed.error().message};
  for (const auto& eviction : replayed->evictions) {
    out.emplace_back(ledger::step_name(eviction.decision.step));
    for (const auto& step : eviction.steps)
      out.emplace_back(ledger::step_name(step.step));
  }
  return out;
}

class ExecutorTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/evictd-executor-XXXXXX";
    dir_ = mkdtemp(pattern.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<ledger::Ledger> open_ledger() {
    auto opened = ledger::Ledger::open(dir_);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return std::make_unique<ledger::Ledger>(std::move(opened).value());
  }
  static ExecutorOptions fast() {
    ExecutorOptions options;
    options.wait_for_gone = std::chrono::milliseconds(500);
    options.poll = std::chrono::milliseconds(5);
    options.retry_interval = std::chrono::milliseconds(50);
    return options;
  }
  std::string dir_;
};

TEST_F(ExecutorTest, TakesTheStepsInOrderEachRecordedBeforeItIsTaken) {
  FakeWorld world;
  auto ledger = open_ledger();
  Executor executor(ledger.get(), world.ports(), nullptr, fast());
  executor.start();
  ASSERT_TRUE(executor.submit(EvictionOrder{decision(), std::chrono::steady_clock::now()}));
  EXPECT_FALSE(executor.submit(EvictionOrder{decision("e2"), std::chrono::steady_clock::now()}))
      << "one eviction at a time";
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  executor.stop();
  // The status write and the stop run side by side; the Event follows both.
  auto seen = world.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2], "event web");
  std::sort(seen.begin(), seen.begin() + 2);
  EXPECT_EQ(seen[0], "status web +DisruptionTarget");
  EXPECT_EQ(seen[1], "stop web grace=1 hard");
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "stopped", "status-written",
                                                      "event-written", "done"}));
  EXPECT_EQ(executor.pending(), 0u);
}

TEST_F(ExecutorTest, ApiServerDownStopsThePodAnywayAndWritesWhenItIsBack) {
  FakeWorld world;
  world.api_up = false;
  auto ledger = open_ledger();
  Executor executor(ledger.get(), world.ports(), nullptr, fast());
  executor.start();
  ASSERT_TRUE(executor.submit(EvictionOrder{decision(), std::chrono::steady_clock::now()}));
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  EXPECT_FALSE(world.pod_running) << "the stop does not wait for the API server";
  EXPECT_EQ(executor.pending(), 1u);
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "stopped"}));
  {
    std::lock_guard lock(world.mutex);
    world.api_up = true;
  }
  executor.nudge();
  ASSERT_TRUE(eventually([&] { return executor.pending() == 0; }));
  executor.stop();
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "stopped", "status-written",
                                                      "event-written", "done"}));
}

TEST_F(ExecutorTest, ReplayFinishesAnEvictionInterruptedAfterTheDecision) {
  {
    auto ledger = open_ledger();
    ASSERT_TRUE(ledger->append(decision()).ok());  // then the process died
  }
  FakeWorld world;
  auto ledger = open_ledger();
  Executor executor(ledger.get(), world.ports(), nullptr, fast());
  executor.start();
  EXPECT_FALSE(executor.submit(EvictionOrder{decision("e2"), std::chrono::steady_clock::now()}))
      << "the replayed eviction goes first";
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  executor.stop();
  EXPECT_FALSE(world.pod_running);
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "stopped", "status-written",
                                                      "event-written", "done"}));
}

TEST_F(ExecutorTest, FinishedEvictionsAreHistoryAfterARestartAndTheLedgerIsCompacted) {
  {
    auto ledger = open_ledger();
    for (int i = 0; i < 6; ++i) {
      auto record = decision("old" + std::to_string(i));
      record.time_unix_ms += i;
      ASSERT_TRUE(ledger->append(record).ok());
      ledger::Record done;
      done.eviction_id = record.eviction_id;
      done.step = ledger::Step::kDone;
      ASSERT_TRUE(ledger->append(done).ok());
    }
  }
  FakeWorld world;
  auto ledger = open_ledger();
  auto options = fast();
  options.keep_finished = 2;
  Executor executor(ledger.get(), world.ports(), nullptr, options);
  executor.start();
  executor.stop();
  // The two newest finished evictions are kept, in the status API's history and in the file.
  const auto history = executor.history();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].state.decision.eviction_id, "old4");
  EXPECT_EQ(history[1].state.decision.eviction_id, "old5");
  auto replayed = ledger::replay_file(dir_ + "/ledger");
  ASSERT_TRUE(replayed.ok());
  ASSERT_EQ(replayed->evictions.size(), 2u);
  EXPECT_EQ(replayed->evictions[0].decision.eviction_id, "old4");
  EXPECT_TRUE(replayed->evictions[1].has(ledger::Step::kDone));
  EXPECT_EQ(replayed->evictions[1].decision.pod_name, "web");  // the decision kept whole
}

TEST_F(ExecutorTest, ReplayOfAStoppedPodOnlyWritesWhatIsMissing) {
  {
    auto ledger = open_ledger();
    ASSERT_TRUE(ledger->append(decision()).ok());
    ledger::Record stopped;
    stopped.eviction_id = "e1";
    stopped.step = ledger::Step::kStopped;
    ASSERT_TRUE(ledger->append(stopped).ok());
  }
  FakeWorld world;
  world.pod_running = false;
  auto ledger = open_ledger();
  Executor executor(ledger.get(), world.ports(), nullptr, fast());
  executor.start();
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  executor.stop();
  EXPECT_EQ(world.seen(), (std::vector<std::string>{"status web +DisruptionTarget", "event web"}));
}

TEST_F(ExecutorTest, DryRunWritesNothingAnywhere) {
  FakeWorld world;
  auto options = fast();
  options.dry_run = true;
  Executor executor(nullptr, world.ports(/*with_api=*/false), nullptr, options);
  executor.start();
  ASSERT_TRUE(executor.submit(EvictionOrder{decision(), std::chrono::steady_clock::now()}));
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  executor.stop();
  // The stop port is the runtime's dry-run stopper in the daemon; here it proves it is the only
  // call made.
  EXPECT_EQ(world.seen(), (std::vector<std::string>{"stop web grace=1 hard"}));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ledger"));
  ASSERT_EQ(executor.history().size(), 1u);
  EXPECT_TRUE(executor.history()[0].state.has(ledger::Step::kDone));
}

TEST_F(ExecutorTest, ARuntimeThatCannotStopThePodFailsTheEvictionSoTheLoopDecidesAgain) {
  FakeWorld world;
  world.runtime_can_stop = false;
  auto ledger = open_ledger();
  Executor executor(ledger.get(), world.ports(), nullptr, fast());
  executor.start();
  ASSERT_TRUE(executor.submit(EvictionOrder{decision(), std::chrono::steady_clock::now()}));
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  executor.stop();
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "status-written", "failed"}))
      << "the status was written beside the failing stop";
}

ledger::Record soft_api_decision(const std::string& id = "e1") {
  auto record = decision(id);
  record.hard = false;
  record.grace_period_seconds = 0;
  record.eviction_api = true;
  return record;
}

TEST_F(ExecutorTest, AnEvictionTheApiAcceptsIsLeftToTheKubeletWithoutAStatusOfOurOwn) {
  FakeWorld world;
  auto ledger = open_ledger();
  Executor executor(ledger.get(), world.ports(), nullptr, fast());
  executor.start();
  ASSERT_TRUE(
      executor.submit(EvictionOrder{soft_api_decision(), std::chrono::steady_clock::now()}));
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  executor.stop();
  EXPECT_EQ(world.seen(), (std::vector<std::string>{"evict web grace=0", "event web"}));
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "api-accepted", "stopped",
                                                      "event-written", "done"}));
  EXPECT_TRUE(executor.refused_pods().empty());
  auto replayed = ledger::replay_file(dir_ + "/ledger");
  ASSERT_TRUE(replayed.ok());
  EXPECT_TRUE(replayed->evictions[0].decision.eviction_api);
}

TEST_F(ExecutorTest, APodStillRunningAfterTheHandoverIsStoppedThroughTheRuntime) {
  FakeWorld world;
  world.kubelet_stops_deleted_pods = false;
  auto ledger = open_ledger();
  auto options = fast();
  options.api_handover = std::chrono::milliseconds(100);
  Executor executor(ledger.get(), world.ports(), nullptr, options);
  executor.start();
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      executor.submit(EvictionOrder{soft_api_decision(), std::chrono::steady_clock::now()}));
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  executor.stop();
  EXPECT_GE(std::chrono::steady_clock::now() - started, options.api_handover);
  EXPECT_EQ(world.seen(),
            (std::vector<std::string>{"evict web grace=0", "stop web grace=0", "event web"}));
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "api-accepted", "stopped",
                                                      "event-written", "done"}));
}

TEST_F(ExecutorTest, ABudgetsRefusalFailsTheEvictionAndHoldsThePodBackForAWhile) {
  FakeWorld world;
  world.eviction_outcome = kube::ApiEvictionOutcome::kBlockedByDisruptionBudget;
  auto ledger = open_ledger();
  auto options = fast();
  options.refusal_hold = std::chrono::milliseconds(300);
  Executor executor(ledger.get(), world.ports(), nullptr, options);
  executor.start();
  ASSERT_TRUE(
      executor.submit(EvictionOrder{soft_api_decision(), std::chrono::steady_clock::now()}));
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  EXPECT_EQ(executor.refused_pods(), std::vector<std::string>{"uid-web"});
  EXPECT_TRUE(world.pod_running) << "nothing stopped";
  EXPECT_EQ(world.seen(), std::vector<std::string>{"evict web grace=0"});
  EXPECT_TRUE(eventually([&] { return executor.refused_pods().empty(); })) << "the hold ends";
  // Several budgets (the API's 500) are a refusal too; an API server that cannot be asked is not:
  // the pod is not held back and the loop asks again.
  world.eviction_outcome = kube::ApiEvictionOutcome::kMisconfigured;
  ASSERT_TRUE(
      executor.submit(EvictionOrder{soft_api_decision("e2"), std::chrono::steady_clock::now()}));
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  EXPECT_EQ(executor.refused_pods(), std::vector<std::string>{"uid-web"});
  EXPECT_TRUE(eventually([&] { return executor.refused_pods().empty(); }));
  world.eviction_outcome.reset();
  ASSERT_TRUE(
      executor.submit(EvictionOrder{soft_api_decision("e3"), std::chrono::steady_clock::now()}));
  ASSERT_TRUE(eventually([&] { return !executor.busy(); }));
  executor.stop();
  EXPECT_TRUE(executor.refused_pods().empty());
  EXPECT_TRUE(world.pod_running);
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "failed", "decided", "failed",
                                                      "decided", "failed"}));
  const auto history = executor.history();
  ASSERT_EQ(history.size(), 3u);
  EXPECT_NE(history[0].state.steps.back().detail.find("PodDisruptionBudget allows no disruption"),
            std::string::npos);
  EXPECT_NE(history[2].state.steps.back().detail.find("could not be asked"), std::string::npos);
}

// --- metrics

TEST(MetricsTest, EvictedPodsAsKubeStateMetricsReportsThemKeptForTheRetention) {
  metrics::Metrics metrics("1.2.3");
  const auto t0 = std::chrono::system_clock::now();
  metrics.pod_evicted("shop", "web", "uid-web", true, t0);
  metrics.pod_evicted("shop", "cache", "uid-cache", false, t0);
  std::string text = metrics.render();
  EXPECT_NE(
      text.find(
          R"(kube_pod_status_reason{namespace="shop",pod="web",reason="Evicted",uid="uid-web"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(kube_pod_status_reason{namespace="shop",pod="web",reason="TerminationByKubelet",uid="uid-web"} 1)"),
      std::string::npos);
  EXPECT_EQ(text.find(R"(pod="cache",reason="TerminationByKubelet")"), std::string::npos)
      << "no DisruptionTarget condition, no TerminationByKubelet";
  EXPECT_NE(text.find(R"(evictd_build_info{version="1.2.3"} 1)"), std::string::npos);

  const auto hour = std::chrono::hours(1);
  // web's object still exists: kept however old; cache's is gone: kept for the retention only.
  const auto exists = [](const std::string& uid) { return uid == "uid-web"; };
  metrics.expire(t0 + std::chrono::minutes(30), hour, exists);
  EXPECT_EQ(metrics.evicted_pods(), 2u);
  metrics.expire(t0 + std::chrono::minutes(61), hour, exists);
  EXPECT_EQ(metrics.evicted_pods(), 1u);
  text = metrics.render();
  EXPECT_EQ(text.find("uid-cache"), std::string::npos);
  EXPECT_NE(text.find("uid-web"), std::string::npos);
}

TEST(MetricsTest, SignalsThresholdsAndHistogramsInAFormatPromtoolAccepts) {
  metrics::Metrics metrics("0.1.0");
  Observations observations;
  observations.set(Signal::kMemoryAvailable, SignalObservation{1 << 30, 8LL << 30, {}});
  Threshold hard;
  hard.signal = Signal::kMemoryAvailable;
  hard.value.quantity = Quantity::from_bytes(100 << 20);
  Threshold soft = hard;
  soft.value.quantity.reset();
  soft.value.percentage = 0.1f;
  soft.grace_period = std::chrono::seconds(30);
  metrics.observe_signals(observations, {hard, soft});
  metrics.node_conditions(true, false, false);
  metrics.eviction_decided("memory.available", 0.2, 0.0007);
  metrics.eviction_finished(0.15);
  metrics.sample_finished(0.004);
  metrics.runtime_error();
  const std::string text = metrics.render();
  EXPECT_NE(text.find(R"(evictd_signal_available{signal="memory.available"} 1073741824)"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"(evictd_eviction_threshold{kind="hard",signal="memory.available"} 104857600)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(evictd_eviction_threshold{kind="soft",signal="memory.available"} 858993)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(evictd_node_condition{condition="MemoryPressure"} 1)"), std::string::npos);
  EXPECT_NE(text.find("evictd_detection_latency_seconds_count 1"), std::string::npos);
  EXPECT_NE(text.find("evictd_runtime_errors_total 1"), std::string::npos);

  const std::string path = "/tmp/evictd-metrics-" + std::to_string(getpid()) + ".txt";
  std::ofstream(path) << text;
  const int status = std::system(("promtool check metrics < " + path + " >/dev/null 2>&1").c_str());
  std::filesystem::remove(path);
  EXPECT_EQ(status, 0) << "promtool check metrics refused:\n" << text;
}

}  // namespace
}  // namespace evictd::agent
