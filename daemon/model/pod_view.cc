#include "daemon/model/pod_view.h"

#include <unordered_map>

#include "ranking/quantity.h"

namespace evictd::model {
namespace {

QosClass qos_of_tier(cgroups::QosTier tier) {
  switch (tier) {
    case cgroups::QosTier::kGuaranteed:
      return QosClass::kGuaranteed;
    case cgroups::QosTier::kBurstable:
      return QosClass::kBurstable;
    case cgroups::QosTier::kBestEffort:
      return QosClass::kBestEffort;
  }
  return QosClass::kBestEffort;
}

// The runtime reports no swap (CRI's ContainerStats.swap is newer than containerd 1.6): a
// container's swap comes from its cgroup, found by the container's ID.
std::optional<uint64_t> container_swap(const cgroups::PodSample* sample, const std::string& id) {
  if (sample == nullptr)
    return std::nullopt;
  for (const auto& container : sample->containers) {
    if (container.id == id)
      return container.usage.memory.swap_bytes;
  }
  return std::nullopt;
}

PodStats stats_of(const cgroups::PodSample* sample,
                  const std::vector<cri::ContainerRuntimeStats>* runtime_stats) {
  PodStats stats;
  if (sample != nullptr) {
    stats.memory_working_set_bytes = sample->usage.memory.working_set_bytes;
    stats.memory_swap_bytes = sample->usage.memory.swap_bytes;
    stats.process_count = sample->usage.processes;
  }
  if (runtime_stats == nullptr)
    return stats;
  uint64_t ephemeral = 0;
  bool any_disk = false;
  for (const auto& container : *runtime_stats) {
    ContainerStats out;
    out.name = container.name;
    out.memory_working_set_bytes = container.working_set_bytes;
    out.memory_swap_bytes = container_swap(sample, container.id);
    out.rootfs_used_bytes = container.rootfs_used_bytes;
    out.rootfs_inodes_used = container.rootfs_inodes_used;
    if (container.rootfs_used_bytes) {
      ephemeral += *container.rootfs_used_bytes;
      any_disk = true;
    }
    stats.containers.push_back(std::move(out));
  }
  if (any_disk)
    stats.ephemeral_storage_used_bytes = ephemeral;
  return stats;
}

}  // namespace

Pod reconstruct_pod(const cri::RuntimePod& runtime, std::optional<cgroups::QosTier> tier,
                    const std::string& cgroup, const LimitLookup& limits) {
  Pod pod;
  pod.name = runtime.name;
  pod.namespace_name = runtime.namespace_name;
  pod.uid = runtime.uid;
  for (const auto& [key, value] : runtime.annotations)
    pod.annotations.emplace(key, value);
  pod.phase = "Running";
  if (tier)
    pod.status_qos_class = qos_of_tier(*tier);
  for (const auto& runtime_container : runtime.containers) {
    Container container;
    container.name = runtime_container.name;
    if (tier == cgroups::QosTier::kGuaranteed && limits && !cgroup.empty()) {
      if (auto limit = limits(cgroup, runtime_container.id)) {
        const auto quantity = Quantity::from_bytes(static_cast<uint64_t>(*limit));
        container.resources.requests.emplace(std::string(kResourceMemory), quantity);
        container.resources.limits.emplace(std::string(kResourceMemory), quantity);
      }
    }
    pod.containers.push_back(std::move(container));
  }
  return pod;
}

PodView build_pod_view(const cgroups::NodeSample& sample, const RuntimeSnapshot& runtime,
                       const SpecLookup& specs, const LimitLookup& limits) {
  std::unordered_map<std::string_view, const cgroups::PodSample*> samples;
  samples.reserve(sample.pods.size());
  for (const auto& pod : sample.pods)
    samples.emplace(pod.uid, &pod);

  PodView view;
  view.entries.reserve(runtime.pods.size());
  for (size_t i = 0; i < runtime.pods.size(); ++i) {
    const auto& runtime_pod = runtime.pods[i];
    if (runtime_pod.uid.empty())
      continue;  // nothing to join on, so nothing evictd may act on
    PodEntry entry;
    entry.runtime_index = i;
    const auto found = samples.find(runtime_pod.uid);
    const cgroups::PodSample* pod_sample = found != samples.end() ? found->second : nullptr;
    if (pod_sample != nullptr) {
      entry.tier = pod_sample->tier;
      entry.cgroup = pod_sample->cgroup;
      entry.cpu_usage_ns = pod_sample->usage.cpu_usage_ns;
      entry.cpu_cores = pod_sample->usage.cpu_cores;
    }
    std::optional<Pod> spec = specs ? specs(runtime_pod.uid) : std::nullopt;
    if (spec) {
      entry.pod = std::move(*spec);
    } else {
      entry.pod = reconstruct_pod(runtime_pod, entry.tier, entry.cgroup, limits);
      entry.spec_source = SpecSource::kNode;
    }
    const auto stats = runtime.stats.find(runtime_pod.uid);
    entry.stats = stats_of(pod_sample, stats != runtime.stats.end() ? &stats->second : nullptr);
    view.entries.push_back(std::move(entry));
  }
  view.active.reserve(view.entries.size());
  for (const auto& entry : view.entries)
    view.active.push_back(ActivePod{&entry.pod, &entry.stats});
  return view;
}

}  // namespace evictd::model
