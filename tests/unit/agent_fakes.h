// Stand-ins for the agent's and the executor's ports (daemon/agent/ports.h): a clock whose hands
// tests move (sleeping moves them), a node whose signals and pods tests set, a runtime and an API
// server that record what was asked of them. No root, no threads of their own, no real time.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/agent/ports.h"

namespace evictd::testing_util {

class FakeClock final : public agent::Clock {
 public:
  // Monotonic time starts well past the evaluator's zero; wall time at 2026-12-01T00:00:00Z.
  Nanos monotonic() const override { return Nanos(monotonic_ns_.load()); }
  agent::WallTime wall() const override {
    return agent::WallTime(std::chrono::seconds(1'796'083'200)) + (monotonic() - kStart);
  }
  void sleep_for(Nanos duration) override { advance(duration); }
  void advance(Nanos duration) { monotonic_ns_ += duration.count(); }

  static constexpr Nanos kStart = std::chrono::hours(24);

 private:
  std::atomic<int64_t> monotonic_ns_{kStart.count()};
};

// A pod on the fake node: its cgroup, what the runtime lists of it, what the API server knows.
struct FakePod {
  std::string uid;
  std::string name;
  std::string namespace_name = "default";
  cgroups::QosTier tier = cgroups::QosTier::kBurstable;
  uint64_t working_set = 0;
  uint64_t swap = 0;
  uint64_t processes = 1;
  bool listed = true;    // the runtime lists its sandbox
  bool stopped = false;  // its container has exited (the sandbox may linger)
  Pod spec;              // what the API server serves (uid/name/namespace filled in)
};

// The node: memory.available from a capacity and a working set the tests set, the pods' cgroups,
// and each observation stamped with the time of the sample that read it.
class FakeNode final : public agent::NodeSampler {
 public:
  int64_t capacity = int64_t{8} << 30;
  int64_t available = int64_t{4} << 30;
  int64_t nodefs_capacity = int64_t{100} << 30;
  int64_t nodefs_available = int64_t{50} << 30;
  std::vector<FakePod> pods;
  // Called when the node is observed alone (after node-level reclaim), before it is read.
  std::function<void()> on_observe_node;
  // Called after each sample is taken: what else happens while a round decides.
  std::function<void()> on_sample;
  // When set, samples keep this observation time (stale stats: nothing new was read).
  std::optional<Nanos> frozen_time;
  // memory.pressure as the sampler would observe it (microseconds stalled of a window), and how
  // often its window was restarted; absent while `stall_window_open` is false.
  int64_t stalled_us = 0;
  int64_t stall_window_us = 10'000'000;
  bool stall_window_open = false;
  int pressure_restarts = 0;
  int samples = 0;
  int pod_samples = 0;
  int node_observations = 0;

  const cgroups::NodeSample& sample(Nanos now, cgroups::SampleDepth depth) override {
    ++samples;
    sample_.time = now;
    sample_.observations = observe(now);
    if (depth != cgroups::SampleDepth::kNode) {
      ++pod_samples;
      sample_.pods.clear();
      for (const auto& pod : pods)
        sample_.pods.push_back(pod_sample(pod));
      known_pods_ = pods.size();
    }
    if (on_sample)
      on_sample();
    return sample_;
  }
  Observations observe_node(Nanos now) override {
    ++node_observations;
    if (on_observe_node)
      on_observe_node();
    return observe(now);
  }
  bool subdirectories_changed() override { return pods.size() != known_pods_; }
  bool pods_changed() override { return pods.size() != known_pods_; }
  void restart_pressure_window() override { ++pressure_restarts; }

  FakePod& pod(const std::string& uid) {
    return *std::find_if(pods.begin(), pods.end(), [&](const FakePod& p) { return p.uid == uid; });
  }

 private:
  Observations observe(Nanos now) const {
    Observations observations;
    const Nanos time = frozen_time.value_or(now);
    observations.set(Signal::kMemoryAvailable, SignalObservation{available, capacity, time});
    observations.set(Signal::kNodeFsAvailable,
                     SignalObservation{nodefs_available, nodefs_capacity, time});
    if (stall_window_open) {
      observations.set(Signal::kMemoryPressure,
                       SignalObservation{stalled_us, stall_window_us, time});
    }
    return observations;
  }
  static cgroups::PodSample pod_sample(const FakePod& pod) {
    cgroups::PodSample sample;
    sample.uid = pod.uid;
    sample.tier = pod.tier;
    sample.cgroup = "kubepods/" +
                    (pod.tier == cgroups::QosTier::kGuaranteed
                         ? std::string()
                         : std::string(pod.tier == cgroups::QosTier::kBurstable ? "burstable/"
                                                                                : "besteffort/")) +
                    "pod" + pod.uid;
    sample.usage.memory.usage_bytes = pod.working_set;
    sample.usage.memory.working_set_bytes = pod.working_set;
    sample.usage.memory.swap_bytes = pod.swap;
    sample.usage.processes = pod.processes;
    return sample;
  }
  cgroups::NodeSample sample_;
  size_t known_pods_ = 0;
};

// Wakes the loop as the test scripts it; records what was armed.
class FakePressure final : public agent::PressureSource {
 public:
  explicit FakePressure(agent::Clock& clock) : clock_(clock) {}
  int waits = 0;
  int rearms = 0;
  int passed_on_rearm = 0;        // how many re-arms report a point passed while it was armed
  bool memcg_thresholds = false;  // the kernel signals hard memory crossings (v1)
  std::vector<std::optional<Nanos>> timeouts;  // each wait's bound
  bool interrupted = false;
  std::function<void(int waits)> on_wait;  // called in each wait, with the count so far

  cgroups::Wake wait(std::optional<Nanos> timeout) override {
    ++waits;
    timeouts.push_back(timeout);
    if (on_wait)
      on_wait(waits);
    return cgroups::Wake{cgroups::WakeCause::kTimer, "poll", clock_.monotonic()};
  }
  void interrupt() override { interrupted = true; }
  bool rearm(const cgroups::NodeSample&, const std::vector<Threshold>&) override {
    ++rearms;
    if (passed_on_rearm == 0)
      return false;
    --passed_on_rearm;
    return true;
  }
  bool hard_memory_crossings_notified() const override { return memcg_thresholds; }
  std::vector<std::string> describe() const override { return {"poll every 1s"}; }
  std::vector<std::string> errors() const override { return {}; }

 private:
  agent::Clock& clock_;
};

// The runtime's list as the cache would hold it: the node's listed pods, as of the last refresh.
class FakeRuntimeView final : public agent::RuntimeView {
 public:
  FakeRuntimeView(const FakeNode& node, agent::Clock& clock) : node_(node), clock_(clock) {
    refresh();
  }
  bool up = true;
  int refreshes_in_loop = 0;
  int soon = 0;
  std::vector<std::string> expected;

  // What the cache's own thread would do between rounds.
  void refresh() {
    if (!up)
      return;
    auto snapshot = std::make_shared<model::RuntimeSnapshot>();
    for (const auto& pod : node_.pods) {
      if (!pod.listed)
        continue;
      cri::RuntimePod listed;
      listed.uid = pod.uid;
      listed.name = pod.name;
      listed.namespace_name = pod.namespace_name;
      listed.sandbox_id = "sandbox-" + pod.uid;
      listed.containers.push_back(cri::RuntimeContainer{
          "c-" + pod.uid, "app",
          pod.stopped ? runtime::v1::CONTAINER_EXITED : runtime::v1::CONTAINER_RUNNING, "", ""});
      snapshot->pods.push_back(std::move(listed));
    }
    snapshot->time = clock_.monotonic();
    snapshot_ = std::move(snapshot);
  }
  std::shared_ptr<const model::RuntimeSnapshot> snapshot() const override { return snapshot_; }
  Nanos age(Nanos now) const override { return now - snapshot_->time; }
  bool connected() const override { return up; }
  void refresh_now() override {
    ++refreshes_in_loop;
    refresh();
  }
  void refresh_now_with_stats() override { refresh_now(); }
  void refresh_soon() override { ++soon; }
  void expect(std::vector<std::string> uids) override { expected = std::move(uids); }
  void set_interval(Nanos) override {}

 private:
  const FakeNode& node_;
  agent::Clock& clock_;
  std::shared_ptr<const model::RuntimeSnapshot> snapshot_;
};

class FakeReclaimer final : public agent::ResourceReclaimer {
 public:
  std::vector<ReclaimAction> asked;
  cri::ReclaimReport reclaim(ReclaimAction action, Nanos) override {
    asked.push_back(action);
    return {};
  }
};

// The API server's pod objects: each FakePod's spec, while it is up.
class FakeSpecs final : public agent::PodSpecs {
 public:
  explicit FakeSpecs(const FakeNode& node) : node_(node) {}
  bool up = true;
  std::optional<Pod> find(const std::string& uid) const override {
    for (const auto& pod : node_.pods) {
      if (pod.uid == uid && !pod.spec.name.empty())
        return pod.spec;
    }
    return std::nullopt;
  }
  bool connected() const override { return up; }

 private:
  const FakeNode& node_;
};

// Records the evictions handed over; "in flight" until the test says the pod is gone.
class RecordingSink final : public agent::EvictionSink {
 public:
  std::vector<agent::EvictionOrder> orders;
  bool in_flight = false;
  std::vector<std::string> refused;

  bool submit(agent::EvictionOrder order) override {
    if (in_flight)
      return false;
    orders.push_back(std::move(order));
    in_flight = true;
    return true;
  }
  bool busy() const override { return in_flight; }
  size_t pending() const override { return 0; }
  std::vector<std::string> refused_pods() const override { return refused; }
  std::vector<std::string> evicted() const {
    std::vector<std::string> names;
    for (const auto& order : orders)
      names.push_back(order.decision.pod_name);
    return names;
  }
};

class FakeLifecycle final : public agent::Lifecycle {
 public:
  std::vector<std::string> said;
  std::optional<Nanos> watchdog_interval() const override { return std::nullopt; }
  void ready(const std::string& status) override { said.push_back("READY " + status); }
  void status(const std::string& status) override { said.push_back("STATUS " + status); }
  void watchdog() override {}
  void reloading(const std::string& status) override { said.push_back("RELOADING " + status); }
  void stopping() override { said.push_back("STOPPING"); }
};

// The configuration file as a reload reads it: the next text, parsed as the daemon parses it.
class FakeConfigSource final : public agent::ConfigSource {
 public:
  std::string text;
  Result<config::Config> load() override { return config::parse_config(text, path_); }
  const std::string& path() const override { return path_; }

 private:
  std::string path_ = "evictd.yaml";
};

// The runtime and the API server as the executor acts on them, recording each call in order, with
// a kubelet reduced to what the executor's order depends on: once the pod's Failed status is in
// the API server, stopping the containers makes it stop the sandbox (kubelet_adopts_failed).
struct FakeWorld final : agent::PodRuntime, agent::EvictionApi, agent::PodStatusView {
  mutable std::mutex mutex;
  std::vector<std::string> calls;
  bool pod_running = true;  // its containers
  bool sandbox_ready = true;
  std::string sandbox_id = "sandbox-1";
  bool frozen = false;
  bool api_up = true;
  bool runtime_can_stop = true;
  bool kubelet_adopts_failed = true;
  // What the API server holds of the pod's status, as evictd's watch sees it.
  std::optional<agent::ObservedStatus> api_status =
      agent::ObservedStatus{.phase = "Running", .reason = "", .message = "", .deleting = false};
  // The Eviction API's answer, or an error when unset; whether a kubelet acts on the deletion.
  std::optional<kube::ApiEvictionOutcome> eviction_outcome = kube::ApiEvictionOutcome::kEvicted;
  bool kubelet_stops_deleted_pods = true;
  // A kubelet that has not seen Failed yet: it starts the stopped container again, once.
  bool kubelet_restarts_once = false;
  // Instead of the runtime's answer, when set: a pod that lingers.
  std::function<bool()> gone_check;
  // A runtime that does not answer (a node so short of memory that containerd stalls): find_pod
  // waits until the pod has been killed through its cgroup, and then answers.
  bool runtime_stalled = false;
  bool runtime_down = false;  // every runtime call fails at once
  std::condition_variable killed_cv;
  bool killed = false;

  void note(const std::string& call) {
    std::lock_guard lock(mutex);
    calls.push_back(call);
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex);
    return calls;
  }
  // The kubelet runs the pod again: in a new sandbox, or in the one it had.
  void restart(bool new_sandbox) {
    std::lock_guard lock(mutex);
    pod_running = true;
    sandbox_ready = true;
    if (new_sandbox)
      sandbox_id += "+";
  }
  void set_status(agent::ObservedStatus status) {
    std::lock_guard lock(mutex);
    api_status = std::move(status);
  }

  Result<std::optional<cri::RuntimePod>> find_pod(const std::string& uid) override {
    std::unique_lock lock(mutex);
    if (runtime_stalled)
      killed_cv.wait(lock, [this] { return killed; });
    if (runtime_down)
      return make_error("ListPodSandbox: UNAVAILABLE: connection refused");
    if (!sandbox_ready)
      return std::optional<cri::RuntimePod>();
    if (kubelet_restarts_once && !pod_running) {
      kubelet_restarts_once = false;
      pod_running = true;
    }
    cri::RuntimePod pod;
    pod.uid = uid;
    pod.name = "web";
    pod.sandbox_id = sandbox_id;
    cri::RuntimeContainer app;
    app.id = "c1";
    app.name = "app";
    app.state = pod_running ? runtime::v1::CONTAINER_RUNNING : runtime::v1::CONTAINER_EXITED;
    pod.containers.push_back(app);
    return std::optional<cri::RuntimePod>(pod);
  }
  cri::StopReport stop(const cri::RuntimePod& pod, int64_t grace, bool hard) override {
    note("stop " + pod.name + " grace=" + std::to_string(grace) + (hard ? " hard" : ""));
    cri::StopReport report;
    std::lock_guard lock(mutex);
    report.stopped = runtime_can_stop;
    report.steps.push_back(cri::StopStep{"StopPodSandbox", {}, runtime_can_stop, ""});
    if (runtime_can_stop) {
      pod_running = false;
      sandbox_ready = false;
    }
    return report;
  }
  cri::StopReport stop_containers(const cri::RuntimePod& pod, int64_t grace, bool hard,
                                  const std::string&) override {
    note("stop-containers " + pod.name + " grace=" + std::to_string(grace) + (hard ? " hard" : ""));
    cri::StopReport report;
    std::lock_guard lock(mutex);
    report.stopped = runtime_can_stop;
    report.steps.push_back(cri::StopStep{"StopContainer app", {}, runtime_can_stop, ""});
    if (runtime_can_stop) {
      pod_running = false;
      frozen = false;
      if (kubelet_adopts_failed && api_status && api_status->phase == "Failed")
        sandbox_ready = false;
    }
    return report;
  }
  cri::StopReport stop_sandbox(const cri::RuntimePod& pod) override {
    note("stop-sandbox " + pod.name);
    std::lock_guard lock(mutex);
    sandbox_ready = false;
    cri::StopReport report;
    report.stopped = true;
    return report;
  }
  Result<void> freeze(const std::string& cgroup) override {
    note("freeze " + cgroup);
    std::lock_guard lock(mutex);
    frozen = true;
    return {};
  }
  Result<void> thaw(const std::string& cgroup) override {
    note("thaw " + cgroup);
    std::lock_guard lock(mutex);
    frozen = false;
    return {};
  }
  Result<int> kill(const std::string& cgroup) override {
    note("kill " + cgroup);
    std::lock_guard lock(mutex);
    pod_running = false;
    killed = true;
    killed_cv.notify_all();
    return 1;
  }
  bool pod_gone(const std::string&, const std::string&) override {
    if (gone_check)
      return gone_check();
    std::lock_guard lock(mutex);
    return !pod_running && !sandbox_ready;
  }
  Result<void> patch_status(const kube::EvictionRecord& record) override {
    note("status " + record.name + (record.disruption_target ? " +DisruptionTarget" : ""));
    std::lock_guard lock(mutex);
    if (!api_up)
      return make_error("patch pods/status: 503");
    api_status = agent::ObservedStatus{
        .phase = "Failed", .reason = "Evicted", .message = record.message, .deleting = false};
    return {};
  }
  Result<void> post_event(const kube::EvictionRecord& record) override {
    note("event " + record.name);
    std::lock_guard lock(mutex);
    if (!api_up)
      return make_error("create events: 503");
    return {};
  }
  Result<void> delete_pod(const kube::EvictionRecord& record, int64_t grace) override {
    note("delete " + record.name + " grace=" + std::to_string(grace));
    std::lock_guard lock(mutex);
    if (!api_up)
      return make_error("delete pods: 503");
    if (api_status)
      api_status->deleting = true;
    return {};
  }
  Result<kube::ApiEvictionOutcome> evict(const kube::EvictionRecord& record,
                                         int64_t grace) override {
    note("evict " + record.name + " grace=" + std::to_string(grace));
    std::lock_guard lock(mutex);
    if (!api_up || !eviction_outcome)
      return make_error("create pods/eviction: 503");
    if (*eviction_outcome == kube::ApiEvictionOutcome::kEvicted && kubelet_stops_deleted_pods) {
      pod_running = false;
      sandbox_ready = false;
    }
    return *eviction_outcome;
  }
  std::optional<agent::ObservedStatus> observed(const std::string&) const override {
    std::lock_guard lock(mutex);
    return api_status;
  }
};

}  // namespace evictd::testing_util
