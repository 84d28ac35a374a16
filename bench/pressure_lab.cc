// The pressure lab (root; containerd; the real-kernel lab on cgroup v2, since it sets up swap on
// zram and drives the node into thrash): memory trouble the kubelet cannot see, each scenario run
// twice — A, kubelet-exact (memory.available<100Mi only), and B, evictd's own signals
// (memoryAndSwap.available, memory.pressure, swap-aware ranking).
//
//   buffer:  a Burstable batch pod's transient peak that fits in RAM + its swap, then freed.
//   thrash:  the batch pod leaks on into swap.
//   file:    no swap; a Burstable pod re-reads a hot file larger than what memory is left.
//   stream:  a pod streams once through a large file beside a node at steady high use.
//
// Pods are laid out as the kubelet lays them out, swap limits as its LimitedSwap behaviour sets
// them (KEP-2400): a Burstable container may swap its memory request's share of the node's swap,
// Guaranteed and BestEffort ones none. Beside each scenario's pods a Guaranteed probe pod touches
// its working set every 100 ms and records how late each pass ends: the guest emulates its CPU,
// so zram is slow and the kernel's stall figures run high; the probe says what the node's
// services felt.
//
// pressure_lab SCENARIO|swap|ci|all [DATA_FILE] [strict] ("swap": buffer and thrash; "ci": buffer,
// thrash and stream, what CI holds evictd to): DATA_FILE (a
// large file the host shares, sparse is enough) is read by the file scenarios; "strict" makes a
// failed expectation the exit status. Reports, per scenario and configuration: eviction or none,
// which pod, seconds after the scenario's onset, the probe's lateness before/during/after
// (p50/max), the kubepods cgroup's stall share (full) during, kernel OOM kills.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/daemon_log.h"
#include "cgroups/parse.h"
#include "e2e/containerd_harness.h"
#include "e2e/daemon_process.h"

namespace {

using evictd::testing_util::ContainerdHarness;
using evictd::testing_util::Daemon;
using evictd::testing_util::HostMount;
using evictd::testing_util::memory_cgroup;
using evictd::testing_util::read_text;
using evictd::testing_util::shell;
using evictd::testing_util::TestContainer;
using evictd::testing_util::TestPod;

constexpr int64_t kMiB = 1024 * 1024;
constexpr int kSwapMiB = 1536;
constexpr int kProbeMiB = 128;
constexpr int kProbePeriodMs = 100;
// Share of each leaked page that is random: lzo-rle then keeps about half of it, as it keeps of a
// real heap, where a page of one repeated byte would cost zram nothing.
constexpr int kRandomPercent = 40;
constexpr int kLeakMiBPerSecond = 40;
constexpr int64_t kBatchRequestMiB = 1536;

std::atomic<bool> g_interrupted{false};

int64_t now_ms() {
  return evictd::bench::wall_ms();
}

void sleep_ms(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

uint64_t vmstat(const std::string& key) {
  std::istringstream lines(read_text("/proc/vmstat"));
  for (std::string name; lines >> name;) {
    uint64_t value = 0;
    lines >> value;
    if (name == key)
      return value;
  }
  return 0;
}

evictd::cgroups::MemInfo meminfo() {
  return evictd::cgroups::parse_meminfo(read_text("/proc/meminfo"));
}

// memory.available as evictd and the kubelet compute it on cgroup v2.
int64_t node_available() {
  const auto info = meminfo();
  return static_cast<int64_t>(info.mem_free.value_or(0) + info.inactive_file.value_or(0));
}

// ---- swap on zram -------------------------------------------------------------------------------

void swap_off() {
  shell("{ swapoff /dev/zram0; echo 1 >/sys/block/zram0/reset; }");
}

bool swap_on(int mib) {
  swap_off();
  shell("modprobe zram");
  shell("echo " + std::to_string(mib) + "M >/sys/block/zram0/disksize && mkswap /dev/zram0");
  shell("swapon /dev/zram0");
  return meminfo().swap_total.value_or(0) > 0;
}

// ---- what the node shows, every 100 ms ----------------------------------------------------------

struct NodePoint {
  int64_t ms = 0;
  int64_t available = 0;
  int64_t swap_used = 0;
  uint64_t full_us = 0;
  uint64_t some_us = 0;
  double evictd_stall = -1;  // evictd's memory.pressure gauge, read once a second; -1 unread
};

class NodeMonitor {
 public:
  NodeMonitor()
      : pressure_(memory_cgroup(evictd::testing_util::kubepods_cgroup()) + "/memory.pressure") {}
  ~NodeMonitor() { stop(); }

  // Reads evictd's memory.pressure gauge once a second as well (from its /metrics).
  void start(std::function<double()> evictd_stall = nullptr) {
    running_ = true;
    thread_ = std::thread([this, evictd_stall] {
      for (int tick = 0; running_; ++tick) {
        NodePoint point;
        point.ms = now_ms();
        const auto info = meminfo();
        point.available =
            static_cast<int64_t>(info.mem_free.value_or(0) + info.inactive_file.value_or(0));
        point.swap_used =
            static_cast<int64_t>(info.swap_total.value_or(0) - info.swap_free.value_or(0));
        const auto psi = evictd::cgroups::parse_psi(read_text(pressure_));
        point.full_us = psi.full ? psi.full->total_us : 0;
        point.some_us = psi.some ? psi.some->total_us : 0;
        if (evictd_stall && tick % 10 == 0)
          point.evictd_stall = evictd_stall();
        {
          std::lock_guard lock(mutex_);
          points_.push_back(point);
        }
        sleep_ms(100);
      }
    });
  }
  void stop() {
    running_ = false;
    if (thread_.joinable())
      thread_.join();
  }
  std::vector<NodePoint> points() const {
    std::lock_guard lock(mutex_);
    return points_;
  }
  // The first time at or after `from` that memory.available was below `bytes`; 0 if never.
  int64_t first_below(int64_t from, int64_t bytes) const {
    for (const auto& p : points()) {
      if (p.ms >= from && p.available < bytes)
        return p.ms;
    }
    return 0;
  }
  std::optional<NodePoint> at(int64_t ms) const {
    std::optional<NodePoint> found;
    for (const auto& p : points()) {
      if (p.ms > ms)
        break;
      found = p;
    }
    return found;
  }
  // Share of [from, to) during which all of kubepods' tasks stalled on memory.
  double full_share(int64_t from, int64_t to) const {
    const auto a = at(from);
    const auto b = at(to);
    if (!a || !b || b->ms <= a->ms)
      return 0;
    return static_cast<double>(b->full_us - a->full_us) /
           (1000.0 * static_cast<double>(b->ms - a->ms));
  }
  // The largest share over any 10 s window ending in [from, to]: what evictd's window could see.
  double max_window_share(int64_t from, int64_t to) const {
    double most = 0;
    for (const auto& p : points()) {
      if (p.ms < from + 10000 || p.ms > to)
        continue;
      most = std::max(most, full_share(p.ms - 10000, p.ms));
    }
    return most;
  }
  int64_t max_swap_used(int64_t from, int64_t to) const {
    int64_t most = 0;
    for (const auto& p : points()) {
      if (p.ms >= from && p.ms <= to)
        most = std::max(most, p.swap_used);
    }
    return most;
  }

 private:
  std::string pressure_;
  std::atomic<bool> running_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<NodePoint> points_;
};

// ---- workload events (programs/workloads.cc) ----------------------------------------------------

struct Event {
  std::string name;
  int64_t ms = 0;
  int64_t value = 0;
};

std::vector<Event> read_events(const std::string& path) {
  std::vector<Event> events;
  std::istringstream lines(read_text(path));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    Event event;
    if (fields >> event.name >> event.ms >> event.value)
      events.push_back(event);
  }
  return events;
}

int64_t event_time(const std::string& path, const std::string& name, int nth = 1) {
  int seen = 0;
  for (const auto& event : read_events(path)) {
    if (event.name == name && ++seen == nth)
      return event.ms;
  }
  return 0;
}

struct Lateness {
  size_t passes = 0;
  double p50_ms = 0;
  double max_ms = 0;
};

Lateness probe_lateness(const std::string& path, int64_t from, int64_t to) {
  std::vector<double> late;
  for (const auto& event : read_events(path)) {
    if (event.name == "late" && event.ms >= from && event.ms < to)
      late.push_back(static_cast<double>(event.value) / 1000.0);
  }
  Lateness result;
  if (late.empty())
    return result;
  std::sort(late.begin(), late.end());
  result.passes = late.size();
  result.p50_ms = late[late.size() / 2];
  result.max_ms = late.back();
  return result;
}

// ---- evictd's decisions, from its log -----------------------------------------------------------

struct Decision {
  std::string pod;  // NS/NAME
  std::string signal;
  int64_t ms = 0;
  bool dry_run = false;
};

std::string field_of(const std::string& line, const std::string& key) {
  const size_t at = line.find(" " + key + "=");
  if (at == std::string::npos)
    return "";
  size_t start = at + key.size() + 2;
  if (start < line.size() && line[start] == '"')
    return line.substr(start + 1, line.find('"', start + 1) - start - 1);
  return line.substr(start, line.find(' ', start) - start);
}

std::vector<Decision> decisions(const std::string& log) {
  std::vector<Decision> found;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    for (const auto& [marker, dry] :
         {std::pair{"evicting pod ", false}, std::pair{"dry run: would evict pod ", true}}) {
      const size_t at = line.find(marker);
      if (at == std::string::npos)
        continue;
      const size_t start = at + std::string(marker).size();
      found.push_back(Decision{line.substr(start, line.find(':', start) - start),
                               field_of(line, "signal"), evictd::bench::log_line_time_ms(line),
                               dry});
    }
  }
  return found;
}

// evictd_memory_pressure_stall_ratio from a /metrics text; -1 when absent.
double stall_gauge(const std::string& metrics) {
  const std::string name = "\nevictd_memory_pressure_stall_ratio ";
  const size_t at = metrics.find(name);
  return at == std::string::npos ? -1 : std::atof(metrics.c_str() + at + name.size());
}

// ---- the pods -----------------------------------------------------------------------------------

// The kubelet's LimitedSwap share for a Burstable container (calcSwapForBurstablePods):
// request / node memory × node swap.
int64_t limited_swap(int64_t request) {
  const auto info = meminfo();
  const double total = static_cast<double>(info.mem_total.value_or(1));
  return static_cast<int64_t>(static_cast<double>(request) / total *
                              static_cast<double>(info.swap_total.value_or(0)));
}

// What the kubelet writes for the container through the CRI (LinuxContainerResources.unified):
// written here once the container runs, before its workload has anything to swap.
void set_swap_max(const TestPod& pod, int64_t bytes) {
  for (const auto& id : pod.container_ids)
    std::ofstream(memory_cgroup(pod.container_cgroup(id)) + "/memory.swap.max") << bytes;
}

// The kubelet's oom_score_adj for a container (pkg/kubelet/qos/policy.go): Guaranteed -997,
// BestEffort 1000, Burstable 1000 - 1000 × request / node memory within [3, 999]. Written here for
// the container's processes, which the CRI would have started with it.
void set_oom_score_adj(const TestPod& pod, int64_t request) {
  int64_t score = -997;
  if (pod.tier == "besteffort") {
    score = 1000;
  } else if (pod.tier == "burstable") {
    const auto total = static_cast<int64_t>(meminfo().mem_total.value_or(1));
    score = std::clamp<int64_t>(1000 - 1000 * request / total, 3, 999);
  }
  for (const auto& id : pod.container_ids) {
    std::istringstream pids(read_text(memory_cgroup(pod.container_cgroup(id)) + "/cgroup.procs"));
    for (std::string pid; pids >> pid;)
      std::ofstream("/proc/" + pid + "/oom_score_adj") << score;
  }
}

// The kernel's "Killed process PID (NAME)" lines since `mark` lines of dmesg.
std::vector<std::string> oom_victims(size_t& mark) {
  std::vector<std::string> victims;
  std::istringstream lines(shell("dmesg"));
  size_t index = 0;
  for (std::string line; std::getline(lines, line); ++index) {
    if (index < mark)
      continue;
    if (const size_t at = line.find("Killed process "); at != std::string::npos)
      victims.push_back(line.substr(at + 15, line.find(')', at) - at - 14));
  }
  mark = index;
  return victims;
}

struct LabPod {
  TestPod pod;
  std::string events;  // its workload's event file
};

class Scenario {
 public:
  Scenario(ContainerdHarness& harness, std::string dir, std::string data_file)
      : harness_(harness), dir_(std::move(dir)), data_file_(std::move(data_file)) {}
  ~Scenario() { remove_all(); }

  // A pod of one container "app" running memhog's ARGS; `tier` "" is Guaranteed (a limit of
  // `limit` bytes), "burstable" has no limit and swaps its `request`'s share.
  std::string add(LabPod& lab, const std::string& name, const std::string& tier, int64_t limit,
                  int64_t request, std::vector<std::string> args) {
    lab.pod.name = name;
    lab.pod.namespace_name = "lab";
    lab.pod.tier = tier;
    lab.events = dir_ + "/out/" + name + "-" + std::to_string(now_ms()) + ".events";
    args.push_back("/out/" + std::filesystem::path(lab.events).filename().string());
    TestContainer app{"app"};
    app.memory_limit = tier.empty() ? limit : 0;
    app.args = std::move(args);
    app.mounts.push_back(HostMount{dir_ + "/out", "/out", false});
    if (!data_file_.empty())
      app.mounts.push_back(HostMount{data_file_, "/data", true});
    if (auto error = harness_.create_pod(lab.pod, {app}); !error.empty())
      return name + ": " + error;
    const bool swaps = tier == "burstable" && meminfo().swap_total.value_or(0) > 0;
    set_swap_max(lab.pod, swaps ? limited_swap(request) : 0);
    set_oom_score_adj(lab.pod, request);
    pods_.push_back(&lab);
    return "";
  }
  void remove_all() {
    for (auto* lab : pods_) {
      (void)harness_.client().stop_pod_sandbox(lab->pod.sandbox_id, std::chrono::seconds(20));
      (void)harness_.client().remove_pod_sandbox(lab->pod.sandbox_id);
      (void)harness_.remove_pod_cgroups(lab->pod);
    }
    pods_.clear();
  }
  bool running(const LabPod& lab) const {
    return evictd::testing_util::processes_in(lab.pod) >= 2;  // the pause process and the app
  }

 private:
  ContainerdHarness& harness_;
  std::string dir_;
  std::string data_file_;
  std::vector<LabPod*> pods_;
};

// ---- evictd's two configurations ----------------------------------------------------------------

enum class Config { kKubelet, kPressure };

const char* config_name(Config config) {
  return config == Config::kKubelet ? "A kubelet-exact" : "B pressure signals";
}

// B: the kubelet's memory.available is left out, since on a swap node it is met as soon as RAM
// fills (the kernel's watermarks lie below 100Mi), whatever swap is free; memoryAndSwap.available
// takes its place at the kubelet's value, hard only: a soft one above it acts on a node without
// swap as a higher memory.available, met by page cache. memory.pressure evicts once using swap (or
// re-reading files) stalls tasks: hard above the share the guest's slow zram reaches for a few
// seconds while swap starts to fill, soft for a stall that lasts.
constexpr const char* kPressureSignals =
    "pressureSignals:\n"
    "  evictionHard: {memoryAndSwap.available: \"100Mi\", memory.pressure: \"40%\"}\n"
    "  evictionSoft: {memory.pressure: \"20%\"}\n"
    "  evictionSoftGracePeriod: {memory.pressure: \"2s\"}\n"
    "  memoryPressureWindow: 10s\n"
    "  memoryPressureStall: full\n"
    "  swapAwareRanking: true\n";

std::string config_text(Config config, const ContainerdHarness& harness, const std::string& dir) {
  std::string text = evictd::bench::standalone_config(harness, dir, "100Mi");
  if (config == Config::kPressure) {
    const std::string kubelet = "  evictionHard: {memory.available: \"100Mi\"}\n";
    text.replace(text.find(kubelet), kubelet.size(), "  evictionHard: {}\n");
    text += kPressureSignals;
  }
  return text + "monitoringInterval: 1s\n";
}

// ---- one scenario in one configuration ----------------------------------------------------------

struct Outcome {
  std::string scenario;
  Config config = Config::kKubelet;
  std::vector<Decision> decisions;  // the real ones (not dry run)
  int64_t onset_ms = 0;
  int64_t end_ms = 0;  // the stress's end when nothing was evicted
  Lateness before, during, after;
  double full_share = 0;        // kubepods, onset -> eviction or the stress's end
  double max_window_share = 0;  // the largest 10 s window in that span
  int64_t available_at_decision = -1;
  int64_t max_swap_used = 0;
  uint64_t oom_kills = 0;
  std::vector<std::string> oom_victims;
  std::vector<std::string> failures;
  std::string log;
  std::vector<std::string> timeline;  // one line a second, for EVICTD_LAB_VERBOSE
};

// The baseline allowance: how late a pass may end before the probe counts as stalled.
double allowance_ms(const Lateness& before) {
  return std::max(2.0 * before.max_ms, before.max_ms + 250.0);
}

class Run {
 public:
  Run(ContainerdHarness& harness, const std::string& dir, const std::string& data_file,
      Config config, const std::string& scenario)
      : harness_(harness), dir_(dir), scenario_(harness, dir, data_file), config_(config) {
    outcome_.scenario = scenario;
    outcome_.config = config;
  }

  // Starts evictd, the monitor and the probe; waits until the probe's baseline has been taken.
  std::string start() {
    // The file scenarios read one file in both configurations: B must not start with A's cache.
    shell("echo 3 >/proc/sys/vm/drop_caches");
    oom_before_ = vmstat("oom_kill");
    (void)oom_victims(dmesg_mark_);
    daemon_ = std::make_unique<Daemon>(dir_, config_text(config_, harness_, dir_));
    if (!daemon_->start())
      return "evictd did not start: " + daemon_->log();
    monitor_.start([this] { return stall_gauge(daemon_->metrics()); });
    if (auto error =
            scenario_.add(probe_, "probe", "", 192 * kMiB, 192 * kMiB,
                          {"probe", std::to_string(kProbeMiB), std::to_string(kProbePeriodMs)});
        !error.empty())
      return error;
    if (!evictd::testing_util::eventually([&] { return event_time(probe_.events, "ready") > 0; },
                                          std::chrono::seconds(30)))
      return "the probe did not start";
    baseline_from_ = now_ms() + 1000;
    return "";
  }
  Scenario& pods() { return scenario_; }
  LabPod& probe() { return probe_; }
  NodeMonitor& monitor() { return monitor_; }
  Daemon& daemon() { return *daemon_; }
  Outcome& outcome() { return outcome_; }

  // The first real eviction decided so far, if any.
  std::optional<Decision> evicted() const {
    for (const auto& decision : decisions(daemon_->log())) {
      if (!decision.dry_run)
        return decision;
    }
    return std::nullopt;
  }
  // Waits until `done` or an eviction or `timeout`; true when an eviction came.
  bool wait(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && !g_interrupted) {
      if (evicted())
        return true;
      if (done())
        return false;
      sleep_ms(100);
    }
    return evicted().has_value();
  }

  // Gathers the figures: onset and the stress's end are the scenario's; "after" runs from the
  // eviction (or the stress's end) plus `settle` to now.
  void finish(int64_t onset, int64_t stress_end, int64_t settle_ms = 2000) {
    const int64_t end = now_ms();
    monitor_.stop();
    outcome_.log = daemon_->log();
    for (const auto& decision : decisions(outcome_.log)) {
      if (!decision.dry_run)
        outcome_.decisions.push_back(decision);
    }
    outcome_.onset_ms = onset;
    const int64_t until = !outcome_.decisions.empty() ? outcome_.decisions.front().ms
                          : stress_end > 0            ? stress_end
                                                      : end;
    outcome_.end_ms = until;
    const int64_t from = onset > 0 ? onset : until;
    outcome_.before = probe_lateness(probe_.events, baseline_from_, from);
    outcome_.during = probe_lateness(probe_.events, from, until);
    outcome_.after = probe_lateness(probe_.events, until + settle_ms, end);
    outcome_.full_share = monitor_.full_share(from, until);
    outcome_.max_window_share = monitor_.max_window_share(from, end);
    outcome_.max_swap_used = monitor_.max_swap_used(baseline_from_, end);
    if (!outcome_.decisions.empty()) {
      if (const auto point = monitor_.at(outcome_.decisions.front().ms))
        outcome_.available_at_decision = point->available;
    }
    outcome_.oom_kills = vmstat("oom_kill") - oom_before_;
    outcome_.oom_victims = oom_victims(dmesg_mark_);
    timeline(from, end);
    daemon_->stop(SIGTERM);
    scenario_.remove_all();
  }

  void expect(bool ok, const std::string& what) {
    if (!ok)
      outcome_.failures.push_back(what);
  }
  // Exactly one eviction, of `pod` (NS/NAME), by one of `signals` (any when empty).
  void expect_evicted(const std::string& pod, const std::vector<std::string>& signals = {}) {
    if (outcome_.decisions.empty()) {
      expect(false, pod + " evicted");
      return;
    }
    const Decision& first = outcome_.decisions.front();
    expect(first.pod == pod, pod + " evicted first, not " + first.pod);
    expect(
        signals.empty() || std::find(signals.begin(), signals.end(), first.signal) != signals.end(),
        "evicted by the expected signal, not " + first.signal);
    for (size_t i = 1; i < outcome_.decisions.size(); ++i)
      expect(false, "no other eviction, but " + outcome_.decisions[i].pod + " too");
  }
  void expect_none() {
    for (const auto& decision : outcome_.decisions)
      expect(false, "no eviction, but " + decision.pod + " (" + decision.signal + ")");
  }
  void expect_probe_within_allowance() {
    const double allowed = allowance_ms(outcome_.before);
    char text[160];
    std::snprintf(text, sizeof(text),
                  "probe late at most %.0f ms during (baseline max %.0f), was %.0f", allowed,
                  outcome_.before.max_ms, outcome_.during.max_ms);
    expect(outcome_.before.passes > 0 && outcome_.during.max_ms <= allowed, text);
  }

 private:
  // Second by second from the baseline: memory.available, swap used, the stall shares of that
  // second, evictd's gauge, the probe's worst pass.
  void timeline(int64_t onset, int64_t end) {
    const auto points = monitor_.points();
    const auto late = read_events(probe_.events);
    for (size_t i = 0; i + 10 < points.size(); i += 10) {
      const NodePoint& a = points[i];
      const NodePoint& b = points[i + 10];
      if (a.ms < baseline_from_ || b.ms > end)
        continue;
      const double span_us = 1000.0 * static_cast<double>(b.ms - a.ms);
      double worst = 0;
      for (const auto& event : late) {
        if (event.name == "late" && event.ms >= a.ms && event.ms < b.ms)
          worst = std::max(worst, static_cast<double>(event.value) / 1000.0);
      }
      char line[200];
      std::snprintf(line, sizeof(line),
                    "t=%+6.1fs avail %5lld MiB swap %5lld MiB full %5.1f%% some %5.1f%% "
                    "evictd %5.1f%% probe %5.0f ms",
                    static_cast<double>(a.ms - onset) / 1000.0,
                    static_cast<long long>(a.available / kMiB),
                    static_cast<long long>(a.swap_used / kMiB),
                    100.0 * static_cast<double>(b.full_us - a.full_us) / span_us,
                    100.0 * static_cast<double>(b.some_us - a.some_us) / span_us,
                    100.0 * a.evictd_stall, worst);
      outcome_.timeline.push_back(line);
    }
  }

  ContainerdHarness& harness_;
  std::string dir_;
  Scenario scenario_;
  Config config_;
  std::unique_ptr<Daemon> daemon_;
  NodeMonitor monitor_;
  LabPod probe_;
  Outcome outcome_;
  uint64_t oom_before_ = 0;
  size_t dmesg_mark_ = 0;
  int64_t baseline_from_ = 0;
};

// What is left for a scenario's pods beside the probe, in MiB, once the probe runs.
int64_t left_mib() {
  return node_available() / kMiB;
}

// Room for the baseline: the probe alone on a quiet node.
constexpr int64_t kBaselineMs = 5000;

// A Guaranteed "db" pod holding all of RAM but `leave_mib`, then the probe's baseline on a quiet
// node: where every scenario starts.
std::string hold_ram(Run& run, LabPod& db, int64_t leave_mib) {
  const int64_t db_mib = left_mib() - leave_mib;
  if (auto error =
          run.pods().add(db, "db", "", (db_mib + 64) * kMiB, 0,
                         {"leak", std::to_string(db_mib), std::to_string(db_mib), "1", "-1", "0"});
      !error.empty())
    return error;
  evictd::testing_util::eventually([&] { return event_time(db.events, "peak") > 0; },
                                   std::chrono::seconds(60));
  sleep_ms(kBaselineMs);
  return "";
}

// buffer / thrash: a Guaranteed pod holds most of RAM; the Burstable batch pod (1.5 Gi request:
// its LimitedSwap share, about 790 MiB of swap here) takes what is left less 400 MiB at once, then
// grows at 40 MiB/s past the end of RAM. buffer: 250 MiB past it, held 5 s, then freed — which
// fits in its share, although zram keeps about half of every swapped page in RAM, so that going
// 250 MiB past RAM swaps out some 550 MiB. thrash: on and on.
Outcome swap_scenario(ContainerdHarness& harness, const std::string& dir, Config config,
                      bool transient) {
  Run run(harness, dir, "", config, transient ? "buffer" : "thrash");
  auto& o = run.outcome();
  if (!swap_on(kSwapMiB)) {
    o.failures.push_back("no swap on zram");
    return o;
  }
  if (auto error = run.start(); !error.empty()) {
    o.failures.push_back(error);
    return o;
  }
  LabPod db, batch;
  if (auto error = hold_ram(run, db, 1100); !error.empty()) {
    o.failures.push_back(error);
    return o;
  }
  const int64_t left = left_mib();
  const int64_t base = left - 400;
  const int64_t peak = transient ? left + 250 : left + 1500;
  const int64_t start = now_ms();
  if (auto error = run.pods().add(
          batch, "batch", "burstable", 0, kBatchRequestMiB * kMiB,
          {"leak", std::to_string(peak), std::to_string(base), std::to_string(kLeakMiBPerSecond),
           transient ? "5" : "-1", std::to_string(kRandomPercent)});
      !error.empty()) {
    o.failures.push_back(error);
    return o;
  }
  // Until freed (buffer) or evicted, or well past the point where the kernel would OOM-kill.
  const bool evicted = run.wait(
      [&] {
        return (transient && event_time(batch.events, "freed") > 0) || vmstat("oom_kill") > 0 ||
               !run.pods().running(batch);
      },
      std::chrono::seconds(transient ? 90 : 120));
  const int64_t stress_end = transient ? event_time(batch.events, "freed") : now_ms();
  sleep_ms(evicted || transient ? 12000 : 2000);
  // Onset: the end of RAM, memory.available within 10 MiB of the kubelet's threshold.
  const int64_t onset = run.monitor().first_below(start, 110 * kMiB);
  run.finish(onset, stress_end);
  if (config == Config::kKubelet) {
    run.expect_evicted("lab/batch");
  } else if (transient) {
    run.expect_none();
    run.expect_probe_within_allowance();
  } else {
    run.expect_evicted("lab/batch");
    run.expect_probe_within_allowance();
  }
  run.expect(o.oom_kills == 0, "no kernel OOM kill");
  return o;
}

// file: no swap; a Guaranteed pod holds all but ~450 MiB, and a Burstable pod reads a hot set of
// the first (what is left - 150) MiB of a file again and again, 50 MiB more each pass from its
// third on: its pages are active (read twice) when they no longer fit, so that each one reclaimed
// is read back as a refault of the working set. Onset: the first pass larger than what was left.
Outcome file_scenario(ContainerdHarness& harness, const std::string& dir, Config config,
                      const std::string& data_file) {
  Run run(harness, dir, data_file, config, "file");
  auto& o = run.outcome();
  swap_off();
  if (auto error = run.start(); !error.empty()) {
    o.failures.push_back(error);
    return o;
  }
  LabPod db, reader;
  if (auto error = hold_ram(run, db, 450); !error.empty()) {
    o.failures.push_back(error);
    return o;
  }
  const int64_t left = left_mib();
  if (auto error = run.pods().add(
          reader, "reader", "burstable", 0, 128 * kMiB,
          {"hot-read", "/data", std::to_string(left - 150), "50", std::to_string(left + 400)});
      !error.empty()) {
    o.failures.push_back(error);
    return o;
  }
  // The first pass reading more than was left.
  const auto onset_time = [&] {
    for (const auto& event : read_events(reader.events)) {
      if (event.name == "size" && event.value > left)
        return event.ms;
    }
    return int64_t{0};
  };
  evictd::testing_util::eventually([&] { return onset_time() > 0; }, std::chrono::seconds(90));
  const int64_t onset = onset_time();
  const bool evicted = run.wait([] { return false; }, std::chrono::seconds(45));
  const int64_t stress_end = now_ms();
  sleep_ms(evicted ? 12000 : 0);
  run.finish(onset, stress_end);
  if (config == Config::kPressure) {
    run.expect_evicted("lab/reader", {"memory.pressure"});
    run.expect(o.available_at_decision > 100 * kMiB,
               "memory.available above 100Mi when memory.pressure decided");
  }
  run.expect(o.oom_kills == 0, "no kernel OOM kill");
  return o;
}

// stream: swap on; a Guaranteed pod holds all but ~500 MiB (steady high use, no stall), and a
// Burstable pod reads 1 GiB of a file once. Onset: the stream's start.
Outcome stream_scenario(ContainerdHarness& harness, const std::string& dir, Config config,
                        const std::string& data_file) {
  Run run(harness, dir, data_file, config, "stream");
  auto& o = run.outcome();
  swap_on(kSwapMiB);
  if (auto error = run.start(); !error.empty()) {
    o.failures.push_back(error);
    return o;
  }
  LabPod db, streamer;
  if (auto error = hold_ram(run, db, 500); !error.empty()) {
    o.failures.push_back(error);
    return o;
  }
  if (auto error = run.pods().add(streamer, "stream", "burstable", 0, 128 * kMiB,
                                  {"stream", "/data", "1024"});
      !error.empty()) {
    o.failures.push_back(error);
    return o;
  }
  const int64_t onset = now_ms();
  run.wait([&] { return event_time(streamer.events, "pass") > 0; }, std::chrono::seconds(90));
  const int64_t stress_end = event_time(streamer.events, "pass");
  sleep_ms(12000);  // a whole window after the stream, for memory.pressure
  run.finish(onset, stress_end > 0 ? stress_end : now_ms());
  run.expect_none();
  run.expect(o.oom_kills == 0, "no kernel OOM kill");
  return o;
}

// ---- the report ---------------------------------------------------------------------------------

void print(const Outcome& o) {
  std::string evicted = "none";
  if (!o.decisions.empty()) {
    const auto& d = o.decisions.front();
    char text[160];
    if (o.onset_ms > 0) {
      std::snprintf(text, sizeof(text), "%s by %s, %+.1f s after onset", d.pod.c_str(),
                    d.signal.c_str(), static_cast<double>(d.ms - o.onset_ms) / 1000.0);
    } else {
      std::snprintf(text, sizeof(text), "%s by %s (no onset seen)", d.pod.c_str(),
                    d.signal.c_str());
    }
    evicted = text;
    if (o.decisions.size() > 1)
      evicted += " (+" + std::to_string(o.decisions.size() - 1) + " more)";
  }
  std::printf("%-7s %-19s evicted: %s\n", o.scenario.c_str(), config_name(o.config),
              evicted.c_str());
  std::printf(
      "        probe late p50/max ms: before %.0f/%.0f (n=%zu), during %.0f/%.0f (n=%zu), "
      "after %.0f/%.0f (n=%zu)\n",
      o.before.p50_ms, o.before.max_ms, o.before.passes, o.during.p50_ms, o.during.max_ms,
      o.during.passes, o.after.p50_ms, o.after.max_ms, o.after.passes);
  std::printf(
      "        PSI full (kubepods) during %.1f%%, largest 10 s window %.1f%%; swap used at most "
      "%lld MiB; memory.available at the decision %s; kernel OOM kills %llu\n",
      100.0 * o.full_share, 100.0 * o.max_window_share,
      static_cast<long long>(o.max_swap_used / kMiB),
      o.available_at_decision >= 0
          ? (std::to_string(o.available_at_decision / kMiB) + " MiB").c_str()
          : "-",
      static_cast<unsigned long long>(o.oom_kills));
  for (const auto& victim : o.oom_victims)
    std::printf("        kernel OOM kill: %s\n", victim.c_str());
  for (const auto& failure : o.failures)
    std::printf("        FAILED: %s\n", failure.c_str());
  if (std::getenv("EVICTD_LAB_VERBOSE") != nullptr) {
    for (const auto& line : o.timeline)
      std::printf("          %s\n", line.c_str());
  }
  if (!o.failures.empty() || std::getenv("EVICTD_LAB_VERBOSE") != nullptr) {
    std::istringstream lines(o.log);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("threshold") != std::string::npos || line.find("evict") != std::string::npos ||
          line.find("gone") != std::string::npos || line.find("error") != std::string::npos)
        std::printf("          | %s\n", line.c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: pressure_lab buffer|thrash|swap|file|stream|ci|all [DATA_FILE] [strict]\n";
    return 2;
  }
  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Inherited by containerd and evictd, as their units set it (not by the pods' workloads).
  std::ofstream("/proc/self/oom_score_adj") << -999;
  const std::string which = argv[1];
  std::string data_file;
  bool strict = false;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "strict")
      strict = true;
    else
      data_file = argv[i];
  }
  if (!evictd::testing_util::unified_memory()) {
    std::cerr << "pressure_lab: needs cgroup v2 (tests/vm/run --mode v2)\n";
    return 2;
  }
  if ((which == "file" || which == "stream" || which == "ci" || which == "all") &&
      data_file.empty()) {
    std::cerr << "pressure_lab: the file scenarios need a DATA_FILE\n";
    return 2;
  }
  ContainerdHarness harness;
  if (auto error = harness.start(); !error.empty()) {
    std::cerr << "containerd: " << error << "\n";
    return 1;
  }
  evictd::testing_util::clear_kubepods_memory_limit();
  std::string pattern = std::filesystem::temp_directory_path().string() + "/pressure-lab-XXXXXX";
  const std::string dir = mkdtemp(pattern.data());
  std::filesystem::create_directories(dir + "/out");
  const auto info = meminfo();
  std::printf(
      "node: MemTotal %llu MiB; swap on zram %d MiB (lzo-rle), leaks %d%% random; probe "
      "%d MiB every %d ms; %s\n",
      static_cast<unsigned long long>(info.mem_total.value_or(0) / kMiB), kSwapMiB, kRandomPercent,
      kProbeMiB, kProbePeriodMs, shell("uname -r").c_str());
  std::vector<Outcome> outcomes;
  for (Config config : {Config::kKubelet, Config::kPressure}) {
    if (g_interrupted)
      break;
    const auto record = [&](Outcome outcome) {
      print(outcome);
      outcomes.push_back(std::move(outcome));
    };
    // "ci": the scenarios evictd is held to in every CI run (scripts/test); file pressure is
    // measured by hand until the lab can produce it (docs/benchmarks.md).
    if (which == "buffer" || which == "swap" || which == "ci" || which == "all")
      record(swap_scenario(harness, dir, config, true));
    if (which == "thrash" || which == "swap" || which == "ci" || which == "all")
      record(swap_scenario(harness, dir, config, false));
    if (which == "file" || which == "all")
      record(file_scenario(harness, dir, config, data_file));
    if (which == "stream" || which == "ci" || which == "all")
      record(stream_scenario(harness, dir, config, data_file));
  }
  swap_off();
  std::filesystem::remove_all(dir);
  bool failed = outcomes.empty();
  for (const auto& o : outcomes)
    failed |= !o.failures.empty();
  std::printf("\n%s\n", failed ? "pressure lab: expectations FAILED" : "pressure lab: as expected");
  return strict && failed ? 1 : 0;
}
