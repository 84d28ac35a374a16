#include "daemon/agent/agent.h"

#include <algorithm>
#include <utility>

#include "daemon/agent/eviction_order.h"
#include "daemon/metrics/metrics.h"

namespace evictd::agent {
namespace {

using cgroups::SampleDepth;
using cgroups::WakeCause;

// A disk threshold met on these observations (min-reclaim aside: this only decides whether the
// runtime's disk stats are fetched before the step).
bool disk_threshold_met(const Evaluator& evaluator, const Observations& observations) {
  const auto met = evaluator.met_now(observations);
  return std::any_of(met.begin(), met.end(), [](const ThresholdState& state) {
    return is_disk_signal(state.threshold.signal);
  });
}

bool has_local_storage_limits(const model::PodView& view) {
  for (const auto& entry : view.entries) {
    if (pod_limit(entry.pod, kResourceEphemeralStorage))
      return true;
    for (const auto& volume : entry.pod.volumes) {
      if (volume.source == VolumeSource::kEmptyDir && volume.size_limit)
        return true;
    }
  }
  return false;
}

std::string human_bytes(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1fMi", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

std::string milliseconds_text(Nanos duration) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", static_cast<double>(duration.count()) / 1e6);
  return text;
}

// The node's CPU and PSI as the status API shows them, dated on the wall clock.
status::NodeUsage node_usage(const cgroups::NodeSample& sample, Nanos now,
                             status::WallTime wall_now) {
  return status::NodeUsage{
      .cpu_cores = sample.cpu_cores,
      .cpu_seconds = sample.cpu_seconds,
      .cpus = sample.cpus,
      .cpu_pressure = sample.cpu_pressure,
      .memory_pressure = sample.memory_pressure,
      .io_pressure = sample.io_pressure,
      .read_at = wall_now -
                 std::chrono::duration_cast<status::WallTime::duration>(now - sample.usage_time)};
}

metrics::NodeUsageFigures node_usage_figures(const cgroups::NodeSample& sample) {
  metrics::NodeUsageFigures figures;
  figures.cpu_seconds = sample.cpu_seconds;
  figures.cpus = sample.cpus;
  const cgroups::Psi* by_resource[] = {&sample.cpu_pressure, &sample.memory_pressure,
                                       &sample.io_pressure};
  for (size_t i = 0; i < std::size(by_resource); ++i) {
    figures.pressure[i][0] = by_resource[i]->some;
    figures.pressure[i][1] = by_resource[i]->full;
  }
  return figures;
}

std::vector<metrics::PodUsageFigures> pod_usage_figures(const model::PodView& view) {
  std::vector<metrics::PodUsageFigures> pods;
  pods.reserve(view.entries.size());
  for (const auto& entry : view.entries) {
    std::optional<double> cpu_seconds;
    if (entry.cpu_usage_ns)
      cpu_seconds = static_cast<double>(*entry.cpu_usage_ns) / 1e9;
    pods.push_back({entry.pod.namespace_name, entry.pod.name, entry.pod.uid, cpu_seconds,
                    entry.stats.memory_working_set_bytes, entry.stats.memory_swap_bytes});
  }
  return pods;
}

// The service manager's one-line status.
std::string status_line(size_t pods, const Observations& observations, bool pressure,
                        size_t evicted) {
  std::string line = std::to_string(pods) + " pods";
  if (const auto& memory = observations.get(Signal::kMemoryAvailable))
    line += ", memory.available " + human_bytes(memory->available);
  line += pressure ? ", under pressure" : ", no pressure";
  return line + ", " + std::to_string(evicted) + " evicted";
}

// The evaluator's port for node-level reclaim: unused containers and images through the runtime,
// then the node's signals observed again (the round's sample and its pods stay as they were).
class ReclaimThenObserve final : public NodeReclaimer {
 public:
  ReclaimThenObserve(ResourceReclaimer& reclaimer, NodeSampler& sampler, Clock& clock, Nanos now)
      : reclaimer_(reclaimer), sampler_(sampler), clock_(clock), now_(now) {}

  std::optional<Observations> reclaim(Signal signal,
                                      std::span<const ReclaimAction> actions) override {
    for (auto action : actions) {
      const auto report = reclaimer_.reclaim(action, now_);
      log::info("node-level reclaim for " + std::string(signal_name(signal)),
                {{"action", std::string(reclaim_action_name(action))},
                 {"freed_bytes", std::to_string(report.bytes_freed)},
                 {"removed", std::to_string(report.removed.size())},
                 {"errors", std::to_string(report.errors.size())}});
    }
    return sampler_.observe_node(clock_.monotonic());
  }

 private:
  ResourceReclaimer& reclaimer_;
  NodeSampler& sampler_;
  Clock& clock_;
  Nanos now_;
};

}  // namespace

// What one round read, decided and timed.
struct Agent::Round {
  cgroups::Wake wake;
  Nanos now{0};
  const cgroups::NodeSample* sample = nullptr;
  bool pods_read = false;
  bool full_sample = false;    // containers, CPU and PSI read too
  bool threshold_met = false;  // a threshold could rank pods on the first sample
  bool disk_met = false;
  std::shared_ptr<const model::RuntimeSnapshot> runtime;
  bool new_runtime_list = false;
  std::shared_ptr<const model::PodView> view;
  Decision decision;
  // Where the detection time went, for the eviction's log line.
  Nanos sampled_at{0};
  Nanos listed_for{0};  // a runtime listing taken in the loop
  Nanos viewed_at{0};
  Nanos decided_at{0};
};

log::Level log_level(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::kDebug:
      return log::Level::kDebug;
    case config::LogLevel::kInfo:
      return log::Level::kInfo;
    case config::LogLevel::kWarning:
      return log::Level::kWarning;
    case config::LogLevel::kError:
      return log::Level::kError;
  }
  return log::Level::kInfo;
}

namespace {

// The kernel's notification paths and, beside them, headroom pacing (which the loop does itself).
std::vector<std::string> notification_paths(const PressureSource& pressure,
                                            const config::Config& config) {
  std::vector<std::string> lines = pressure.describe();
  if (config.pressure_notifications && config.memory_growth_bound > 0) {
    lines.push_back(
        "headroom pacing: memory thresholds the kernel does not signal are read before "
        "their headroom could go at " +
        Quantity::from_bytes(static_cast<uint64_t>(config.memory_growth_bound)).to_string() +
        "/s, no sooner than every " + format_go_duration(kMinimumPace));
    log::info("pressure notification: " + lines.back());
  }
  return lines;
}

}  // namespace

Agent::Agent(AgentSettings settings, AgentPorts ports)
    : settings_(std::move(settings)),
      ports_(std::move(ports)),
      evaluator_(std::make_unique<Evaluator>(settings_.config.eviction, settings_.filesystems)),
      sampled_(config::sampling_needs(settings_.config)),
      thresholds_(std::make_shared<const std::vector<Threshold>>(evaluator_->thresholds())),
      notifications_(std::make_shared<const std::vector<std::string>>(
          notification_paths(ports_.pressure, settings_.config))),
      notification_errors_(
          std::make_shared<const std::vector<std::string>>(ports_.pressure.errors())) {
  note_warnings();
  const WallTime started = settings_.info ? settings_.info->started_at : ports_.clock.wall();
  runtime_state_.since = api_state_.since = started;
}

// What the configuration gets wrong on this node: logged, and shown by the status API.
void Agent::note_warnings() {
  auto warnings = evaluator_->warnings();
  if (settings_.node_memory) {
    for (const auto& advice : advise_memory_headroom(
             evaluator_->thresholds(), settings_.node_memory->total_bytes,
             settings_.node_memory->reserve, settings_.config.memory_growth_bound))
      warnings.push_back(advice.text);
    for (auto& advice :
         advise_swap_thresholds(evaluator_->thresholds(), settings_.node_memory->swap_total_bytes))
      warnings.push_back(std::move(advice));
  }
  warnings.insert(warnings.end(), settings_.sampling_warnings.begin(),
                  settings_.sampling_warnings.end());
  for (const auto& warning : warnings)
    log::warning(warning);
  warnings_ = std::make_shared<const std::vector<std::string>>(std::move(warnings));
}

void Agent::stop() {
  stop_requested_ = true;
  ports_.pressure.interrupt();
}

void Agent::reload() {
  reload_requested_ = true;
  ports_.pressure.interrupt();
}

int Agent::run() {
  while (!stop_requested_) {
    const cgroups::Wake wake = next_wake();
    ports_.lifecycle.watchdog();
    if (stop_requested_)
      break;
    run_round(wake);
  }
  ports_.lifecycle.stopping();
  log::info("evictd stopping");
  return 0;
}

cgroups::Wake Agent::next_wake() {
  if (std::exchange(sample_again_, false))
    return cgroups::Wake{WakeCause::kMemoryThreshold, "passed while armed",
                         ports_.clock.monotonic()};
  std::optional<Nanos> timeout = ports_.lifecycle.watchdog_interval();
  const bool paced = paced_wait_ && (!timeout || *paced_wait_ < *timeout);
  if (paced)
    timeout = paced_wait_;
  cgroups::Wake wake = ports_.pressure.wait(timeout);
  if (paced && wake.cause == WakeCause::kTimer && wake.source == "timeout")
    wake.source = "headroom";
  return wake;
}

void Agent::run_round(const cgroups::Wake& wake) {
  apply_reload();
  Round round;
  round.wake = wake;
  round.now = ports_.clock.monotonic();
  restart_pressure_window_after_relief();
  sample(round);
  reconcile_runtime(round);
  refresh_view(round);
  decide(round);
  report(round);
  submit_eviction(round);
  rearm(round);
  pace(round);
  publish_status(round);
  housekeeping(round);
}

// A bad file is refused and the running configuration kept; the thresholds, the growth bound, the
// soft eviction mode, the log level and the metric retention take effect at once, the rest at the
// next restart.
void Agent::apply_reload() {
  if (!reload_requested_.exchange(false))
    return;
  const std::string& path = ports_.config_source.path();
  auto fresh = ports_.config_source.load();
  if (!fresh) {
    log::error("reload refused, keeping the running configuration: " + fresh.error().message);
    return;
  }
  ports_.lifecycle.reloading("reloading " + path);
  if (config::describe(*fresh) != config::describe(settings_.config))
    adopt(*fresh);
  log::info("configuration reloaded", {{"path", path}});
  // READY=1 ends the reload for the service manager: after RELOADING=1, systemd holds the unit in
  // "reloading" (and `systemctl reload` waits) until it comes.
  ports_.lifecycle.ready("running");
}

void Agent::adopt(const config::Config& fresh) {
  config::Config& running = settings_.config;
  evaluator_ = std::make_unique<Evaluator>(fresh.eviction, settings_.filesystems);
  thresholds_ = std::make_shared<const std::vector<Threshold>>(evaluator_->thresholds());
  log::set_level(log_level(fresh.log_level));
  for (const auto& [what, before, after] :
       {std::tuple{"containerRuntimeEndpoint", running.container_runtime_endpoint,
                   fresh.container_runtime_endpoint},
        std::tuple{"metricsAddress", running.metrics_address, fresh.metrics_address},
        std::tuple{"stateDirectory", running.state_directory, fresh.state_directory},
        std::tuple{"kubeconfig", running.kubeconfig, fresh.kubeconfig}}) {
    if (before != after)
      log::warning(std::string(what) + " changed; it takes effect at the next restart");
  }
  if (fresh.dry_run != running.dry_run || fresh.monitoring_interval != running.monitoring_interval)
    log::warning("dryRun and monitoringInterval take effect at the next restart");
  if (config::sampling_needs(fresh) != sampled_) {
    log::warning(
        "what the sampler reads for evictd's own signals (memory.pressure: whether, its window and "
        "stall kind; swap on cgroup v1) changes at the next restart");
  }
  running.eviction = fresh.eviction;
  running.soft_eviction_mode = fresh.soft_eviction_mode;
  running.memory_growth_bound = fresh.memory_growth_bound;
  running.log_level = fresh.log_level;
  running.evicted_pod_retention = fresh.evicted_pod_retention;
  if (running.pod_metrics && !fresh.pod_metrics)
    ports_.metrics.usage().pods({});
  running.pod_metrics = fresh.pod_metrics;
  note_warnings();
}

// Once an evicted pod is gone, memory.pressure is judged on a fresh window: the stall before its
// relief (and while it was stopped) must not choose a second pod. The pod is remembered as
// terminated from then on.
void Agent::restart_pressure_window_after_relief() {
  if (evicting_ && !ports_.evictions.busy()) {
    ports_.sampler.restart_pressure_window();
    evicting_ = false;
    // A dry run's pretended eviction leaves the pod running, and it stays a candidate.
    if (!settings_.config.dry_run)
      evicted_at_[last_submitted_] = ports_.clock.monotonic();
  }
}

// An evicted pod is terminated, as the kubelet sees it, until a runtime listing taken after its
// eviction shows it running again (the kubelet restarted it); a listing older than that still
// shows the containers the eviction stopped. Pods no longer listed are forgotten.
bool Agent::terminated(const model::PodEntry& entry, const model::RuntimeSnapshot& runtime) {
  const auto found = evicted_at_.find(entry.pod.uid);
  if (found == evicted_at_.end())
    return false;
  if (runtime.time <= found->second)
    return true;
  const auto& containers = runtime.pods[entry.runtime_index].containers;
  if (std::none_of(containers.begin(), containers.end(), cri::still_running))
    return true;
  evicted_at_.erase(found);  // running again: a pod like any other
  return false;
}

// Idle rounds read the node's signals only; the pods too when a threshold is met, a notification
// woke the loop, or pod cgroups came or went (three fstat calls each round; a listing every 10 s).
void Agent::sample(Round& round) {
  NodeSampler& sampler = ports_.sampler;
  auto depth = cadence_.first_depth(round.now, reported_.under_pressure(), round.wake.cause);
  const cgroups::NodeSample* sampled = &sampler.sample(round.now, depth);
  round.threshold_met = evaluator_->needs_pod_stats(sampled->observations);
  if (depth == SampleDepth::kNode &&
      (round.threshold_met || round.wake.cause == WakeCause::kPodsChanged ||
       sampler.subdirectories_changed() ||
       (cadence_.listing_due(round.now) && sampler.pods_changed()))) {
    depth = SampleDepth::kDecision;
    sampled = &sampler.sample(round.now, depth);
  }
  cadence_.sampled(depth, round.now);
  round.sample = sampled;
  round.pods_read = depth != SampleDepth::kNode;
  round.full_sample = depth == SampleDepth::kFull;
  round.sampled_at = ports_.clock.monotonic();
  ports_.metrics.sample_finished(std::chrono::duration<double>(sampled->duration).count());
  round.disk_met = disk_threshold_met(*evaluator_, sampled->observations);
}

void Agent::reconcile_runtime(Round& round) {
  RuntimeView& runtime = ports_.runtime;
  if (round.disk_met && runtime.age(round.now) > kRuntimeRefreshEvery)
    runtime.refresh_now_with_stats();  // disk stats as fresh as the kubelet's
  round.runtime = runtime.snapshot();
  if (!round.pods_read)
    return;
  auto reconciled = membership_.reconcile(round.sample->pods, round.runtime->pods, round.now,
                                          round.threshold_met, runtime.age(round.now));
  switch (reconciled.action) {
    case Reconciliation::Action::kListNow: {
      const Nanos started = ports_.clock.monotonic();
      runtime.refresh_now();
      round.runtime = runtime.snapshot();
      round.listed_for = ports_.clock.monotonic() - started;
      break;
    }
    case Reconciliation::Action::kExpect:
      runtime.expect(std::move(reconciled.expected));
      break;
    case Reconciliation::Action::kRefreshSoon:
      runtime.refresh_soon();
      break;
    case Reconciliation::Action::kNone:
      break;
  }
}

// The view is rebuilt when the pods were read or the runtime's list changed; otherwise the last
// one stands (its usage is only read when a threshold is met, and then it is fresh).
void Agent::refresh_view(Round& round) {
  round.new_runtime_list = round.runtime != view_runtime_;
  if (round.pods_read || round.new_runtime_list || !view_) {
    model::SpecLookup specs;
    if (ports_.specs != nullptr)
      specs = [this](const std::string& uid) { return ports_.specs->find(uid); };
    view_ = std::make_shared<const model::PodView>(
        model::build_pod_view(*round.sample, *round.runtime, specs, ports_.limits));
    view_runtime_ = round.runtime;
    view_at_ = ports_.clock.wall();
    local_storage_limits_ = has_local_storage_limits(*view_);
  }
  round.view = view_;
  ports_.runtime.set_interval(round.disk_met || local_storage_limits_ ? kRuntimeRefreshEvery
                                                                      : kIdleRuntimeRefreshEvery);
}

void Agent::decide(Round& round) {
  // Pods whose disruption budget just refused an eviction through the API are passed over by
  // soft thresholds for a while, and pods evicted already are not ranked (the view is shared, so
  // they are marked on a copy).
  std::span<const ActivePod> active = round.view->active;
  std::vector<ActivePod> marked;
  const auto mark = [&]() -> std::vector<ActivePod>& {
    if (marked.empty())
      marked = round.view->active;
    active = marked;
    return marked;
  };
  if (api_evictions()) {
    if (const auto refused = ports_.evictions.refused_pods(); !refused.empty()) {
      for (auto& pod : mark()) {
        pod.soft_eviction_refused =
            std::find(refused.begin(), refused.end(), pod.pod->uid) != refused.end();
      }
    }
  }
  if (!evicted_at_.empty()) {
    const auto& entries = round.view->entries;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (terminated(entries[i], *round.runtime))
        mark()[i].terminated = true;
    }
    std::erase_if(evicted_at_, [&](const auto& evicted) {
      return round.runtime->time > evicted.second &&
             std::none_of(entries.begin(), entries.end(), [&](const model::PodEntry& entry) {
               return entry.pod.uid == evicted.first;
             });
    });
  }
  round.viewed_at = ports_.clock.monotonic();
  ReclaimThenObserve reclaim(ports_.reclaimer, ports_.sampler, ports_.clock, round.now);
  round.decision = evaluator_->synchronize(round.sample->observations, active, round.now, &reclaim);
  round.decided_at = ports_.clock.monotonic();
}

void Agent::report(Round& round) {
  const Decision& decision = round.decision;
  ports_.metrics.observe_signals(round.sample->observations, evaluator_->thresholds());
  ports_.metrics.evictions_pending_writes(ports_.evictions.pending());
  export_usage(round);
  const auto holds = [&](NodeCondition condition) {
    return std::find(decision.conditions.begin(), decision.conditions.end(), condition) !=
           decision.conditions.end();
  };
  const bool memory = holds(NodeCondition::kMemoryPressure);
  const bool disk = holds(NodeCondition::kDiskPressure);
  const bool pid = holds(NodeCondition::kPIDPressure);
  ports_.metrics.node_conditions(memory, disk, pid);
  if (ports_.conditions != nullptr)
    ports_.conditions->publish(memory, disk, pid);
  auto changes = reported_.update(decision, ports_.clock.wall(), round.wake.cause);
  for (const auto& line : changes.lines)
    log::write(line.level, line.message, line.fields);
  if (ports_.events != nullptr) {
    for (auto& event : changes.events)
      ports_.events->publish(std::move(event));
  }
  for (const auto& note : decision.notes)
    log::debug(note);
}

// The evaluator's first eviction goes to the executor, unless one is still in flight (the kubelet,
// too, waits for the previous pod to be gone).
void Agent::submit_eviction(Round& round) {
  const Decision& decision = round.decision;
  // Dry-run choices are said once for as long as they are made, again after a round without one.
  if (decision.evictions.empty() || !decision.evictions.front().dry_run)
    dry_run_choices_.clear();
  if (decision.evictions.empty())
    return;
  const Eviction& eviction = decision.evictions.front();
  const model::PodEntry& entry = round.view->entries[eviction.pod_index];
  if (is_critical_pod(entry.pod)) {
    // The evaluator never chooses one; this guard keeps it so whatever changes there.
    log::error("refusing to evict a critical pod", {{"pod", entry.pod.name}});
    return;
  }
  if (eviction.dry_run) {
    note_dry_run(decision, eviction, entry);
    return;
  }
  if (ports_.evictions.busy()) {
    if (last_waiting_ != entry.pod.uid)
      log::info("next eviction waits for the previous pod to be gone",
                {{"pod", entry.pod.name}, {"namespace", entry.pod.namespace_name}});
    last_waiting_ = entry.pod.uid;
    return;
  }
  last_waiting_.clear();
  if (evicting_) {
    // The previous pod went while this round sampled and decided: its stall is still in the window
    // memory.pressure was judged on. Start that window over; a stall decision waits for it.
    restart_pressure_window_after_relief();
    if (eviction.signal == Signal::kMemoryPressure)
      return;
  }
  auto order = eviction_order(decision, eviction, entry,
                              OrderContext{.node_name = settings_.config.node_name,
                                           .api_evictions = api_evictions(),
                                           .now = ports_.clock.wall(),
                                           .decided_at = ports_.clock.monotonic()});
  log_eviction(round, order, entry);
  ports_.metrics.eviction_decided(
      order.decision.signal, stats_age_seconds(decision, round.now),
      std::chrono::duration<double>(round.decided_at - round.wake.at).count());
  // Through the Eviction API the pod is deleted, not left Failed/Evicted: kube-state-metrics would
  // not report it, and neither does evictd.
  if (!settings_.config.dry_run && !order.decision.eviction_api) {
    ports_.metrics.pod_evicted(entry.pod.namespace_name, entry.pod.name, entry.pod.uid,
                               eviction.disruption_target, ports_.clock.wall());
  }
  ++evictions_decided_;
  last_submitted_ = entry.pod.uid;
  ports_.evictions.submit(std::move(order));
  evicting_ = true;
}

// A threshold set to dry run chose a pod: said once per pod and signal, counted, never carried out.
void Agent::note_dry_run(const Decision& decision, const Eviction& eviction,
                         const model::PodEntry& entry) {
  const std::string signal(eviction.signal ? signal_name(*eviction.signal) : "");
  if (!dry_run_choices_.insert(entry.pod.uid + "/" + signal).second)
    return;
  ports_.metrics.dry_run_eviction(signal);
  log::warning(
      "dry run: would evict pod " + entry.pod.namespace_name + "/" + entry.pod.name + ": " +
          eviction.message,
      {{"pod", entry.pod.name},
       {"namespace", entry.pod.namespace_name},
       {"uid", entry.pod.uid},
       {"signal", signal},
       {"threshold", decision.to_reclaim ? decision.to_reclaim->threshold.statement() : ""}});
}

void Agent::log_eviction(const Round& round, const EvictionOrder& order,
                         const model::PodEntry& entry) const {
  const ledger::Record& record = order.decision;
  const cgroups::Wake& wake = round.wake;
  log::warning(
      "evicting pod " + record.namespace_name + "/" + record.pod_name + ": " + record.message,
      {{"pod", record.pod_name},
       {"namespace", record.namespace_name},
       {"uid", record.pod_uid},
       {"signal", record.signal},
       {"grace_seconds", std::to_string(record.grace_period_seconds)},
       {"spec", entry.spec_source == model::SpecSource::kApiServer ? "api" : "node"},
       {"wake", std::string(cgroups::wake_cause_name(wake.cause))},
       {"wake_source", wake.source},
       {"detection_ms", milliseconds_text(round.decided_at - wake.at)},
       // Where the detection time went: reading the cgroups, listing the runtime's pods in the
       // loop (a pod that just started), joining, deciding.
       {"sample_ms", milliseconds_text(round.sampled_at - wake.at)},
       {"runtime_list_ms", milliseconds_text(round.listed_for)},
       {"view_ms", milliseconds_text(round.viewed_at - round.sampled_at - round.listed_for)},
       {"decide_ms", milliseconds_text(round.decided_at - round.viewed_at)},
       {"dry_run", settings_.config.dry_run ? "true" : "false"}});
}

// The memcg thresholds are armed for the next crossing only once this round's eviction is on its
// way: re-registering one waits for an RCU grace period in the kernel, which before the decision
// was most of its time.
void Agent::rearm(const Round& round) {
  if (!settings_.config.pressure_notifications)
    return;
  if (ports_.pressure.rearm(*round.sample, evaluator_->thresholds())) {
    log::debug("memory usage passed a threshold point while it was being armed; sampling again");
    sample_again_ = true;
  }
}

// The node's CPU and PSI whenever a sample read them; the pods' usage with every full sample when
// podMetrics asks for it.
void Agent::export_usage(const Round& round) {
  if (!round.pods_read)
    return;
  ports_.metrics.usage().node(node_usage_figures(*round.sample));
  if (round.full_sample && settings_.config.pod_metrics)
    ports_.metrics.usage().pods(pod_usage_figures(*round.view));
}

// Where the kernel does not mark a memory threshold's crossing, the next read comes before the
// headroom could be used up at the configured growth bound (docs/cgroups.md).
void Agent::pace(const Round& round) {
  const config::Config& config = settings_.config;
  paced_wait_.reset();
  if (!config.pressure_notifications)
    return;
  paced_wait_ = paced_wait(PacingInput{
      .observations = round.sample->observations,
      .thresholds = evaluator_->thresholds(),
      .hard_memory_crossings_notified = ports_.pressure.hard_memory_crossings_notified(),
      .growth_bytes_per_second = config.memory_growth_bound});
}

// The status API's view of this round: a pointer swap for the pods and thresholds, a copy of the
// (fixed-size) observations; nothing here waits for a status client.
void Agent::publish_status(const Round& round) {
  if (ports_.snapshots == nullptr)
    return;
  track_connections();
  auto snapshot = std::make_shared<status::StatusSnapshot>();
  snapshot->info = settings_.info;
  snapshot->thresholds = thresholds_;
  snapshot->swap_aware_ranking = evaluator_->swap_aware_ranking();
  snapshot->notifications = notifications_;
  snapshot->notification_errors = notification_errors_;
  snapshot->warnings = warnings_;
  snapshot->runtime = runtime_state_;
  snapshot->api = api_state_;
  snapshot->observations = round.sample->observations;
  snapshot->sampled_monotonic = round.now;
  snapshot->sampled_at = ports_.clock.wall();
  snapshot->sample_duration = round.sample->duration;
  snapshot->usage = node_usage(*round.sample, round.now, snapshot->sampled_at);
  for (const auto& [condition, since] : reported_.condition_since())
    snapshot->conditions.push_back({condition, since});
  for (const auto& crossed : round.decision.crossed)
    snapshot->met.push_back(crossed.index);
  snapshot->pods = round.view;
  snapshot->pods_at = view_at_;
  snapshot->evictions_in_flight = ports_.evictions.busy() ? 1 : 0;
  snapshot->evictions_pending_writes = static_cast<int>(ports_.evictions.pending());
  snapshot->evictions_total = evictions_decided_;
  ports_.snapshots->publish(std::move(snapshot));
}

// The runtime's and the API server's connections as the status API shows them, with an event when
// one is lost or restored.
void Agent::track_connections() {
  const auto track = [this](status::ConnectionState& state, bool connected, status::EventType lost,
                            status::EventType restored) {
    if (state.connected == connected)
      return;
    state.connected = connected;
    state.since = ports_.clock.wall();
    if (ports_.events != nullptr) {
      status::Event event;
      event.type = connected ? restored : lost;
      ports_.events->publish(std::move(event));
    }
  };
  track(runtime_state_, ports_.runtime.connected(), status::EventType::kRuntimeLost,
        status::EventType::kRuntimeRestored);
  if (ports_.specs != nullptr) {
    track(api_state_, ports_.specs->connected(), status::EventType::kApiLost,
          status::EventType::kApiRestored);
  }
}

void Agent::housekeeping(const Round& round) {
  const size_t pods = round.view->entries.size();
  if (!ready_) {
    ports_.lifecycle.ready("watching " + std::to_string(pods) + " pods");
    ready_ = true;
  }
  if (cadence_.status_line_due(round.now)) {
    ports_.lifecycle.status(status_line(pods, round.sample->observations,
                                        !round.decision.conditions.empty(),
                                        ports_.metrics.evicted_pods()));
  }
  if (cadence_.housekeeping_due(round.now)) {
    std::function<bool(const std::string&)> exists;
    if (ports_.specs != nullptr)
      exists = [this](const std::string& uid) { return ports_.specs->find(uid).has_value(); };
    ports_.metrics.expire(ports_.clock.wall(), settings_.config.evicted_pod_retention, exists);
  }
}

// Soft threshold evictions go through the Eviction API when an API server is configured and
// softEvictionMode is api (check-config requires a kubeconfig for it).
bool Agent::api_evictions() const {
  return ports_.specs != nullptr &&
         settings_.config.soft_eviction_mode == config::SoftEvictionMode::kApi;
}

}  // namespace evictd::agent
