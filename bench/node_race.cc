// The node-level OOM race (root; containerd; the real-kernel lab, or a host that may run out of
// memory): no limit on kubepods, so the node's own memory is what runs out, as memory.available
// measures it — evictd, containerd and every pod are reclaimed together, unlike the OOM race of
// daemon_bench, which keeps the pressure inside a kubepods limit.
//
// node_race RUNS THRESHOLD [MiB/s [strict]]: RUNS times, a Burstable pod leaks MiB/s (default
// 1000) towards the node's end beside three 200 MiB bystanders (a Guaranteed pod, a Burstable one
// and a critical static pod), with evictd (standalone, as shipped: locked in memory, kernel
// notifications, headroom pacing) at memory.available<THRESHOLD — a quantity, or "suggested", the
// value check-config suggests on this node. evictd, containerd and this program run at
// oom_score_adj -999, as their units set it. A run is won when evictd relieves the node (the leak's
// processes gone) before the kernel OOM-kills anything (/proc/vmstat oom_kill), with no bystander
// losing a process. Reports crossing -> decision (this program reads memory.available every
// millisecond as evictd's sampler computes it), decision -> leak
// gone, evictd's major page faults during each run, kernel OOM kills and what they killed, and
// how often the runtime stalled so that evictd killed through the pod's cgroup. With "strict" the
// exit status is 1 unless every run was won with no major fault of evictd's.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/daemon_log.h"
#include "bench/report.h"
#include "cgroups/kernel_reserve.h"
#include "cgroups/parse.h"
#include "e2e/containerd_harness.h"
#include "e2e/daemon_process.h"
#include "ranking/quantity.h"

namespace {

using evictd::testing_util::ContainerdHarness;
using evictd::testing_util::Daemon;
using evictd::testing_util::eventually;
using evictd::testing_util::make_uid;
using evictd::testing_util::processes_in;
using evictd::testing_util::TestContainer;
using evictd::testing_util::TestPod;

constexpr int64_t kMiB = 1024 * 1024;
// Below the guest's memory, so that the kernel's overcommit heuristic grants the mapping, and
// above what is left beside the bystanders, so that the leak reaches the node's end.
constexpr int kLeakMiB = 2800;

std::atomic<bool> g_interrupted{false};

// memory.available as evictd's sampler computes it: MemTotal less the working set — on cgroup v2
// MemTotal - MemFree less the inactive file pages, on v1 the root memory cgroup's usage less its
// total_inactive_file (which leaves out what the kernel does not charge to the root cgroup).
int64_t node_available() {
  const auto info =
      evictd::cgroups::parse_meminfo(evictd::testing_util::read_text("/proc/meminfo"));
  if (evictd::testing_util::unified_memory())
    return static_cast<int64_t>(info.mem_free.value_or(0) + info.inactive_file.value_or(0));
  const std::string root = "/sys/fs/cgroup/memory";
  const uint64_t usage =
      std::stoull(evictd::testing_util::read_text(root + "/memory.usage_in_bytes"));
  const auto stat =
      evictd::cgroups::parse_memory_stat(evictd::testing_util::read_text(root + "/memory.stat"));
  const uint64_t working_set = usage - std::min(usage, stat.total_inactive_file.value_or(0));
  return static_cast<int64_t>(info.mem_total.value_or(0)) - static_cast<int64_t>(working_set);
}

uint64_t vmstat(const std::string& key) {
  std::istringstream lines(evictd::testing_util::read_text("/proc/vmstat"));
  for (std::string name; lines >> name;) {
    uint64_t value = 0;
    lines >> value;
    if (name == key)
      return value;
  }
  return 0;
}

// Field 12 of /proc/PID/stat: the major page faults the process has taken.
uint64_t major_faults(pid_t pid) {
  const std::string stat =
      evictd::testing_util::read_text("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; fields >> field; ++i) {
    if (i == 12)
      return std::stoull(field);
  }
  return 0;
}

// The kernel's "Killed process PID (NAME)" lines since `mark` lines of dmesg.
std::vector<std::string> oom_victims(size_t& mark) {
  FILE* dmesg = ::popen("dmesg", "r");
  std::vector<std::string> victims;
  if (dmesg == nullptr)
    return victims;
  char line[1024];
  size_t index = 0;
  while (std::fgets(line, sizeof(line), dmesg) != nullptr) {
    if (index++ < mark)
      continue;
    const std::string text = line;
    if (const size_t at = text.find("Killed process "); at != std::string::npos)
      victims.push_back(text.substr(at + 15, text.find(' ', text.find('(', at)) - at - 15));
  }
  ::pclose(dmesg);
  mark = index;
  return victims;
}

void protect_from_oom_killer() {
  std::ofstream("/proc/self/oom_score_adj") << -999;
}

std::string threshold_for(const std::string& asked) {
  if (asked != "suggested")
    return asked;
  const auto memory = evictd::cgroups::read_node_memory();
  if (!memory)
    return "";
  const int64_t bytes = evictd::suggested_memory_threshold(memory->reserve, 0);
  return std::to_string(bytes / kMiB) + "Mi";
}

struct Bystanders {
  TestPod db;     // Guaranteed
  TestPod web;    // Burstable
  TestPod proxy;  // a static pod: critical, never evicted

  std::string start(ContainerdHarness& harness) {
    db.name = "db";
    db.namespace_name = "bench";
    web.name = "web";
    web.namespace_name = "bench";
    web.tier = "burstable";
    proxy.name = "proxy";
    proxy.namespace_name = "kube-system";
    proxy.tier = "besteffort";
    proxy.annotations["kubernetes.io/config.source"] = "file";
    for (auto* pod : {&db, &web, &proxy}) {
      TestContainer app{"app", 200};
      if (pod == &db)
        app.memory_limit = 256 * kMiB;
      if (auto error = harness.create_pod(*pod, {app}); !error.empty())
        return pod->name + ": " + error;
    }
    return "";
  }
  // The bystanders that lost their workload.
  std::vector<std::string> lost() const {
    std::vector<std::string> names;
    for (const auto* pod : {&db, &web, &proxy}) {
      if (processes_in(*pod) < 2)  // the pause process and the workload
        names.push_back(pod->name);
    }
    return names;
  }
};

struct RunResult {
  bool evicted = false;
  // Unset when evictd did not decide; negative when it decided before this program's read saw the
  // crossing (its reads are a millisecond apart).
  std::optional<int64_t> crossing_to_decision_ms;
  std::optional<int64_t> decision_to_gone_ms;
  uint64_t major_faults = 0;
  uint64_t oom_kills = 0;
  std::vector<std::string> victims;
  std::vector<std::string> bystanders_lost;
  bool killed_through_cgroup = false;
  bool runtime_slow = false;  // silent for 1 s, but its stop had ended the processes
  double pace_mib_s = 0;
};

RunResult one_run(ContainerdHarness& harness, Daemon& daemon, const Bystanders& bystanders,
                  int64_t threshold_bytes, int rate, int number, size_t& dmesg_mark) {
  RunResult result;
  const size_t log_mark = daemon.log().size();
  const uint64_t oom_before = vmstat("oom_kill");
  const uint64_t faults_before = major_faults(daemon.pid());
  TestPod leak;
  leak.name = "leak-" + std::to_string(number);
  leak.namespace_name = "bench";
  leak.tier = "burstable";
  leak.uid = make_uid();
  if (auto error = harness.create_pod(leak, {TestContainer{"app", kLeakMiB, false, 0, rate}});
      !error.empty()) {
    std::cerr << error << "\n";
    return result;
  }
  const std::string procs =
      evictd::testing_util::memory_cgroup(leak.container_cgroup(leak.container_ids[0])) +
      "/cgroup.procs";
  std::atomic<bool> watching{true};
  std::atomic<int64_t> crossed_ms{0};
  std::atomic<int64_t> gone_ms{0};
  std::atomic<int64_t> approached_ms{0};  // 256 MiB above the threshold: the leak's pace
  std::thread watcher([&] {
    while (watching) {
      const int64_t available = node_available();
      if (approached_ms == 0 && available < threshold_bytes + 256 * kMiB)
        approached_ms = evictd::bench::wall_ms();
      if (crossed_ms == 0 && available < threshold_bytes)
        crossed_ms = evictd::bench::wall_ms();
      std::ifstream in(procs);
      std::string pid;
      if (!(in >> pid)) {
        gone_ms = evictd::bench::wall_ms();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  const std::string uid_field = "uid=" + leak.uid;
  eventually(
      [&] {
        const std::string log = daemon.log().substr(log_mark);
        result.evicted =
            log.find("pod gone") != std::string::npos && log.find(uid_field) != std::string::npos;
        return result.evicted || vmstat("oom_kill") > oom_before || gone_ms > 0;
      },
      std::chrono::seconds(60));
  // The stop through the runtime may come seconds after the relief when the runtime stalled.
  eventually([&] { return daemon.log().find("pod gone", log_mark) != std::string::npos; },
             std::chrono::seconds(30));
  watching = false;
  watcher.join();
  const std::string log = daemon.log().substr(log_mark);
  result.evicted = log.find("pod gone") != std::string::npos;
  result.killed_through_cgroup = log.find("through its cgroup") != std::string::npos;
  result.runtime_slow = log.find("processes are already gone") != std::string::npos;
  result.oom_kills = vmstat("oom_kill") - oom_before;
  result.victims = oom_victims(dmesg_mark);
  result.major_faults = major_faults(daemon.pid()) - faults_before;
  result.bystanders_lost = bystanders.lost();
  const int64_t decided = evictd::bench::decision_time_ms(log, leak.uid);
  if (decided > 0 && crossed_ms > 0)
    result.crossing_to_decision_ms = decided - crossed_ms;
  if (decided > 0 && gone_ms > 0)
    result.decision_to_gone_ms = gone_ms - decided;
  if (crossed_ms > approached_ms && approached_ms > 0)
    result.pace_mib_s = 256.0 * 1000.0 / static_cast<double>(crossed_ms - approached_ms);
  (void)harness.client().stop_pod_sandbox(leak.sandbox_id, std::chrono::seconds(20));
  (void)harness.remove_pod_cgroups(leak);
  // The node settles (the freed memory, containerd's and evictd's own work) before the next run.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  return result;
}

bool won(const RunResult& run) {
  return run.evicted && run.oom_kills == 0 && run.bystanders_lost.empty();
}

int node_race(ContainerdHarness& harness, const std::string& dir, int runs,
              const std::string& threshold, int rate, bool strict) {
  evictd::testing_util::clear_kubepods_memory_limit();
  Bystanders bystanders;
  if (auto error = bystanders.start(harness); !error.empty()) {
    std::cerr << error << "\n";
    return 1;
  }
  const int64_t threshold_bytes = evictd::Quantity::parse(threshold).value().value();
  Daemon daemon(
      dir, evictd::bench::standalone_config(harness, dir, threshold) + "monitoringInterval: 1s\n");
  if (!daemon.start()) {
    std::cerr << daemon.log();
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto memory = evictd::cgroups::read_node_memory();
  std::printf(
      "node: %lld MiB, watermarks min %lld low %lld high %lld MiB; "
      "memory.available < %s; leak asked %d MiB/s\n",
      static_cast<long long>(memory ? memory->total_bytes / kMiB : 0),
      static_cast<long long>(memory ? memory->reserve.min_bytes / kMiB : 0),
      static_cast<long long>(memory ? memory->reserve.low_bytes / kMiB : 0),
      static_cast<long long>(memory ? memory->reserve.high_bytes / kMiB : 0), threshold.c_str(),
      rate);
  size_t dmesg_mark = 0;
  (void)oom_victims(dmesg_mark);
  std::vector<RunResult> results;
  for (int run = 0; run < runs && !g_interrupted; ++run) {
    results.push_back(
        one_run(harness, daemon, bystanders, threshold_bytes, rate, run + 1, dmesg_mark));
    const RunResult& r = results.back();
    std::string victims;
    for (const auto& victim : r.victims)
      victims += (victims.empty() ? "" : ", ") + victim;
    std::string lost;
    for (const auto& name : r.bystanders_lost)
      lost += (lost.empty() ? "" : ", ") + name;
    const auto ms_text = [](const std::optional<int64_t>& ms) {
      return ms ? std::to_string(*ms) + " ms" : std::string("none");
    };
    std::printf(
        "  run %2d %s: crossing->decision %s, decision->leak gone %s, "
        "evictd major faults %llu, kernel OOM kills %llu%s%s%s, pace %.0f MiB/s%s\n",
        run + 1, won(r) ? "won " : "LOST", ms_text(r.crossing_to_decision_ms).c_str(),
        ms_text(r.decision_to_gone_ms).c_str(), static_cast<unsigned long long>(r.major_faults),
        static_cast<unsigned long long>(r.oom_kills),
        victims.empty() ? "" : (" (" + victims + ")").c_str(),
        lost.empty() ? "" : ", bystanders lost: ", lost.c_str(), r.pace_mib_s,
        r.killed_through_cgroup ? ", runtime stalled: killed through the cgroup"
        : r.runtime_slow        ? ", the runtime's stop slower than 1 s (processes already gone)"
                                : "");
    if (!won(r) || r.major_faults > 0) {
      std::printf("    evictd's log of the run:\n");
      std::istringstream lines(daemon.log());
      for (std::string line; std::getline(lines, line);) {
        if (line.find("leak-" + std::to_string(run + 1)) != std::string::npos ||
            line.find("threshold") != std::string::npos)
          std::printf("      %s\n", line.c_str());
      }
    }
  }
  const std::string log = daemon.log();
  daemon.stop(SIGTERM);
  if (const char* keep = std::getenv("EVICTD_BENCH_LOG_DIR"))
    std::ofstream(std::string(keep) + "/node-race-" + threshold + ".log") << log;
  std::vector<double> decision, gone, faults, pace;
  int wins = 0;
  int kills = 0;
  int slow = 0;
  uint64_t oom_total = 0;
  uint64_t faults_total = 0;
  for (const auto& r : results) {
    wins += won(r) ? 1 : 0;
    kills += r.killed_through_cgroup ? 1 : 0;
    slow += r.runtime_slow ? 1 : 0;
    oom_total += r.oom_kills;
    faults_total += r.major_faults;
    if (r.crossing_to_decision_ms)
      decision.push_back(static_cast<double>(*r.crossing_to_decision_ms));
    if (r.decision_to_gone_ms)
      gone.push_back(static_cast<double>(*r.decision_to_gone_ms));
    faults.push_back(static_cast<double>(r.major_faults));
    if (r.pace_mib_s > 0)
      pace.push_back(r.pace_mib_s);
  }
  std::printf(
      "\nmemory.available<%s: won %d/%zu (relief before any kernel OOM kill, no bystander "
      "lost); kernel OOM kills %llu; killed through the cgroup in %d; the runtime's stop slower "
      "than 1 s, the processes already gone, in %d\n",
      threshold.c_str(), wins, results.size(), static_cast<unsigned long long>(oom_total), kills,
      slow);
  evictd::bench::report("  leak's pace before the crossing", pace, 0, "MiB/s");
  evictd::bench::report("  crossing -> decision (1 ms reads)", decision, 0);
  evictd::bench::report("  decision -> leak's processes gone", gone, 0);
  evictd::bench::report("  evictd's major faults per run", faults, 0, "faults");
  if (!strict)
    return 0;
  return wins == static_cast<int>(results.size()) && faults_total == 0 && !results.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: node_race RUNS THRESHOLD|suggested [MiB/s [strict]]\n";
    return 2;
  }
  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });
  // Each line as it comes: a run that ends the node must not take the lines before it along.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Inherited by containerd and evictd, as their units set it; not by the pods' workloads, whose
  // score containerd sets.
  protect_from_oom_killer();
  const std::string threshold = threshold_for(argv[2]);
  if (threshold.empty() || !evictd::Quantity::parse(threshold).ok()) {
    std::cerr << "node_race: no threshold from " << argv[2] << "\n";
    return 2;
  }
  ContainerdHarness harness;
  if (auto error = harness.start(); !error.empty()) {
    std::cerr << "containerd: " << error << "\n";
    return 1;
  }
  std::string pattern = "/tmp/evictd-node-race-XXXXXX";
  const std::string dir = mkdtemp(pattern.data());
  const int code =
      node_race(harness, dir, std::atoi(argv[1]), threshold, argc > 3 ? std::atoi(argv[3]) : 1000,
                argc > 4 && std::string(argv[4]) == "strict");
  std::filesystem::remove_all(dir);
  return code;
}
