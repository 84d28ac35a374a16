#include "daemon/node/node.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "cgroups/memory_limit.h"
#include "daemon/files/text_file.h"
#include "daemon/kube/kubeconfig.h"
#include "daemon/log/log.h"
#include "evictd_version.h"

namespace evictd::node {
namespace {

// The mount table of a node with many pods runs to tens of thousands of lines.
constexpr size_t kMaxMountinfoBytes = 64 << 20;

std::string random_epoch() {
  std::random_device device;
  char text[17];
  std::snprintf(text, sizeof(text), "%08x%08x", device(), device());
  return text;
}

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

}  // namespace

Result<std::unique_ptr<Node>> Node::start(config::Config config, std::string config_path) {
  log::init(agent::log_level(config.log_level));
  auto node = std::unique_ptr<Node>(new Node(std::move(config), std::move(config_path)));
  node->stay_resident();
  for (auto step :
       {&Node::lock_instance, &Node::detect_cgroups, &Node::open_metrics, &Node::open_ledger}) {
    if (auto done = (node.get()->*step)(); !done)
      return done.error();
  }
  node->connect_runtime();
  for (auto step : {&Node::start_sampling, &Node::connect_api_server}) {
    if (auto done = (node.get()->*step)(); !done)
      return done.error();
  }
  node->start_executor();
  node->start_caches();
  if (auto done = node->start_status_api(); !done)
    return done.error();
  node->build_agent();
  node->log_started();
  return node;
}

Node::Node(config::Config config, std::string config_path)
    : config_(std::move(config)), config_source_(std::move(config_path)) {}

// The threads stop before the parts they use go: the status API first (no query waits on a
// stopping part), the API server's streams, the caches, the executor, the condition writer.
Node::~Node() {
  if (status_server_)
    status_server_->stop();
  if (api_reads_)
    api_reads_->cancel();
  // A status write retrying against a failing API server must not hold the executor's stop: it
  // gives up at once and waits in the ledger for the next start.
  if (api_writes_)
    api_writes_->cancel();
  if (api_cache_)
    api_cache_->stop();
  if (runtime_)
    runtime_->stop();
  if (executor_)
    executor_->stop();
  if (conditions_)
    conditions_->stop();
}

std::vector<std::string> Node::sampling_warnings() const {
  std::vector<std::string> warnings;
  if (sampler_config_.memory_pressure_window && !sampler_->sampler().observes_memory_pressure()) {
    warnings.push_back(
        "memory.pressure thresholds are never met: the kubepods cgroup has no memory.pressure "
        "file (PSI needs cgroup v2, or the unified tree on a hybrid host, and a kernel with PSI "
        "on; boot with psi=1 where it is off by default)");
  }
  return warnings;
}

std::optional<cgroups::NodeMemory> Node::node_memory() {
  auto memory = cgroups::read_node_memory();
  if (!memory) {
    log::warning("cannot check memory thresholds against the kernel's watermarks: " +
                 memory.error().message);
    return std::nullopt;
  }
  return *memory;
}

// First, before any thread is started (docs/daemon.md, "When the node is at its worst").
void Node::stay_resident() {
  residency_ = keep_resident();
  if (residency_.locked)
    log::info(residency_.detail);
  else
    log::warning(residency_.detail);
}

// Before anything that a second evictd would share: the ledger, the ports, the status socket.
Result<void> Node::lock_instance() {
  if (config_.dry_run)
    return {};
  auto lock = InstanceLock::acquire(config_.state_directory);
  if (!lock)
    return lock.error();
  lock_.emplace(std::move(lock).value());
  return {};
}

Result<void> Node::detect_cgroups() {
  auto mountinfo = files::read_text_file("/proc/self/mountinfo", kMaxMountinfoBytes);
  if (!mountinfo)
    return make_error("cgroups: " + mountinfo.error().message);
  auto layout = cgroups::detect_layout(cgroups::parse_mountinfo(*mountinfo));
  if (!layout)
    return make_error("cgroups: " + layout.error().message);
  layout_ = *layout;
  return {};
}

Result<void> Node::open_metrics() {
  metrics_ = std::make_unique<metrics::Metrics>(EVICTD_VERSION);
  metrics_->memory_locked(residency_.locked ? residency_.locked_bytes : 0);
  return metrics_->serve(config_.metrics_address);
}

// The ledger, replayed; it feeds the metrics after a restart, since pods evicted before it are
// still evicted. Dry-run keeps none: nothing it did may be replayed for real later.
Result<void> Node::open_ledger() {
  if (config_.dry_run)
    return {};
  // The directory exists, its owner's alone: lock_instance() made it so.
  auto ledger = ledger::Ledger::open(config_.state_directory);
  if (!ledger)
    return make_error("stateDirectory " + config_.state_directory + ": " + ledger.error().message);
  ledger_ = std::make_unique<ledger::Ledger>(std::move(ledger).value());
  const auto& replayed = ledger_->replayed();
  if (replayed.torn_tail_dropped)
    log::warning("the ledger's last record was torn (a crash mid-write) and was dropped",
                 {{"path", ledger_->path()}});
  if (replayed.damaged_regions > 0) {
    log::error("the ledger was damaged: " + std::to_string(replayed.damaged_bytes) + " bytes in " +
                   std::to_string(replayed.damaged_regions) +
                   " places were skipped and the records around them kept; the damaged file is "
                   "kept as " +
                   replayed.damaged_copy,
               {{"path", ledger_->path()},
                {"records", std::to_string(replayed.records)},
                {"orphaned_steps", std::to_string(replayed.orphaned_steps)}});
  }
  for (const auto& eviction : replayed.evictions) {
    const auto& d = eviction.decision;
    if (d.eviction_api)
      continue;
    metrics_->pod_evicted(
        d.namespace_name, d.pod_name, d.pod_uid, d.disruption_target,
        std::chrono::system_clock::time_point(std::chrono::milliseconds(d.time_unix_ms)));
  }
  return {};
}

// The runtime may not answer yet (it is restarting, say): the caches keep asking.
void Node::connect_runtime() {
  cri_ = std::make_unique<cri::CriClient>(
      cri::CriConfig{.endpoint = config_.container_runtime_endpoint});
  if (auto version = cri_->version(); version) {
    log::info("container runtime " + version->runtime_name + " " + version->runtime_version,
              {{"endpoint", config_.container_runtime_endpoint}});
  } else {
    log::warning("container runtime not answering yet: " + version.error().message,
                 {{"endpoint", config_.container_runtime_endpoint}});
  }
  if (auto filesystems = cri::discover_filesystems(*cri_, config_.nodefs_path); filesystems) {
    filesystems_ = filesystems->layout;
    if (filesystems->layout != FilesystemLayout::kShared)
      sampler_config_.imagefs_path = filesystems->imagefs_mountpoint;
    if (filesystems->layout == FilesystemLayout::kSplit)
      sampler_config_.containerfs_path = filesystems->containerfs_mountpoint;
  } else {
    log::warning("image filesystem unknown, assuming it shares nodefs: " +
                 filesystems.error().message);
  }
  stopper_ = std::make_unique<cri::PodStopper>(*cri_, config_.dry_run);
  image_gc_ = std::make_unique<cri::NodeResourceReclaimer>(
      *cri_, config_.dry_run, config_.image_minimum_age,
      std::vector<std::string>{config_.pod_sandbox_image});
  reclaimer_ = std::make_unique<CriReclaimer>(*image_gc_);
  pod_runtime_ = std::make_unique<CriPodRuntime>(*cri_, *stopper_, layout_);
}

Result<void> Node::start_sampling() {
  sampler_config_.driver = config_.cgroup_driver;
  sampler_config_.kubepods = config_.kubepods;
  sampler_config_.nodefs_path = config_.nodefs_path;
  // Process counts rank pods for pid.available only; without such a threshold a decision sample
  // reads two files per pod instead of three.
  sampler_config_.decision_processes = std::any_of(
      config_.eviction.thresholds.begin(), config_.eviction.thresholds.end(),
      [](const Threshold& threshold) { return threshold.signal == Signal::kPidAvailable; });
  // memory.pressure costs a read of the kubepods cgroup's memory.pressure each round: only when a
  // threshold needs it (adding one later takes a restart).
  const config::SamplingNeeds needs = config::sampling_needs(config_);
  sampler_config_.memory_pressure_window = needs.memory_pressure_window;
  sampler_config_.memory_pressure_some = needs.memory_pressure_some;
  sampler_config_.swap_signals = needs.swap_signals;
  sampler_ = std::make_unique<CgroupNodeSampler>(layout_, sampler_config_);
  auto pressure = KernelPressure::create(config_.monitoring_interval, sampler_->sampler(),
                                         config_.pressure_notifications);
  if (!pressure)
    return pressure.error();
  pressure_ = std::move(pressure).value();
  return {};
}

// Writes retry briefly and then wait in the ledger; reads have their own client so that a slow
// list never delays a status write.
Result<void> Node::connect_api_server() {
  if (config_.kubeconfig.empty())
    return {};
  auto credentials = config_.kubeconfig == "in-cluster" ? kube::in_cluster_credentials()
                                                        : kube::load_kubeconfig(config_.kubeconfig);
  if (!credentials)
    return make_error("kubeconfig: " + credentials.error().message);
  api_writes_ = std::make_unique<kube::ApiClient>(kube::ApiClientConfig{
      .credentials = *credentials, .timeout = std::chrono::seconds(5), .max_attempts = 3});
  api_reads_ =
      std::make_unique<kube::ApiClient>(kube::ApiClientConfig{.credentials = *credentials});
  writer_ = std::make_unique<kube::EvictionWriter>(*api_writes_);
  if (!config_.dry_run)
    eviction_api_ = std::make_unique<KubeEvictionApi>(*writer_);
  if (config_.node_conditions && !config_.dry_run)
    conditions_ = std::make_unique<agent::ConditionPublisher>(*api_writes_, config_.node_name);
  if (config_.soft_eviction_mode == config::SoftEvictionMode::kApi)
    log::info("soft evictions go through the Eviction API, which respects PodDisruptionBudgets");
  return {};
}

void Node::start_executor() {
  // The executor sees a status land on the cache's watch; the cache lets pending writes go as soon
  // as the API server is back.
  if (api_reads_)
    api_cache_ = std::make_unique<agent::ApiCache>(*api_reads_, config_.node_name, metrics_.get(),
                                                   [this] { executor_->nudge(); });
  agent::ExecutorOptions options;
  options.dry_run = config_.dry_run;
  options.statuses = api_cache_.get();
  options.watch_after =
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.post_eviction_watch);
  options.on_step = [this](const ledger::EvictionState& eviction, const ledger::Record& step) {
    const bool finished = step.step == ledger::Step::kDone || step.step == ledger::Step::kFailed;
    // The runtime's list changed: the status API (and the next round) should not show the pod.
    if ((step.step == ledger::Step::kStopped || finished) && runtime_)
      runtime_->refresh_soon();
    auto event = pod_event(step.step == ledger::Step::kDecided ? status::EventType::kEvictionDecided
                           : finished ? status::EventType::kEvictionFinished
                                      : status::EventType::kEvictionStep,
                           eviction.decision);
    event.step = std::string(ledger::step_name(step.step));
    event.detail = step.step == ledger::Step::kDecided ? eviction.decision.message : step.detail;
    events_.publish(std::move(event));
  };
  executor_ = std::make_unique<agent::Executor>(ledger_.get(), *pod_runtime_, eviction_api_.get(),
                                                metrics_.get(), clock_, std::move(options));
}

// Each cache takes its first list now, so that the first round has pods and specs, then keeps
// refreshing in a thread of its own.
void Node::start_caches() {
  runtime_ = std::make_unique<agent::RuntimeCache>(
      *cri_, std::max<Nanos>(config_.monitoring_interval, agent::kIdleRuntimeRefreshEvery),
      metrics_.get(), clock_, [this](Nanos now) { reclaimer_->observe(now); });
  runtime_->start();
  if (api_cache_)
    api_cache_->start();
  if (conditions_)
    conditions_->start();
  executor_->start();
}

Result<void> Node::start_status_api() {
  auto info = std::make_shared<status::DaemonInfo>();
  info->node_name = config_.node_name;
  info->mode = config_.dry_run ? status::Mode::kDryRun
               : api_reads_    ? status::Mode::kNormal
                               : status::Mode::kStandalone;
  info->version = EVICTD_VERSION;
  info->epoch = random_epoch();
  info->started_at = clock_.wall();
  info->cgroup_version = std::string(cgroups::cgroup_version_name(layout_.version));
  info->cgroup_driver =
      config_.cgroup_driver == cgroups::CgroupDriver::kSystemd ? "systemd" : "cgroupfs";
  // The cgroup as the node shows it: kubepods.slice with the systemd driver.
  info->kubepods = sampler_->sampler().naming().kubepods_dir();
  info->runtime_endpoint = config_.container_runtime_endpoint;
  info->api_server = api_reads_ ? api_reads_->server() : "";
  info->polling_interval = config_.monitoring_interval;
  info->filesystems = filesystems_;
  info_ = std::move(info);
  if (config_.status_socket.empty() && config_.status_address.empty())
    return {};
  status_service_ = std::make_unique<status::StatusService>(
      snapshots_,
      [this] {
        std::vector<status::EvictionView> out;
        for (auto& progress : executor_->history())
          out.push_back({std::move(progress.state), progress.in_flight, progress.pending_writes});
        return out;
      },
      events_);
  auto server =
      status::StatusServer::start(status::ServerConfig{.socket_path = config_.status_socket,
                                                       .socket_group = config_.status_socket_group,
                                                       .tcp_address = config_.status_address},
                                  *status_service_, events_);
  if (!server)
    return server.error();
  status_server_ = std::move(server).value();
  lifecycle_.serve_health(status_server_.get());
  return {};
}

void Node::build_agent() {
  const bool status_api = status_service_ != nullptr;
  agent_ = std::make_unique<agent::Agent>(
      agent::AgentSettings{.config = config_,
                           .filesystems = filesystems_,
                           .node_memory = node_memory(),
                           .sampling_warnings = sampling_warnings(),
                           .info = info_},
      agent::AgentPorts{.clock = clock_,
                        .sampler = *sampler_,
                        .pressure = *pressure_,
                        .runtime = *runtime_,
                        .reclaimer = *reclaimer_,
                        .evictions = *executor_,
                        .lifecycle = lifecycle_,
                        .config_source = config_source_,
                        .metrics = *metrics_,
                        .specs = api_cache_.get(),
                        .conditions = conditions_.get(),
                        .snapshots = status_api ? &snapshots_ : nullptr,
                        .events = status_api ? &events_ : nullptr,
                        .limits = [layout = layout_, driver = config_.cgroup_driver](
                                      const std::string& pod_cgroup, const std::string& container) {
                          return cgroups::container_memory_limit(layout, driver, pod_cgroup,
                                                                 container);
                        }});
}

void Node::log_started() const {
  log::info("evictd " EVICTD_VERSION " started",
            {{"node", config_.node_name},
             {"mode", std::string(status::mode_name(info_->mode))},
             {"cgroups", info_->cgroup_version},
             {"memory_locked", residency_.locked ? "yes" : "no"},
             {"thresholds", std::to_string(agent_->evaluator().thresholds().size())},
             {"metrics", config_.metrics_address},
             {"status", config_.status_socket}});
}

}  // namespace evictd::node
