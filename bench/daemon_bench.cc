// The daemon's figures, against a real containerd (root; run by hand: scripts/bench daemon).
//
// oom-race RUNS [MODE [MiB/s [THRESHOLD]]]: a container leaking 1000 MiB/s (or MiB/s) inside a
// 1 GiB kubepods cgroup with memory.available<100Mi (or THRESHOLD), RUNS times for each of (or
// the modes whose names start with MODE, "" for all): evictd with kernel notifications and
// headroom pacing, with notifications alone, polling every 10 s (the kubelet's default
// housekeeping) and every 1 s (notifications off). On cgroup v1 or v2 (the real-kernel lab). A run
// is won when evictd evicts the leak before the kernel OOM killer kills anything in kubepods
// (memory.oom_control's oom_kill counter). From evictd's own log: notification -> decision and
// decision -> pod gone through containerd.
//
// soak PODS SECONDS: pressure cycles (see soak()).
//
// idle PODS SECONDS: evictd watching PODS idle pods for SECONDS: CPU seconds (utime + stime of the
// process) and RSS.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "apiserver/fake_apiserver_process.h"
#include "bench/daemon_log.h"
#include "bench/report.h"
#include "bench/status_load.h"
#include "daemon/ledger/ledger.h"
#include "e2e/containerd_harness.h"
#include "e2e/daemon_process.h"
#include "ranking/quantity.h"

namespace {

using evictd::testing_util::ContainerdHarness;
using evictd::testing_util::Daemon;
using evictd::testing_util::eventually;
using evictd::testing_util::FakeApiServer;
using evictd::testing_util::make_uid;
using evictd::testing_util::oom_kills;
using evictd::testing_util::TestContainer;
using evictd::testing_util::TestPod;

constexpr int64_t kMiB = 1024 * 1024;

std::atomic<bool> g_interrupted{false};

// The numbers after `key=` in evictd's log lines that contain `marker`.
std::vector<double> log_values(const std::string& log, const std::string& marker,
                               const std::regex& pattern) {
  std::vector<double> values;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (line.find(marker) != std::string::npos && std::regex_search(line, match, pattern))
      values.push_back(std::stod(match[1]));
  }
  return values;
}

uint64_t read_number(const std::string& path) {
  std::ifstream in(path);
  uint64_t value = 0;
  in >> value;
  return value;
}

constexpr uint64_t kRatePrefix = 128 * kMiB;

uint64_t kubepods_usage() {
  return read_number(
      evictd::testing_util::memory_usage_file(evictd::testing_util::kubepods_cgroup()));
}

// kubepods' usage at which allocatableMemory.available meets `threshold_bytes`: the limit less
// the threshold, plus the inactive file pages read now (the leak is anonymous memory, so they
// hardly move during a run). The bench stamps the crossing when it reads usage past this point.
uint64_t crossing_usage(int64_t threshold_bytes) {
  const uint64_t limit =
      read_number(evictd::testing_util::memory_limit_file(evictd::testing_util::kubepods_cgroup()));
  std::ifstream stat(evictd::testing_util::memory_cgroup(evictd::testing_util::kubepods_cgroup()) +
                     "/memory.stat");
  uint64_t inactive_file = 0;
  for (std::string key; stat >> key;) {
    uint64_t value = 0;
    stat >> value;
    if (key == (evictd::testing_util::unified_memory() ? "inactive_file" : "total_inactive_file"))
      inactive_file = value;
  }
  return limit - static_cast<uint64_t>(threshold_bytes) + inactive_file;
}

struct RaceMode {
  const char* name;
  std::string config;
  bool status_load = false;  // 1 000 requests/s on the status API throughout
};

struct RaceOptions {
  int runs = 20;
  std::string only;  // the modes whose names start with this; all when empty
  int rate_mib_s = 1000;
  std::string threshold = "100Mi";
};

int oom_race(ContainerdHarness& harness, const std::string& dir, const RaceOptions& options) {
  const int runs = options.runs;
  // A resident pod so that kubepods is never empty, and the 1 GiB limit.
  TestPod resident;
  resident.name = "resident";
  resident.namespace_name = "bench";
  resident.tier = "burstable";
  if (auto error = harness.create_pod(resident, {TestContainer{"app", 16}}); !error.empty()) {
    std::cerr << error << "\n";
    return 1;
  }
  evictd::testing_util::set_kubepods_memory_limit(1024 * kMiB);
  const std::string base = evictd::bench::standalone_config(harness, dir, options.threshold);
  const int64_t threshold_bytes = evictd::Quantity::parse(options.threshold).value().value();
  const std::vector<RaceMode> modes = {
      {"notifications (+1 s poll)", base + "monitoringInterval: 1s\n"},
      // On cgroup v2, the notifications as they were before headroom pacing (docs/cgroups.md).
      {"notifications, no pacing", base + "monitoringInterval: 1s\nmemoryGrowthBound: 0\n"},
      {"polling 10 s", base + "monitoringInterval: 10s\npressureNotifications: false\n"},
      {"polling 1 s", base + "monitoringInterval: 1s\npressureNotifications: false\n"},
      {"notifications + 1000 rps status", base + "monitoringInterval: 1s\n", true},
  };
  int pod_number = 0;
  for (const auto& mode : modes) {
    if (!options.only.empty() && !std::string(mode.name).starts_with(options.only))
      continue;
    Daemon daemon(dir, mode.config);
    if (!daemon.start()) {
      std::cerr << daemon.log();
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
    std::unique_ptr<evictd::bench::StatusLoad> load;
    if (mode.status_load) {
      load = std::make_unique<evictd::bench::StatusLoad>("unix:" + daemon.status_socket(), 1000, 4,
                                                         evictd::bench::StatusCalls::kBoth);
      load->start();
    }
    int won = 0;
    int lost = 0;
    size_t log_mark = daemon.log().size();
    std::vector<double> workload_gone;
    std::vector<double> crossing_to_decision;
    std::vector<double> leak_rate;  // MiB/s over the 128 MiB before the crossing
    for (int run = 0; run < runs && !g_interrupted; ++run) {
      TestPod leak;
      leak.name = "leak-" + std::to_string(++pod_number);
      leak.namespace_name = "bench";
      leak.tier = "burstable";
      leak.uid = make_uid();
      if (auto error =
              harness.create_pod(leak, {TestContainer{"app", 2048, false, 0, options.rate_mib_s}});
          !error.empty()) {
        std::cerr << error << "\n";
        return 1;
      }
      // The workload's own processes (the pause process lives until StopPodSandbox): polled every
      // millisecond, stamped on the wall clock that evictd's log lines carry.
      const std::string procs =
          evictd::testing_util::memory_cgroup(leak.container_cgroup(leak.container_ids[0])) +
          "/cgroup.procs";
      std::atomic<bool> watching{true};
      std::atomic<int64_t> workload_gone_ms{0};
      std::atomic<int64_t> crossed_ms{0};
      // The leak's real pace: a TCG guest allocates slower than asked.
      std::atomic<int64_t> approached_ms{0};
      const uint64_t crossing = crossing_usage(threshold_bytes);
      std::thread watcher([&] {
        while (watching) {
          if (crossed_ms == 0) {
            const uint64_t usage = kubepods_usage();
            if (approached_ms == 0 && usage + kRatePrefix >= crossing)
              approached_ms = evictd::bench::wall_ms();
            if (usage >= crossing)
              crossed_ms = evictd::bench::wall_ms();
          }
          std::ifstream in(procs);
          std::string pid;
          if (!(in >> pid)) {
            workload_gone_ms = evictd::bench::wall_ms();
            return;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      });
      const std::string gone = "pod gone";
      const std::string uid_field = "uid=" + leak.uid;
      bool evicted = false;
      bool killed = false;
      eventually(
          [&] {
            const std::string log = daemon.log();
            evicted = false;
            std::istringstream lines(log);
            for (std::string line; std::getline(lines, line);)
              evicted |=
                  line.find(gone) != std::string::npos && line.find(uid_field) != std::string::npos;
            killed = oom_kills("/pod" + leak.uid + "/") > 0;
            return evicted || killed;
          },
          std::chrono::seconds(15));
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      watching = false;
      watcher.join();
      killed = oom_kills("/pod" + leak.uid + "/") > 0;
      if (evicted) {
        const auto decided = evictd::bench::decision_time_ms(daemon.log(), leak.uid);
        if (decided > 0 && workload_gone_ms > 0)
          workload_gone.push_back(static_cast<double>(workload_gone_ms - decided));
        if (decided > 0 && crossed_ms > 0)
          crossing_to_decision.push_back(static_cast<double>(decided - crossed_ms));
        if (crossed_ms > approached_ms && approached_ms > 0)
          leak_rate.push_back(static_cast<double>(kRatePrefix / kMiB) * 1000.0 /
                              static_cast<double>(crossed_ms - approached_ms));
      }
      if (evicted && !killed) {
        ++won;
      } else {
        ++lost;
        // What evictd said about this leak, to tell a late decision from none at all (the previous
        // pod not gone yet, the leak not listed yet).
        std::printf("  run %d lost (%s): evictd's lines since the previous run:\n", run + 1,
                    killed ? "killed by the kernel" : "not evicted");
        std::istringstream lines(daemon.log().substr(log_mark));
        for (std::string line; std::getline(lines, line);)
          std::printf("    %s\n", line.c_str());
      }
      log_mark = daemon.log().size();
      // Whatever happened, the pod goes before the next run.
      (void)harness.client().stop_pod_sandbox(leak.sandbox_id, std::chrono::seconds(10));
      // The kubelet removes a terminated pod's cgroups at its next housekeeping; left behind, 20
      // of them would be read in every later decision sample (about 15 us each).
      (void)harness.remove_pod_cgroups(leak);
      std::this_thread::sleep_for(std::chrono::milliseconds(700));
    }
    if (load)
      load->stop();
    const std::string log = daemon.log();
    daemon.stop(SIGTERM);
    // The whole log for a closer look at the slow runs.
    if (const char* keep = std::getenv("EVICTD_BENCH_LOG_DIR")) {
      std::ofstream(std::string(keep) + "/oom-race-" + std::to_string(pod_number) + ".log") << log;
    }
    std::printf("\n%-28s won %d/%d before the kernel OOM killer (lost %d)\n", mode.name, won, runs,
                lost);
    if (load) {
      evictd::bench::report("  GetStatus during the runs", load->get_status_ms(), 3);
      evictd::bench::report("  ListPods during the runs", load->list_pods_ms(), 3);
      std::printf("  %d of %.0f requests failed\n", load->failures(), load->offered());
    }
    evictd::bench::report("  leak's pace before the crossing", leak_rate, 0, "MiB/s");
    evictd::bench::report("  crossing -> decision (1 ms poll)", crossing_to_decision, 0);
    evictd::bench::report("  wake -> decision (evictd's log)",
                          log_values(log, "evicting pod", std::regex("detection_ms=([0-9.]+)")), 3);
    evictd::bench::report("  decision -> workload processes gone", workload_gone, 0);
    evictd::bench::report(
        "  decision -> pod gone (containerd)",
        log_values(log, "pod gone", std::regex("pod gone ([0-9]+) ms after the decision")), 0);
  }
  return 0;
}

struct ProcessCost {
  double cpu_seconds = 0;
  long rss_kib = 0;
  long rss_anon_kib = 0;
  long rss_file_kib = 0;
  std::map<std::string, double> seconds_by_thread;  // by thread name (comm)
};

ProcessCost cost_of(pid_t pid) {
  ProcessCost cost;
  std::string stat = evictd::testing_util::read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto after = stat.rfind(')');
  std::istringstream fields(stat.substr(after + 2));
  std::string field;
  unsigned long utime = 0;
  unsigned long stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14)
      utime = std::stoul(field);
    if (i == 15) {
      stime = std::stoul(field);
      break;
    }
  }
  cost.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  // Clock ticks are 10 ms: the threads' schedstat run times (ns) are the precise figure.
  double task_seconds = 0;
  std::error_code error;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::istringstream schedstat(evictd::testing_util::read_text(task.path() / "schedstat"));
    double run_ns = 0;
    if (schedstat >> run_ns) {
      task_seconds += run_ns / 1e9;
      std::string comm = evictd::testing_util::read_text(task.path() / "comm");
      while (!comm.empty() && comm.back() == '\n')
        comm.pop_back();
      cost.seconds_by_thread[comm] += run_ns / 1e9;
    }
  }
  if (task_seconds > 0)
    cost.cpu_seconds = task_seconds;
  std::istringstream status(
      evictd::testing_util::read_text("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:"))
      cost.rss_kib = std::stol(line.substr(6));
    if (line.starts_with("RssAnon:"))
      cost.rss_anon_kib = std::stol(line.substr(8));
    if (line.starts_with("RssFile:"))
      cost.rss_file_kib = std::stol(line.substr(8));
  }
  return cost;
}

// With `api`, the pods are also objects of the test API server and evictd watches them there (a
// node's usual set-up: LIST + WATCH over TLS, the specs cached); without, it runs standalone.
int idle(ContainerdHarness& harness, const std::string& dir, int pods, int seconds,
         const FakeApiServer* api) {
  for (int i = 0; i < pods; ++i) {
    TestPod pod;
    pod.name = "idle-" + std::to_string(i);
    pod.namespace_name = "bench";
    pod.tier = i % 3 == 0 ? "" : (i % 3 == 1 ? "burstable" : "besteffort");
    pod.uid = make_uid();
    if (api != nullptr) {
      const evictd::testing_util::ApiPod object{
          .name = pod.name,
          .namespace_name = "bench",
          .uid = pod.uid,
          .node = "bench-node",
          .qos_class = i % 3 == 0 ? "Guaranteed" : (i % 3 == 1 ? "Burstable" : "BestEffort"),
          .resources = i % 3 == 0   ? R"({"requests":{"memory":"64Mi"},"limits":{"memory":"64Mi"}})"
                       : i % 3 == 1 ? R"({"requests":{"memory":"16Mi"}})"
                                    : "{}"};
      if (!evictd::testing_util::api_control(*api, "POST", "/_test/pods",
                                             evictd::testing_util::api_pod_json(object))) {
        std::cerr << "the test API server refused pod " << pod.name << "\n";
        return 1;
      }
    }
    if (auto error =
            harness.create_pod(pod, {TestContainer{"app", 1, false, i % 3 == 0 ? 64 * kMiB : 0}});
        !error.empty()) {
      std::cerr << error << "\n";
      return 1;
    }
  }
  std::string config = evictd::bench::standalone_config(harness, dir) + "monitoringInterval: 1s\n";
  if (api != nullptr)
    config += "kubeconfig: " + api->kubeconfig() + "\n";
  Daemon daemon(dir, config);
  if (!daemon.start()) {
    std::cerr << daemon.log();
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(5));  // start-up and first rounds
  const auto before = cost_of(daemon.pid());
  for (int second = 0; second < seconds && !g_interrupted; ++second)
    std::this_thread::sleep_for(std::chrono::seconds(1));
  const auto after = cost_of(daemon.pid());
  if (api != nullptr && daemon.log().find("API server connected") == std::string::npos) {
    std::cerr << "evictd did not connect to the test API server:\n" << daemon.log();
    return 1;
  }
  std::printf("idle%s, %d pods, %d s: CPU %.3f s (%.2f ms per second), RSS %.1f MiB\n",
              api != nullptr ? " (API server)" : " (standalone)", pods, seconds,
              after.cpu_seconds - before.cpu_seconds,
              (after.cpu_seconds - before.cpu_seconds) * 1000.0 / seconds,
              static_cast<double>(after.rss_kib) / 1024.0);
  std::printf("  RSS anonymous %.1f MiB, file-backed %.1f MiB\n",
              static_cast<double>(after.rss_anon_kib) / 1024.0,
              static_cast<double>(after.rss_file_kib) / 1024.0);
  // Where the CPU went, by thread name (threads of one name summed).
  for (const auto& [name, total] : after.seconds_by_thread) {
    const auto was = before.seconds_by_thread.find(name);
    const double spent = total - (was == before.seconds_by_thread.end() ? 0 : was->second);
    std::printf("  thread %-16s %.4f s\n", name.c_str(), spent);
  }
  daemon.stop(SIGTERM);
  return 0;
}

// Pressure cycles against PODS idle pods for SECONDS: each cycle a pod leaks until evictd evicts
// it. Checked at the end: every leak evicted exactly once (the ledger), no idle pod evicted, no
// kernel OOM kill, and evictd's RSS over the cycles.
int soak(ContainerdHarness& harness, const std::string& dir, int pods, int seconds,
         int rate_mib_s) {
  std::vector<TestPod> idle_pods(static_cast<size_t>(pods));
  for (int i = 0; i < pods; ++i) {
    auto& pod = idle_pods[static_cast<size_t>(i)];
    pod.name = "idle-" + std::to_string(i);
    pod.namespace_name = "soak";
    pod.tier = i % 2 == 0 ? "burstable" : "besteffort";
    if (auto error = harness.create_pod(pod, {TestContainer{"app", 2}}); !error.empty()) {
      std::cerr << error << "\n";
      return 1;
    }
  }
  evictd::testing_util::set_kubepods_memory_limit(1024 * kMiB);
  Daemon daemon(dir, evictd::bench::standalone_config(harness, dir) + "monitoringInterval: 1s\n");
  if (!daemon.start()) {
    std::cerr << daemon.log();
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<std::string> leaks;
  std::vector<double> rss_mib;
  int missed = 0;
  int oom = 0;
  while (std::chrono::steady_clock::now() < end && !g_interrupted) {
    TestPod leak;
    leak.name = "leak-" + std::to_string(leaks.size());
    leak.namespace_name = "soak";
    leak.tier = "burstable";
    leak.uid = make_uid();
    if (auto error = harness.create_pod(leak, {TestContainer{"app", 2048, false, 0, rate_mib_s}});
        !error.empty()) {
      std::cerr << error << "\n";
      return 1;
    }
    leaks.push_back(leak.uid);
    const bool gone = eventually(
        [&] {
          return evictd::testing_util::processes_in(leak) == 0 ||
                 oom_kills("/pod" + leak.uid + "/") > 0;
        },
        std::chrono::seconds(15));
    missed += gone && evictd::testing_util::processes_in(leak) == 0 ? 0 : 1;
    oom += oom_kills("/pod" + leak.uid + "/") > 0 ? 1 : 0;
    rss_mib.push_back(static_cast<double>(cost_of(daemon.pid()).rss_kib) / 1024.0);
    (void)harness.client().stop_pod_sandbox(leak.sandbox_id, std::chrono::seconds(10));
    (void)harness.remove_pod_cgroups(leak);  // as the kubelet's housekeeping does
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  daemon.stop(SIGTERM);
  auto replayed = evictd::ledger::replay_file(dir + "/state/ledger");
  std::map<std::string, int> evicted;
  if (replayed.ok()) {
    for (const auto& eviction : replayed->evictions)
      ++evicted[eviction.decision.pod_uid];
  }
  int double_evictions = 0;
  int missing = 0;
  for (const auto& uid : leaks) {
    double_evictions += evicted[uid] > 1 ? 1 : 0;
    missing += evicted[uid] == 0 ? 1 : 0;
    evicted.erase(uid);
  }
  const int bystanders = static_cast<int>(evicted.size());
  std::printf(
      "soak, %d pods, %d s: %zu cycles; leaks not evicted %d, evicted twice %d, other pods "
      "evicted %d, kernel OOM kills %d, not gone in time %d\n",
      pods, seconds, leaks.size(), missing, double_evictions, bystanders, oom, missed);
  if (!rss_mib.empty()) {
    std::printf("  evictd RSS: first cycle %.1f MiB, last %.1f MiB, max %.1f MiB\n",
                rss_mib.front(), rss_mib.back(), *std::max_element(rss_mib.begin(), rss_mib.end()));
  }
  const bool flat = rss_mib.empty() || rss_mib.back() <= rss_mib.front() + 2.0;
  return missing == 0 && double_evictions == 0 && bystanders == 0 && oom == 0 && missed == 0 && flat
             ? 0
             : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: daemon_bench oom-race RUNS [MODE [MiB/s [THRESHOLD]]] | idle PODS SECONDS "
                 "| idle-api PODS SECONDS | soak "
                 "PODS SECONDS [MiB/s]\n";
    return 2;
  }
  const std::string mode = argv[1];
  // Ctrl-C ends the runs early but still lets the harness remove everything it made.
  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });
  ContainerdHarness harness;
  if (auto error = harness.start(); !error.empty()) {
    std::cerr << "containerd: " << error << "\n";
    return 1;
  }
  std::string pattern = "/tmp/evictd-bench-XXXXXX";
  const std::string dir = mkdtemp(pattern.data());
  int code = 2;
  if (mode == "oom-race")
    code =
        oom_race(harness, dir,
                 RaceOptions{std::atoi(argv[2]), argc > 3 ? argv[3] : "",
                             argc > 4 ? std::atoi(argv[4]) : 1000, argc > 5 ? argv[5] : "100Mi"});
  else if (mode == "soak" && argc > 3)
    code = soak(harness, dir, std::atoi(argv[2]), std::atoi(argv[3]),
                argc > 4 ? std::atoi(argv[4]) : 500);
  else if (mode == "idle" && argc > 3)
    code = idle(harness, dir, std::atoi(argv[2]), std::atoi(argv[3]), nullptr);
  else if (mode == "idle-api" && argc > 3) {
    const char* source = std::getenv("EVICTD_SOURCE_DIR");
    FakeApiServer api(source != nullptr ? source : ".", 60);  // kube-apiserver's bookmark pace
    if (!api.running()) {
      std::cerr << "the test API server did not start\n";
      code = 1;
    } else {
      code = idle(harness, dir, std::atoi(argv[2]), std::atoi(argv[3]), &api);
    }
  }
  std::filesystem::remove_all(dir);
  return code;
}
