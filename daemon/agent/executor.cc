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

int64_t ms(Nanos duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
}

// A pod the runtime shows running again after its stop: a container running (or created), or a
// ready sandbox other than the one evictd stopped (the kubelet rebuilds a stopped sandbox).
std::string running_again(const cri::RuntimePod& pod, const std::string& stopped_sandbox) {
  std::string found;
  for (const auto& container : pod.containers) {
    if (cri::still_running(container))
      found += (found.empty() ? "" : ", ") + std::string("container ") + container.name + " (" +
               container.id.substr(0, 12) + ")";
  }
  if (!stopped_sandbox.empty() && pod.sandbox_id != stopped_sandbox)
    found += (found.empty() ? "" : ", ") + std::string("a new sandbox (") +
             pod.sandbox_id.substr(0, 12) + ")";
  return found;
}

std::string summary(const cri::StopReport& report) {
  std::string text;
  for (const auto& step : report.steps) {
    if (!text.empty())
      text += "; ";
    text += step.what + " " + (step.ok ? "ok" : "failed") + " in " +
            std::to_string(ms(step.duration)) + " ms";
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
      // Finished ones are history (the status API lists them after a restart), or still watched.
      if (state.finished()) {
        resume_watch(state);
        continue;
      }
      log::info("resuming an interrupted eviction from the ledger", pod_fields(state.decision));
      queue_.push_back(replayed_work(state));
    }
  }
  if (trim_finished())
    compact_ledger();
}

// Keeps the last keep_finished finished evictions in history; true when it dropped some.
bool Executor::trim_finished() {
  if (finished_.size() <= options_.keep_finished)
    return false;
  finished_.erase(finished_.begin(),
                  finished_.begin() + static_cast<long>(finished_.size() - options_.keep_finished));
  return true;
}

Executor::Work Executor::replayed_work(const ledger::EvictionState& state) const {
  Work work;
  work.state = state;
  work.decided_at = clock_.monotonic();
  work.cgroup = state.decision.cgroup;
  work.replayed = true;
  return work;
}

// A finished eviction whose watch a restart interrupted is watched for what is left of it.
void Executor::resume_watch(const ledger::EvictionState& state) {
  const ledger::Record* written = nullptr;
  for (const auto& step : state.steps) {
    if (step.step == ledger::Step::kStatusWritten)
      written = &step;
  }
  const int64_t left_ms =
      written == nullptr
          ? 0
          : written->time_unix_ms + options_.watch_after.count() - unix_ms(clock_.wall());
  if (!beside_kubelet(state) || state.has(ledger::Step::kFailed) ||
      state.has(ledger::Step::kWatched) || left_ms <= 0) {
    finished_.push_back(EvictionProgress{state, false, false});
    return;
  }
  Work work = replayed_work(state);
  work.watch_until = clock_.monotonic() + std::chrono::milliseconds(left_ms);
  after_.push_back(std::move(work));
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
    for (const auto& work : after_)
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
  // Writes still in flight end with the API client's cancel; what they did not write waits in
  // the ledger.
  for (auto& [id, write] : writes_) {
    if (write.valid())
      write.wait();
  }
  writes_.clear();
}

bool Executor::submit(EvictionOrder order) {
  std::lock_guard lock(mutex_);
  if (current_ || !queue_.empty())
    return false;
  Work work;
  work.state.decision = std::move(order.decision);
  work.state.decision.cgroup = order.cgroup;  // in the ledger with the decision
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
  return static_cast<size_t>(std::count_if(after_.begin(), after_.end(), [this](const Work& work) {
    return writes_waiting(work.state);
  }));
}

std::vector<EvictionProgress> Executor::history() const {
  std::lock_guard lock(mutex_);
  std::vector<EvictionProgress> out = finished_;
  for (const auto& work : after_)
    out.push_back(EvictionProgress{work.state, writes_waiting(work.state), false});
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
      if (after_.empty())
        wake_.wait(lock, ready);
      else
        wake_.wait_for(lock, std::min(options_.watch_poll, options_.retry_interval), ready);
      if (stopping_)
        return;
    }
    run_once();
  }
}

void Executor::run_once() {
  // An evicted pod running again is stopped before any new eviction is taken: the order was
  // decided without knowing of it, so it is dropped and the next round decides afresh.
  const bool restopped = service_after(true);
  if (auto work = work_at_hand()) {
    if (restopped && !work->replayed) {
      record(*work, ledger::Step::kDecided, "");
      record(*work, ledger::Step::kFailed,
             "not taken: an evicted pod ran again and was stopped again first; the next round "
             "decides afresh");
    } else {
      execute(*work);
    }
    settle(std::move(*work));
  }
  for (auto& work : after_)
    collect_writes(work, options_.write_wait);
  service_after(false);
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

// The eviction just executed leaves the hand: finished, or on to its writes and its watch.
void Executor::settle(Work work) {
  std::lock_guard lock(mutex_);
  if (current_ && current_->state.decision.eviction_id == work.state.decision.eviction_id)
    current_.reset();
  else if (!queue_.empty())
    queue_.pop_front();
  if (work.state.has(ledger::Step::kFailed) || after_done(work)) {
    finished_.push_back(EvictionProgress{work.state, false});
    ++finished_since_compaction_;
  } else {
    after_.push_back(std::move(work));
  }
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
  {
    // The worker acts on its own copy (or on an entry of after_, which history() reads): the state
    // changes under the lock, and the copy history() shows follows each step.
    std::lock_guard lock(mutex_);
    if (step == ledger::Step::kDecided)
      work.state.decision = record;
    else
      work.state.steps.push_back(record);
    const auto& id = work.state.decision.eviction_id;
    if (current_ && &*current_ != &work && current_->state.decision.eviction_id == id)
      current_->state = work.state;
    else if (!queue_.empty() && &queue_.front() != &work &&
             queue_.front().state.decision.eviction_id == id)
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
  // Relief first, then the status that the stop waits for.
  freeze(work);
  start_writes(work);
  if (!work.state.has(ledger::Step::kStopped) && !stop_pod(work))
    return;
  start_writes(work);
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
  collect_writes(work, Nanos(0));
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

// Beside a kubelet (an API server to write the status to), a threshold eviction freezes the pod
// while its status lands; without one there is nothing to wait for.
bool Executor::beside_kubelet(const ledger::EvictionState& state) const {
  return api_ != nullptr && !state.decision.eviction_api;
}

// The decided record on disk covers the freeze — it names the cgroup, and replay thaws before it
// stops — so the freeze does not wait for a record of its own: relief comes one fdatasync sooner.
// Beside a kubelet the pod stays frozen while its status lands; a hard eviction is frozen without
// one too, so that a runtime slow to stop it (a node out of memory) does not let it grow meanwhile.
void Executor::freeze(Work& work) {
  const bool wanted =
      beside_kubelet(work.state) || (work.state.decision.hard && !work.state.decision.eviction_api);
  if (work.cgroup.empty() || !wanted || work.state.has(ledger::Step::kFrozen) ||
      work.state.has(ledger::Step::kStopped))
    return;
  const auto started = std::chrono::steady_clock::now();
  if (auto frozen = runtime_.freeze(work.cgroup); !frozen) {
    // Relief then comes with the stop, after the status lands or the wait for it ends.
    log::warning("cannot freeze the pod: " + frozen.error().message,
                 pod_fields(work.state.decision));
    return;
  }
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  record(work, ledger::Step::kFrozen, "in " + std::to_string(took.count()) + " µs");
}

// Waits (bounded) until the status written is back on evictd's own watch; false when it is not:
// the API server refused, cannot be reached, or is too slow.
bool Executor::await_status(Work& work) {
  if (!beside_kubelet(work.state))
    return false;  // no status of evictd's to wait for
  const Nanos started = clock_.monotonic();
  const Nanos deadline = started + options_.status_landing;
  const auto landed = [&] {
    if (!work.state.has(ledger::Step::kStatusWritten))
      return false;
    if (options_.statuses == nullptr)
      return true;
    const auto seen = options_.statuses->observed(work.state.decision.pod_uid);
    return seen && seen->phase == "Failed" && seen->reason == "Evicted";
  };
  while (!stopping_) {
    const bool in_flight = writes_.contains(work.state.decision.eviction_id);
    if (in_flight)
      collect_writes(work, std::chrono::milliseconds(5));
    if (landed()) {
      record(work, ledger::Step::kStatusSeen,
             "on evictd's watch " + std::to_string(ms(clock_.monotonic() - work.decided_at)) +
                 " ms after the decision");
      return true;
    }
    if (!in_flight && !work.state.has(ledger::Step::kStatusWritten))
      return false;  // the write failed: it waits in the ledger, the stop does not
    if (clock_.monotonic() >= deadline)
      return false;
    if (!in_flight)
      clock_.sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Stops the pod, or after the Eviction API sees the node's kubelet do it; false when the eviction
// ends here (failed, or left to the next start).
bool Executor::stop_pod(Work& work) {
  const auto& decision = work.state.decision;
  if (!decision.eviction_api) {
    const bool landed = await_status(work);
    if (!landed && beside_kubelet(work.state) && !stopping_)
      log::warning("the pod's status is not on the watch yet; stopping the pod without it",
                   pod_fields(decision));
    // With its status landed the kubelet stops the sandbox itself on its next sync; otherwise
    // there is nobody to hand it to.
    const bool containers_only = landed;
    if (!stop_through_runtime(work, containers_only))
      return false;
    if (containers_only)
      hand_over_sandbox(work);
    return true;
  }
  // After the Eviction API the node's kubelet stops the pod on the deletion (with its preStop
  // hooks); evictd steps in only when it has not within the grace period and a margin.
  const auto handover = std::chrono::seconds(std::max<int64_t>(0, decision.grace_period_seconds)) +
                        options_.api_handover;
  if (wait_until_gone(work, handover)) {
    record(work, ledger::Step::kStopped, "gone after the API server's deletion");
    return true;
  }
  if (stopping_)
    return false;  // the ledger has it; the next start carries on
  log::warning("the pod is still running " + std::to_string(handover.count()) +
                   " ms after the Eviction API accepted its eviction (grace period and " +
                   "margin); evictd stops it through the runtime",
               pod_fields(decision));
  return stop_through_runtime(work, false);
}

// The kubelet stops the sandbox at its next sync once it holds Failed; evictd does when it has not
// within the handover.
void Executor::hand_over_sandbox(Work& work) {
  const auto& decision = work.state.decision;
  const Nanos deadline = clock_.monotonic() + options_.sandbox_handover;
  while (!stopping_) {
    const auto pod = runtime_.find_pod(decision.pod_uid);
    if (pod && !*pod)
      return;  // the kubelet stopped it
    // A container started again in the sandbox, or a new sandbox: stopped again at once, with
    // whatever sandbox it runs in.
    if (pod && restop_if_running(work, **pod))
      return;
    if (clock_.monotonic() >= deadline && pod) {
      record(work, ledger::Step::kSandboxStopped,
             "the kubelet had not stopped it within " +
                 std::to_string(options_.sandbox_handover.count()) + " ms");
      const auto report = runtime_.stop_sandbox(**pod);
      log::info("stopped the sandbox the kubelet left: " + summary(report), pod_fields(decision));
      return;
    }
    service_writes(&work);
    clock_.sleep_for(std::chrono::milliseconds(100));
  }
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

// Stops the pod (or its containers alone) through the runtime, retrying until the bounded wait
// runs out; false when it could not (recorded as failed, and the pod thawed). A hard eviction does
// not wait on a runtime that stays silent: its pod's tasks are killed through the cgroup meanwhile,
// and the stop goes on until the runtime answers.
bool Executor::stop_through_runtime(Work& work, bool containers_only) {
  const auto& decision = work.state.decision;
  const auto fields = pod_fields(decision);
  const Nanos deadline = clock_.monotonic() + options_.wait_for_gone;
  Nanos silent_since = clock_.monotonic();
  while (true) {
    auto attempt = try_stop(work, containers_only, silent_since);
    const auto& pod = attempt.pod;
    if (pod && !*pod) {
      record(work, ledger::Step::kStopped, "no ready sandbox left");
      return true;
    }
    cri::StopReport& report = attempt.report;
    if (pod) {
      work.sandbox_id = (*pod)->sandbox_id;
      silent_since = clock_.monotonic();  // it answers
    } else {
      report.steps.push_back(
          cri::StopStep{.what = "ListPodSandbox", .detail = pod.error().message});
    }
    if (report.stopped) {
      record(work, ledger::Step::kStopped,
             summary(report) + (containers_only ? "; the sandbox is the kubelet's to stop" : ""));
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
      // round while the pressure lasts. A frozen pod never stays frozen behind evictd's back.
      if (!work.cgroup.empty())
        (void)runtime_.thaw(work.cgroup);
      collect_writes(work, Nanos(0));
      record(work, ledger::Step::kFailed, "the runtime could not stop the pod: " + summary(report));
      return false;
    }
    service_writes(&work);
    clock_.sleep_for(std::chrono::milliseconds(500));
  }
}

// One try at the stop, in a thread of its own so that a runtime that does not answer cannot hold
// the relief of a hard eviction: once it has been silent for runtime_stall, the pod's tasks are
// killed through its cgroup while the try goes on. The containers first in either case:
// stop_containers thaws a frozen pod as it must.
Executor::StopAttempt Executor::try_stop(Work& work, bool containers_only,
                                         Nanos runtime_silent_since) {
  const auto& decision = work.state.decision;
  const StopRequest request{.uid = decision.pod_uid,
                            .grace_seconds = decision.grace_period_seconds,
                            .hard = decision.hard,
                            .cgroup = work.cgroup,
                            .containers_only = containers_only};
  auto attempt = std::async(std::launch::async, [this, request] { return stop_once(request); });
  bool may_kill = decision.hard && !work.cgroup.empty() && !work.state.has(ledger::Step::kKilled);
  while (attempt.wait_for(std::chrono::milliseconds(5)) != std::future_status::ready) {
    const Nanos silent = clock_.monotonic() - runtime_silent_since;
    if (may_kill && silent >= options_.runtime_stall) {
      kill_through_cgroup(work, silent);
      may_kill = false;
    }
    clock_.sleep_for(std::chrono::milliseconds(5));  // a fake clock moves with the wait
  }
  auto out = attempt.get();
  // A runtime that answers only with errors is as silent as one that does not answer.
  if (!out.pod && may_kill && clock_.monotonic() - runtime_silent_since >= options_.runtime_stall)
    kill_through_cgroup(work, clock_.monotonic() - runtime_silent_since);
  return out;
}

// The runtime's half of a try: the pod as it lists it now, its containers stopped, and its sandbox
// unless that is the kubelet's to stop.
Executor::StopAttempt Executor::stop_once(const StopRequest& request) {
  name_this_thread("evictd-stop");
  StopAttempt out;
  out.pod = runtime_.find_pod(request.uid);
  if (!out.pod || !*out.pod)
    return out;
  out.report =
      runtime_.stop_containers(**out.pod, request.grace_seconds, request.hard, request.cgroup);
  if (!request.containers_only && out.report.stopped) {
    const auto sandbox = runtime_.stop_sandbox(**out.pod);
    out.report.steps.insert(out.report.steps.end(), sandbox.steps.begin(), sandbox.steps.end());
    out.report.stopped = sandbox.stopped;
  }
  return out;
}

// The pod the runtime reported when the eviction was decided, killed through its cgroup: relief
// for a node so short of memory that the runtime stalls. The stop through the runtime, the status
// and the Event follow when they can, so that the kubelet adopts Failed and restarts nothing.
void Executor::kill_through_cgroup(Work& work, Nanos silent) {
  const auto& decision = work.state.decision;
  const auto started = std::chrono::steady_clock::now();
  auto killed = runtime_.kill(work.cgroup);
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  const std::string why = "the runtime had not answered in " + std::to_string(ms(silent)) + " ms";
  if (!killed) {
    log::error(why + "; cannot kill the pod through its cgroup: " + killed.error().message,
               pod_fields(decision));
    return;
  }
  if (*killed == 0) {
    // A runtime slow to return from a stop that has already ended the pod's processes.
    log::info(why + "; the pod's processes are already gone", pod_fields(decision));
    return;
  }
  if (metrics_ != nullptr)
    metrics_->cgroup_kill();
  record(work, ledger::Step::kKilled,
         why + ": " + std::to_string(*killed) + " processes killed through the pod's cgroup in " +
             std::to_string(took.count()) + " µs");
  log::warning(why + "; killed the pod's " + std::to_string(*killed) +
                   " processes through its cgroup, the runtime's stop follows",
               pod_fields(decision));
}

// Asks often at first, since a stopped pod is usually gone within a few hundred milliseconds, then
// backs off to the kubelet's once a second: a node short of memory has a runtime to spare. The
// API writes that wait go out meanwhile: they are never queued behind this wait.
bool Executor::wait_until_gone(Work& work, std::chrono::milliseconds timeout) {
  const Nanos deadline = clock_.monotonic() + timeout;
  Nanos interval = options_.poll;
  while (!stopping_) {
    if (runtime_.pod_gone(work.state.decision.pod_uid, work.cgroup))
      return true;
    const Nanos now = clock_.monotonic();
    if (now >= deadline)
      return false;
    // A pod the kubelet runs again while evictd waits is stopped again now, not after the wait.
    if (beside_kubelet(work.state) && work.state.has(ledger::Step::kStopped))
      check_restart(work);
    service_writes(&work);
    clock_.sleep_for(std::min(interval, deadline - now));
    interval = std::min<Nanos>(interval * 2, options_.max_poll);
  }
  return false;
}

// --- API writes: one round in flight per eviction, in a thread of its own.

// What the status API shows: the status or the event not yet written.
bool Executor::writes_waiting(const ledger::EvictionState& state) const {
  return api_ != nullptr && (status_owed(state) || !state.has(ledger::Step::kEventWritten));
}

bool Executor::writes_owed(const Work& work) const {
  if (api_ == nullptr)
    return false;
  return status_owed(work.state) || work.status_restore_owed || work.delete_owed ||
         !work.state.has(ledger::Step::kEventWritten);
}

void Executor::start_writes(Work& work) {
  const auto& id = work.state.decision.eviction_id;
  if (!writes_owed(work) || writes_.contains(id) || stopping_)
    return;
  // The event follows the stop; a status to restore or a deletion are the watch's.
  const bool status = status_owed(work.state) || work.status_restore_owed;
  const bool event =
      !work.state.has(ledger::Step::kEventWritten) && work.state.has(ledger::Step::kStopped);
  const bool deletion = work.delete_owed;
  if (!status && !event && !deletion)
    return;
  const auto& decision = work.state.decision;
  writes_[id] = std::async(std::launch::async, [this, record = api_record(decision), status, event,
                                                deletion, grace = decision.grace_period_seconds] {
    WriteOutcome outcome;
    if (status) {
      outcome.status = api_->patch_status(record);
      if (!*outcome.status)
        return outcome;
    }
    if (event)
      outcome.event = api_->post_event(record);
    if (deletion)
      outcome.deletion = api_->delete_pod(record, grace);
    return outcome;
  });
}

// Takes the eviction's writes in, waiting up to `wait` for them; true when they came back.
bool Executor::collect_writes(Work& work, Nanos wait) {
  const auto it = writes_.find(work.state.decision.eviction_id);
  if (it == writes_.end())
    return false;
  if (it->second.wait_for(wait) != std::future_status::ready)
    return false;
  WriteOutcome outcome = it->second.get();
  writes_.erase(it);
  note_outcome(work, std::move(outcome));
  return true;
}

void Executor::note_outcome(Work& work, WriteOutcome outcome) {
  const auto fields = pod_fields(work.state.decision);
  bool failed = false;
  const auto failure = [&](const std::string& what, const Result<void>& written) {
    failed = true;
    if (metrics_ != nullptr)
      metrics_->api_error();
    log::warning(what + " not written yet, kept in the ledger: " + written.error().message, fields);
  };
  if (outcome.status && *outcome.status) {
    if (work.status_restore_owed && work.state.has(ledger::Step::kStatusWritten)) {
      record(work, ledger::Step::kStatusRestored, work.restore_detail);
      ++work.restores;
      if (metrics_ != nullptr)
        metrics_->eviction_corrected("status");
    } else {
      record(work, ledger::Step::kStatusWritten,
             work.state.has(ledger::Step::kStopped) ? "written after the stop" : "");
    }
    work.status_restore_owed = false;
    work.watch_until = clock_.monotonic() + options_.watch_after;
  } else if (outcome.status) {
    failure("pod status", *outcome.status);
  }
  if (outcome.event && *outcome.event)
    record(work, ledger::Step::kEventWritten, "");
  else if (outcome.event)
    failure("eviction event", *outcome.event);
  if (outcome.deletion && *outcome.deletion) {
    record(work, ledger::Step::kDeleteRequested,
           "DELETE with a " + std::to_string(work.state.decision.grace_period_seconds) +
               " s grace period: the kubelet stops a pod being deleted at once");
    work.delete_owed = false;
  } else if (outcome.deletion) {
    failure("pod deletion", *outcome.deletion);
  }
  if (failed)
    work.next_write = clock_.monotonic() + options_.retry_interval;
}

// Collects what came back and starts what is due, for the eviction at hand and those after their
// stop; never waits.
void Executor::service_writes(Work* current) {
  const bool nudged = take_nudge();
  const Nanos now = clock_.monotonic();
  const auto service = [&](Work& work) {
    collect_writes(work, Nanos(0));
    if (nudged || now >= work.next_write)
      start_writes(work);
  };
  if (current != nullptr)
    service(*current);  // finished only after its wait for the pod to be gone
  for (auto& work : after_)
    service(work);
}

// Whether the API server came back since the last look: then writes go now, not at their retry
// time.
bool Executor::take_nudge() {
  std::lock_guard lock(mutex_);
  return std::exchange(nudged_, false);
}

// --- The watch after the stop.

// One pass over the evictions after their stop: writes when due (or the API server is back), the
// watch's checks when due (or `force`d),
// and the ones whose watch is over move to history. True when a pod running again was stopped.
bool Executor::service_after(bool force) {
  bool restopped = false;
  const bool nudged = take_nudge();
  const Nanos now = clock_.monotonic();
  for (auto& work : after_) {
    collect_writes(work, Nanos(0));
    if (force || now >= work.next_check)
      restopped = check_after(work) || restopped;
    if (nudged || now >= work.next_write)
      start_writes(work);
    finish_if_done(work);
  }
  std::lock_guard lock(mutex_);
  for (auto it = after_.begin(); it != after_.end();) {
    if (writes_.contains(it->state.decision.eviction_id) || !after_done(*it)) {
      ++it;
      continue;
    }
    finished_.push_back(EvictionProgress{it->state, false});
    ++finished_since_compaction_;
    it = after_.erase(it);
  }
  trim_finished();
  return restopped;
}

// Whether an eviction is through with the watch: its writes done and, beside a kubelet, the watch
// over (recorded once).
bool Executor::after_done(const Work& work) const {
  if (!work.state.finished() || writes_owed(work))
    return false;
  if (!beside_kubelet(work.state) || options_.watch_after.count() == 0 || options_.dry_run)
    return true;
  return work.state.has(ledger::Step::kWatched);
}

bool Executor::check_after(Work& work) {
  work.next_check = clock_.monotonic() + options_.watch_poll;
  if (!beside_kubelet(work.state) || options_.watch_after.count() == 0 ||
      work.state.has(ledger::Step::kWatched) || !work.state.has(ledger::Step::kStopped))
    return false;
  const bool restopped = check_restart(work);
  check_status(work);
  if (work.state.finished() && !writes_owed(work) && clock_.monotonic() >= work.watch_until) {
    record(work, ledger::Step::kWatched,
           std::to_string(options_.watch_after.count() / 1000) +
               " s after the status was written: " +
               (work.restarts == 0 ? std::string("never ran again")
                                   : "ran again " + std::to_string(work.restarts) + " time(s)") +
               ", " +
               (work.restores == 0
                    ? std::string("status held")
                    : "status written again " + std::to_string(work.restores) + " time(s)"));
  }
  return restopped;
}

// A pod the runtime shows running again is stopped again at once, without grace (it had its grace
// period). When its Failed status had landed, the kubelet went against it: the pod is deleted
// gracefully too, an update the kubelet acts on at once. Before the status landed a restart is
// what the kubelet does (docs/kubelet.md), and the landing will end it.
bool Executor::check_restart(Work& work) {
  const auto pod = runtime_.find_pod(work.state.decision.pod_uid);
  return pod && *pod && restop_if_running(work, **pod);
}

bool Executor::restop_if_running(Work& work, const cri::RuntimePod& pod) {
  const auto& decision = work.state.decision;
  const std::string found = running_again(pod, work.sandbox_id);
  if (found.empty())
    return false;
  ++work.restarts;
  const bool status_written = work.state.has(ledger::Step::kStatusWritten);
  record(work, ledger::Step::kRestarted,
         "running again (" + found + "): stopped again" +
             (status_written ? "; its Failed status was written, so it is deleted gracefully too"
                             : "; its status is not written yet, and until it is the kubelet "
                               "restarts it"));
  work.sandbox_id = pod.sandbox_id;
  if (metrics_ != nullptr)
    metrics_->eviction_corrected("restarted");
  const auto report = runtime_.stop(pod, 0, true);
  log::warning("an evicted pod ran again and was stopped again: " + summary(report),
               pod_fields(decision));
  if (status_written && !work.state.has(ledger::Step::kDeleteRequested))
    work.delete_owed = true;
  return true;
}

// A status the kubelet (or anyone) changed back is written again while the pod is not deleted.
void Executor::check_status(Work& work) {
  if (options_.statuses == nullptr || !work.state.has(ledger::Step::kStatusWritten) ||
      work.status_restore_owed || writes_.contains(work.state.decision.eviction_id))
    return;
  const auto seen = options_.statuses->observed(work.state.decision.pod_uid);
  if (!seen || seen->deleting)
    return;
  const auto& decision = work.state.decision;
  if (seen->phase == "Failed" && seen->reason == "Evicted" && seen->message == decision.message)
    return;
  work.status_restore_owed = true;
  work.restore_detail = "it showed phase " + (seen->phase.empty() ? "\"\"" : seen->phase) +
                        ", reason " + (seen->reason.empty() ? "\"\"" : seen->reason) +
                        (seen->message == decision.message ? "" : ", another message");
  log::warning(
      "an evicted pod's status was changed (" + work.restore_detail + "); writing it again",
      pod_fields(decision));
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
