#include "daemon/agent/agent.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "cgroups/layout.h"
#include "cgroups/memory_limit.h"
#include "cgroups/notifier.h"
#include "cgroups/pressure_watch.h"
#include "cgroups/sampler.h"
#include "daemon/agent/api_cache.h"
#include "daemon/agent/condition_publisher.h"
#include "daemon/agent/executor.h"
#include "daemon/agent/runtime_cache.h"
#include "daemon/cri/runtime_pods.h"
#include "daemon/kube/eviction_writer.h"
#include "daemon/ledger/ledger.h"
#include "daemon/log/log.h"
#include "daemon/metrics/metrics.h"
#include "daemon/model/pod_view.h"
#include "daemon/status/event_hub.h"
#include "daemon/status/server.h"
#include "daemon/status/service.h"
#include "daemon/status/snapshot.h"
#include "evictd_version.h"
#include "ranking/evaluator.h"
#include "systemd/notify.h"

namespace evictd::agent {
namespace {

using model::LimitLookup;
using model::PodView;
using model::SpecLookup;
using model::SpecSource;

using SteadyClock = std::chrono::steady_clock;

// Containers, CPU and PSI are read every 10 s; decisions need only node signals, and each pod's
// memory and processes when a threshold is met.
constexpr std::chrono::seconds kFullSampleEvery{10};
constexpr std::chrono::seconds kIdleFullSampleEvery{60};
constexpr std::chrono::seconds kHousekeepingEvery{30};
// The runtime's pods and stats, refreshed beside the loop (and at once when the cgroups show a
// pod come or gone, or a disk threshold is met): every 10 s, like the kubelet's housekeeping, while
// disk usage matters (disk pressure, or pods with local-storage limits), else every minute.
constexpr std::chrono::seconds kRuntimeRefreshEvery{10};
constexpr std::chrono::seconds kIdleRuntimeRefreshEvery{60};
constexpr std::chrono::seconds kStartingPodFor{10};

// A disk threshold met on these observations (min-reclaim aside: this only decides whether the
// runtime's disk stats are fetched before the step).
bool disk_threshold_met(const Evaluator& evaluator, const Observations& observations) {
  const auto met = evaluator.met_now(observations);
  return std::any_of(met.begin(), met.end(), [](const ThresholdState& state) {
    return is_disk_signal(state.threshold.signal);
  });
}

bool has_local_storage_limits(const PodView& view) {
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

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Processes left in a cgroup and its children; a cgroup removed meanwhile has none.
int processes_under(const std::string& directory) {
  std::error_code error;
  int count = 0;
  std::ifstream procs(directory + "/cgroup.procs");
  for (std::string line; std::getline(procs, line);)
    count += line.empty() ? 0 : 1;
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end;
       it.increment(error)) {
    if (it->is_directory(error))
      count += processes_under(it->path().string());
  }
  return count;
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

}  // namespace

struct Agent::State {
  config::Config config;
  std::string config_path;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> reload_requested{false};

  systemd::Notifier systemd;
  cgroups::CgroupLayout layout;
  FilesystemLayout filesystems = FilesystemLayout::kShared;
  std::unique_ptr<metrics::Metrics> metrics;
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<cri::CriClient> cri;
  std::unique_ptr<cri::PodStopper> stopper;
  std::mutex reclaimer_mutex;
  std::unique_ptr<cri::NodeResourceReclaimer> reclaimer;
  std::unique_ptr<cgroups::Sampler> sampler;
  std::unique_ptr<cgroups::PressureNotifier> notifier;
  std::unique_ptr<cgroups::PressureWatch> watch;
  std::unique_ptr<Evaluator> evaluator;
  std::unique_ptr<kube::ApiClient> api_writes;
  std::unique_ptr<kube::ApiClient> api_reads;
  std::unique_ptr<kube::EvictionWriter> writer;
  std::unique_ptr<ApiCache> api_cache;
  std::unique_ptr<ConditionPublisher> conditions;
  std::unique_ptr<RuntimeCache> runtime;
  std::unique_ptr<Executor> executor;
  LimitLookup limits;

  std::mutex cgroups_mutex;
  std::map<std::string, std::string> evicted_cgroups;  // pod UID -> its memory cgroup directory

  // What the loop reported last, to log changes rather than every round.
  std::vector<NodeCondition> last_conditions;
  std::vector<std::string> last_crossed;
  std::string last_waiting;
  std::vector<std::string> last_unknown;  // pod UIDs the runtime list and the cgroups disagree on
  std::map<std::string, Nanos> unlisted_since;  // pod cgroups without a listed sandbox
  std::set<std::string> listed;                 // pod cgroups whose sandbox was listed once

  std::shared_ptr<const PodView> view;  // the last round's pods (shared with the status API)
  std::chrono::system_clock::time_point view_at;
  std::shared_ptr<const RuntimeSnapshot> view_runtime;
  bool local_storage_limits = false;  // some pod has an ephemeral-storage or emptyDir limit

  // The status API: the loop publishes a snapshot each round and events as things change.
  status::SnapshotBox snapshots;
  status::EventHub events;
  std::unique_ptr<status::StatusService> status_service;
  std::unique_ptr<status::StatusServer> status_server;
  std::shared_ptr<const status::DaemonInfo> info;
  std::shared_ptr<const std::vector<Threshold>> thresholds;
  std::shared_ptr<const std::vector<std::string>> notifications;
  std::shared_ptr<const std::vector<std::string>> notification_errors;
  status::ConnectionState runtime_state;
  status::ConnectionState api_state;
  std::map<NodeCondition, status::WallTime> condition_since;
  uint64_t evictions_decided = 0;

  // Soft threshold evictions go through the Eviction API (softEvictionMode api with an API server;
  // check-config requires a kubeconfig for it).
  bool api_evictions() const {
    return writer && config.soft_eviction_mode == config::SoftEvictionMode::kApi;
  }
};

namespace {

status::Event pod_event(status::EventType type, const ledger::Record& decision) {
  status::Event event;
  event.type = type;
  event.signal = decision.signal;
  event.namespace_name = decision.namespace_name;
  event.pod_name = decision.pod_name;
  event.pod_uid = decision.pod_uid;
  event.eviction_id = decision.eviction_id;
  return event;
}

std::string random_epoch() {
  std::random_device device;
  char text[17];
  std::snprintf(text, sizeof(text), "%08x%08x", device(), device());
  return text;
}

// The evaluator's port for node-level reclaim: unused containers and images through the runtime,
// then a fresh decision sample.
class RuntimeReclaimPort : public NodeReclaimer {
 public:
  RuntimeReclaimPort(std::mutex& mutex, cri::NodeResourceReclaimer& reclaimer,
                     cgroups::Sampler& sampler, Nanos now)
      : mutex_(mutex), reclaimer_(reclaimer), sampler_(sampler), now_(now) {}

  std::optional<Observations> reclaim(Signal signal,
                                      std::span<const ReclaimAction> actions) override {
    {
      std::lock_guard lock(mutex_);
      for (auto action : actions) {
        const auto report = action == ReclaimAction::kDeleteUnusedImages
                                ? reclaimer_.delete_unused_images(now_)
                                : reclaimer_.delete_unused_containers();
        log::info("node-level reclaim for " + std::string(signal_name(signal)),
                  {{"action", std::string(reclaim_action_name(action))},
                   {"freed_bytes", std::to_string(report.bytes_freed)},
                   {"removed", std::to_string(report.removed.size())},
                   {"errors", std::to_string(report.errors.size())}});
      }
    }
    return sampler_
        .sample(cgroups::PressureNotifier::monotonic_now(), cgroups::SampleDepth::kDecision)
        .observations;
  }

 private:
  std::mutex& mutex_;
  cri::NodeResourceReclaimer& reclaimer_;
  cgroups::Sampler& sampler_;
  Nanos now_;
};

void track_connection(status::EventHub& events, status::ConnectionState& state, bool connected,
                      status::EventType lost, status::EventType restored) {
  if (state.connected == connected)
    return;
  state.connected = connected;
  state.since = std::chrono::system_clock::now();
  status::Event event;
  event.type = connected ? restored : lost;
  events.publish(std::move(event));
}

}  // namespace

// The status API's view of this round: a pointer swap for the pods and thresholds, a copy of the
// (fixed-size) observations; nothing here waits for a status client.
void Agent::publish_status(State& s, const cgroups::NodeSample& sample,
                           const Observations& observations, const Decision& decision, Nanos now) {
  if (!s.status_service)
    return;
  track_connection(s.events, s.runtime_state, s.runtime->connected(),
                   status::EventType::kRuntimeLost, status::EventType::kRuntimeRestored);
  if (s.api_cache) {
    track_connection(s.events, s.api_state, s.api_cache->connected(), status::EventType::kApiLost,
                     status::EventType::kApiRestored);
  }
  auto snapshot = std::make_shared<status::StatusSnapshot>();
  snapshot->info = s.info;
  snapshot->thresholds = s.thresholds;
  snapshot->notifications = s.notifications;
  snapshot->notification_errors = s.notification_errors;
  snapshot->runtime = s.runtime_state;
  snapshot->api = s.api_state;
  snapshot->observations = observations;
  snapshot->sampled_monotonic = now;
  snapshot->sampled_at = std::chrono::system_clock::now();
  snapshot->sample_duration = sample.duration;
  for (const auto& [condition, since] : s.condition_since)
    snapshot->conditions.push_back({condition, since});
  for (const auto& crossed : decision.crossed)
    snapshot->met.push_back(crossed.index);
  snapshot->pods = s.view;
  snapshot->pods_at = s.view_at;
  snapshot->evictions_in_flight = s.executor->busy() ? 1 : 0;
  snapshot->evictions_pending_writes = static_cast<int>(s.executor->pending());
  snapshot->evictions_total = s.evictions_decided;
  s.snapshots.publish(std::move(snapshot));
}

Agent::Agent(config::Config config, std::string config_path) : state_(std::make_unique<State>()) {
  state_->config = std::move(config);
  state_->config_path = std::move(config_path);
}

Agent::~Agent() {
  auto& s = *state_;
  if (s.status_server)
    s.status_server->stop();
  if (s.api_reads)
    s.api_reads->cancel_streams();
  if (s.api_cache)
    s.api_cache->stop();
  if (s.runtime)
    s.runtime->stop();
  if (s.executor)
    s.executor->stop();
  if (s.conditions)
    s.conditions->stop();
}

void Agent::stop() {
  state_->stop_requested = true;
  if (state_->notifier)
    state_->notifier->interrupt();
}

void Agent::reload() {
  state_->reload_requested = true;
  if (state_->notifier)
    state_->notifier->interrupt();
}

Result<void> Agent::start() {
  auto& s = *state_;
  const auto& config = s.config;
  log::init(log_level(config.log_level));

  auto layout = cgroups::detect_layout(cgroups::parse_mountinfo(read_file("/proc/self/mountinfo")));
  if (!layout)
    return make_error("cgroups: " + layout.error().message);
  s.layout = *layout;

  s.metrics = std::make_unique<metrics::Metrics>(EVICTD_VERSION);
  if (auto served = s.metrics->serve(config.metrics_address); !served)
    return served.error();

  if (!config.dry_run) {
    std::error_code error;
    std::filesystem::create_directories(config.state_directory, error);
    chmod(config.state_directory.c_str(), 0700);
    auto ledger = ledger::Ledger::open(config.state_directory);
    if (!ledger)
      return make_error("stateDirectory " + config.state_directory + ": " + ledger.error().message);
    s.ledger = std::make_unique<ledger::Ledger>(std::move(ledger).value());
    const auto& replayed = s.ledger->replayed();
    if (replayed.torn_tail_dropped)
      log::warning("the ledger's last record was torn (a crash mid-write) and was dropped",
                   {{"path", s.ledger->path()}});
    // The ledger feeds the metrics after a restart: pods evicted before it are still evicted.
    for (const auto& eviction : replayed.evictions) {
      const auto& d = eviction.decision;
      if (d.eviction_api)
        continue;
      s.metrics->pod_evicted(
          d.namespace_name, d.pod_name, d.pod_uid, d.disruption_target,
          std::chrono::system_clock::time_point(std::chrono::milliseconds(d.time_unix_ms)));
    }
  }

  s.cri = std::make_unique<cri::CriClient>(
      cri::CriConfig{.endpoint = config.container_runtime_endpoint});
  if (auto version = s.cri->version(); version) {
    log::info("container runtime " + version->runtime_name + " " + version->runtime_version,
              {{"endpoint", config.container_runtime_endpoint}});
  } else {
    log::warning("container runtime not answering yet: " + version.error().message,
                 {{"endpoint", config.container_runtime_endpoint}});
  }
  cgroups::SamplerConfig sampler_config;
  sampler_config.driver = config.cgroup_driver;
  sampler_config.kubepods = config.kubepods;
  sampler_config.nodefs_path = config.nodefs_path;
  // Process counts rank pods for pid.available only; without such a threshold a decision sample
  // reads two files per pod instead of three.
  sampler_config.decision_processes = std::any_of(
      config.eviction.thresholds.begin(), config.eviction.thresholds.end(),
      [](const Threshold& threshold) { return threshold.signal == Signal::kPidAvailable; });
  if (auto filesystems = cri::discover_filesystems(*s.cri, config.nodefs_path); filesystems) {
    s.filesystems = filesystems->layout;
    if (filesystems->layout != FilesystemLayout::kShared)
      sampler_config.imagefs_path = filesystems->imagefs_mountpoint;
    if (filesystems->layout == FilesystemLayout::kSplit)
      sampler_config.containerfs_path = filesystems->containerfs_mountpoint;
  } else {
    log::warning("image filesystem unknown, assuming it shares nodefs: " +
                 filesystems.error().message);
  }
  s.stopper = std::make_unique<cri::PodStopper>(*s.cri, config.dry_run);
  s.reclaimer = std::make_unique<cri::NodeResourceReclaimer>(
      *s.cri, config.dry_run, config.image_minimum_age,
      std::vector<std::string>{config.pod_sandbox_image});
  s.sampler = std::make_unique<cgroups::Sampler>(s.layout, sampler_config);
  s.limits = [layout = s.layout, driver = config.cgroup_driver](const std::string& pod_cgroup,
                                                                const std::string& container) {
    return cgroups::container_memory_limit(layout, driver, pod_cgroup, container);
  };

  s.evaluator = std::make_unique<Evaluator>(config.eviction, s.filesystems);
  for (const auto& warning : s.evaluator->warnings())
    log::warning(warning);

  auto notifier = cgroups::PressureNotifier::create(config.monitoring_interval);
  if (!notifier)
    return make_error("the notification loop: " + notifier.error().message);
  s.notifier = std::move(notifier).value();
  s.watch = std::make_unique<cgroups::PressureWatch>(*s.notifier, *s.sampler);
  if (config.pressure_notifications) {
    for (const auto& line : s.watch->start())
      log::info("pressure notification: " + line);
  } else {
    log::info("pressure notifications off: polling every " +
              format_go_duration(config.monitoring_interval));
  }

  ExecutorPorts ports;
  ports.stop = [&s](const cri::RuntimePod& pod, int64_t grace, bool hard) {
    return s.stopper->stop(pod, grace, hard);
  };
  ports.find_pod = [&s](const std::string& uid) -> Result<std::optional<cri::RuntimePod>> {
    auto pods = s.runtime->list_now();
    if (!pods)
      return pods.error();
    for (auto& pod : *pods) {
      if (pod.uid == uid)
        return std::optional<cri::RuntimePod>(std::move(pod));
    }
    return std::optional<cri::RuntimePod>();
  };
  ports.pod_gone = [&s](const std::string& uid) {
    auto pods = s.runtime->list_now();
    if (!pods)
      return false;
    for (const auto& pod : *pods) {
      if (pod.uid == uid)
        return false;
    }
    std::lock_guard lock(s.cgroups_mutex);
    const auto found = s.evicted_cgroups.find(uid);
    return found == s.evicted_cgroups.end() || processes_under(found->second) == 0;
  };

  if (!config.kubeconfig.empty()) {
    auto credentials = config.kubeconfig == "in-cluster" ? kube::in_cluster_credentials()
                                                         : kube::load_kubeconfig(config.kubeconfig);
    if (!credentials)
      return make_error("kubeconfig: " + credentials.error().message);
    // Writes retry briefly and then wait in the ledger; reads have their own client so that a
    // slow list never delays a status write.
    s.api_writes = std::make_unique<kube::ApiClient>(kube::ApiClientConfig{
        .credentials = *credentials, .timeout = std::chrono::seconds(5), .max_attempts = 3});
    s.api_reads =
        std::make_unique<kube::ApiClient>(kube::ApiClientConfig{.credentials = *credentials});
    s.writer = std::make_unique<kube::EvictionWriter>(*s.api_writes);
    if (!config.dry_run) {
      ports.patch_status = [&s](const kube::EvictionRecord& record) {
        return s.writer->patch_status(record);
      };
      ports.post_event = [&s](const kube::EvictionRecord& record) {
        return s.writer->post_event(record);
      };
      ports.evict = [&s](const kube::EvictionRecord& record, int64_t grace) {
        return s.writer->evict(record.namespace_name, record.name, grace);
      };
    }
    if (config.node_conditions && !config.dry_run)
      s.conditions = std::make_unique<ConditionPublisher>(*s.api_writes, config.node_name);
  }

  if (s.api_evictions())
    log::info("soft evictions go through the Eviction API, which respects PodDisruptionBudgets");
  ExecutorOptions executor_options;
  executor_options.dry_run = config.dry_run;
  executor_options.on_step = [&s](const ledger::EvictionState& eviction,
                                  const ledger::Record& step) {
    const bool finished = step.step == ledger::Step::kDone || step.step == ledger::Step::kFailed;
    // The runtime's list changed: the status API (and the next round) should not show the pod.
    if (step.step == ledger::Step::kStopped || finished)
      s.runtime->refresh_soon();
    auto event = pod_event(step.step == ledger::Step::kDecided ? status::EventType::kEvictionDecided
                           : finished ? status::EventType::kEvictionFinished
                                      : status::EventType::kEvictionStep,
                           eviction.decision);
    event.step = std::string(ledger::step_name(step.step));
    event.detail = step.step == ledger::Step::kDecided ? eviction.decision.message : step.detail;
    s.events.publish(std::move(event));
  };
  s.executor = std::make_unique<Executor>(s.ledger.get(), std::move(ports), s.metrics.get(),
                                          std::move(executor_options));
  s.runtime = std::make_unique<RuntimeCache>(
      *s.cri, std::max<Nanos>(config.monitoring_interval, kIdleRuntimeRefreshEvery),
      s.metrics.get(), [&s](Nanos now) {
        std::lock_guard lock(s.reclaimer_mutex);
        s.reclaimer->observe(now);
      });
  s.runtime->start();
  if (s.api_reads) {
    s.api_cache = std::make_unique<ApiCache>(*s.api_reads, config.node_name, s.metrics.get(),
                                             [&s] { s.executor->nudge(); });
    s.api_cache->start();
  }
  if (s.conditions)
    s.conditions->start();
  s.executor->start();

  auto info = std::make_shared<status::DaemonInfo>();
  info->node_name = config.node_name;
  info->mode = config.dry_run ? status::Mode::kDryRun
               : s.api_reads  ? status::Mode::kNormal
                              : status::Mode::kStandalone;
  info->version = EVICTD_VERSION;
  info->epoch = random_epoch();
  info->started_at = std::chrono::system_clock::now();
  info->cgroup_version = std::string(cgroups::cgroup_version_name(s.layout.version));
  info->cgroup_driver =
      config.cgroup_driver == cgroups::CgroupDriver::kSystemd ? "systemd" : "cgroupfs";
  info->kubepods = config.kubepods;
  info->runtime_endpoint = config.container_runtime_endpoint;
  info->api_server = s.api_reads ? s.api_reads->server() : "";
  info->polling_interval = config.monitoring_interval;
  info->filesystems = s.filesystems;
  s.info = std::move(info);
  s.thresholds = std::make_shared<const std::vector<Threshold>>(s.evaluator->thresholds());
  s.notifications = std::make_shared<const std::vector<std::string>>(s.notifier->describe());
  s.notification_errors = std::make_shared<const std::vector<std::string>>(s.watch->errors());
  s.runtime_state.since = s.api_state.since = s.info->started_at;
  if (!config.status_socket.empty() || !config.status_address.empty()) {
    s.status_service = std::make_unique<status::StatusService>(
        s.snapshots,
        [&s] {
          std::vector<status::EvictionView> out;
          for (auto& progress : s.executor->history())
            out.push_back({std::move(progress.state), progress.in_flight, progress.pending_writes});
          return out;
        },
        s.events);
    auto server =
        status::StatusServer::start(status::ServerConfig{.socket_path = config.status_socket,
                                                         .socket_group = config.status_socket_group,
                                                         .tcp_address = config.status_address},
                                    *s.status_service, s.events);
    if (!server)
      return server.error();
    s.status_server = std::move(server).value();
  }

  log::info("evictd " EVICTD_VERSION " started",
            {{"node", config.node_name},
             {"mode", std::string(status::mode_name(s.info->mode))},
             {"cgroups", s.info->cgroup_version},
             {"thresholds", std::to_string(s.evaluator->thresholds().size())},
             {"metrics", config.metrics_address},
             {"status", config.status_socket}});
  return {};
}

int Agent::run() {
  auto& s = *state_;
  bool ready = false;
  Nanos last_full{0};
  // A pod that starts causing pressure is read in that round anyway (a threshold is met); the
  // listing every 10 s keeps the runtime's list current on an idle node.
  Nanos last_membership_check{0};
  auto last_housekeeping = SteadyClock::now();
  auto last_status = SteadyClock::now() - std::chrono::hours(1);
  const auto wait_bound = s.systemd.watchdog_interval()
                              ? std::optional<Nanos>(*s.systemd.watchdog_interval())
                              : std::nullopt;

  bool sample_again = false;  // usage passed a memcg threshold point while it was being armed
  while (!s.stop_requested) {
    const auto wake =
        sample_again ? cgroups::Wake{cgroups::WakeCause::kMemoryThreshold, "passed while armed",
                                     cgroups::PressureNotifier::monotonic_now()}
                     : s.notifier->wait(wait_bound);
    sample_again = false;
    s.systemd.watchdog();
    if (s.stop_requested)
      break;
    if (s.reload_requested.exchange(false)) {
      auto fresh = config::load_config(s.config_path);
      if (!fresh) {
        log::error("reload refused, keeping the running configuration: " + fresh.error().message);
      } else {
        s.systemd.reloading("reloading " + s.config_path);
        if (config::describe(*fresh) != config::describe(s.config)) {
          s.evaluator = std::make_unique<Evaluator>(fresh->eviction, s.filesystems);
          s.thresholds = std::make_shared<const std::vector<Threshold>>(s.evaluator->thresholds());
          log::set_level(log_level(fresh->log_level));
          for (const auto& [what, before, after] :
               {std::tuple{"containerRuntimeEndpoint", s.config.container_runtime_endpoint,
                           fresh->container_runtime_endpoint},
                std::tuple{"metricsAddress", s.config.metrics_address, fresh->metrics_address},
                std::tuple{"stateDirectory", s.config.state_directory, fresh->state_directory},
                std::tuple{"kubeconfig", s.config.kubeconfig, fresh->kubeconfig}}) {
            if (before != after)
              log::warning(std::string(what) + " changed; it takes effect at the next restart");
          }
          if (fresh->dry_run != s.config.dry_run ||
              fresh->monitoring_interval != s.config.monitoring_interval)
            log::warning("dryRun and monitoringInterval take effect at the next restart");
          s.config.eviction = fresh->eviction;
          s.config.soft_eviction_mode = fresh->soft_eviction_mode;
          s.config.log_level = fresh->log_level;
          s.config.evicted_pod_retention = fresh->evicted_pod_retention;
        }
        log::info("configuration reloaded", {{"path", s.config_path}});
        s.systemd.status("running");
      }
    }

    const Nanos now = cgroups::PressureNotifier::monotonic_now();
    // Idle rounds read the node's signals only; the pods are read when a threshold is met (in the
    // same round, before deciding) and every 10 s with containers, CPU and PSI.
    const bool pressure = !s.last_conditions.empty() || !s.last_crossed.empty();
    // A kernel notification usually means a threshold is met: the pods are read in the same pass
    // as the node rather than after a node-only one (which read the node twice, 0.1-0.2 ms).
    const bool notified = wake.cause == cgroups::WakeCause::kMemoryThreshold ||
                          wake.cause == cgroups::WakeCause::kPsi ||
                          wake.cause == cgroups::WakeCause::kMemoryEvents;
    auto depth = (now - last_full >= (pressure ? kFullSampleEvery : kIdleFullSampleEvery))
                     ? cgroups::SampleDepth::kFull
                 : notified ? cgroups::SampleDepth::kDecision
                            : cgroups::SampleDepth::kNode;
    if (depth == cgroups::SampleDepth::kFull)
      last_full = now;
    const cgroups::NodeSample* sampled = &s.sampler->sample(now, depth);
    const bool threshold_met = s.evaluator->needs_pod_stats(sampled->observations);
    // Pod cgroups come and go: each round compares the tier directories' link counts (three
    // fstat calls); every 10 s they are listed.
    if (depth == cgroups::SampleDepth::kNode &&
        (threshold_met || wake.cause == cgroups::WakeCause::kPodsChanged ||
         s.sampler->subdirectories_changed() ||
         (now - last_membership_check >= kFullSampleEvery && s.sampler->pods_changed()))) {
      depth = cgroups::SampleDepth::kDecision;
      sampled = &s.sampler->sample(now, depth);
    }
    const cgroups::NodeSample& sample = *sampled;
    const Nanos sampled_at = cgroups::PressureNotifier::monotonic_now();
    if (depth != cgroups::SampleDepth::kNode || now - last_membership_check >= kFullSampleEvery)
      last_membership_check = now;
    const bool pods_read = depth != cgroups::SampleDepth::kNode;
    s.metrics->sample_finished(std::chrono::duration<double>(sample.duration).count());
    // Copied: node-level reclaim samples again while the evaluator still reads these.
    const Observations observations = sample.observations;

    const bool disk_met = disk_threshold_met(*s.evaluator, sample.observations);
    if (disk_met && s.runtime->age(now) > kRuntimeRefreshEvery)
      s.runtime->refresh_now_with_stats();  // disk stats as fresh as the kubelet's
    auto runtime = s.runtime->snapshot();
    Nanos listed_for{0};  // a runtime listing in the loop, for the eviction's log line
    // When the cgroups and the runtime's list disagree (a pod starting or gone), the list is
    // refreshed beside the loop; under pressure it is refreshed at once in the loop (the listing
    // only), since a pod that just started may be the one causing the pressure.
    if (pods_read) {
      std::set<std::string_view> in_runtime;
      for (const auto& pod : runtime->pods)
        in_runtime.insert(pod.uid);
      std::set<std::string_view> in_cgroups;
      for (const auto& pod : sample.pods)
        in_cgroups.insert(pod.uid);
      std::vector<std::string_view> views;
      std::set_symmetric_difference(in_runtime.begin(), in_runtime.end(), in_cgroups.begin(),
                                    in_cgroups.end(), std::back_inserter(views));
      std::vector<std::string> differ(views.begin(), views.end());
      // Pods with a cgroup but no sandbox listed, and since when: a starting pod is listed within
      // a second or so; one still missing after 10 s is a leftover cgroup (a pod the kubelet has
      // not cleaned up yet), not worth a listing in the loop.
      std::map<std::string, Nanos> unlisted;
      std::set<std::string> listed;
      bool starting = false;
      for (const auto& pod : sample.pods) {
        if (in_runtime.contains(pod.uid) || s.listed.contains(pod.uid)) {
          listed.insert(
              pod.uid);  // listed once: a pod that went (its cgroup lingers), not one starting
          continue;
        }
        const auto seen = s.unlisted_since.find(pod.uid);
        const Nanos since = seen != s.unlisted_since.end() ? seen->second : now;
        unlisted.emplace(pod.uid, since);
        starting |= now - since < kStartingPodFor;
      }
      s.unlisted_since = std::move(unlisted);
      s.listed = std::move(listed);
      if (!differ.empty()) {
        if (threshold_met && starting && s.runtime->age(now) > std::chrono::milliseconds(100)) {
          const Nanos list_start = cgroups::PressureNotifier::monotonic_now();
          s.runtime->refresh_now();
          runtime = s.runtime->snapshot();
          listed_for = cgroups::PressureNotifier::monotonic_now() - list_start;
        } else if (differ != s.last_unknown) {
          // A starting pod's sandbox shows up some 100-300 ms after its cgroup: the runtime's list
          // is refreshed beside the loop until it has them (for at most 10 s: a leftover cgroup is
          // left to the regular refresh).
          std::vector<std::string> missing;
          for (const auto& pod : sample.pods) {
            if (!in_runtime.contains(pod.uid))
              missing.push_back(pod.uid);
          }
          if (missing.empty())
            s.runtime->refresh_soon();  // a pod went
          else
            s.runtime->expect(std::move(missing));
        }
      }
      s.last_unknown = std::move(differ);
    }
    // The view is rebuilt when the pods were read or the runtime's list changed; otherwise the
    // last one stands (its usage is only read when a threshold is met, and then it is fresh).
    const bool new_runtime_list = runtime != s.view_runtime;
    if (pods_read || new_runtime_list || !s.view) {
      SpecLookup specs;
      if (s.api_cache)
        specs = [&s](const std::string& uid) { return s.api_cache->find(uid); };
      s.view = std::make_shared<const PodView>(build_pod_view(sample, *runtime, specs, s.limits));
      s.view_runtime = runtime;
      s.view_at = std::chrono::system_clock::now();
      s.local_storage_limits = has_local_storage_limits(*s.view);
    }
    s.runtime->set_interval(disk_met || s.local_storage_limits ? kRuntimeRefreshEvery
                                                               : kIdleRuntimeRefreshEvery);
    const PodView& view = *s.view;

    // Pods whose disruption budget just refused an eviction through the API are passed over by
    // soft thresholds for a while (the view is shared, so they are marked on a copy).
    std::span<const ActivePod> active = view.active;
    std::vector<ActivePod> marked;
    if (s.api_evictions()) {
      if (const auto refused = s.executor->refused_pods(); !refused.empty()) {
        marked = view.active;
        for (auto& pod : marked) {
          pod.soft_eviction_refused =
              std::find(refused.begin(), refused.end(), pod.pod->uid) != refused.end();
        }
        active = marked;
      }
    }
    const Nanos viewed_at = cgroups::PressureNotifier::monotonic_now();
    RuntimeReclaimPort reclaim(s.reclaimer_mutex, *s.reclaimer, *s.sampler, now);
    const Decision decision = s.evaluator->synchronize(observations, active, now, &reclaim);
    const auto decided = cgroups::PressureNotifier::monotonic_now();

    s.metrics->observe_signals(observations, s.evaluator->thresholds());
    bool memory = false;
    bool disk = false;
    bool pid = false;
    for (auto condition : decision.conditions) {
      memory |= condition == NodeCondition::kMemoryPressure;
      disk |= condition == NodeCondition::kDiskPressure;
      pid |= condition == NodeCondition::kPIDPressure;
    }
    s.metrics->node_conditions(memory, disk, pid);
    if (s.conditions)
      s.conditions->publish(memory, disk, pid);
    if (decision.conditions != s.last_conditions) {
      const auto wall_now = std::chrono::system_clock::now();
      for (auto condition : decision.conditions) {
        if (!s.condition_since.contains(condition)) {
          s.condition_since[condition] = wall_now;
          status::Event event;
          event.type = status::EventType::kPressureBegun;
          event.condition = std::string(condition_name(condition));
          s.events.publish(std::move(event));
        }
      }
      for (auto it = s.condition_since.begin(); it != s.condition_since.end();) {
        if (std::find(decision.conditions.begin(), decision.conditions.end(), it->first) !=
            decision.conditions.end()) {
          ++it;
          continue;
        }
        status::Event event;
        event.type = status::EventType::kPressureEnded;
        event.condition = std::string(condition_name(it->first));
        s.events.publish(std::move(event));
        it = s.condition_since.erase(it);
      }
      std::string names;
      for (auto condition : decision.conditions)
        names += (names.empty() ? "" : ",") + std::string(condition_name(condition));
      log::info(names.empty() ? "node pressure ended" : "node pressure: " + names,
                {{"conditions", names}});
      s.last_conditions = decision.conditions;
    }
    std::vector<std::string> crossed;
    for (const auto& state : decision.crossed) {
      crossed.push_back(std::string(signal_name(state.threshold.signal)) + "<" +
                        state.threshold.value.text() +
                        (state.threshold.hard() ? "(hard)" : "(soft)"));
    }
    if (crossed != s.last_crossed) {
      for (size_t i = 0; i < crossed.size(); ++i) {
        if (std::find(s.last_crossed.begin(), s.last_crossed.end(), crossed[i]) !=
            s.last_crossed.end())
          continue;
        log::info("threshold met: " + crossed[i],
                  {{"cause", std::string(wake_cause_name(wake.cause))}});
        status::Event event;
        event.type = status::EventType::kThresholdMet;
        event.signal = std::string(signal_name(decision.crossed[i].threshold.signal));
        const auto& state = decision.crossed[i];
        event.detail = crossed[i] + ", available " +
                       Quantity::from_int(state.observation.available,
                                          observation_format(state.threshold.signal))
                           .to_string() +
                       " (woken by " + std::string(wake_cause_name(wake.cause)) + ")";
        s.events.publish(std::move(event));
      }
      for (const auto& line : s.last_crossed) {
        if (std::find(crossed.begin(), crossed.end(), line) != crossed.end())
          continue;
        status::Event event;
        event.type = status::EventType::kThresholdCleared;
        event.signal = line.substr(0, line.find('<'));
        event.detail = line;
        s.events.publish(std::move(event));
      }
      s.last_crossed = crossed;
    }
    for (const auto& note : decision.notes)
      log::debug(note);

    if (!decision.evictions.empty()) {
      const auto& eviction = decision.evictions.front();
      const auto& entry = view.entries[eviction.pod_index];
      const auto& runtime_pod = runtime->pods[entry.runtime_index];
      const std::string signal = eviction.signal ? std::string(signal_name(*eviction.signal))
                                                 : std::string(eviction_cause_name(eviction.cause));
      if (is_critical_pod(entry.pod)) {
        // The evaluator never chooses one; this guard keeps it so whatever changes there.
        log::error("refusing to evict a critical pod", {{"pod", entry.pod.name}});
      } else if (s.executor->busy()) {
        if (s.last_waiting != entry.pod.uid)
          log::info("next eviction waits for the previous pod to be gone",
                    {{"pod", entry.pod.name}, {"namespace", entry.pod.namespace_name}});
        s.last_waiting = entry.pod.uid;
      } else {
        s.last_waiting.clear();
        const int64_t unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
        ledger::Record record;
        record.eviction_id = runtime_pod.uid + "-" + std::to_string(unix_ms);
        record.step = ledger::Step::kDecided;
        record.time_unix_ms = unix_ms;
        record.namespace_name = entry.pod.namespace_name;
        record.pod_name = entry.pod.name;
        record.pod_uid = entry.pod.uid;
        record.pod_generation = entry.pod.generation;
        record.signal = signal;
        record.message = eviction.message;
        record.annotations = eviction.annotations;
        record.grace_period_seconds = eviction.grace_period_seconds;
        record.hard = decision.to_reclaim && decision.to_reclaim->threshold.hard() &&
                      eviction.cause == EvictionCause::kThreshold;
        record.disruption_target = eviction.disruption_target;
        record.eviction_api =
            s.api_evictions() && !record.hard && eviction.cause == EvictionCause::kThreshold;
        record.node_name = s.config.node_name;
        if (!entry.cgroup.empty()) {
          std::lock_guard lock(s.cgroups_mutex);
          s.evicted_cgroups[entry.pod.uid] = s.layout.memory_hierarchy() + "/" + entry.cgroup;
        }
        double stats_age = -1;
        if (decision.to_reclaim && decision.to_reclaim->observation.time)
          stats_age =
              std::chrono::duration<double>(now - *decision.to_reclaim->observation.time).count();
        const double latency = std::chrono::duration<double>(decided - wake.at).count();
        log::warning("evicting pod " + entry.pod.namespace_name + "/" + entry.pod.name + ": " +
                         eviction.message,
                     {{"pod", entry.pod.name},
                      {"namespace", entry.pod.namespace_name},
                      {"uid", entry.pod.uid},
                      {"signal", signal},
                      {"grace_seconds", std::to_string(eviction.grace_period_seconds)},
                      {"spec", entry.spec_source == SpecSource::kApiServer ? "api" : "node"},
                      {"wake", std::string(wake_cause_name(wake.cause))},
                      {"wake_source", wake.source},
                      {"detection_ms", milliseconds_text(decided - wake.at)},
                      // Where the detection time went: reading the cgroups, listing the
                      // runtime's pods in the loop (a pod that just started), joining, deciding.
                      {"sample_ms", milliseconds_text(sampled_at - wake.at)},
                      {"runtime_list_ms", milliseconds_text(listed_for)},
                      {"view_ms", milliseconds_text(viewed_at - sampled_at - listed_for)},
                      {"decide_ms", milliseconds_text(decided - viewed_at)},
                      {"dry_run", s.config.dry_run ? "true" : "false"}});
        s.metrics->eviction_decided(signal, stats_age, latency);
        // Through the Eviction API the pod is deleted, not left Failed/Evicted: kube-state-metrics
        // would not report it, and neither does evictd.
        if (!s.config.dry_run && !record.eviction_api) {
          s.metrics->pod_evicted(entry.pod.namespace_name, entry.pod.name, entry.pod.uid,
                                 eviction.disruption_target, std::chrono::system_clock::now());
        }
        if (decision.to_reclaim && eviction.cause == EvictionCause::kThreshold) {
          const auto& acted = *decision.to_reclaim;
          record.observed = Quantity::from_int(acted.observation.available,
                                               observation_format(acted.threshold.signal))
                                .to_string();
          record.threshold = acted.threshold.value.text() + " (" + acted.quantity.to_string() + ")";
        }
        ++s.evictions_decided;
        s.executor->submit(EvictionOrder{std::move(record), SteadyClock::now()});
      }
    }
    // The memcg thresholds are armed for the next crossing only once this round's eviction is on
    // its way: re-registering one waits for an RCU grace period in the kernel (0.1-5 ms here),
    // which before the decision was most of its time. The sample is the round's last (node-level
    // reclaim may have sampled again).
    if (s.config.pressure_notifications && s.watch->rearm(sample, s.evaluator->thresholds())) {
      log::debug("memory usage passed a threshold point while it was being armed; sampling again");
      sample_again = true;
    }

    publish_status(s, sample, observations, decision, now);
    const auto steady_now = SteadyClock::now();
    if (!ready) {
      s.systemd.ready("watching " + std::to_string(view.entries.size()) + " pods");
      if (s.status_server)
        s.status_server->set_serving(true);
      ready = true;
    }
    if (steady_now - last_status >= std::chrono::seconds(10)) {
      std::string summary = std::to_string(view.entries.size()) + " pods";
      if (const auto& memory_signal = observations.get(Signal::kMemoryAvailable))
        summary += ", memory.available " + human_bytes(memory_signal->available);
      summary += decision.conditions.empty() ? ", no pressure" : ", under pressure";
      summary += ", " + std::to_string(s.metrics->evicted_pods()) + " evicted";
      s.systemd.status(summary);
      last_status = steady_now;
    }
    if (steady_now - last_housekeeping >= kHousekeepingEvery) {
      std::function<bool(const std::string&)> exists;
      if (s.api_cache)
        exists = [&s](const std::string& uid) { return s.api_cache->find(uid).has_value(); };
      s.metrics->expire(std::chrono::system_clock::now(), s.config.evicted_pod_retention, exists);
      last_housekeeping = steady_now;
    }
  }
  s.systemd.stopping();
  if (s.status_server)
    s.status_server->set_serving(false);
  log::info("evictd stopping");
  return 0;
}

}  // namespace evictd::agent
