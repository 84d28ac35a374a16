// Acting on an eviction, beside the loop so that sampling never stalls: each step is written to the
// ledger before it is taken — the decision, the pod's status (Evicted + DisruptionTarget), the stop
// through the runtime with the decided grace period, the Event — then, like the kubelet, waiting
// (bounded) for the pod to be gone before the next threshold eviction. API writes that fail wait in
// the ledger and are retried until the API server takes them; after a restart, replay finishes
// whatever was left.
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
  };

  void run();
  std::optional<Work> work_at_hand();
  void settle(Work work);
  void retry_pending();
  void execute(Work& work);
  void pretend(Work& work);
  bool stop_pod(Work& work, std::future<Result<void>>& status);
  void collect_status(Work& work, std::future<Result<void>>& status);
  void post_event(Work& work);
  void note_write(Work& work, ledger::Step step, const Result<void>& written,
                  const std::string& what);
  bool request_api_eviction(Work& work);
  bool stop_through_runtime(Work& work, const std::function<void()>& before_failing);
  bool wait_until_gone(const Work& work, std::chrono::milliseconds timeout);
  bool write_pending(Work& work);
  void record(Work& work, ledger::Step step, const std::string& detail);
  bool status_owed(const ledger::EvictionState& state) const;
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
  std::deque<Work> queue_;     // replayed evictions still to stop
  std::vector<Work> pending_;  // stopped, with API writes waiting
  std::vector<EvictionProgress> finished_;
  std::map<std::string, Nanos> refused_;  // uid -> when (Clock::monotonic)
  std::atomic<bool> stopping_{false};
  bool resumed_ = false;
  bool nudged_ = false;
  size_t finished_since_compaction_ = 0;  // the worker's own
  std::thread thread_;
};

}  // namespace evictd::agent
