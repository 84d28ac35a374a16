// An eviction beside a kubelet, timed (root, containerd; run by hand: scripts/bench kubelet).
//
// kubelet_bench RUNS [API_DELAY_MS]: the kubelet stand-in (tests/e2e/kubelet_stand_in.h) runs a
// leaking pod (100 MiB/s, towards 550 MiB) from the test API server, RUNS times; evictd evicts it
// at allocatableMemory.available<200Mi in a 600 MiB kubepods. With API_DELAY_MS, every API request
// (evictd's and the stand-in's) is that much slower. Per run, from the decision (evictd's ledger,
// millisecond timestamps): when the pod's memory stopped growing (its cgroup's usage read every
// millisecond), when its status was seen on evictd's watch, when its processes were gone; and the
// stand-in's restarts of evicted pods over all runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "apiserver/fake_apiserver_process.h"
#include "bench/report.h"
#include "daemon/ledger/ledger.h"
#include "e2e/containerd_harness.h"
#include "e2e/daemon_process.h"
#include "e2e/kubelet_stand_in.h"

namespace {

using evictd::testing_util::ContainerdHarness;
using evictd::testing_util::Daemon;
using evictd::testing_util::eventually;
using evictd::testing_util::FakeApiServer;
using evictd::testing_util::KubeletStandIn;
using evictd::testing_util::make_uid;
using evictd::testing_util::processes_in;
using evictd::testing_util::read_text;
using evictd::testing_util::StandInOptions;

constexpr int64_t kMiB = 1024 * 1024;
constexpr const char* kNode = "bench-node";

double wall_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string pod_json(const std::string& name, const std::string& uid, const std::string& args,
                     const std::string& qos, const std::string& resources) {
  return R"({"metadata":{"name":")" + name + R"(","namespace":"bench","uid":")" + uid +
         R"("},"spec":{"nodeName":")" + kNode +
         R"(","restartPolicy":"Always","terminationGracePeriodSeconds":30,)" +
         R"("containers":[{"name":"app","args":[)" + args + R"(],"resources":)" + resources +
         R"(}]},"status":{"phase":"Pending","qosClass":")" + qos + R"("}})";
}

struct Sample {
  double at_ms;
  int64_t usage;
};

// When the pod stopped growing after the decision: the first sample from which its usage grows by
// no more than noise for 3 ms (the leak adds 100 KiB every millisecond). (On cgroup v1 a frozen pod
// is thawed for its stop and grows for the few milliseconds the kill takes; growth_after() counts
// that too.)
double growth_stopped_ms(const std::vector<Sample>& samples, double decided_ms) {
  constexpr int64_t kNoise = 32 * 1024;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].at_ms < decided_ms)
      continue;
    bool flat = true;
    size_t k = i + 1;
    for (; k < samples.size() && samples[k].at_ms <= samples[i].at_ms + 3; ++k)
      flat = flat && samples[k].usage <= samples[i].usage + kNoise;
    if (flat && k < samples.size())
      return samples[i].at_ms;
  }
  return samples.empty() ? decided_ms : samples.back().at_ms;
}

// How much the pod grew after the decision, in MiB: its peak less its usage at the decision.
double growth_after(const std::vector<Sample>& samples, double decided_ms) {
  int64_t at_decision = 0;
  int64_t peak = 0;
  for (const auto& sample : samples) {
    if (sample.at_ms <= decided_ms)
      at_decision = sample.usage;
    peak = std::max(peak, sample.usage);
  }
  return static_cast<double>(peak - at_decision) / static_cast<double>(kMiB);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: kubelet_bench RUNS [API_DELAY_MS]\n");
    return 2;
  }
  const int runs = std::atoi(argv[1]);
  const int delay_ms = argc > 2 ? std::atoi(argv[2]) : 0;
  ContainerdHarness harness;
  if (auto error = harness.start(); !error.empty()) {
    std::fprintf(stderr, "containerd: %s\n", error.c_str());
    return 1;
  }
  const char* source = std::getenv("EVICTD_SOURCE_DIR");
  FakeApiServer api(source != nullptr ? source : ".");
  evictd::testing_util::set_kubepods_memory_limit(600 * kMiB);
  StandInOptions options;
  options.node = kNode;
  options.kubeconfig = api.dir() + "/kubeconfig";
  KubeletStandIn stand_in(harness, options);
  if (auto error = stand_in.start(); !error.empty()) {
    std::fprintf(stderr, "stand-in: %s\n", error.c_str());
    return 1;
  }
  std::string pattern = "/tmp/evictd-kubelet-bench-XXXXXX";
  const std::string dir = mkdtemp(pattern.data());
  Daemon daemon(dir, std::string("nodeName: ") + kNode + "\nkubeconfig: " + api.dir() +
                         "/kubeconfig\neviction:\n  evictionHard: {memory.available: \"200Mi\"}\n"
                         "  evictionPressureTransitionPeriod: 1s\ncontainerRuntimeEndpoint: " +
                         harness.endpoint() + "\npodSandboxImage: " +
                         ContainerdHarness::kPauseImage + "\nnodefsPath: " + dir +
                         "\nstateDirectory: " + dir + "/state\nmonitoringInterval: 1s\n" +
                         "postEvictionWatch: 4s\n" + evictd::testing_util::cgroup_driver_config());
  // Ready when it signals and has the runtime (a slow guest's containerd may answer late).
  if (!daemon.start() ||
      !eventually(
          [&] {
            const std::string log = daemon.log();
            return (log.find("info container runtime containerd") != std::string::npos ||
                    log.find("container runtime connection restored") != std::string::npos) &&
                   daemon.metrics().find(
                       "evictd_signal_available{signal=\"allocatableMemory."
                       "available\"}") != std::string::npos;
          },
          std::chrono::seconds(60))) {
    std::fprintf(stderr, "evictd: %s\n", daemon.log().c_str());
    return 1;
  }
  if (delay_ms > 0) {
    evictd::testing_util::api_control(api, "POST", "/_test/faults",
                                      R"({"path":"^/api","delay":)" +
                                          std::to_string(delay_ms / 1000.0) +
                                          R"(,"count":10000000})");
  }
  std::vector<double> stopped_growing, status_seen, gone, frozen, grown;
  for (int run = 0; run < runs; ++run) {
    const std::string name = "hog-" + std::to_string(run);
    const std::string uid = make_uid();
    evictd::testing_util::api_control(api, "POST", "/_test/pods",
                                      pod_json(name, uid, R"("550","term","100")", "Burstable",
                                               R"({"requests":{"memory":"10Mi"}})"));
    if (!eventually([&] { return processes_in(stand_in.test_pod(uid)) > 0; },
                    std::chrono::seconds(30))) {
      std::fprintf(stderr, "run %d: the stand-in did not start the pod\n", run);
      return 1;
    }
    const auto pod = stand_in.test_pod(uid);
    const std::string usage_file = evictd::testing_util::memory_usage_file(pod.cgroup_path);
    std::vector<Sample> samples;
    double gone_at = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int since_procs = 0;
    int64_t peak = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string text = read_text(usage_file);
      const double now = wall_ms();
      if (!text.empty()) {
        samples.push_back({now, std::stoll(text)});
        peak = std::max(peak, samples.back().usage);
      }
      if (++since_procs == 5) {
        since_procs = 0;
        if (peak > 100 * kMiB && processes_in(pod) == 0) {
          gone_at = now;
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    auto replayed = evictd::ledger::replay_file(dir + "/state/ledger");
    const evictd::ledger::EvictionState* eviction = nullptr;
    if (replayed) {
      for (const auto& state : replayed->evictions) {
        if (state.decision.pod_name == name)
          eviction = &state;
      }
    }
    if (eviction == nullptr || gone_at == 0) {
      std::fprintf(stderr, "run %d: %s (peak %lld MiB, %zu samples, %d processes)\n", run,
                   eviction == nullptr ? "no eviction in the ledger" : "the pod did not go",
                   static_cast<long long>(peak / kMiB), samples.size(), processes_in(pod));
      for (const auto& line : stand_in.journal())
        std::fprintf(stderr, "%s\n", line.c_str());
      std::fprintf(stderr, "%s\n", daemon.log().c_str());
      return 1;
    }
    const double decided = static_cast<double>(eviction->decision.time_unix_ms);
    stopped_growing.push_back(growth_stopped_ms(samples, decided) - decided);
    grown.push_back(growth_after(samples, decided));
    gone.push_back(gone_at - decided);
    for (const auto& step : eviction->steps) {
      if (step.step == evictd::ledger::Step::kStatusSeen)
        status_seen.push_back(static_cast<double>(step.time_unix_ms) - decided);
      if (step.step == evictd::ledger::Step::kFrozen)
        frozen.push_back(static_cast<double>(step.time_unix_ms) - decided);
    }
    // The pressure ends with the pod; the next run starts from a calm node.
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  const std::string mode = delay_ms > 0 ? " (API +" + std::to_string(delay_ms) + " ms)" : "";
  evictd::bench::report(("decision -> frozen (ledger)" + mode).c_str(), frozen, 0);
  evictd::bench::report(("decision -> memory stops growing" + mode).c_str(), stopped_growing, 1);
  evictd::bench::report(("growth after the decision" + mode).c_str(), grown, 1, "MiB");
  evictd::bench::report(("decision -> status seen on the watch" + mode).c_str(), status_seen, 0);
  evictd::bench::report(("decision -> processes gone" + mode).c_str(), gone, 0);
  std::printf("restarts of evicted pods seen by the stand-in: %d (in %d evictions)\n",
              stand_in.restarts(), runs);
  daemon.stop(SIGTERM);
  stand_in.stop();
  std::filesystem::remove_all(dir);
  return stand_in.restarts() == 0 ? 0 : 1;
}
