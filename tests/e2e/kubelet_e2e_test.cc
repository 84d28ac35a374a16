// evictd beside a kubelet: the kubelet stand-in (kubelet_stand_in.h, faithful to the kubelet's code
// paths) runs the node's pods through the real containerd from the test API server, and evictd
// evicts a leaking pod under memory pressure. The eviction must hold: the stand-in never runs the
// pod again, and kubectl ends with phase Failed, reason Evicted, the message and DisruptionTarget —
// for a hard and a soft eviction, with the race windows of the kubelet's status handling switched
// on in turn (B, C, and A forced by a lagging watch), with a slow API server, with the API server
// down for 20 s, for each restartPolicy, and through the Eviction API with the stand-in doing the
// graceful deletion.
//
// The stand-in's periods are scaled down (resync 3 s instead of 10 s, relist 1 s as in the kubelet)
// and evictd's postEvictionWatch with them (8 s: two resyncs and a margin), so that each case
// watches the pod for more than two resyncs in 8 s.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "apiserver/fake_apiserver_process.h"
#include "daemon/ledger/ledger.h"
#include "e2e/containerd_harness.h"
#include "e2e/daemon_process.h"
#include "e2e/kubelet_stand_in.h"

namespace evictd {
namespace {

using testing_util::ContainerdHarness;
using testing_util::Daemon;
using testing_util::eventually;
using testing_util::KubeletStandIn;
using testing_util::make_uid;
using testing_util::processes_in;
using testing_util::shell;
using testing_util::StandInOptions;

constexpr int64_t kMiB = 1024 * 1024;

StandInOptions options_with(void (*set)(StandInOptions&)) {
  StandInOptions options;
  set(options);
  return options;
}
constexpr const char* kNode = "kubelet-node";
constexpr auto kResync = std::chrono::milliseconds(3000);
constexpr auto kWatchedFor = std::chrono::seconds(8);  // over two of the stand-in's resyncs

struct PodSpec {
  std::string name;
  std::string qos = "Burstable";
  std::string resources = R"({"requests":{"memory":"10Mi"}})";
  std::vector<std::string> args;  // memhog: MiB, term|ignore-term, MiB/s
  std::string restart_policy = "Always";
  int grace_seconds = 30;
};

std::string pod_json(const PodSpec& spec, const std::string& uid) {
  std::string args;
  for (const auto& arg : spec.args)
    args += (args.empty() ? "\"" : ",\"") + arg + "\"";
  return R"({"metadata":{"name":")" + spec.name + R"(","namespace":"e2e","uid":")" + uid +
         R"("},"spec":{"nodeName":")" + kNode + R"(","restartPolicy":")" + spec.restart_policy +
         R"(","terminationGracePeriodSeconds":)" + std::to_string(spec.grace_seconds) +
         R"(,"containers":[{"name":"app","image":"memhog","args":[)" + args + R"(],"resources":)" +
         spec.resources + R"(}]},"status":{"phase":"Pending","qosClass":")" + spec.qos + R"("}})";
}

class KubeletE2eTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    harness_ = new ContainerdHarness();
    start_error_ = harness_->start();
    const char* source = std::getenv("EVICTD_SOURCE_DIR");
    api_ = new testing_util::FakeApiServer(source != nullptr ? source : ".");
    // 600 MiB for pods; evictd's point (allocatableMemory.available < 200Mi) is at 400 MiB.
    testing_util::set_kubepods_memory_limit(600 * kMiB);
  }
  static void TearDownTestSuite() {
    delete harness_;
    harness_ = nullptr;
    delete api_;
    api_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(start_error_.empty()) << start_error_;
    ASSERT_TRUE(api_->running());
    std::string pattern = "/tmp/evictd-kubelet-XXXXXX";
    dir_ = mkdtemp(pattern.data());
  }
  void TearDown() override {
    if (HasFailure() && stand_in_) {
      std::cerr << "---- the stand-in's journal\n";
      for (const auto& line : stand_in_->journal())
        std::cerr << line << "\n";
    }
    if (HasFailure() && daemon_)
      std::cerr << "---- evictd's log\n" << daemon_->log();
    daemon_.reset();
    // The node's pods go with the case: the stand-in terminates nothing on its own.
    for (const auto& uid : uids_) {
      const auto pod = stand_in_ ? stand_in_->test_pod(uid) : testing_util::TestPod{};
      if (!pod.sandbox_id.empty())
        (void)harness_->client().stop_pod_sandbox(pod.sandbox_id, std::chrono::seconds(10));
    }
    stand_in_.reset();
    for (const auto& name : names_)
      control("DELETE", "/_test/pods?namespace=e2e&name=" + name);
    control("DELETE", "/_test/faults");
    std::filesystem::remove_all(dir_);
  }

  static bool control(const std::string& verb, const std::string& path,
                      const std::string& body = "") {
    return testing_util::api_control(*api_, verb, path, body);
  }
  static std::string kubectl(const std::string& args) {
    return shell("kubectl --kubeconfig " + api_->dir() + "/kubeconfig " + args);
  }
  static std::string pod_status(const std::string& name) {
    return kubectl(
        "get pod -n e2e " + name +
        R"( -o jsonpath='{.status.phase} {.status.reason} {.status.conditions[?(@.type=="DisruptionTarget")].reason}' 2>&1)");
  }

  void start_stand_in(StandInOptions options = {}) {
    options.node = kNode;
    options.kubeconfig = api_->dir() + "/kubeconfig";
    options.resync = kResync;
    stand_in_ = std::make_unique<KubeletStandIn>(*harness_, options);
    ASSERT_EQ(stand_in_->start(), "");
  }
  // A pod in the API server, which the stand-in runs; its UID.
  std::string add_pod(const PodSpec& spec) {
    const std::string uid = make_uid();
    EXPECT_TRUE(control("POST", "/_test/pods", pod_json(spec, uid)));
    uids_.push_back(uid);
    names_.push_back(spec.name);
    EXPECT_TRUE(eventually([&] { return processes_in(stand_in_->test_pod(uid)) > 0; },
                           std::chrono::seconds(20)))
        << spec.name << " was not started by the stand-in";
    return uid;
  }
  // The node before the pressure: ~100 MiB of bystanders.
  void add_bystanders() {
    bystanders_.push_back(add_pod({.name = "db",
                                   .qos = "Guaranteed",
                                   .resources = R"({"requests":{"memory":"128Mi"},)"
                                                R"("limits":{"memory":"128Mi"}})",
                                   .args = {"64"}}));
    bystanders_.push_back(
        add_pod({.name = "web", .resources = R"({"requests":{"memory":"40Mi"}})", .args = {"30"}}));
  }
  static constexpr const char* kHardEviction =
      "eviction:\n  evictionHard: {memory.available: \"200Mi\"}\n"
      "  evictionPressureTransitionPeriod: 5s\n";
  // Soft at 300 MiB of the 600 in kubepods (2 s of grace), hard far above it.
  static constexpr const char* kSoftEviction =
      "eviction:\n  evictionHard: {allocatableMemory.available: \"100Mi\"}\n"
      "  evictionSoft: {allocatableMemory.available: \"300Mi\"}\n"
      "  evictionSoftGracePeriod: {allocatableMemory.available: \"1s\"}\n"
      "  evictionMaxPodGracePeriod: 2\n  evictionPressureTransitionPeriod: 5s\n";
  void start_evictd(const std::string& eviction = kHardEviction) {
    const std::string config =
        std::string("nodeName: ") + kNode + "\nkubeconfig: " + api_->dir() + "/kubeconfig\n" +
        eviction + "containerRuntimeEndpoint: " + harness_->endpoint() + "\n" +
        "podSandboxImage: " + ContainerdHarness::kPauseImage + "\n" + "nodefsPath: " + dir_ +
        "\nstateDirectory: " + dir_ + "/state\nmonitoringInterval: 1s\n" +
        "postEvictionWatch: 8s\n" + testing_util::cgroup_driver_config();
    daemon_ = std::make_unique<Daemon>(dir_, config);
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    ASSERT_TRUE(eventually(
        [&] {
          return daemon_->metrics().find(
                     "evictd_signal_available{signal=\"allocatableMemory."
                     "available\"}") != std::string::npos;
        },
        std::chrono::seconds(10)));
  }
  // The leak: grows at 100 MiB/s to 400 MiB, past evictd's point.
  std::string add_hog(const std::string& restart_policy = "Always") {
    return add_pod(
        {.name = "hog", .args = {"400", "term", "100"}, .restart_policy = restart_policy});
  }
  ledger::EvictionState eviction_of(const std::string& pod) {
    auto replayed = ledger::replay_file(dir_ + "/state/ledger");
    if (replayed.ok()) {
      for (const auto& eviction : replayed->evictions) {
        if (eviction.decision.pod_name == pod)
          return eviction;
      }
    }
    return {};
  }
  std::vector<std::string> steps_of(const std::string& pod) {
    const auto eviction = eviction_of(pod);
    std::vector<std::string> out;
    for (const auto& step : eviction.steps)
      out.emplace_back(ledger::step_name(step.step));
    return out;
  }
  bool has_step(const std::string& pod, ledger::Step step) { return eviction_of(pod).has(step); }
  // No process of the pod runs, and the stand-in started nothing again, for the whole window.
  void expect_stays_down(const std::string& uid) {
    const auto until = std::chrono::steady_clock::now() + kWatchedFor;
    while (std::chrono::steady_clock::now() < until) {
      const auto pod = stand_in_->test_pod(uid);
      EXPECT_EQ(processes_in(pod), 0)
          << "the evicted pod runs again: "
          << shell("for f in $(find " + testing_util::memory_cgroup(pod.cgroup_path) +
                   " -name cgroup.procs); do for p in $(cat $f); do echo \"$f $p $(tr '\\0' ' ' "
                   "</proc/$p/cmdline)\"; done; done");
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  void expect_bystanders_running() {
    for (const auto& uid : bystanders_)
      EXPECT_GT(processes_in(stand_in_->test_pod(uid)), 0);
  }
  // The eviction as kubectl shows it at the end.
  void expect_evicted_in_kubectl(const std::string& name) {
    EXPECT_TRUE(
        eventually([&] { return pod_status(name) == "Failed Evicted TerminationByKubelet"; },
                   std::chrono::seconds(10)))
        << pod_status(name);
    EXPECT_NE(kubectl("get pod -n e2e " + name + " -o jsonpath='{.status.message}'")
                  .find("The node was low on resource: memory."),
              std::string::npos);
  }

  static inline ContainerdHarness* harness_ = nullptr;
  static inline testing_util::FakeApiServer* api_ = nullptr;
  static inline std::string start_error_;
  std::string dir_;
  std::unique_ptr<KubeletStandIn> stand_in_;
  std::unique_ptr<Daemon> daemon_;
  std::vector<std::string> uids_;
  std::vector<std::string> names_;
  std::vector<std::string> bystanders_;
};

class RestartPolicies : public KubeletE2eTest, public testing::WithParamInterface<const char*> {};

// The order the kubelet honours: frozen, the status seen on the watch, the containers stopped; the
// stand-in adopts Failed at the PLEG event, stops the sandbox itself, and never runs the pod again.
TEST_P(RestartPolicies, AHardEvictionIsHonouredAndThePodNeverRunsAgain) {
  start_stand_in();
  add_bystanders();
  start_evictd();
  const std::string hog = add_hog(GetParam());
  ASSERT_TRUE(
      eventually([&] { return has_step("hog", ledger::Step::kDone); }, std::chrono::seconds(20)));
  expect_stays_down(hog);
  EXPECT_EQ(stand_in_->restarts(), 0);
  EXPECT_TRUE(stand_in_->record(hog).terminated) << "the stand-in adopted Failed";
  expect_evicted_in_kubectl("hog");
  expect_bystanders_running();
  // The kubelet stopped the sandbox: evictd had nothing to step in for.
  EXPECT_EQ(steps_of("hog"),
            (std::vector<std::string>{"frozen", "status-written", "status-seen", "stopped",
                                      "event-written", "done", "watched"}));
}

// A soft eviction, stopped directly: thawed for SIGTERM and given its grace period (here
// evictionMaxPodGracePeriod, 2 s), in the same order; the stand-in never runs it again. The
// stand-in's own pods are as kubectl shows them: Running.
TEST_F(KubeletE2eTest, ASoftEvictionKeepsItsGracePeriodAndHolds) {
  start_stand_in();
  add_bystanders();
  EXPECT_EQ(pod_status("db"), "Running  ") << "the stand-in's status, through kubectl";
  start_evictd(kSoftEviction);
  const std::string hog = add_pod({.name = "hog", .args = {"300", "term", "100"}});
  ASSERT_TRUE(
      eventually([&] { return has_step("hog", ledger::Step::kDone); }, std::chrono::seconds(30)));
  const auto eviction = eviction_of("hog");
  EXPECT_FALSE(eviction.decision.hard);
  EXPECT_EQ(eviction.decision.grace_period_seconds, 2);
  expect_stays_down(hog);
  EXPECT_EQ(stand_in_->restarts(), 0);
  expect_evicted_in_kubectl("hog");
  expect_bystanders_running();
}

INSTANTIATE_TEST_SUITE_P(KubeletE2e, RestartPolicies,
                         testing::Values("Always", "OnFailure", "Never"));

// Window C: the stand-in's first sync after the external Failed writes reason and message away;
// evictd writes them again, and the stand-in's later syncs keep them.
TEST_F(KubeletE2eTest, WindowCAWipedReasonIsWrittenAgain) {
  start_stand_in(options_with([](StandInOptions& o) { o.window_c = true; }));
  add_bystanders();
  start_evictd();
  const std::string hog = add_hog();
  ASSERT_TRUE(eventually([&] { return has_step("hog", ledger::Step::kStatusRestored); },
                         std::chrono::seconds(20)));
  expect_stays_down(hog);
  EXPECT_EQ(stand_in_->restarts(), 0);
  expect_evicted_in_kubectl("hog");
  const auto journal = stand_in_->journal();
  EXPECT_TRUE(std::any_of(journal.begin(), journal.end(), [](const std::string& line) {
    return line.find("window C") != std::string::npos;
  }));
  EXPECT_NE(daemon_->metrics().find("evictd_eviction_corrections_total{what=\"status\"} 1"),
            std::string::npos);
}

// Window B: the stand-in's status batch writes Running back over Failed before any sync adopted
// it, and its next relist restarts the pod. evictd closes it either way the race goes: the phase
// written back is restored; a run is stopped again at once and, its status having landed, the pod
// deleted (the stand-in kills it for good and the object goes; the Event stays). Never does the
// pod run on.
TEST_F(KubeletE2eTest, WindowBAPhaseWrittenBackIsRestoredOrTheRunStoppedAndDeleted) {
  start_stand_in(options_with([](StandInOptions& o) { o.window_b = true; }));
  add_bystanders();
  start_evictd();
  const std::string hog = add_hog();
  ASSERT_TRUE(eventually(
      [&] {
        return has_step("hog", ledger::Step::kStatusRestored) ||
               has_step("hog", ledger::Step::kDeleteRequested);
      },
      std::chrono::seconds(20)));
  const auto journal = stand_in_->journal();
  EXPECT_TRUE(std::any_of(journal.begin(), journal.end(), [](const std::string& line) {
    return line.find("window B") != std::string::npos;
  }));
  // The watch ends with the pod down, whatever the race did in between.
  ASSERT_TRUE(eventually([&] { return has_step("hog", ledger::Step::kWatched); },
                         std::chrono::seconds(30)));
  EXPECT_EQ(processes_in(stand_in_->test_pod(hog)), 0);
  // Which way the race went is what evictd saw: the pod in the runtime again (a container the
  // stand-in started, or only created when the runtime refused to start it in a stopped sandbox)
  // — stopped again and deleted — or only its phase written back — restored. A run evictd did
  // not see is the failure this test is for.
  if (has_step("hog", ledger::Step::kRestarted)) {
    EXPECT_TRUE(has_step("hog", ledger::Step::kDeleteRequested));
    EXPECT_TRUE(
        eventually([&] { return stand_in_->record(hog).deleted; }, std::chrono::seconds(10)))
        << "deleted, the stand-in killed it for good";
  } else {
    EXPECT_EQ(stand_in_->restarts(), 0) << "the pod ran again and evictd did not see it";
    expect_evicted_in_kubectl("hog");
  }
  EXPECT_NE(kubectl("get events -n e2e -o jsonpath='{range .items[*]}{.involvedObject.name} "
                    "{.reason}{\"\\n\"}{end}'")
                .find("hog Evicted"),
            std::string::npos);
  expect_bystanders_running();
}

// Window A forced: a stand-in whose watch lags 1.5 s sees the containers die before it holds
// Failed and runs the pod again. evictd stops it again within its watch's poll and deletes it;
// the stand-in kills it for good.
TEST_F(KubeletE2eTest, WindowAForcedARestartedPodIsStoppedAgainAndDeleted) {
  start_stand_in(
      options_with([](StandInOptions& o) { o.watch_lag = std::chrono::milliseconds(1500); }));
  add_bystanders();
  start_evictd();
  const std::string hog = add_hog();
  ASSERT_TRUE(eventually([&] { return has_step("hog", ledger::Step::kDeleteRequested); },
                         std::chrono::seconds(30)));
  EXPECT_TRUE(has_step("hog", ledger::Step::kRestarted));
  EXPECT_NE(daemon_->metrics().find("evictd_eviction_corrections_total{what=\"restarted\"}"),
            std::string::npos);
  ASSERT_TRUE(eventually([&] { return stand_in_->record(hog).deleted; }, std::chrono::seconds(15)));
  EXPECT_EQ(processes_in(stand_in_->test_pod(hog)), 0);
  EXPECT_NE(kubectl("get pod -n e2e hog 2>&1").find("NotFound"), std::string::npos)
      << "the pod object is gone";
  expect_bystanders_running();
}

// With every API request 500 ms slow, relief (the freeze) comes as fast as with a quick one, and
// the order still holds.
TEST_F(KubeletE2eTest, ASlowApiServerDelaysNoRelief) {
  start_stand_in();
  add_bystanders();
  start_evictd();
  control("POST", "/_test/faults", R"({"path":"^/api","delay":0.5,"count":100000})");
  const std::string hog = add_hog();
  ASSERT_TRUE(
      eventually([&] { return has_step("hog", ledger::Step::kDone); }, std::chrono::seconds(30)));
  const auto eviction = eviction_of("hog");
  ASSERT_FALSE(eviction.steps.empty());
  EXPECT_EQ(eviction.steps[0].step, ledger::Step::kFrozen);
  EXPECT_LE(eviction.steps[0].time_unix_ms - eviction.decision.time_unix_ms, 5)
      << "frozen within 5 ms of the decision";
  control("DELETE", "/_test/faults");
  expect_stays_down(hog);
  EXPECT_EQ(stand_in_->restarts(), 0);
  expect_evicted_in_kubectl("hog");
}

// The API server down for 20 s from before the pressure: relief comes anyway (frozen, then
// stopped); the stand-in, never told, runs the pod again and evictd stops it again (no deletion:
// no status had landed); once the API server answers, the status goes out at once, the stand-in
// adopts it, and the eviction is finished.
TEST_F(KubeletE2eTest, TheApiServerDownReliefFirstThenTheFinishedEviction) {
  start_stand_in();
  add_bystanders();
  start_evictd();
  const std::string hog_uid = make_uid();
  control("POST", "/_test/pods",
          pod_json({.name = "hog", .args = {"400", "term", "100"}}, hog_uid));
  uids_.push_back(hog_uid);
  names_.push_back("hog");
  ASSERT_TRUE(eventually([&] { return processes_in(stand_in_->test_pod(hog_uid)) > 0; },
                         std::chrono::seconds(20)));
  control("POST", "/_test/faults", R"({"path":"^/api","status":503,"count":1000000})");
  control("POST", "/_test/cut-watches");
  const auto down_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return has_step("hog", ledger::Step::kStopped); },
                         std::chrono::seconds(15)));
  EXPECT_FALSE(has_step("hog", ledger::Step::kStatusWritten));
  std::this_thread::sleep_until(down_at + std::chrono::seconds(20));
  control("DELETE", "/_test/faults");
  ASSERT_TRUE(eventually([&] { return has_step("hog", ledger::Step::kStatusWritten); },
                         std::chrono::seconds(10)));
  EXPECT_FALSE(has_step("hog", ledger::Step::kDeleteRequested));
  ASSERT_TRUE(
      eventually([&] { return stand_in_->record(hog_uid).terminated; }, std::chrono::seconds(10)));
  expect_stays_down(hog_uid);
  expect_evicted_in_kubectl("hog");
  expect_bystanders_running();
}

// softEvictionMode api: the API server deletes the pod gracefully, the stand-in stops it on the
// deletion and deletes it for good; evictd records the pod gone without stopping it itself.
TEST_F(KubeletE2eTest, TheEvictionApiPathLeavesTheStopToTheStandIn) {
  start_stand_in();
  add_bystanders();
  start_evictd(std::string(kSoftEviction) + "softEvictionMode: api\n");
  const std::string hog = add_pod({.name = "hog", .args = {"300", "term", "100"}});
  ASSERT_TRUE(
      eventually([&] { return has_step("hog", ledger::Step::kDone); }, std::chrono::seconds(30)));
  EXPECT_TRUE(has_step("hog", ledger::Step::kApiAccepted));
  const auto steps = eviction_of("hog").steps;
  EXPECT_TRUE(std::any_of(steps.begin(), steps.end(), [](const ledger::Record& step) {
    return step.step == ledger::Step::kStopped &&
           step.detail == "gone after the API server's deletion";
  }));
  EXPECT_TRUE(stand_in_->record(hog).deleted);
  EXPECT_EQ(processes_in(stand_in_->test_pod(hog)), 0);
  EXPECT_EQ(stand_in_->restarts(), 0);
  expect_bystanders_running();
}

}  // namespace
}  // namespace evictd
