// The production ports: the node's real parts — cgroups, the kernel's notifications, the CRI
// runtime, the API server, systemd — behind the agent's and the executor's interfaces
// (daemon/agent/ports.h). Each adapter is thin: the work is in the part it wraps.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "cgroups/notifier.h"
#include "cgroups/pod_tasks.h"
#include "cgroups/pressure_watch.h"
#include "cgroups/sampler.h"
#include "daemon/agent/ports.h"
#include "daemon/cri/runtime_pods.h"
#include "daemon/kube/eviction_writer.h"
#include "daemon/status/server.h"
#include "systemd/notify.h"

namespace evictd::node {

class CgroupNodeSampler final : public agent::NodeSampler {
 public:
  CgroupNodeSampler(cgroups::CgroupLayout layout, cgroups::SamplerConfig config)
      : sampler_(std::move(layout), std::move(config)) {}
  const cgroups::NodeSample& sample(Nanos now, cgroups::SampleDepth depth) override {
    return sampler_.sample(now, depth);
  }
  Observations observe_node(Nanos now) override { return sampler_.observe_node(now); }
  bool subdirectories_changed() override { return sampler_.subdirectories_changed(); }
  bool pods_changed() override { return sampler_.pods_changed(); }
  void restart_pressure_window() override { sampler_.restart_pressure_window(); }
  const cgroups::Sampler& sampler() const { return sampler_; }

 private:
  cgroups::Sampler sampler_;
};

// The epoll loop and what is armed on it: memcg thresholds, PSI triggers, memory.events, pod
// directories (cgroups::PressureWatch), or the poll timer alone when notifications are off.
class KernelPressure final : public agent::PressureSource {
 public:
  static Result<std::unique_ptr<KernelPressure>> create(Nanos poll_interval,
                                                        const cgroups::Sampler& sampler,
                                                        bool notifications);
  cgroups::Wake wait(std::optional<Nanos> timeout) override { return notifier_->wait(timeout); }
  void interrupt() override { notifier_->interrupt(); }
  bool rearm(const cgroups::NodeSample& sample, const std::vector<Threshold>& thresholds) override {
    return watch_.rearm(sample, thresholds);
  }
  bool hard_memory_crossings_notified() const override {
    return watch_.hard_memory_crossings_notified();
  }
  std::vector<std::string> describe() const override { return notifier_->describe(); }
  std::vector<std::string> errors() const override { return watch_.errors(); }

 private:
  KernelPressure(std::unique_ptr<cgroups::PressureNotifier> notifier,
                 const cgroups::Sampler& sampler)
      : notifier_(std::move(notifier)), watch_(*notifier_, sampler) {}
  std::unique_ptr<cgroups::PressureNotifier> notifier_;
  cgroups::PressureWatch watch_;
};

// Image and container garbage collection for node-level reclaim; the runtime's refreshes tell it
// when each image was first seen unused, from their own thread.
class CriReclaimer final : public agent::ResourceReclaimer {
 public:
  explicit CriReclaimer(cri::NodeResourceReclaimer& reclaimer) : reclaimer_(reclaimer) {}
  cri::ReclaimReport reclaim(ReclaimAction action, Nanos now) override;
  void observe(Nanos now);

 private:
  std::mutex mutex_;
  cri::NodeResourceReclaimer& reclaimer_;
};

// The runtime as the executor acts on a pod: a fresh listing (never the loop's cache), the
// stopper, and the pod's cgroup for processes left behind.
class CriPodRuntime final : public agent::PodRuntime {
 public:
  CriPodRuntime(cri::CriClient& client, cri::PodStopper& stopper, cgroups::CgroupLayout layout)
      : client_(client), stopper_(stopper), layout_(std::move(layout)), tasks_(layout_) {}
  Result<std::optional<cri::RuntimePod>> find_pod(const std::string& uid) override;
  cri::StopReport stop(const cri::RuntimePod& pod, int64_t grace_seconds, bool hard) override {
    return stopper_.stop(pod, grace_seconds, hard);
  }
  cri::StopReport stop_containers(const cri::RuntimePod& pod, int64_t grace_seconds, bool hard,
                                  const std::string& cgroup) override;
  cri::StopReport stop_sandbox(const cri::RuntimePod& pod) override {
    return stopper_.stop_sandbox(pod);
  }
  Result<void> freeze(const std::string& cgroup) override { return tasks_.freeze(cgroup); }
  Result<void> thaw(const std::string& cgroup) override { return tasks_.thaw(cgroup); }
  Result<int> kill(const std::string& cgroup) override { return tasks_.kill(cgroup); }
  bool pod_gone(const std::string& uid, const std::string& cgroup) override;

 private:
  cri::CriClient& client_;
  cri::PodStopper& stopper_;
  cgroups::CgroupLayout layout_;
  cgroups::PodTasks tasks_;
};

class KubeEvictionApi final : public agent::EvictionApi {
 public:
  explicit KubeEvictionApi(kube::EvictionWriter& writer) : writer_(writer) {}
  Result<void> patch_status(const kube::EvictionRecord& record) override {
    return writer_.patch_status(record);
  }
  Result<void> post_event(const kube::EvictionRecord& record) override {
    return writer_.post_event(record);
  }
  Result<void> delete_pod(const kube::EvictionRecord& record, int64_t grace_seconds) override {
    return writer_.delete_pod(record, grace_seconds);
  }
  Result<kube::ApiEvictionOutcome> evict(const kube::EvictionRecord& record,
                                         int64_t grace_seconds) override {
    return writer_.evict(record.namespace_name, record.name, grace_seconds);
  }

 private:
  kube::EvictionWriter& writer_;
};

// systemd's notify protocol, and the status API's health following the loop.
class ServiceLifecycle final : public agent::Lifecycle {
 public:
  void serve_health(status::StatusServer* server) { status_server_ = server; }
  std::optional<Nanos> watchdog_interval() const override;
  void ready(const std::string& status) override;
  void status(const std::string& status) override { notifier_.status(status); }
  void watchdog() override { notifier_.watchdog(); }
  void reloading(const std::string& status) override { notifier_.reloading(status); }
  void stopping() override;

 private:
  systemd::Notifier notifier_;
  status::StatusServer* status_server_ = nullptr;
};

class FileConfigSource final : public agent::ConfigSource {
 public:
  explicit FileConfigSource(std::string path) : path_(std::move(path)) {}
  Result<config::Config> load() override { return config::load_config(path_); }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
};

}  // namespace evictd::node
