// The evictd binary end to end: a real containerd + runc running kubelet-style pods in a
// memory-limited kubepods cgroup, the test API server (checked with the real kubectl), and Debian's
// Prometheus server scraping evictd. Memory pressure from a newly started pod evicts exactly the
// pod the kubelet would choose (never the critical one), the pod's status and condition are
// visible through kubectl, kube_pod_status_reason is 1 for it and Prometheus finds it, every
// expression of the shipped Grafana dashboard returns series and the shipped rules fire; dry-run
// stops nothing; with the API server failing the pod is still stopped and its status written
// later; a SIGKILL between the ledger and the status write is finished by the next start; without
// an API server (standalone) the node is still protected.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "apiserver/fake_apiserver_process.h"
#include "daemon/ledger/ledger.h"
#include "e2e/containerd_harness.h"
#include "e2e/daemon_process.h"
#include "e2e/prometheus_server.h"
#include "read_text.h"
#include "status.grpc.pb.h"

namespace evictd {
namespace {

using testing_util::ContainerdHarness;
using testing_util::processes_in;
using testing_util::TestContainer;
using testing_util::TestPod;

constexpr int64_t kMiB = 1024 * 1024;
constexpr const char* kNode = "e2e-node";

using testing_util::Daemon;
using testing_util::eventually;
using testing_util::free_port;
using testing_util::http_get;
using testing_util::make_uid;
using testing_util::PrometheusServer;
using testing_util::shell;

class DaemonE2eTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    harness_ = new ContainerdHarness();
    start_error_ = harness_->start();
    api_ = new testing_util::FakeApiServer(source_dir());
    if (!start_error_.empty())
      return;
    // The node's pods before any pressure: ~310 MiB in a 600 MiB kubepods cgroup whose eviction
    // point (allocatableMemory.available < 200Mi) is at 400 MiB.
    start_error_ = add_pod(db_, "db", "", 80,
                           R"({"requests":{"memory":"128Mi","cpu":"100m"},)"
                           R"("limits":{"memory":"128Mi","cpu":"100m"}})",
                           128 * kMiB);
    if (start_error_.empty())
      // The biggest user beyond its request, but critical: never evicted.
      start_error_ = add_pod(proxy_, "proxy", "besteffort", 160, "{}", 0,
                             R"(,"priority":2000001000,"priorityClassName":"system-node-critical")",
                             {{"kubernetes.io/config.source", "file"}});
    if (start_error_.empty())
      start_error_ = add_pod(batch_, "batch", "besteffort", 40, "{}");
    if (start_error_.empty())
      start_error_ = add_pod(web_, "web", "burstable", 30, R"({"requests":{"memory":"20Mi"}})");
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
    ASSERT_TRUE(api_->running()) << "the test API server did not start";
    std::string pattern = "/tmp/evictd-daemon-XXXXXX";
    dir_ = mkdtemp(pattern.data());
  }
  void TearDown() override {
    // The tail of each daemon log: meson shows the last 100 lines of a failing suite, and the
    // first failure's log must not be pushed out by the ones after it.
    if (HasFailure()) {
      for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        if (entry.path().extension() == ".log")
          std::cerr << "---- " << entry.path() << " (last 30 lines)\n"
                    << last_lines(testing_util::read_text(entry.path()), 30);
      }
    }
    std::filesystem::remove_all(dir_);
  }

  static std::string last_lines(const std::string& text, size_t count) {
    size_t start = text.size();
    for (size_t lines = 0; start > 0 && lines <= count; --start) {
      if (text[start - 1] == '\n')
        ++lines;
    }
    return text.substr(start == 0 ? 0 : start + 1);
  }

  // A pod in the runtime (and, with `api`, in the API server with the same UID and spec).
  static std::string add_pod(TestPod& pod, const std::string& name, const std::string& tier,
                             int mib, const std::string& resources, int64_t limit = 0,
                             const std::string& spec_extra = "",
                             std::map<std::string, std::string> annotations = {}, bool api = true,
                             const std::string& labels = "{}", int rate_mib_s = 0) {
    pod.name = name;
    pod.namespace_name = "e2e";
    pod.tier = tier;
    pod.uid = make_uid();
    pod.annotations = std::move(annotations);
    if (api) {
      testing_util::ApiPod object{.name = name,
                                  .namespace_name = "e2e",
                                  .uid = pod.uid,
                                  .node = kNode,
                                  .qos_class = testing_util::qos_class_of(tier),
                                  .resources = resources,
                                  .labels = labels,
                                  .annotations = pod.annotations,
                                  .spec_extra = spec_extra};
      if (!control("POST", "/_test/pods", testing_util::api_pod_json(object)))
        return "cannot add pod " + name + " to the API server";
    }
    return harness_->create_pod(pod, {TestContainer{"app", mib, false, limit, rate_mib_s}});
  }

  static bool control(const std::string& verb, const std::string& path,
                      const std::string& body = "") {
    return testing_util::api_control(*api_, verb, path, body);
  }

  std::string config(bool api, bool dry_run = false) const {
    std::string text = std::string("nodeName: ") + kNode + "\n" +
                       "eviction:\n  evictionHard: {memory.available: \"200Mi\"}\n"
                       "  evictionPressureTransitionPeriod: 5s\n" +
                       "containerRuntimeEndpoint: " + harness_->endpoint() + "\n" +
                       "podSandboxImage: " + ContainerdHarness::kPauseImage + "\n" +
                       "nodefsPath: " + dir_ + "\n" + "stateDirectory: " + dir_ + "/state\n" +
                       "monitoringInterval: 1s\n" + testing_util::cgroup_driver_config();
    if (api)
      text += "kubeconfig: " + api_->dir() + "/kubeconfig\n";
    if (dry_run)
      text += "dryRun: true\n";
    return text;
  }

  static std::string source_dir() {
    const char* source = std::getenv("EVICTD_SOURCE_DIR");
    return source != nullptr ? source : ".";
  }

  static std::string kubectl(const std::string& args) {
    return shell("kubectl --kubeconfig " + api_->dir() + "/kubeconfig " + args);
  }
  static std::string pod_status(const std::string& name) {
    return kubectl(
        "get pod -n e2e " + name +
        R"( -o jsonpath='{.status.phase} {.status.reason} {.status.conditions[?(@.type=="DisruptionTarget")].reason}')");
  }
  // The other pods are all still running.
  static void expect_bystanders_running() {
    for (const auto* pod : {&db_, &proxy_, &batch_, &web_})
      EXPECT_GT(processes_in(*pod), 0) << pod->name << " was stopped";
  }

  static inline ContainerdHarness* harness_ = nullptr;
  static inline testing_util::FakeApiServer* api_ = nullptr;
  static inline std::string start_error_;
  static inline TestPod db_, proxy_, batch_, web_;
  std::string dir_;
};

TEST_F(DaemonE2eTest, EvictsTheKubeletsChoiceAndRecordsItForKubectlAndPrometheus) {
  // A dry-run memory.pressure threshold too, as an operator starts with evictd's own signals: the
  // dashboard's stall and dry-run panels have their series.
  Daemon daemon(dir_, config(true) +
                          "podMetrics: true\n"
                          "pressureSignals:\n"
                          "  evictionSoft: {memory.pressure: \"90%\"}\n"
                          "  evictionSoftGracePeriod: {memory.pressure: \"1m\"}\n"
                          "  dryRun: [memory.pressure]\n");
  ASSERT_TRUE(daemon.start()) << daemon.log();
  ASSERT_TRUE(eventually(
      [&] {
        return daemon.metrics().find(
                   "evictd_signal_available{signal=\"allocatableMemory.available\"}") !=
               std::string::npos;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(daemon.metrics().find("kube_pod_status_reason{"), std::string::npos)
      << "nothing is evicted before the pressure";
  // Debian's Prometheus server scrapes evictd before the pressure (so that increase() and rate()
  // see the eviction) and evaluates the shipped rules.
  PrometheusServer prometheus(dir_, daemon.metrics_port(),
                              source_dir() + "/deploy/prometheus/evictd-rules.yaml");
  ASSERT_TRUE(prometheus.start()) << prometheus.log();
  ASSERT_TRUE(eventually([&] { return !prometheus.query("evictd_evictions_total").empty(); },
                         std::chrono::seconds(20)))
      << prometheus.log();

  TestPod hog;
  const long oom_kills_before = testing_util::oom_kills("/kubepods");
  ASSERT_EQ(add_pod(hog, "hog", "burstable", 150, R"({"requests":{"memory":"10Mi"}})"), "");
  ASSERT_TRUE(eventually([&] { return processes_in(hog) == 0; }, std::chrono::seconds(20)))
      << "the hog was not evicted";
  expect_bystanders_running();
  EXPECT_EQ(testing_util::oom_kills("/kubepods"), oom_kills_before)
      << "the kernel's OOM killer acted before evictd";

  // Kubernetes sees what the kubelet would have written.
  ASSERT_TRUE(eventually([&] { return pod_status("hog") == "Failed Evicted TerminationByKubelet"; },
                         std::chrono::seconds(10)))
      << pod_status("hog");
  EXPECT_NE(kubectl("get pod -n e2e hog -o jsonpath='{.status.message}'")
                .find("The node was low on resource: memory."),
            std::string::npos);
  const std::string events = kubectl(
      "get events -n e2e -o jsonpath='{range .items[*]}{.involvedObject.name} {.reason} "
      "{.type}{\"\\n\"}{end}'");
  EXPECT_NE(events.find("hog Evicted Warning"), std::string::npos) << events;
  EXPECT_EQ(pod_status("proxy"), "Running  ");

  // The metric, in a text format promtool accepts.
  const std::string metrics = daemon.metrics();
  EXPECT_NE(metrics.find(
                "kube_pod_status_reason{namespace=\"e2e\",pod=\"hog\",reason=\"Evicted\",uid=\"" +
                hog.uid + "\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("evictd_evictions_total{signal=\"allocatableMemory.available\"} 1"),
            std::string::npos);
  std::ofstream(dir_ + "/scrape.txt") << metrics;
  EXPECT_EQ(shell("promtool check metrics < " + dir_ + "/scrape.txt; echo rc=$?"), "rc=0\n");

  // Prometheus finds the evicted pod, ...
  nlohmann::json answer;
  EXPECT_TRUE(eventually(
      [&] {
        answer = prometheus.query(R"(kube_pod_status_reason{reason="Evicted"} > 0)");
        return answer.dump().find(R"("pod":"hog")") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << answer.dump() << prometheus.log();
  // ... every expression of the shipped dashboard returns series (Grafana's variables as an "All"
  // selection and a 1m rate interval would set them), the evictions panel counts the eviction, ...
  const auto queries =
      testing_util::dashboard_queries(source_dir() + "/deploy/grafana/evictd-dashboard.json",
                                      {{"instance", ".*"}, {"__rate_interval", "1m"}});
  EXPECT_GE(queries.size(), 20U);
  for (const auto& query : queries) {
    const auto result = prometheus.query(query);
    EXPECT_TRUE(result.is_array() && !result.empty()) << query << " returned " << result.dump();
  }
  const auto evictions = prometheus.query(
      R"(sum by (instance, signal) (increase(evictd_evictions_total{instance=~".*"}[1m])) > 0.5)");
  EXPECT_NE(evictions.dump().find(R"("signal":"allocatableMemory.available")"), std::string::npos)
      << evictions.dump();
  // ... and the shipped rules: the eviction fires EvictdEvicting and the headroom is recorded.
  EXPECT_TRUE(eventually(
      [&] {
        return !prometheus.query(R"(ALERTS{alertname="EvictdEvicting",alertstate="firing"})")
                    .empty() &&
               !prometheus.query("node_signal_kind:evictd_threshold_headroom:ratio").empty();
      },
      std::chrono::seconds(10)))
      << prometheus.log();
  prometheus.stop();

  // The ledger holds the whole eviction, finished.
  auto replayed = ledger::replay_file(dir_ + "/state/ledger");
  ASSERT_TRUE(replayed.ok()) << replayed.error().message;
  ASSERT_EQ(replayed->evictions.size(), 1u);
  EXPECT_EQ(replayed->evictions[0].decision.pod_name, "hog");
  // Frozen first (cgroup v1's freezer here, v2's cgroup.freeze in the lab), thawed by the stop.
  EXPECT_TRUE(replayed->evictions[0].has(ledger::Step::kFrozen));
  EXPECT_TRUE(replayed->evictions[0].has(ledger::Step::kStatusSeen));
  EXPECT_TRUE(replayed->evictions[0].has(ledger::Step::kStatusWritten));
  EXPECT_TRUE(replayed->evictions[0].has(ledger::Step::kStopped));
  EXPECT_TRUE(replayed->evictions[0].has(ledger::Step::kEventWritten));
  EXPECT_TRUE(replayed->evictions[0].has(ledger::Step::kDone));
  EXPECT_EQ(daemon.stop(SIGTERM), 0);
}

// evictctl against the running daemon: status, ranks and explanations before the pressure, the
// eviction followed live by `evictctl watch`, explained afterwards; eight clients hammering
// GetStatus and ListPods meanwhile are all answered and do not keep the hog from being evicted; and
// a user outside the socket's group is refused.
TEST_F(DaemonE2eTest, EvictctlFollowsAndExplainsTheEvictionUnderLoad) {
  const char* evictctl_binary = std::getenv("EVICTD_EVICTCTL");
  ASSERT_NE(evictctl_binary, nullptr);
  Daemon daemon(dir_, config(true));
  ASSERT_TRUE(daemon.start()) << daemon.log();
  const std::string evictctl =
      std::string(evictctl_binary) + " --socket " + daemon.status_socket() + " ";
  ASSERT_TRUE(eventually([&] { return shell(evictctl + "status >/dev/null; echo $?") == "0\n"; },
                         std::chrono::seconds(10)))
      << shell(evictctl + "status");
  const std::string status_json = shell(evictctl + "-o json status");
  EXPECT_NE(status_json.find("\"nodeName\": \"e2e-node\""), std::string::npos) << status_json;
  EXPECT_NE(status_json.find("\"mode\": \"MODE_NORMAL\""), std::string::npos) << status_json;
  EXPECT_NE(status_json.find("\"signal\": \"allocatableMemory.available\""), std::string::npos);
  // Options after the subcommand, as kubectl takes them.
  const std::string after = shell(evictctl + "status -o json");
  EXPECT_NE(after.find("\"nodeName\": \"e2e-node\""), std::string::npos) << after;
  const std::string pods = shell(evictctl + "pods --signal allocatableMemory.available");
  for (const char* name : {"db", "proxy", "batch", "web"})
    EXPECT_NE(pods.find(name), std::string::npos) << pods;
  EXPECT_NE(shell(evictctl + "explain e2e/proxy").find("critical pod"), std::string::npos);
  const std::string nothing = shell(evictctl + "explain e2e/nothing 2>&1; echo rc=$?");
  EXPECT_NE(nothing.find("not on this node"), std::string::npos) << nothing;
  EXPECT_NE(nothing.find("rc=1"), std::string::npos) << nothing;

  // The events, as a script would follow them.
  const std::string watch_file = dir_ + "/watch.json";
  const pid_t watcher = fork();
  if (watcher == 0) {
    const int fd = ::open(watch_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    execl(evictctl_binary, "evictctl", "--socket", daemon.status_socket().c_str(), "-o", "json",
          "watch", static_cast<char*>(nullptr));
    _exit(127);
  }
  // However the test ends: an ASSERT below returns past the SIGTERM, and a watch left behind
  // would try to reconnect to a gone socket for ever.
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0 && kill(pid, SIGKILL) == 0)
        waitpid(pid, nullptr, 0);
    }
  } reaper{watcher};
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the stream is open

  // Load: eight clients asking as fast as they are answered, bounded by the eviction.
  std::atomic<bool> stop_load{false};
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  std::string first_failure;
  std::mutex failure_mutex;
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      auto stub = v1::Status::NewStub(grpc::CreateChannel("unix:" + daemon.status_socket(),
                                                          grpc::InsecureChannelCredentials()));
      while (!stop_load) {
        grpc::ClientContext status_context;
        v1::NodeStatus node;
        auto status = stub->GetStatus(&status_context, {}, &node);
        grpc::ClientContext pods_context;
        v1::ListPodsResponse listed;
        if (status.ok())
          status = stub->ListPods(&pods_context, {}, &listed);
        if (status.ok()) {
          answered += 2;
        } else {
          ++failed;
          std::lock_guard lock(failure_mutex);
          first_failure = status.error_message();
        }
      }
    });
  }
  TestPod hog;
  ASSERT_EQ(add_pod(hog, "hog", "burstable", 150, R"({"requests":{"memory":"10Mi"}})"), "");
  const bool evicted = eventually([&] { return processes_in(hog) == 0; }, std::chrono::seconds(20));
  stop_load = true;
  for (auto& client : clients)
    client.join();
  ASSERT_TRUE(evicted) << "the hog was not evicted under status load";
  expect_bystanders_running();
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_GT(answered.load(), 100);

  ASSERT_TRUE(
      eventually([&] { return shell(evictctl + "evictions").find("done") != std::string::npos; },
                 std::chrono::seconds(40)))
      << shell(evictctl + "evictions");
  const std::string evictions = shell(evictctl + "evictions --since 10m");
  EXPECT_NE(evictions.find("e2e/hog"), std::string::npos) << evictions;
  EXPECT_NE(evictions.find("allocatableMemory.available"), std::string::npos) << evictions;
  // Gone from the runtime's list once stopped; the record stays.
  std::string explained;
  EXPECT_TRUE(eventually(
      [&] {
        explained = shell(evictctl + "explain e2e/hog");
        return explained.find("not running on this node") != std::string::npos;
      },
      std::chrono::seconds(5)))
      << explained;
  for (const char* expected : {"The node was low on resource: memory", "decided", "status-written",
                               "stopped", "event-written", "done"})
    EXPECT_NE(explained.find(expected), std::string::npos) << expected << "\n" << explained;

  ASSERT_TRUE(eventually(
      [&] {
        return testing_util::read_text(watch_file).find("EVENT_TYPE_EVICTION_FINISHED") !=
               std::string::npos;
      },
      std::chrono::seconds(10)))
      << testing_util::read_text(watch_file);
  // SIGTERM (what a service manager or `timeout` sends) ends the watch at once, and cleanly.
  kill(watcher, SIGTERM);
  int watch_status = -1;
  const bool watch_ended = eventually(
      [&] { return waitpid(watcher, &watch_status, WNOHANG) == watcher; }, std::chrono::seconds(2));
  EXPECT_TRUE(watch_ended) << "evictctl watch did not end within 2 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(watch_status) && WEXITSTATUS(watch_status) == 0) << watch_status;
  if (watch_ended)
    reaper.pid = -1;  // reaped: its PID may be another process's now
  const std::string events = testing_util::read_text(watch_file);
  for (const char* expected :
       {"EVENT_TYPE_THRESHOLD_MET", "EVENT_TYPE_PRESSURE_BEGUN", "EVENT_TYPE_EVICTION_DECIDED",
        "\"name\":\"hog\"", "\"step\":\"stopped\""})
    EXPECT_NE(events.find(expected), std::string::npos) << expected << "\n" << events;

  // Another user: the directory lets them through, the socket (0660, root's group) does not.
  chmod(dir_.c_str(), 0711);
  const std::string denied = shell("setpriv --reuid=65534 --regid=65534 --clear-groups " +
                                   evictctl + "status 2>&1; echo rc=$?");
  EXPECT_NE(denied.find("access denied"), std::string::npos) << denied;
  EXPECT_NE(denied.find("rc=4"), std::string::npos) << denied;
  const std::string absent = shell(std::string(evictctl_binary) + " --socket " + dir_ +
                                   "/none.sock status 2>&1; echo rc=$?");
  EXPECT_NE(absent.find("evictd is not running"), std::string::npos) << absent;
  EXPECT_NE(absent.find("rc=3"), std::string::npos) << absent;
  EXPECT_EQ(daemon.stop(SIGTERM), 0);
  EXPECT_FALSE(std::filesystem::exists(daemon.status_socket()));
}

TEST_F(DaemonE2eTest, DryRunDecidesAndLogsButStopsNothing) {
  Daemon daemon(dir_, config(true, true));
  ASSERT_TRUE(daemon.start()) << daemon.log();
  TestPod hog;
  ASSERT_EQ(add_pod(hog, "dry-hog", "burstable", 150, R"({"requests":{"memory":"10Mi"}})"), "");
  ASSERT_TRUE(eventually(
      [&] { return daemon.log().find("dry-run: would evict e2e/dry-hog") != std::string::npos; },
      std::chrono::seconds(15)))
      << daemon.log();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_GT(processes_in(hog), 0);
  expect_bystanders_running();
  EXPECT_EQ(pod_status("dry-hog"), "Running  ");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/state/ledger")) << "dry-run writes no ledger";
  EXPECT_EQ(daemon.stop(SIGTERM), 0);
  // Relieve the pressure for the next test.
  ASSERT_TRUE(harness_->client().stop_pod_sandbox(hog.sandbox_id, std::chrono::seconds(10)).ok());
  ASSERT_TRUE(eventually([&] { return processes_in(hog) == 0; }, std::chrono::seconds(10)));
}

// softEvictionMode api: a soft threshold asks the Eviction API. The pod ranked first is guarded by
// a PodDisruptionBudget that allows no disruption: the API refuses (429), evictd passes over it and
// asks for the next one, which the API server deletes gracefully (kubectl shows it Terminating with
// the API's DisruptionTarget reason); the test plays the node's kubelet and stops it. The guarded
// pod keeps running, evictd writes no Failed/Evicted status of its own and exports no
// kube_pod_status_reason for a pod that was deleted.
TEST_F(DaemonE2eTest, SoftEvictionsThroughTheEvictionApiRespectDisruptionBudgets) {
  // The soft threshold is met once the two new pods' 135 MiB are in (at 95 MiB above today's
  // usage) and no longer once the spare's 60 MiB are gone; the hard ones stay far away.
  std::string usage_text =
      testing_util::read_text(testing_util::memory_usage_file(testing_util::kubepods_cgroup()));
  const int64_t usage_mib = std::stoll(usage_text) / kMiB;
  const int64_t soft_mib = 600 - usage_mib - 95;
  ASSERT_GT(soft_mib, 80) << "kubepods already holds " << usage_mib << " MiB";
  const std::string text =
      std::string("nodeName: ") + kNode + "\n" + "kubeconfig: " + api_->dir() + "/kubeconfig\n" +
      "softEvictionMode: api\n" + "eviction:\n  evictionHard: {memory.available: \"50Mi\"}\n" +
      "  evictionSoft: {allocatableMemory.available: \"" + std::to_string(soft_mib) + "Mi\"}\n" +
      "  evictionSoftGracePeriod: {allocatableMemory.available: \"1s\"}\n" +
      "  evictionMaxPodGracePeriod: 2\n  evictionPressureTransitionPeriod: 5s\n" +
      "containerRuntimeEndpoint: " + harness_->endpoint() + "\n" +
      "podSandboxImage: " + ContainerdHarness::kPauseImage + "\n" + "nodefsPath: " + dir_ + "\n" +
      "stateDirectory: " + dir_ + "/state\n" + "monitoringInterval: 1s\n";
  ASSERT_TRUE(control(
      "POST", "/_test/pdbs",
      R"({"namespace":"e2e","name":"guard","selector":{"app":"guarded"},"disruptionsAllowed":0})"));
  TestPod guarded;
  TestPod spare;
  // Both rank above every bystander: usage above requests 65 and 50 MiB (batch: 40).
  ASSERT_EQ(add_pod(guarded, "guarded", "burstable", 75, R"({"requests":{"memory":"10Mi"}})", 0, "",
                    {}, true, R"({"app":"guarded"})"),
            "");
  ASSERT_EQ(add_pod(spare, "spare", "burstable", 60, R"({"requests":{"memory":"10Mi"}})"), "");
  Daemon daemon(dir_, text);
  ASSERT_TRUE(daemon.start()) << daemon.log();

  ASSERT_TRUE(eventually(
      [&] { return kubectl("get pods -n e2e spare").find("Terminating") != std::string::npos; },
      std::chrono::seconds(20)))
      << daemon.log();
  EXPECT_EQ(kubectl("get pod -n e2e spare -o jsonpath='{.metadata.deletionGracePeriodSeconds} "
                    "{.status.conditions[?(@.type==\"DisruptionTarget\")].reason}'"),
            "2 EvictionByEvictionAPI");
  EXPECT_EQ(pod_status("spare"), "Running  EvictionByEvictionAPI") << "no status of evictd's";
  EXPECT_NE(daemon.log().find("refused: its PodDisruptionBudget allows no disruption now (429)"),
            std::string::npos)
      << daemon.log();

  // The node's kubelet acts on the deletion: it stops the pod, then removes the object.
  ASSERT_TRUE(harness_->client().stop_pod_sandbox(spare.sandbox_id, std::chrono::seconds(10)).ok());
  ASSERT_TRUE(control("DELETE", "/_test/pods?namespace=e2e&name=spare"));
  ASSERT_TRUE(eventually(
      [&] {
        auto replayed = ledger::replay_file(dir_ + "/state/ledger");
        return replayed.ok() && !replayed->evictions.empty() &&
               replayed->evictions.back().has(ledger::Step::kDone);
      },
      std::chrono::seconds(15)))
      << daemon.log();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // pressure gone: nothing more happens
  EXPECT_GT(processes_in(guarded), 0) << "the budget protected it";
  expect_bystanders_running();

  auto replayed = ledger::replay_file(dir_ + "/state/ledger");
  ASSERT_TRUE(replayed.ok());
  std::vector<std::string> story;
  for (const auto& eviction : replayed->evictions) {
    EXPECT_TRUE(eviction.decision.eviction_api);
    EXPECT_FALSE(eviction.decision.hard);
    std::string line = eviction.decision.pod_name + ":";
    for (const auto& step : eviction.steps)
      line += " " + std::string(ledger::step_name(step.step));
    story.push_back(line);
  }
  ASSERT_FALSE(story.empty());
  EXPECT_EQ(story.front(), "guarded: failed");
  EXPECT_EQ(story.back(), "spare: api-accepted stopped event-written done");
  for (const auto& line : story)
    EXPECT_TRUE(line == "guarded: failed" || &line == &story.back()) << line;
  EXPECT_NE(replayed->evictions.back().steps[1].detail.find("gone after the API server's deletion"),
            std::string::npos)
      << replayed->evictions.back().steps[1].detail;
  const std::string metrics = daemon.metrics();
  EXPECT_EQ(metrics.find("kube_pod_status_reason{"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("evictd_evictions_total{signal=\"allocatableMemory.available\"}"),
            std::string::npos);
  EXPECT_EQ(daemon.stop(SIGTERM), 0);
  ASSERT_TRUE(
      harness_->client().stop_pod_sandbox(guarded.sandbox_id, std::chrono::seconds(10)).ok());
  ASSERT_TRUE(eventually([&] { return processes_in(guarded) == 0; }, std::chrono::seconds(10)));
  control("DELETE", "/_test/pods?namespace=e2e&name=guarded");
}

TEST_F(DaemonE2eTest, ApiServerFailingDuringEvictionStillStopsThePodAndWritesTheStatusLater) {
  control("POST", "/_test/faults", R"({"path":"/pods/late-hog/status","status":503,"count":1000})");
  control("POST", "/_test/faults",
          R"({"path":"/namespaces/e2e/events","status":503,"count":1000})");
  Daemon daemon(dir_, config(true));
  ASSERT_TRUE(daemon.start()) << daemon.log();
  TestPod hog;
  ASSERT_EQ(add_pod(hog, "late-hog", "burstable", 150, R"({"requests":{"memory":"10Mi"}})"), "");
  ASSERT_TRUE(eventually([&] { return processes_in(hog) == 0; }, std::chrono::seconds(25)))
      << daemon.log();
  expect_bystanders_running();
  EXPECT_EQ(pod_status("late-hog"), "Running  ") << "the API server refused every write so far";
  control("DELETE", "/_test/faults");
  EXPECT_TRUE(
      eventually([&] { return pod_status("late-hog") == "Failed Evicted TerminationByKubelet"; },
                 std::chrono::seconds(15)))
      << pod_status("late-hog") << daemon.log();
  EXPECT_EQ(daemon.stop(SIGTERM), 0);
}

TEST_F(DaemonE2eTest, KilledBetweenLedgerAndStatusWriteTheNextStartFinishesTheEviction) {
  // The status write hangs long enough to kill evictd after the ledger has the decision and the
  // stop (which runs beside the write), but not the status.
  control("POST", "/_test/faults", R"({"path":"/pods/killed-hog/status","delay":30.0,"count":1})");
  auto daemon = std::make_unique<Daemon>(dir_, config(true));
  ASSERT_TRUE(daemon->start()) << daemon->log();
  TestPod hog;
  ASSERT_EQ(add_pod(hog, "killed-hog", "burstable", 150, R"({"requests":{"memory":"10Mi"}})"), "");
  ASSERT_TRUE(eventually(
      [&] {
        auto replayed = ledger::replay_file(dir_ + "/state/ledger");
        return replayed.ok() && !replayed->evictions.empty() &&
               replayed->evictions[0].has(ledger::Step::kStopped);
      },
      std::chrono::seconds(15)))
      << daemon->log();
  daemon->stop(SIGKILL);
  control("DELETE", "/_test/faults");
  {
    auto replayed = ledger::replay_file(dir_ + "/state/ledger");
    ASSERT_TRUE(replayed.ok());
    ASSERT_EQ(replayed->evictions.size(), 1u);
    EXPECT_FALSE(replayed->evictions[0].has(ledger::Step::kStatusWritten));
    EXPECT_FALSE(replayed->evictions[0].has(ledger::Step::kDone));
  }
  EXPECT_EQ(pod_status("killed-hog"), "Running  ") << "killed before the status write";

  Daemon restarted(dir_, config(true));
  ASSERT_TRUE(restarted.start()) << restarted.log();
  ASSERT_TRUE(eventually([&] { return processes_in(hog) == 0; }, std::chrono::seconds(20)))
      << restarted.log();
  EXPECT_TRUE(
      eventually([&] { return pod_status("killed-hog") == "Failed Evicted TerminationByKubelet"; },
                 std::chrono::seconds(10)))
      << pod_status("killed-hog");
  EXPECT_NE(restarted.log().find("resuming an interrupted eviction"), std::string::npos);
  EXPECT_NE(restarted.metrics().find("pod=\"killed-hog\",reason=\"Evicted\""), std::string::npos)
      << "the ledger feeds the metrics after a restart";
  expect_bystanders_running();
  EXPECT_EQ(restarted.stop(SIGTERM), 0);
  auto replayed = ledger::replay_file(dir_ + "/state/ledger");
  ASSERT_TRUE(replayed.ok());
  size_t done = 0;
  for (const auto& eviction : replayed->evictions)
    done += eviction.decision.pod_name == "killed-hog" && eviction.has(ledger::Step::kDone);
  EXPECT_EQ(done, 1u) << "one eviction, finished once";
}

// A node so short of memory that its runtime stalls (here containerd stopped with SIGSTOP, after
// evictd listed the pod): the hard eviction does not wait for it — the pod is frozen, its status
// written, and once the runtime has been silent for a second the pod the runtime reported is
// killed through its cgroup — and when containerd answers again the stop and the sandbox follow.
TEST_F(DaemonE2eTest, AStalledRuntimeDoesNotHoldTheReliefAndThePodIsReconciledAfter) {
  // Room for the leak until the runtime is stopped; then the usual 600 MiB less 160: the threshold
  // (200Mi) is crossed with the leak at ~250 MiB, the kernel's OOM killer would strike at ~450.
  testing_util::set_kubepods_memory_limit(1200 * kMiB);
  struct Limit {
    ~Limit() { testing_util::set_kubepods_memory_limit(600 * kMiB); }
  } restore_limit;
  Daemon daemon(dir_, config(true));
  ASSERT_TRUE(daemon.start()) << daemon.log();
  const char* evictctl = std::getenv("EVICTD_EVICTCTL");
  ASSERT_NE(evictctl, nullptr);
  const long oom_kills_before = testing_util::oom_kills("/kubepods");
  TestPod leak;
  ASSERT_EQ(add_pod(leak, "stalled-leak", "burstable", 600, R"({"requests":{"memory":"10Mi"}})", 0,
                    "", {}, true, "{}", 40),
            "");
  // evictd has the pod in its view (the runtime's listing it will act on); then the runtime stalls.
  const std::string pods =
      std::string(evictctl) + " --socket " + daemon.status_socket() + " pods 2>&1";
  ASSERT_TRUE(eventually([&] { return shell(pods).find("stalled-leak") != std::string::npos; },
                         std::chrono::seconds(10)))
      << shell(pods) << daemon.log();
  const pid_t containerd = harness_->containerd_pid();
  ASSERT_GT(containerd, 0);
  ASSERT_EQ(::kill(containerd, SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{containerd};
  testing_util::set_kubepods_memory_limit(760 * kMiB);
  const auto ledger_has = [&](ledger::Step step) {
    auto replayed = ledger::replay_file(dir_ + "/state/ledger");
    return replayed.ok() && !replayed->evictions.empty() && replayed->evictions[0].has(step);
  };
  ASSERT_TRUE(eventually([&] { return processes_in(leak) == 0; }, std::chrono::seconds(20)))
      << "the pod was not relieved while the runtime stalled\n"
      << daemon.log();
  EXPECT_TRUE(ledger_has(ledger::Step::kKilled));
  EXPECT_FALSE(ledger_has(ledger::Step::kStopped)) << "nothing could have stopped it but evictd";
  EXPECT_EQ(pod_status("stalled-leak"), "Failed Evicted TerminationByKubelet")
      << "the status does not wait for the runtime either";
  expect_bystanders_running();
  ::kill(containerd, SIGCONT);
  // The runtime answers: the stop goes through, the sandbox is stopped (no kubelet here to take
  // it), and the eviction finishes once.
  EXPECT_TRUE(eventually([&] { return ledger_has(ledger::Step::kDone); }, std::chrono::seconds(30)))
      << daemon.log();
  EXPECT_TRUE(ledger_has(ledger::Step::kStopped));
  auto sandboxes = harness_->client().list_pod_sandboxes(false);
  ASSERT_TRUE(sandboxes.ok());
  for (const auto& sandbox : *sandboxes) {
    if (sandbox.id() == leak.sandbox_id) {
      EXPECT_NE(sandbox.state(), runtime::v1::SANDBOX_READY) << "the sandbox is still ready";
    }
  }
  EXPECT_EQ(testing_util::oom_kills("/kubepods"), oom_kills_before) << "the kernel OOM-killed";
  EXPECT_NE(daemon.metrics().find("evictd_cgroup_kills_total 1"), std::string::npos);
  EXPECT_EQ(daemon.stop(SIGTERM), 0);
}

TEST_F(DaemonE2eTest, StandaloneWithoutApiServerStillProtectsTheNode) {
  Daemon daemon(dir_, config(false));
  ASSERT_TRUE(daemon.start()) << daemon.log();
  TestPod hog;
  ASSERT_EQ(add_pod(hog, "lone-hog", "burstable", 150, "{}", 0, "", {}, false), "");
  ASSERT_TRUE(eventually([&] { return processes_in(hog) == 0; }, std::chrono::seconds(20)))
      << daemon.log();
  expect_bystanders_running();
  EXPECT_NE(daemon.log().find("spec=node"), std::string::npos) << "the spec came from the node";
  EXPECT_EQ(daemon.stop(SIGTERM), 0);
}

// One evictd per node. A second one with the same state directory (the DaemonSet beside the
// systemd unit, or `evictd run` by hand) refuses to start and names the first; one with another
// state directory but the same status socket does not take the socket over. The first goes on:
// its status API answers and its ledger is its own.
TEST_F(DaemonE2eTest, ASecondEvictdOnTheNodeRefusesToStartAndTheFirstGoesOn) {
  const char* evictctl_binary = std::getenv("EVICTD_EVICTCTL");
  ASSERT_NE(evictctl_binary, nullptr);
  Daemon first(dir_, config(true));
  ASSERT_TRUE(first.start()) << first.log();
  const std::string status = std::string(evictctl_binary) + " --socket " + first.status_socket() +
                             " status >/dev/null; echo $?";
  ASSERT_TRUE(eventually([&] { return shell(status) == "0\n"; }, std::chrono::seconds(10)));

  Daemon same_state(dir_, config(true));
  EXPECT_FALSE(same_state.start()) << "a second evictd with the same state directory ran";
  EXPECT_NE(same_state.log().find("another evictd (PID " + std::to_string(first.pid()) +
                                  ") is running with stateDirectory " + dir_ + "/state"),
            std::string::npos)
      << same_state.log();

  std::string other_state = config(true);
  other_state.replace(other_state.find(dir_ + "/state"), dir_.size() + 6, dir_ + "/state2");
  Daemon same_socket(dir_, other_state);
  std::string text = testing_util::read_text(same_socket.config_path());
  text.replace(text.find(same_socket.status_socket()), same_socket.status_socket().size(),
               first.status_socket());
  std::ofstream(same_socket.config_path(), std::ios::trunc) << text;
  // It gets as far as the status API, the last part it starts, and ends there.
  same_socket.start();
  EXPECT_TRUE(eventually([&] { return same_socket.exited(); }, std::chrono::seconds(15)))
      << "a second evictd took the status socket";
  EXPECT_NE(same_socket.log().find("statusSocket: " + first.status_socket() +
                                   " is served by another process"),
            std::string::npos)
      << same_socket.log();

  EXPECT_EQ(shell(status), "0\n") << "the first evictd's status API still answers";
  EXPECT_FALSE(first.exited());
  EXPECT_EQ(first.stop(SIGTERM), 0);
}

TEST_F(DaemonE2eTest, SpeaksTheServiceManagerProtocolAndReloadsOnSighup) {
  // A notification socket like systemd's: READY=1 after the first sample, WATCHDOG=1 from the
  // loop at half the watchdog interval, STOPPING=1 on SIGTERM.
  const std::string socket_path = dir_ + "/notify";
  const int notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_path.c_str());
  ASSERT_EQ(bind(notify, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  timeval timeout{0, 200'000};
  setsockopt(notify, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string received;
  const auto drain = [&] {
    char buffer[4096];
    for (ssize_t n; (n = recv(notify, buffer, sizeof(buffer), 0)) > 0;)
      received.append(buffer, static_cast<size_t>(n)).append("\n");
  };

  Daemon daemon(dir_, config(true));
  daemon.notify_to(socket_path, 2'000'000);
  ASSERT_TRUE(daemon.start()) << daemon.log();
  ASSERT_TRUE(eventually(
      [&] {
        drain();
        return received.find("READY=1") != std::string::npos &&
               received.find("WATCHDOG=1") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << received;
  EXPECT_NE(received.find("STATUS=watching"), std::string::npos) << received;

  // A bad file is refused and the running configuration kept; a good one is taken.
  std::ofstream(daemon.config_path(), std::ios::app) << "monitoringIntervall: 5s\n";
  kill(daemon.pid(), SIGHUP);
  ASSERT_TRUE(eventually([&] { return daemon.log().find("reload refused") != std::string::npos; },
                         std::chrono::seconds(5)))
      << daemon.log();
  EXPECT_NE(daemon.log().find("monitoringIntervall: unknown field"), std::string::npos);
  EXPECT_FALSE(daemon.exited());
  std::string text = testing_util::read_text(daemon.config_path());
  text.replace(text.find("monitoringIntervall: 5s\n"), 24, "logLevel: debug\n");
  std::ofstream(daemon.config_path(), std::ios::trunc) << text;
  drain();
  received.clear();
  kill(daemon.pid(), SIGHUP);
  ASSERT_TRUE(
      eventually([&] { return daemon.log().find("configuration reloaded") != std::string::npos; },
                 std::chrono::seconds(5)))
      << daemon.log();
  // systemd holds a unit that said RELOADING=1 in "reloading" until READY=1 comes.
  drain();
  const size_t reloading = received.find("RELOADING=1");
  ASSERT_NE(reloading, std::string::npos) << received;
  EXPECT_NE(received.find("READY=1", reloading), std::string::npos) << received;
  EXPECT_FALSE(daemon.exited());
  EXPECT_FALSE(daemon.metrics().empty());

  received.clear();
  EXPECT_EQ(daemon.stop(SIGTERM), 0);
  drain();
  EXPECT_NE(received.find("STOPPING=1"), std::string::npos) << received;
  close(notify);
}

}  // namespace
}  // namespace evictd
