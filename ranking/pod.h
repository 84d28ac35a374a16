// The parts of a v1 Pod that eviction decisions read, and the Kubernetes helpers that interpret
// them: effective requests and limits, QoS class, priority, static/mirror/critical.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ranking/quantity.h"

namespace evictd {

// A v1 ResourceList; keeps the quantities as written so messages can quote them.
using ResourceList = std::map<std::string, Quantity, std::less<>>;

struct ResourceRequirements {
  ResourceList requests;
  ResourceList limits;
};

struct Container {
  std::string name;
  ResourceRequirements resources;
  // An init container with restartPolicy: Always (a sidecar).
  bool restartable = false;
};

enum class VolumeSource { kEmptyDir, kHostPath, kConfigMap, kGitRepo, kOther };

struct Volume {
  std::string name;
  VolumeSource source = VolumeSource::kOther;
  std::string medium;  // emptyDir medium ("" = node disk, "Memory" = tmpfs)
  std::optional<Quantity> size_limit;
};

enum class QosClass { kGuaranteed, kBurstable, kBestEffort };
std::string_view qos_class_name(QosClass qos);

struct Pod {
  std::string name;
  std::string namespace_name = "default";
  std::string uid;
  std::map<std::string, std::string, std::less<>> annotations;
  int64_t generation = 0;
  std::optional<int32_t> priority;
  std::string priority_class_name;
  std::optional<int64_t> termination_grace_period_seconds;
  std::vector<Container> containers;
  std::vector<Container> init_containers;
  ResourceList overhead;
  std::optional<ResourceRequirements> pod_resources;  // spec.resources (pod-level)
  std::vector<Volume> volumes;
  std::optional<QosClass> status_qos_class;
  std::string phase;
  // status.reason and status.message, and whether metadata.deletionTimestamp is set: what evictd
  // watches on a pod it evicted.
  std::string status_reason;
  std::string status_message;
  bool deleting = false;

  std::string key() const { return namespace_name + "/" + name; }
};

inline constexpr std::string_view kResourceMemory = "memory";
inline constexpr std::string_view kResourceCpu = "cpu";
inline constexpr std::string_view kResourceEphemeralStorage = "ephemeral-storage";
inline constexpr int32_t kSystemCriticalPriority = 2'000'000'000;
inline constexpr int64_t kDefaultTerminationGracePeriodSeconds = 30;

// GetResourceRequestQuantity: the pod's effective request (sidecar-aware aggregation of containers
// and init containers, or pod-level requests when set), plus overhead when the request is non-zero.
Quantity pod_request(const Pod& pod, std::string_view resource);
// PodLimits: the aggregated limit, or nullopt when no container (or the pod) sets one.
std::optional<Quantity> pod_limit(const Pod& pod, std::string_view resource);

// IsPodLevelResourcesSet: spec.resources names cpu, memory or hugepages.
bool has_pod_level_resources(const Pod& pod);

// The QoS class from status.qosClass, else computed as the API server does.
QosClass pod_qos(const Pod& pod);
QosClass compute_qos(const Pod& pod);

// corev1helpers.PodPriority: the resolved priority, 0 when unset.
inline int32_t pod_priority(const Pod& pod) {
  return pod.priority.value_or(0);
}
bool is_static_pod(const Pod& pod);
bool is_mirror_pod(const Pod& pod);
// kubelettypes.IsCriticalPod: static, mirror, or priority >= system-critical. Never evicted.
bool is_critical_pod(const Pod& pod);
int64_t termination_grace_period_seconds(const Pod& pod);

// Volumes whose usage counts against node storage for ranking (kubelet localVolumeNames):
// hostPath, and local ephemeral volumes (emptyDir on disk, configMap, gitRepo).
bool is_local_volume(const Volume& volume);
bool is_local_ephemeral_volume(const Volume& volume);

}  // namespace evictd
