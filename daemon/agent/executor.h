// Acting on an eviction, beside the loop so that sampling never stalls. Each step is written to
// the ledger before it is taken. Beside a kubelet the steps follow the order the kubelet honours
// (docs/kubelet.md): the pod's cgroup is frozen (relief that does not wait for the API server),
// its status (Failed, Evicted, DisruptionTarget) is written and seen on evictd's own watch
// (bounded), then its app containers are stopped, so that the kubelet's next sync adopts Failed
// and stops the sandbox itself — which evictd does only when the kubelet has not in a bounded
// time, or at once without an API server or when the status could not be written. Then, like the
// kubelet, it waits (bounded) for the pod to be gone before the next threshold eviction.
//
// API writes never hold the stop: they run in a thread of their own, and the ones that fail wait
// in the ledger and are retried whenever the worker is free or waiting, until the API server takes
// them; after a restart, replay finishes whatever was left.
//
// After the stop evictd watches the pod for the kubelet's resync periods: a pod running again is
// stopped again (and, when its Failed status had landed, deleted gracefully), a status changed
// back is written again, each recorded; an evicted pod running again is stopped before any new
// eviction is taken.
//
// An eviction through the Eviction API (softEvictionMode api) asks the API server instead, which
// checks the pod's disruption budget: refused, the eviction fails and the pod is passed over for a
// while; accepted, the API server deletes the pod gracefully and the node's kubelet stops it —
// and when the pod is still running its grace period plus a margin later, evictd stops it through
// the runtime itself, the budget having allowed it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/agent/ports.h"
#include "daemon/ledger/ledger.h"

namespace evictd::metrics {
class Metrics;
}

namespace evictd::agent {

struct ExecutorOptions {
  bool dry_run = false;
  std::chrono::milliseconds wait_for_gone{30'000};  // the kubelet's podCleanupTimeout
  std::chrono::milliseconds poll{20};  // the first wait between asking whether a pod is gone
  // The longest: the kubelet's podCleanupPollFreq (pkg/kubelet/eviction/eviction_manager.go).
  std::chrono::milliseconds max_poll{1000};
  std::chrono::milliseconds retry_interval{2'000};
  size_t keep_finished = 1000;  // finished evictions kept by ledger compaction
  // After the Eviction API accepted: how long past the pod's grace period its kubelet is given to
  // stop it before evictd does.
  std::chrono::milliseconds api_handover{10'000};
  // How long a pod whose disruption budget refused an eviction is passed over by soft thresholds.
  std::chrono::milliseconds refusal_hold{10'000};
  // How long a frozen pod waits for its status to be seen on the watch before it is stopped
  // anyway: relief is not held hostage by a slow API server.
  std::chrono::milliseconds status_landing{2'000};
  // How long a hard eviction waits for a runtime that does not answer before it kills the pod's
  // tasks through its cgroup (docs/kubelet.md, "A stalled runtime").
  std::chrono::milliseconds runtime_stall{1'000};
  // How long the kubelet is given to stop the sandbox of a pod whose containers evictd stopped.
  std::chrono::milliseconds sandbox_handover{5'000};
  // How long evictd watches an evicted pod after its status landed (0: not at all): two of the
  // kubelet's 10 s resync periods and a margin.
  std::chrono::milliseconds watch_after{25'000};
  std::chrono::milliseconds watch_poll{500};
  // How long one pass of the worker gives the API writes it started to come back.
  std::chrono::milliseconds write_wait{100};
  // The API server's pods as evictd's watch shows them; null: a written status counts as landed.
  const PodStatusView* statuses = nullptr;
  // Told of every step as it is recorded (the status API's events); must not block.
  std::function<void(const ledger::EvictionState& eviction, const ledger::Record& step)> on_step;
};

// One eviction's progress, for status and tests.
struct EvictionProgress {
  ledger::EvictionState state;
  bool pending_writes = false;
  bool in_flight = false;
};

class Executor final : public EvictionSink {
 public:
  // `api` is null without an API server, and in dry-run.
  Executor(ledger::Ledger* ledger, PodRuntime& runtime, EvictionApi* api, metrics::Metrics* metrics,
           Clock& clock, ExecutorOptions options);
  ~Executor() override;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Takes over the unfinished evictions of the ledger's replay (and compacts it when it holds
  // more finished ones than it keeps).
  void resume();
  // The worker thread, which calls run_once() whenever there is work (after resume(), which it
  // calls when nobody has).
  void start();
  void stop();
  // One pass of the worker: the eviction at hand (submitted, or the next one replayed), then a
  // retry of the API writes that wait. Tests call it without the thread.
  void run_once();

  // Hands an eviction over. False (and nothing done) while another is still in flight: the next
  // threshold eviction waits for the pod to be gone, as the kubelet's does.
  bool submit(EvictionOrder order) override;
  bool busy() const override;
  // Evictions whose API writes are still waiting.
  size_t pending() const override;
  std::vector<EvictionProgress> history() const;
  // Wakes the worker to retry pending writes now (the API server is back).
  void nudge();
  // UIDs of the pods whose disruption budget refused an eviction within refusal_hold.
  std::vector<std::string> refused_pods() const override;

 private:
  struct Work {
    ledger::EvictionState state;
    Nanos decided_at{0};
    std::string cgroup;
    bool replayed = false;
    // The worker's own, not in the ledger: what the watch after the stop needs.
    std::string sandbox_id;  // the sandbox evictd stopped ("" after a replay)
    bool status_restore_owed = false;
    std::string restore_detail;  // what was wrong with the status
    bool delete_owed = false;
    int restarts = 0;
    int restores = 0;
    Nanos watch_until{Nanos::max()};  // set once the status is written
    Nanos next_check{0};
    Nanos next_write{0};
  };
  // What one round of API writes for an eviction came back with (unset: not attempted).
  struct WriteOutcome {
    std::optional<Result<void>> status;
    std::optional<Result<void>> event;
    std::optional<Result<void>> deletion;
  };

  void run();
  std::optional<Work> work_at_hand();
  void settle(Work work);
  void execute(Work& work);
  void pretend(Work& work);
  // The steps of an eviction beside the kubelet, in order.
  void freeze(Work& work);
  bool await_status(Work& work);
  bool stop_pod(Work& work);
  void hand_over_sandbox(Work& work);
  bool request_api_eviction(Work& work);
  bool stop_through_runtime(Work& work, bool containers_only);
  struct StopAttempt {
    Result<std::optional<cri::RuntimePod>> pod = std::optional<cri::RuntimePod>();
    cri::StopReport report;
  };
  struct StopRequest {
    std::string uid;
    int64_t grace_seconds = 0;
    bool hard = false;
    std::string cgroup;
    bool containers_only = false;
  };
  StopAttempt try_stop(Work& work, bool containers_only, Nanos runtime_silent_since);
  StopAttempt stop_once(const StopRequest& request);
  void kill_through_cgroup(Work& work, Nanos silent);
  bool wait_until_gone(Work& work, std::chrono::milliseconds timeout);
  // API writes, beside the worker.
  void start_writes(Work& work);
  bool collect_writes(Work& work, Nanos wait);
  void note_outcome(Work& work, WriteOutcome outcome);
  bool writes_owed(const Work& work) const;
  bool writes_waiting(const ledger::EvictionState& state) const;
  void service_writes(Work* current);
  bool take_nudge();
  // The watch after the stop.
  bool check_after(Work& work);
  bool check_restart(Work& work);
  bool restop_if_running(Work& work, const cri::RuntimePod& pod);
  void check_status(Work& work);
  bool after_done(const Work& work) const;
  bool service_after(bool force);
  void resume_watch(const ledger::EvictionState& state);
  Work replayed_work(const ledger::EvictionState& state) const;
  bool trim_finished();

  void record(Work& work, ledger::Step step, const std::string& detail);
  bool status_owed(const ledger::EvictionState& state) const;
  bool beside_kubelet(const ledger::EvictionState& state) const;
  void finish_if_done(Work& work);
  void compact_ledger();
  kube::EvictionRecord api_record(const ledger::Record& decision) const;

  ledger::Ledger* ledger_;  // null in dry-run: nothing may be replayed for real later
  PodRuntime& runtime_;
  EvictionApi* api_;
  metrics::Metrics* metrics_;
  Clock& clock_;
  ExecutorOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<Work> current_;
  std::deque<Work> queue_;  // replayed evictions still to stop
  // Stopped: with API writes waiting, or watched for the kubelet's resyncs. The worker changes an
  // entry's state only under mutex_ (record()), so history() may read it.
  std::deque<Work> after_;
  std::map<std::string, std::future<WriteOutcome>> writes_;  // the worker's: in flight, by id
  std::vector<EvictionProgress> finished_;
  std::map<std::string, Nanos> refused_;  // uid -> when (Clock::monotonic)
  std::atomic<bool> stopping_{false};
  bool resumed_ = false;
  bool nudged_ = false;
  size_t finished_since_compaction_ = 0;  // the worker's own
  std::thread thread_;
};

}  // namespace evictd::agent
