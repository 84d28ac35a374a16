// The executor with stand-ins for the runtime and the API server, driven without its thread on a
// fake clock: the step order and ledger records, pending API writes, replay after a crash, ledger
// compaction, dry-run, a runtime that cannot stop a pod, and the Eviction API's outcomes.
#include "daemon/agent/executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "unit/agent_fakes.h"

namespace evictd::agent {
namespace {

using testing_util::FakeClock;
using testing_util::FakeWorld;

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

ObservedStatus running_status() {
  return ObservedStatus{.phase = "Running", .reason = "", .message = "", .deleting = false};
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
  // An executor over the fake world, its ledger replayed; the test runs its worker's passes.
  std::unique_ptr<Executor> executor(ledger::Ledger* ledger, bool with_api = true,
                                     ExecutorOptions options = {}) {
    if (with_api)
      options.statuses = &world_;
    auto made = std::make_unique<Executor>(ledger, world_, with_api ? &world_ : nullptr, nullptr,
                                           clock_, std::move(options));
    made->resume();
    return made;
  }
  EvictionOrder order(ledger::Record record, std::string cgroup = "") {
    return EvictionOrder{std::move(record), clock_.monotonic(), std::move(cgroup)};
  }
  // An eviction carried out beside the kubelet, up to its watch.
  std::unique_ptr<Executor> evicted(ledger::Ledger* ledger, ExecutorOptions options = {}) {
    auto executor = this->executor(ledger, true, std::move(options));
    EXPECT_TRUE(executor->submit(order(decision(), "kubepods/podweb")));
    executor->run_once();
    return executor;
  }
  std::string dir_;
  FakeClock clock_;
  FakeWorld world_;
};

TEST_F(ExecutorTest, TakesTheStepsInOrderEachRecordedBeforeItIsTaken) {
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get());
  ASSERT_TRUE(executor->submit(order(decision(), "kubepods/podweb")));
  EXPECT_FALSE(executor->submit(order(decision("e2")))) << "one eviction at a time";
  EXPECT_TRUE(executor->busy());
  executor->run_once();
  EXPECT_FALSE(executor->busy());
  // Frozen first; the status lands before any container dies; the containers alone are stopped,
  // and the kubelet, holding Failed, stops the sandbox.
  EXPECT_EQ(world_.seen(),
            (std::vector<std::string>{"freeze kubepods/podweb", "status web +DisruptionTarget",
                                      "stop-containers web grace=1 hard", "event web"}));
  EXPECT_EQ(steps_in(dir_),
            (std::vector<std::string>{"decided", "frozen", "status-written", "status-seen",
                                      "stopped", "event-written", "done"}));
  EXPECT_EQ(executor->pending(), 0u);
}

TEST_F(ExecutorTest, ApiServerDownStopsThePodAnywayAndWritesWhenItIsBack) {
  world_.api_up = false;
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get());
  ASSERT_TRUE(executor->submit(order(decision(), "kubepods/podweb")));
  executor->run_once();
  EXPECT_FALSE(executor->busy());
  EXPECT_FALSE(world_.pod_running) << "the stop does not wait for the API server";
  EXPECT_FALSE(world_.frozen);
  // Nobody holds a Failed status to hand the sandbox to: the whole pod is stopped.
  const auto seen = world_.seen();
  EXPECT_NE(std::find(seen.begin(), seen.end(), "stop-sandbox web"), seen.end());
  EXPECT_EQ(executor->pending(), 1u);
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "frozen", "stopped"}));
  executor->run_once();
  EXPECT_EQ(executor->pending(), 1u) << "still down: still waiting";
  world_.api_up = true;
  executor->nudge();  // the API cache saw it come back
  executor->run_once();
  EXPECT_EQ(executor->pending(), 0u);
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "frozen", "stopped",
                                                      "status-written", "event-written", "done"}));
}

TEST_F(ExecutorTest, AStatusNotSeenInTimeDoesNotHoldTheStop) {
  auto ledger = open_ledger();
  struct LaggingWatch final : PodStatusView {
    std::optional<ObservedStatus> observed(const std::string&) const override {
      return running_status();
    }
  } lagging;
  ExecutorOptions options;
  options.statuses = &lagging;
  Executor executor(ledger.get(), world_, &world_, nullptr, clock_, options);
  executor.resume();
  const Nanos started = clock_.monotonic();
  ASSERT_TRUE(executor.submit(order(decision(), "kubepods/podweb")));
  executor.run_once();
  EXPECT_GE(clock_.monotonic() - started, options.status_landing);
  EXPECT_LT(clock_.monotonic() - started, options.status_landing + std::chrono::seconds(1));
  const auto seen = world_.seen();
  EXPECT_NE(std::find(seen.begin(), seen.end(), "stop-sandbox web"), seen.end());
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "frozen", "status-written",
                                                      "stopped", "event-written", "done"}));
}

TEST_F(ExecutorTest, TheSandboxIsStoppedWhenTheKubeletHasNotWithinTheHandover) {
  world_.kubelet_adopts_failed = false;
  auto ledger = open_ledger();
  const Nanos started = clock_.monotonic();
  auto executor = evicted(ledger.get());
  EXPECT_GE(clock_.monotonic() - started, ExecutorOptions{}.sandbox_handover);
  const auto seen = world_.seen();
  EXPECT_NE(std::find(seen.begin(), seen.end(), "stop-sandbox web"), seen.end());
  // The Event goes out in its own thread meanwhile: before or after the sandbox step.
  auto steps = steps_in(dir_);
  const auto event = std::find(steps.begin(), steps.end(), "event-written");
  ASSERT_NE(event, steps.end());
  steps.erase(event);
  EXPECT_EQ(steps, (std::vector<std::string>{"decided", "frozen", "status-written", "status-seen",
                                             "stopped", "sandbox-stopped", "done"}));
}

TEST_F(ExecutorTest, TheWatchEndsQuietlyWhenThePodStaysDownAndItsStatusHolds) {
  auto ledger = open_ledger();
  auto executor = evicted(ledger.get());
  const size_t calls = world_.seen().size();
  clock_.advance(std::chrono::seconds(10));
  executor->run_once();
  EXPECT_EQ(steps_in(dir_).back(), "done") << "still watched";
  clock_.advance(std::chrono::seconds(16));
  executor->run_once();
  EXPECT_EQ(steps_in(dir_).back(), "watched");
  EXPECT_EQ(world_.seen().size(), calls) << "nothing stopped or written again";
  const auto history = executor->history();
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].state.steps.back().detail,
            "25 s after the status was written: never ran again, status held");
}

TEST_F(ExecutorTest, APodRunAgainAfterItsStatusLandedIsStoppedAgainAndDeleted) {
  auto ledger = open_ledger();
  auto executor = evicted(ledger.get());
  world_.restart(/*new_sandbox=*/true);
  clock_.advance(std::chrono::seconds(1));
  executor->run_once();
  EXPECT_FALSE(world_.pod_running);
  const auto seen = world_.seen();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[seen.size() - 2], "stop web grace=0 hard");
  EXPECT_EQ(seen.back(), "delete web grace=1");
  auto steps = steps_in(dir_);
  EXPECT_EQ(std::vector<std::string>(steps.end() - 2, steps.end()),
            (std::vector<std::string>{"restarted", "delete-requested"}));
  const auto history = executor->history();
  EXPECT_NE(history[0].state.steps[history[0].state.steps.size() - 2].detail.find("a new sandbox"),
            std::string::npos);
}

// The kubelet (its watch late) starts the container again while the sandbox is handed over: it is
// stopped again at once, with the sandbox, not when the handover ends.
TEST_F(ExecutorTest, ARestartDuringTheHandoverIsStoppedAgainAtOnce) {
  world_.kubelet_adopts_failed = false;
  world_.kubelet_restarts_once = true;
  auto ledger = open_ledger();
  const Nanos started = clock_.monotonic();
  auto executor = evicted(ledger.get());
  EXPECT_LT(clock_.monotonic() - started, std::chrono::seconds(1));
  EXPECT_FALSE(world_.pod_running);
  const auto seen = world_.seen();
  EXPECT_NE(std::find(seen.begin(), seen.end(), "stop web grace=0 hard"), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "delete web grace=1"), seen.end());
  auto steps = steps_in(dir_);
  EXPECT_NE(std::find(steps.begin(), steps.end(), "restarted"), steps.end());
  EXPECT_EQ(std::find(steps.begin(), steps.end(), "sandbox-stopped"), steps.end());
}

TEST_F(ExecutorTest, AStatusChangedBackIsWrittenAgain) {
  auto ledger = open_ledger();
  auto executor = evicted(ledger.get());
  // Window B: the kubelet's reconcile patched phase Running back.
  world_.set_status(running_status());
  clock_.advance(std::chrono::seconds(1));
  executor->run_once();
  EXPECT_EQ(world_.api_status->phase, "Failed");
  // Window C: its first sync after the external Failed wiped reason and message.
  world_.set_status(
      ObservedStatus{.phase = "Failed", .reason = "", .message = "", .deleting = false});
  clock_.advance(std::chrono::seconds(1));
  executor->run_once();
  EXPECT_EQ(world_.api_status->reason, "Evicted");
  auto steps = steps_in(dir_);
  EXPECT_EQ(std::vector<std::string>(steps.end() - 2, steps.end()),
            (std::vector<std::string>{"status-restored", "status-restored"}));
  const auto history = executor->history();
  const auto& restored = history[0].state.steps;
  EXPECT_EQ(restored[restored.size() - 2].detail,
            "it showed phase Running, reason \"\", another message");
  EXPECT_EQ(restored.back().detail, "it showed phase Failed, reason \"\", another message");
  // The watch runs 25 s from the last write.
  clock_.advance(std::chrono::seconds(26));
  executor->run_once();
  EXPECT_EQ(steps_in(dir_).back(), "watched");
  EXPECT_NE(executor->history()[0].state.steps.back().detail.find("status written again 2 time(s)"),
            std::string::npos);
}

TEST_F(ExecutorTest, WithTheApiServerDownARestartedPodIsStoppedBeforeANewEvictionIsTaken) {
  world_.api_up = false;
  auto ledger = open_ledger();
  auto executor = evicted(ledger.get());
  // The kubelet, never told, runs the pod again; meanwhile the loop decides on a bystander.
  world_.restart(/*new_sandbox=*/true);
  auto bystander = decision("e2");
  bystander.pod_name = "db";
  ASSERT_TRUE(executor->submit(order(bystander)));
  executor->run_once();
  EXPECT_FALSE(world_.pod_running) << "the evicted pod is stopped again";
  const auto seen = world_.seen();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "stop web grace=0 hard"), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "delete web grace=1"), 0)
      << "no status landed: the kubelet only did what it does";
  const auto history = executor->history();
  ASSERT_EQ(history.size(), 2u);
  const auto& dropped = history[0].state.decision.eviction_id == "e2" ? history[0] : history[1];
  EXPECT_TRUE(dropped.state.has(ledger::Step::kFailed));
  EXPECT_NE(dropped.state.steps.back().detail.find("not taken"), std::string::npos);
  // The API server is back: the writes go out, and the watch runs from then.
  world_.api_up = true;
  executor->nudge();
  executor->run_once();
  EXPECT_EQ(executor->pending(), 0u);
  EXPECT_EQ(world_.api_status->phase, "Failed");
}

// The circular wait of old: writes retried only after the wait for the pod to be gone, while the
// kubelet kept the pod until it saw Failed. Now the status goes out during the wait.
TEST_F(ExecutorTest, PendingWritesGoOutWhileThePodIsWaitedFor) {
  world_.api_up = false;
  auto ledger = open_ledger();
  Executor* executor_seen = nullptr;
  int asked = 0;
  // The pod lingers until the kubelet sees Failed; on the third look the API server is back (and
  // the cache says so).
  world_.gone_check = [&] {
    if (++asked == 3) {
      {
        std::lock_guard lock(world_.mutex);
        world_.api_up = true;
      }
      executor_seen->nudge();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the write's thread runs
    std::lock_guard lock(world_.mutex);
    return world_.api_status && world_.api_status->phase == "Failed";
  };
  ExecutorOptions options;
  options.statuses = &world_;
  Executor executor(ledger.get(), world_, &world_, nullptr, clock_, options);
  executor_seen = &executor;
  executor.resume();
  const Nanos started = clock_.monotonic();
  ASSERT_TRUE(executor.submit(order(decision())));
  executor.run_once();
  EXPECT_LT(clock_.monotonic() - started, std::chrono::seconds(5))
      << "the wait ended when the status was out, not at its 30 s bound";
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "stopped", "status-written",
                                                      "event-written", "done"}));
}

TEST_F(ExecutorTest, AWatchARestartInterruptedGoesOnForWhatIsLeftOfIt) {
  {
    auto ledger = open_ledger();
    auto executor = evicted(ledger.get());
  }
  clock_.advance(std::chrono::seconds(10));
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get());
  world_.restart(/*new_sandbox=*/true);
  executor->run_once();
  EXPECT_FALSE(world_.pod_running) << "still watched after the restart";
  clock_.advance(std::chrono::seconds(16));
  executor->run_once();
  EXPECT_EQ(steps_in(dir_).back(), "watched");
}

TEST_F(ExecutorTest, ReplayFinishesAnEvictionInterruptedAfterTheDecision) {
  {
    auto ledger = open_ledger();
    ASSERT_TRUE(ledger->append(decision()).ok());  // then the process died
  }
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get());
  EXPECT_TRUE(executor->busy());
  EXPECT_FALSE(executor->submit(order(decision("e2")))) << "the replayed eviction goes first";
  executor->run_once();
  EXPECT_FALSE(executor->busy());
  EXPECT_FALSE(world_.pod_running);
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "status-written", "status-seen",
                                                      "stopped", "event-written", "done"}));
}

// A crash after the freeze: the decided record names the cgroup, so the replay freezes the same
// cgroup (idempotent) and its stop thaws it — a pod is never left frozen by a restart.
TEST_F(ExecutorTest, ReplayKnowsThePodsCgroupFromTheDecision) {
  {
    auto ledger = open_ledger();
    auto record = decision();
    record.cgroup = "kubepods/podweb";
    ASSERT_TRUE(ledger->append(record).ok());
  }
  world_.frozen = true;
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get());
  executor->run_once();
  const auto seen = world_.seen();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0], "freeze kubepods/podweb");
  EXPECT_FALSE(world_.frozen);
  EXPECT_FALSE(world_.pod_running);
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
  auto ledger = open_ledger();
  ExecutorOptions options;
  options.keep_finished = 2;
  auto executor = this->executor(ledger.get(), true, options);
  // The two newest finished evictions are kept, in the status API's history and in the file.
  const auto history = executor->history();
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
  world_.pod_running = false;
  world_.sandbox_ready = false;
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get());
  executor->run_once();
  EXPECT_FALSE(executor->busy());
  EXPECT_EQ(world_.seen(), (std::vector<std::string>{"status web +DisruptionTarget", "event web"}));
}

TEST_F(ExecutorTest, DryRunWritesNothingAnywhere) {
  ExecutorOptions options;
  options.dry_run = true;
  auto executor = this->executor(nullptr, /*with_api=*/false, options);
  ASSERT_TRUE(executor->submit(order(decision())));
  executor->run_once();
  // The stop port is the runtime's dry-run stopper in the daemon; here it proves it is the only
  // call made.
  EXPECT_EQ(world_.seen(), (std::vector<std::string>{"stop web grace=1 hard"}));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ledger"));
  ASSERT_EQ(executor->history().size(), 1u);
  EXPECT_TRUE(executor->history()[0].state.has(ledger::Step::kDone));
}

TEST_F(ExecutorTest, ARuntimeThatCannotStopThePodFailsTheEvictionSoTheLoopDecidesAgain) {
  world_.runtime_can_stop = false;
  auto ledger = open_ledger();
  const Nanos started = clock_.monotonic();
  auto executor = this->executor(ledger.get());
  ASSERT_TRUE(executor->submit(order(decision())));
  executor->run_once();
  EXPECT_FALSE(executor->busy());
  EXPECT_EQ(steps_in(dir_),
            (std::vector<std::string>{"decided", "status-written", "status-seen", "failed"}))
      << "the status was written before the failing stop";
  // It was retried every half second for the kubelet's 30 s, on the executor's clock.
  EXPECT_GE(clock_.monotonic() - started, std::chrono::seconds(30));
  const auto stops = world_.seen();
  EXPECT_GE(std::count(stops.begin(), stops.end(), "stop-containers web grace=1 hard"), 60);
}

TEST_F(ExecutorTest, AHardEvictionDoesNotWaitOnAStalledRuntimeItKillsThroughTheCgroup) {
  world_.runtime_stalled = true;  // answers only once the pod has been killed
  auto ledger = open_ledger();
  const Nanos started = clock_.monotonic();
  auto executor = this->executor(ledger.get());
  ASSERT_TRUE(executor->submit(order(decision(), "kubepods/podweb")));
  executor->run_once();
  EXPECT_FALSE(executor->busy());
  // The status first, as always; the runtime silent for runtime_stall, the pod the runtime had
  // reported is killed through its cgroup; the runtime's stop and the Event follow.
  EXPECT_EQ(world_.seen(),
            (std::vector<std::string>{"freeze kubepods/podweb", "status web +DisruptionTarget",
                                      "kill kubepods/podweb", "stop-containers web grace=1 hard",
                                      "event web"}));
  EXPECT_EQ(steps_in(dir_),
            (std::vector<std::string>{"decided", "frozen", "status-written", "status-seen",
                                      "killed", "stopped", "event-written", "done"}));
  EXPECT_GE(clock_.monotonic() - started, ExecutorOptions{}.runtime_stall);
}

TEST_F(ExecutorTest, WithoutAnApiServerAHardEvictionIsFrozenFirstAndASoftOneIsNot) {
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get(), false);
  ASSERT_TRUE(executor->submit(order(decision(), "kubepods/podweb")));
  executor->run_once();
  EXPECT_EQ(world_.seen(),
            (std::vector<std::string>{"freeze kubepods/podweb", "stop-containers web grace=1 hard",
                                      "stop-sandbox web"}));
  world_.calls.clear();
  world_.restart(true);
  auto soft = decision("e2");
  soft.hard = false;
  ASSERT_TRUE(executor->submit(order(soft, "kubepods/podweb")));
  executor->run_once();
  EXPECT_EQ(world_.seen(),
            (std::vector<std::string>{"stop-containers web grace=1", "stop-sandbox web"}));
}

TEST_F(ExecutorTest, ARuntimeThatAnswersIsNeverBypassedEvenWhenItCannotStopThePod) {
  world_.runtime_can_stop = false;
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get());
  ASSERT_TRUE(executor->submit(order(decision(), "kubepods/podweb")));
  executor->run_once();
  const auto seen = world_.seen();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "kill kubepods/podweb"), 0);
  EXPECT_EQ(steps_in(dir_).back(), "failed");
}

TEST_F(ExecutorTest, ASoftEvictionWaitsForTheRuntimeItIsNeverKilledThroughTheCgroup) {
  world_.runtime_down = true;  // every call fails at once, for longer than runtime_stall
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get());
  auto soft = decision();
  soft.hard = false;
  ASSERT_TRUE(executor->submit(order(soft, "kubepods/podweb")));
  executor->run_once();
  const auto seen = world_.seen();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "kill kubepods/podweb"), 0);
  EXPECT_EQ(steps_in(dir_).back(), "failed");
  EXPECT_EQ(seen.back(), "thaw kubepods/podweb") << "never left frozen";
}

TEST_F(ExecutorTest, ARuntimeDownForLongerThanTheBoundHasAHardEvictionKilledThroughTheCgroup) {
  world_.runtime_down = true;
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get());
  ASSERT_TRUE(executor->submit(order(decision(), "kubepods/podweb")));
  executor->run_once();
  const auto seen = world_.seen();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "kill kubepods/podweb"), 1) << "once";
  const auto steps = steps_in(dir_);
  EXPECT_NE(std::find(steps.begin(), steps.end(), "killed"), steps.end());
  // The runtime never came back within the wait: the eviction fails, and the loop decides again.
  EXPECT_EQ(steps.back(), "failed");
}

TEST_F(ExecutorTest, APodThatLingersIsWaitedForBoundedThenTheNextEvictionMayGo) {
  auto ledger = open_ledger();
  ExecutorOptions options;
  options.wait_for_gone = std::chrono::seconds(30);
  int asked = 0;
  world_.gone_check = [&] {
    ++asked;
    return false;
  };
  Executor executor(ledger.get(), world_, &world_, nullptr, clock_, options);
  executor.resume();
  const Nanos started = clock_.monotonic();
  ASSERT_TRUE(executor.submit(order(decision())));
  executor.run_once();
  EXPECT_FALSE(executor.busy());
  EXPECT_GE(clock_.monotonic() - started, std::chrono::seconds(30));
  EXPECT_LT(clock_.monotonic() - started, std::chrono::seconds(31));
  // 20 ms at first, backing off to once a second as the kubelet polls: not 1 500 runtime
  // listings in 30 s against a node short of memory.
  EXPECT_LE(asked, 40);
  EXPECT_GE(asked, 30);
  EXPECT_TRUE(executor.submit(order(decision("e2"))));
}

ledger::Record soft_api_decision(const std::string& id = "e1") {
  auto record = decision(id);
  record.hard = false;
  record.grace_period_seconds = 0;
  record.eviction_api = true;
  return record;
}

TEST_F(ExecutorTest, AnEvictionTheApiAcceptsIsLeftToTheKubeletWithoutAStatusOfOurOwn) {
  auto ledger = open_ledger();
  auto executor = this->executor(ledger.get());
  ASSERT_TRUE(executor->submit(order(soft_api_decision())));
  executor->run_once();
  EXPECT_EQ(world_.seen(), (std::vector<std::string>{"evict web grace=0", "event web"}));
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "api-accepted", "stopped",
                                                      "event-written", "done"}));
  EXPECT_TRUE(executor->refused_pods().empty());
  auto replayed = ledger::replay_file(dir_ + "/ledger");
  ASSERT_TRUE(replayed.ok());
  EXPECT_TRUE(replayed->evictions[0].decision.eviction_api);
}

TEST_F(ExecutorTest, APodStillRunningAfterTheHandoverIsStoppedThroughTheRuntime) {
  world_.kubelet_stops_deleted_pods = false;
  auto ledger = open_ledger();
  ExecutorOptions options;
  options.api_handover = std::chrono::seconds(10);
  auto executor = this->executor(ledger.get(), true, options);
  const Nanos started = clock_.monotonic();
  ASSERT_TRUE(executor->submit(order(soft_api_decision())));
  executor->run_once();
  EXPECT_GE(clock_.monotonic() - started, options.api_handover);
  EXPECT_EQ(world_.seen(),
            (std::vector<std::string>{"evict web grace=0", "stop-containers web grace=0",
                                      "stop-sandbox web", "event web"}));
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "api-accepted", "stopped",
                                                      "event-written", "done"}));
}

TEST_F(ExecutorTest, ABudgetsRefusalFailsTheEvictionAndHoldsThePodBackForAWhile) {
  world_.eviction_outcome = kube::ApiEvictionOutcome::kBlockedByDisruptionBudget;
  auto ledger = open_ledger();
  ExecutorOptions options;
  options.refusal_hold = std::chrono::seconds(10);
  auto executor = this->executor(ledger.get(), true, options);
  ASSERT_TRUE(executor->submit(order(soft_api_decision())));
  executor->run_once();
  EXPECT_EQ(executor->refused_pods(), std::vector<std::string>{"uid-web"});
  EXPECT_TRUE(world_.pod_running) << "nothing stopped";
  EXPECT_EQ(world_.seen(), std::vector<std::string>{"evict web grace=0"});
  clock_.advance(std::chrono::seconds(9));
  EXPECT_EQ(executor->refused_pods(), std::vector<std::string>{"uid-web"});
  clock_.advance(std::chrono::seconds(1));
  EXPECT_TRUE(executor->refused_pods().empty()) << "the hold ends";
  // Several budgets (the API's 500) are a refusal too; an API server that cannot be asked is not:
  // the pod is not held back and the loop asks again.
  world_.eviction_outcome = kube::ApiEvictionOutcome::kMisconfigured;
  ASSERT_TRUE(executor->submit(order(soft_api_decision("e2"))));
  executor->run_once();
  EXPECT_EQ(executor->refused_pods(), std::vector<std::string>{"uid-web"});
  clock_.advance(options.refusal_hold);
  world_.eviction_outcome.reset();
  ASSERT_TRUE(executor->submit(order(soft_api_decision("e3"))));
  executor->run_once();
  EXPECT_TRUE(executor->refused_pods().empty());
  EXPECT_TRUE(world_.pod_running);
  EXPECT_EQ(steps_in(dir_), (std::vector<std::string>{"decided", "failed", "decided", "failed",
                                                      "decided", "failed"}));
  const auto history = executor->history();
  ASSERT_EQ(history.size(), 3u);
  EXPECT_NE(history[0].state.steps.back().detail.find("PodDisruptionBudget allows no disruption"),
            std::string::npos);
  EXPECT_NE(history[2].state.steps.back().detail.find("could not be asked"), std::string::npos);
}

TEST_F(ExecutorTest, TheWorkerThreadRetriesPendingWritesWhenNudged) {
  world_.api_up = false;
  auto ledger = open_ledger();
  ExecutorOptions options;
  options.retry_interval = std::chrono::hours(1);  // only a nudge brings the retry forward
  Executor executor(ledger.get(), world_, &world_, nullptr, clock_, options);
  executor.start();
  ASSERT_TRUE(executor.submit(order(decision())));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (executor.pending() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(executor.pending(), 1u);
  {
    std::lock_guard lock(world_.mutex);
    world_.api_up = true;
  }
  executor.nudge();
  while (executor.pending() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  executor.stop();
  EXPECT_EQ(executor.pending(), 0u);
  EXPECT_EQ(steps_in(dir_).back(), "done");
}

}  // namespace
}  // namespace evictd::agent
