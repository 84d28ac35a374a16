#include "daemon/agent/executor.h"

#include <ctime>
#include <future>

#include "daemon/log/log.h"
#include "daemon/metrics/metrics.h"
#include "daemon/thread_name.h"

namespace evictd::agent {
namespace {

int64_t unix_ms(WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

log::Fields pod_fields(const ledger::Record& decision) {
  return {{"pod", decision.pod_name},
          {"namespace", decision.namespace_name},
          {"uid", decision.pod_uid},
          {"signal", decision.signal},
          {"eviction", decision.eviction_id}};
}

std::string summary(const cri::StopReport& report) {
  std::string text;
  for (const auto& step : report.steps) {
    if (!text.empty())
      text += "; ";
    text += step.what + " " + (step.ok ? "ok" : "failed") + " in " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(step.duration).count()) +
            " ms";
    if (!step.detail.empty())
      text += " (" + step.detail + ")";
  }
  return text;
}

}  // namespace

Executor::Executor(ledger::Ledger* ledger, PodRuntime& runtime, EvictionApi* api,
                   metrics::Metrics* metrics, Clock& clock, ExecutorOptions options)
    : ledger_(ledger),
      runtime_(runtime),
      api_(api),
      metrics_(metrics),
      clock_(clock),
      options_(std::move(options)) {}

Executor::~Executor() {
  stop();
}

void Executor::resume() {
  if (resumed_)
    return;
  resumed_ = true;
  if (ledger_ != nullptr) {
    for (const auto& state : ledger_->replayed().evictions) {
      // Finished ones are history (the status API lists them after a restart).
      if (state.finished()) {
        finished_.push_back(EvictionProgress{state, false, false});
        continue;
      }
      log::info("resuming an interrupted eviction from the ledger", pod_fields(state.decision));
      queue_.push_back(Work{state, clock_.monotonic(), "", true});
    }
  }
  if (finished_.size() > options_.keep_finished) {
    finished_.erase(
        finished_.begin(),
        finished_.begin() + static_cast<long>(finished_.size() - options_.keep_finished));
    compact_ledger();
  }
}

void Executor::start() {
  resume();
  thread_ = std::thread([this] { run(); });
}

// Rewrites the ledger with what is still worth keeping: every unfinished eviction and the last
// keep_finished finished ones. Runs on the worker (or before it starts), so no step is being
// recorded meanwhile; an order not yet started has no record and is left out.
void Executor::compact_ledger() {
  if (ledger_ == nullptr)
    return;
  std::vector<ledger::EvictionState> keep;
  {
    std::lock_guard lock(mutex_);
    for (const auto& progress : finished_)
      keep.push_back(progress.state);
    for (const auto& work : pending_)
      keep.push_back(work.state);
    for (const auto& work : queue_)
      keep.push_back(work.state);
  }
  std::stable_sort(keep.begin(), keep.end(), [](const auto& a, const auto& b) {
    return a.decision.time_unix_ms < b.decision.time_unix_ms;
  });
  if (auto compacted = ledger_->compact(keep, options_.keep_finished); !compacted)
    log::error("cannot compact the eviction ledger: " + compacted.error().message);
  finished_since_compaction_ = 0;
}

void Executor::stop() {
  stopping_ = true;
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

bool Executor::submit(EvictionOrder order) {
  std::lock_guard lock(mutex_);
  if (current_ || !queue_.empty())
    return false;
  Work work;
  work.state.decision = std::move(order.decision);
  work.decided_at = order.decided_at;
  work.cgroup = std::move(order.cgroup);
  current_ = std::move(work);
  wake_.notify_all();
  return true;
}

bool Executor::busy() const {
  std::lock_guard lock(mutex_);
  return current_.has_value() || !queue_.empty();
}

size_t Executor::pending() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

std::vector<EvictionProgress> Executor::history() const {
  std::lock_guard lock(mutex_);
  std::vector<EvictionProgress> out = finished_;
  for (const auto& work : pending_)
    out.push_back(EvictionProgress{work.state, true, false});
  for (const auto& work : queue_)
    out.push_back(EvictionProgress{work.state, false, true});
  if (current_)
    out.push_back(EvictionProgress{current_->state, false, true});
  return out;
}

void Executor::nudge() {
  std::lock_guard lock(mutex_);
  nudged_ = true;
  wake_.notify_all();
}

std::vector<std::string> Executor::refused_pods() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> uids;
  const Nanos now = clock_.monotonic();
  for (const auto& [uid, when] : refused_) {
    if (now - when < options_.refusal_hold)
      uids.push_back(uid);
  }
  return uids;
}

void Executor::run() {
  name_this_thread("evictd-exec");
  while (!stopping_) {
    {
      std::unique_lock lock(mutex_);
      const auto ready = [this] {
        return stopping_ || nudged_ || current_.has_value() || !queue_.empty();
      };
      if (pending_.empty())
        wake_.wait(lock, ready);
      else
        wake_.wait_for(lock, options_.retry_interval, ready);
      if (stopping_)
        return;
      nudged_ = false;
    }
    run_once();
  }
}

void Executor::run_once() {
  if (auto work = work_at_hand()) {
    execute(*work);
    settle(std::move(*work));
  }
  retry_pending();
  // The file holds about keep_finished + a quarter of it finished evictions at most.
  if (finished_since_compaction_ >= std::max<size_t>(1, options_.keep_finished / 4))
    compact_ledger();
}

// A copy of the submitted eviction, or of the next replayed one: the worker acts on it while
// history() shows the original, which record() keeps in step.
std::optional<Executor::Work> Executor::work_at_hand() {
  std::lock_guard lock(mutex_);
  if (current_)
    return *current_;
  if (!queue_.empty())
    return queue_.front();
  return std::nullopt;
}

// The eviction just executed leaves the hand: finished, or waiting for its API writes.
void Executor::settle(Work work) {
  std::lock_guard lock(mutex_);
  if (current_ && current_->state.decision.eviction_id == work.state.decision.eviction_id)
    current_.reset();
  else if (!queue_.empty())
    queue_.pop_front();
  if (work.state.finished()) {
    finished_.push_back(EvictionProgress{work.state, false});
    ++finished_since_compaction_;
  } else {
    pending_.push_back(std::move(work));
  }
}

// Tries the waiting API writes again; finished evictions leave the pending list.
void Executor::retry_pending() {
  std::vector<Work> retry;
  {
    std::lock_guard lock(mutex_);
    retry.swap(pending_);
  }
  for (auto& pending_work : retry) {
    if (!stopping_)
      write_pending(pending_work);
  }
  std::lock_guard lock(mutex_);
  for (auto& pending_work : retry) {
    if (pending_work.state.finished()) {
      finished_.push_back(EvictionProgress{pending_work.state, false});
      ++finished_since_compaction_;
    } else {
      pending_.push_back(std::move(pending_work));
    }
  }
  if (finished_.size() > options_.keep_finished)
    finished_.erase(
        finished_.begin(),
        finished_.begin() + static_cast<long>(finished_.size() - options_.keep_finished));
}

void Executor::record(Work& work, ledger::Step step, const std::string& detail) {
  ledger::Record record;
  if (step == ledger::Step::kDecided) {
    record = work.state.decision;
  } else {
    record.eviction_id = work.state.decision.eviction_id;
  }
  record.step = step;
  record.time_unix_ms = unix_ms(clock_.wall());
  record.detail = detail;
  if (ledger_ != nullptr) {
    // Written (and on disk) before the step it announces is taken; a failing disk must not stop
    // the eviction that protects the node, so it is reported and the eviction goes on.
    if (auto appended = ledger_->append(record); !appended) {
      log::error("cannot write the eviction ledger: " + appended.error().message,
                 pod_fields(work.state.decision));
    }
  }
  if (step == ledger::Step::kDecided)
    work.state.decision = record;
  else
    work.state.steps.push_back(record);
  {
    // The worker acts on its own copy; the one history() shows follows each step.
    std::lock_guard lock(mutex_);
    if (current_ && current_->state.decision.eviction_id == work.state.decision.eviction_id)
      current_->state = work.state;
    else if (!queue_.empty() &&
             queue_.front().state.decision.eviction_id == work.state.decision.eviction_id)
      queue_.front().state = work.state;
  }
  if (options_.on_step)
    options_.on_step(work.state, record);
}

kube::EvictionRecord Executor::api_record(const ledger::Record& decision) const {
  kube::EvictionRecord record;
  record.namespace_name = decision.namespace_name;
  record.name = decision.pod_name;
  record.uid = decision.pod_uid;
  record.generation = decision.pod_generation;
  record.message = decision.message;
  record.annotations = decision.annotations;
  record.node_name = decision.node_name;
  record.time = kube::rfc3339(static_cast<std::time_t>(decision.time_unix_ms / 1000));
  record.disruption_target = decision.disruption_target;
  return record;
}

void Executor::execute(Work& work) {
  if (options_.dry_run) {
    pretend(work);
    return;
  }
  const auto& decision = work.state.decision;
  if (!work.replayed)
    record(work, ledger::Step::kDecided, "");
  if (decision.eviction_api && !work.state.has(ledger::Step::kApiAccepted) &&
      !request_api_eviction(work))
    return;
  // The status write runs beside the stop: under memory pressure a slow API server must not delay
  // the stop by even one round trip (the kubelet, too, kills first and lets its status manager
  // write). Both are covered by the `decided` record already on disk. After the Eviction API the
  // pod object is being deleted: there is no status of evictd's to write.
  std::future<Result<void>> status;
  if (status_owed(work.state)) {
    status = std::async(std::launch::async, [this, record = api_record(decision)] {
      return api_->patch_status(record);
    });
  }
  if (!work.state.has(ledger::Step::kStopped) && !stop_pod(work, status))
    return;
  collect_status(work, status);
  post_event(work);
  // Like the kubelet, wait for the pod to be gone (bounded) before the next eviction.
  const bool gone = wait_until_gone(work, options_.wait_for_gone);
  const double seconds =
      std::chrono::duration<double>(clock_.monotonic() - work.decided_at).count();
  if (gone) {
    if (metrics_ != nullptr && !work.replayed)
      metrics_->eviction_finished(seconds);
    log::info("pod gone " + std::to_string(static_cast<int64_t>(seconds * 1000)) +
                  " ms after the decision",
              pod_fields(decision));
  } else if (!stopping_) {
    log::warning("pod not gone within the wait; going on", pod_fields(decision));
  }
  finish_if_done(work);
}

// Dry-run: the runtime is asked through a stopper that stops nothing, and only the log tells.
void Executor::pretend(Work& work) {
  const auto& decision = work.state.decision;
  const auto pod = runtime_.find_pod(decision.pod_uid);
  if (pod && *pod && !decision.eviction_api)
    runtime_.stop(**pod, decision.grace_period_seconds, decision.hard);
  log::info("dry-run: would evict " + decision.namespace_name + "/" + decision.pod_name +
                (decision.eviction_api ? " through the Eviction API" : "") + ": " +
                decision.message,
            pod_fields(decision));
  ledger::Record done;
  done.eviction_id = decision.eviction_id;
  done.step = ledger::Step::kDone;
  done.detail = "dry-run";
  work.state.steps.push_back(std::move(done));
}

// Stops the pod, or after the Eviction API sees the node's kubelet do it; false when the eviction
// ends here (failed, or left to the next start).
bool Executor::stop_pod(Work& work, std::future<Result<void>>& status) {
  const auto& decision = work.state.decision;
  // After the Eviction API the node's kubelet stops the pod on the deletion (with its preStop
  // hooks); evictd steps in only when it has not within the grace period and a margin.
  const auto handover = std::chrono::seconds(std::max<int64_t>(0, decision.grace_period_seconds)) +
                        options_.api_handover;
  if (decision.eviction_api && wait_until_gone(work, handover)) {
    record(work, ledger::Step::kStopped, "gone after the API server's deletion");
    return true;
  }
  if (decision.eviction_api && stopping_)
    return false;  // the ledger has it; the next start carries on
  if (decision.eviction_api) {
    log::warning("the pod is still running " + std::to_string(handover.count()) +
                     " ms after the Eviction API accepted its eviction (grace period and " +
                     "margin); evictd stops it through the runtime",
                 pod_fields(decision));
  }
  return stop_through_runtime(work, [&] { collect_status(work, status); });
}

void Executor::collect_status(Work& work, std::future<Result<void>>& status) {
  if (status.valid())
    note_write(work, ledger::Step::kStatusWritten, status.get(), "pod status");
}

void Executor::post_event(Work& work) {
  if (api_ == nullptr || work.state.has(ledger::Step::kEventWritten))
    return;
  note_write(work, ledger::Step::kEventWritten, api_->post_event(api_record(work.state.decision)),
             "eviction event");
}

// A write to the API server: done (its step recorded), or not yet (it waits in the ledger).
void Executor::note_write(Work& work, ledger::Step step, const Result<void>& written,
                          const std::string& what) {
  if (written) {
    record(work, step, "");
    return;
  }
  if (metrics_ != nullptr)
    metrics_->api_error();
  log::warning(what + " not written yet, kept in the ledger: " + written.error().message,
               pod_fields(work.state.decision));
}

// Asks the API server to evict the pod; false when it did not (recorded as failed: the loop decides
// again, passing over a pod whose budget refused).
bool Executor::request_api_eviction(Work& work) {
  const auto& decision = work.state.decision;
  Result<kube::ApiEvictionOutcome> outcome =
      api_ != nullptr ? api_->evict(api_record(decision), decision.grace_period_seconds)
                      : Result<kube::ApiEvictionOutcome>(make_error("no API server is configured"));
  if (!outcome) {
    if (metrics_ != nullptr)
      metrics_->api_error();
    record(work, ledger::Step::kFailed,
           "the Eviction API could not be asked: " + outcome.error().message);
    return false;
  }
  std::string refusal;
  switch (*outcome) {
    case kube::ApiEvictionOutcome::kEvicted:
      record(work, ledger::Step::kApiAccepted,
             "the API server deletes the pod with a " +
                 std::to_string(decision.grace_period_seconds) + " s grace period");
      return true;
    case kube::ApiEvictionOutcome::kGone:
      // Whatever still runs on the node is an orphan now; the stop below takes care of it.
      record(work, ledger::Step::kApiAccepted, "the pod object is already gone");
      return true;
    case kube::ApiEvictionOutcome::kBlockedByDisruptionBudget:
      refusal = "refused: its PodDisruptionBudget allows no disruption now (429)";
      break;
    case kube::ApiEvictionOutcome::kMisconfigured:
      refusal = "refused: more than one PodDisruptionBudget selects the pod (500)";
      break;
  }
  {
    std::lock_guard lock(mutex_);
    const Nanos now = clock_.monotonic();
    refused_[decision.pod_uid] = now;
    // Forget refusals long past, so the map stays as small as the set of guarded pods.
    std::erase_if(refused_, [&](const auto& entry) {
      return now - entry.second > 10 * options_.refusal_hold;
    });
  }
  log::info("the Eviction API " + refusal + "; passing over the pod for " +
                std::to_string(options_.refusal_hold.count()) + " ms",
            pod_fields(decision));
  record(work, ledger::Step::kFailed, refusal);
  return false;
}

// Stops the pod through the runtime, retrying until the bounded wait runs out; false when it could
// not (recorded as failed, after `before_failing`).
bool Executor::stop_through_runtime(Work& work, const std::function<void()>& before_failing) {
  const auto& decision = work.state.decision;
  const auto fields = pod_fields(decision);
  const Nanos deadline = clock_.monotonic() + options_.wait_for_gone;
  while (true) {
    const auto pod = runtime_.find_pod(decision.pod_uid);
    cri::StopReport report;
    if (pod && !*pod) {
      record(work, ledger::Step::kStopped, "no ready sandbox left");
      return true;
    }
    if (pod)
      report = runtime_.stop(**pod, decision.grace_period_seconds, decision.hard);
    else
      report.steps.push_back(
          cri::StopStep{.what = "ListPodSandbox", .detail = pod.error().message});
    if (report.stopped) {
      record(work, ledger::Step::kStopped, summary(report));
      log::info("stopped the pod through the runtime", [&] {
        auto with = fields;
        with.emplace_back("steps", summary(report));
        return with;
      }());
      return true;
    }
    if (metrics_ != nullptr)
      metrics_->runtime_error();
    log::warning("stopping the pod failed, retrying: " + summary(report), fields);
    if (clock_.monotonic() >= deadline || stopping_) {
      // The decision is dropped, not the node's protection: the loop decides again on its next
      // round while the pressure lasts.
      before_failing();
      record(work, ledger::Step::kFailed, "the runtime could not stop the pod: " + summary(report));
      return false;
    }
    clock_.sleep_for(std::chrono::milliseconds(500));
  }
}

// Asks often at first, since a stopped pod is usually gone within a few hundred milliseconds, then
// backs off to the kubelet's once a second: a node short of memory has a runtime to spare.
bool Executor::wait_until_gone(const Work& work, std::chrono::milliseconds timeout) {
  const Nanos deadline = clock_.monotonic() + timeout;
  Nanos interval = options_.poll;
  while (!stopping_) {
    if (runtime_.pod_gone(work.state.decision.pod_uid, work.cgroup))
      return true;
    const Nanos now = clock_.monotonic();
    if (now >= deadline)
      return false;
    clock_.sleep_for(std::min(interval, deadline - now));
    interval = std::min<Nanos>(interval * 2, options_.max_poll);
  }
  return false;
}

bool Executor::write_pending(Work& work) {
  const auto& decision = work.state.decision;
  const auto record_for_api = api_record(decision);
  if (status_owed(work.state)) {
    auto written = api_->patch_status(record_for_api);
    if (!written)
      return false;
    record(work, ledger::Step::kStatusWritten, "written later");
    log::info("pending pod status written", pod_fields(decision));
  }
  if (api_ != nullptr && !work.state.has(ledger::Step::kEventWritten)) {
    auto posted = api_->post_event(record_for_api);
    if (!posted)
      return false;
    record(work, ledger::Step::kEventWritten, "written later");
  }
  finish_if_done(work);
  return true;
}

// Whether evictd still has the pod's status to write: not without an API server, not after the
// Eviction API (the object is being deleted), not once written.
bool Executor::status_owed(const ledger::EvictionState& state) const {
  return api_ != nullptr && !state.decision.eviction_api &&
         !state.has(ledger::Step::kStatusWritten);
}

void Executor::finish_if_done(Work& work) {
  const bool event_done = api_ == nullptr || work.state.has(ledger::Step::kEventWritten);
  if (!status_owed(work.state) && event_done && work.state.has(ledger::Step::kStopped) &&
      !work.state.finished())
    record(work, ledger::Step::kDone, "");
}

}  // namespace evictd::agent
