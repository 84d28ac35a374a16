// The live demo (scripts/demo): a private containerd running kubelet-style pods of every QoS class
// and priority in a 600 MiB kubepods cgroup, evictd watching them with the kubelet's thresholds,
// and a leaking pod that would reach the cgroup's limit — where the kernel OOM killer strikes — in
// a few seconds. evictd evicts the leak the moment allocatable memory runs short, records it in
// the (test) API server and in its metrics, and the kernel never has to kill anything.
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "apiserver/fake_apiserver_process.h"
#include "e2e/containerd_harness.h"
#include "e2e/daemon_process.h"

namespace {

using evictd::testing_util::ContainerdHarness;
using evictd::testing_util::Daemon;
using evictd::testing_util::eventually;
using evictd::testing_util::processes_in;
using evictd::testing_util::shell;
using evictd::testing_util::TestContainer;
using evictd::testing_util::TestPod;

constexpr int64_t kMiB = 1024 * 1024;

void say(const std::string& text) {
  std::cout << "\n\033[1m== " << text << "\033[0m\n" << std::flush;
}

struct DemoPod {
  TestPod pod;
  std::string tier;
  std::string qos;
  std::string resources;
  std::string spec_extra;
  TestContainer container;
  std::string what;
};

}  // namespace

int main() {
  if (geteuid() != 0) {
    std::cerr << "the demo needs root (cgroups and a private containerd)\n";
    return 1;
  }
  const char* source = std::getenv("EVICTD_SOURCE_DIR");
  say("starting a private containerd and a test API server (for kubectl)");
  ContainerdHarness harness;
  if (auto error = harness.start(); !error.empty()) {
    std::cerr << "containerd: " << error << "\n";
    return 1;
  }
  evictd::testing_util::FakeApiServer api(source != nullptr ? source : ".");
  if (!api.running()) {
    std::cerr << "the test API server did not start\n";
    return 1;
  }
  const std::string kubectl = "kubectl --kubeconfig " + api.dir() + "/kubeconfig ";
  const auto add_to_api = [&](const DemoPod& demo) {
    const evictd::testing_util::ApiPod object{.name = demo.pod.name,
                                              .namespace_name = "demo",
                                              .uid = demo.pod.uid,
                                              .node = "demo-node",
                                              .qos_class = demo.qos,
                                              .resources = demo.resources,
                                              .spec_extra = demo.spec_extra};
    evictd::testing_util::api_control(api, "POST", "/_test/pods",
                                      evictd::testing_util::api_pod_json(object));
  };

  std::vector<DemoPod> pods = {
      {{},
       "",
       "Guaranteed",
       R"({"requests":{"memory":"128Mi","cpu":"100m"},"limits":{"memory":"128Mi","cpu":"100m"}})",
       "",
       {"app", 80, false, 128 * kMiB},
       "Guaranteed, 80 MiB of its 128 MiB"},
      {{},
       "besteffort",
       "BestEffort",
       "{}",
       R"(,"priority":2000001000,"priorityClassName":"system-node-critical")",
       {"app", 120},
       "BestEffort but system-node-critical, 120 MiB: never evicted"},
      {{}, "besteffort", "BestEffort", "{}", "", {"app", 40}, "BestEffort, 40 MiB"},
      {{},
       "burstable",
       "Burstable",
       R"({"requests":{"memory":"64Mi"}})",
       "",
       {"app", 30},
       "Burstable, 30 MiB of a 64 MiB request"},
  };
  const char* names[] = {"db", "node-proxy", "batch", "web"};
  say("running four pods, one of each kind, in a 600 MiB kubepods cgroup");
  for (size_t i = 0; i < pods.size(); ++i) {
    auto& demo = pods[i];
    demo.pod.name = names[i];
    demo.pod.namespace_name = "demo";
    demo.pod.tier = demo.tier;
    demo.pod.uid = evictd::testing_util::make_uid();
    add_to_api(demo);
    if (auto error = harness.create_pod(demo.pod, {demo.container}); !error.empty()) {
      std::cerr << demo.pod.name << ": " << error << "\n";
      return 1;
    }
    std::cout << "  " << demo.pod.name << ": " << demo.what << "\n";
  }
  evictd::testing_util::set_kubepods_memory_limit(600 * kMiB);

  std::string pattern = "/tmp/evictd-demo-XXXXXX";
  const std::string dir = mkdtemp(pattern.data());
  const std::string config = "nodeName: demo-node\nkubeconfig: " + api.dir() + "/kubeconfig\n" +
                             "eviction:\n  evictionHard: {memory.available: \"200Mi\"}\n" +
                             "containerRuntimeEndpoint: " + harness.endpoint() + "\n" +
                             "podSandboxImage: " + ContainerdHarness::kPauseImage + "\n" +
                             "nodefsPath: " + dir + "\n" + "stateDirectory: " + dir + "/state\n" +
                             evictd::testing_util::cgroup_driver_config();
  say("starting evictd: hard threshold memory.available<200Mi, so pods may use 400 of the 600 MiB");
  std::cout << config;
  Daemon daemon(dir, config);
  if (!daemon.start()) {
    std::cerr << daemon.log();
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::cout << daemon.log();
  const size_t log_seen = daemon.log().size();
  const char* evictctl_binary = std::getenv("EVICTD_EVICTCTL");
  const std::string evictctl =
      std::string(evictctl_binary != nullptr ? evictctl_binary : "evictctl") + " --socket " +
      daemon.status_socket() + " ";
  say("what evictd sees, and who would go first (evictctl)");
  std::cout << shell(evictctl + "status") << "\n"
            << shell(evictctl + "pods --signal allocatableMemory.available");

  say("a leaking pod starts: +100 MiB/s towards 1 GiB; the kernel OOM killer would strike at 600 "
      "MiB");
  DemoPod leak{{},          "burstable",
               "Burstable", R"({"requests":{"memory":"32Mi"}})",
               "",          {"app", 1024, false, 0, 100},
               ""};
  leak.pod.name = "leaky";
  leak.pod.namespace_name = "demo";
  leak.pod.tier = "burstable";
  leak.pod.uid = evictd::testing_util::make_uid();
  add_to_api(leak);
  if (auto error = harness.create_pod(leak.pod, {leak.container}); !error.empty()) {
    std::cerr << "leaky: " << error << "\n";
    return 1;
  }
  const bool evicted =
      eventually([&] { return processes_in(leak.pod) == 0; }, std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::cout << daemon.log().substr(log_seen);

  say("what Kubernetes sees (kubectl against the test API server)");
  std::cout << shell(kubectl +
                     "get pod -n demo leaky -o jsonpath='phase={.status.phase} "
                     "reason={.status.reason}{\"\\n\"}message={.status.message}{\"\\n\"}condition={"
                     ".status.conditions[0].type}/{.status.conditions[0].reason}{\"\\n\"}'");
  std::cout << shell(kubectl +
                     "get events -n demo -o jsonpath='{range .items[*]}event: {.type} {.reason} "
                     "{.involvedObject.name}{\"\\n\"}{end}'");

  say("why that pod (evictctl explain)");
  std::cout << shell(evictctl + "explain demo/leaky");

  say("what Prometheus scrapes from evictd");
  std::istringstream metrics(daemon.metrics());
  for (std::string line; std::getline(metrics, line);) {
    if (line.starts_with("kube_pod_status_reason{") ||
        line.starts_with("evictd_evictions_total{") ||
        line.starts_with("evictd_detection_latency_seconds_sum") ||
        line.starts_with("evictd_eviction_duration_seconds_sum") ||
        line.starts_with("evictd_node_condition{"))
      std::cout << "  " << line << "\n";
  }

  say("the outcome");
  const long oom_kills = evictd::testing_util::oom_kills(leak.pod.uid);
  std::cout << "  leaky evicted by evictd: " << (evicted ? "yes" : "NO") << "\n"
            << "  kernel OOM kills of the leak (kernel log): " << oom_kills << "\n"
            << "  the other pods still running:";
  bool others = true;
  for (const auto& demo : pods) {
    const bool running = processes_in(demo.pod) > 0;
    others = others && running;
    std::cout << " " << demo.pod.name << (running ? "" : "(STOPPED)");
  }
  std::cout << "\n";
  daemon.stop(SIGTERM);
  std::filesystem::remove_all(dir);
  say("cleaning up (containerd, pods, cgroups, temporary files)");
  const bool ok = evicted && oom_kills == 0 && others;
  std::cout << (ok ? "demo OK\n" : "demo FAILED\n");
  return ok ? 0 : 1;
}
