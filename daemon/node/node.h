// The composition root of `evictd run`: everything a running evictd owns, built from the
// configuration in the order each part needs the others — the cgroup layout, metrics, the ledger,
// the runtime, sampling and notifications, the API server, the executor, the caches, the status
// API — and the agent given them as its ports. Everything that can fail at start-up fails here,
// with a clear message, before the loop runs.
#pragma once

#include <memory>
#include <string>

#include "daemon/agent/agent.h"
#include "daemon/agent/api_cache.h"
#include "daemon/agent/condition_publisher.h"
#include "daemon/agent/executor.h"
#include "daemon/agent/runtime_cache.h"
#include "daemon/agent/system_clock.h"
#include "daemon/config/config.h"
#include "daemon/kube/api_client.h"
#include "daemon/ledger/ledger.h"
#include "daemon/metrics/metrics.h"
#include "daemon/node/adapters.h"
#include "daemon/node/instance_lock.h"
#include "daemon/node/residency.h"
#include "daemon/status/event_hub.h"
#include "daemon/status/server.h"
#include "daemon/status/service.h"

namespace evictd::node {

class Node {
 public:
  static Result<std::unique_ptr<Node>> start(config::Config config, std::string config_path);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The agent's loop, until stop(); the process exit code.
  int run() { return agent_->run(); }
  void stop() { agent_->stop(); }
  void reload() { agent_->reload(); }

 private:
  Node(config::Config config, std::string config_path);
  void stay_resident();
  static std::optional<cgroups::NodeMemory> node_memory();
  std::vector<std::string> sampling_warnings() const;
  Result<void> lock_instance();
  Result<void> detect_cgroups();
  Result<void> open_metrics();
  Result<void> open_ledger();
  void connect_runtime();
  Result<void> start_sampling();
  Result<void> connect_api_server();
  void start_executor();
  void start_caches();
  Result<void> start_status_api();
  void build_agent();
  void log_started() const;

  // Held first and released last: the evictd of this node (none in dry-run, which acts on nothing
  // and keeps no ledger).
  std::optional<InstanceLock> lock_;
  Residency residency_;
  config::Config config_;
  FileConfigSource config_source_;
  agent::SystemClock clock_;
  ServiceLifecycle lifecycle_;
  cgroups::CgroupLayout layout_;
  FilesystemLayout filesystems_ = FilesystemLayout::kShared;
  cgroups::SamplerConfig sampler_config_;
  std::unique_ptr<metrics::Metrics> metrics_;
  std::unique_ptr<ledger::Ledger> ledger_;  // null in dry-run
  std::unique_ptr<cri::CriClient> cri_;
  std::unique_ptr<cri::PodStopper> stopper_;
  std::unique_ptr<cri::NodeResourceReclaimer> image_gc_;
  std::unique_ptr<CriReclaimer> reclaimer_;
  std::unique_ptr<CriPodRuntime> pod_runtime_;
  std::unique_ptr<CgroupNodeSampler> sampler_;
  std::unique_ptr<KernelPressure> pressure_;
  std::unique_ptr<kube::ApiClient> api_writes_;  // null without an API server
  std::unique_ptr<kube::ApiClient> api_reads_;
  std::unique_ptr<kube::EvictionWriter> writer_;
  std::unique_ptr<KubeEvictionApi> eviction_api_;  // null without an API server, and in dry-run
  std::unique_ptr<agent::ConditionPublisher> conditions_;
  std::unique_ptr<agent::Executor> executor_;
  std::unique_ptr<agent::RuntimeCache> runtime_;
  std::unique_ptr<agent::ApiCache> api_cache_;
  status::SnapshotBox snapshots_;
  status::EventHub events_;
  std::shared_ptr<const status::DaemonInfo> info_;
  std::unique_ptr<status::StatusService> status_service_;
  std::unique_ptr<status::StatusServer> status_server_;
  std::unique_ptr<agent::Agent> agent_;
};

}  // namespace evictd::node
