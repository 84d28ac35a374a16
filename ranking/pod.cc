#include "ranking/pod.h"

#include <set>

namespace evictd {
namespace {

using OptionalQuantity = std::optional<Quantity>;

bool is_supported_pod_level_resource(std::string_view name) {
  return name == kResourceCpu || name == kResourceMemory || name.starts_with("hugepages-");
}

bool has_supported(const ResourceList& list) {
  for (const auto& entry : list) {
    if (is_supported_pod_level_resource(entry.first))
      return true;
  }
  return false;
}

bool pod_level_requests_set(const Pod& pod) {
  return pod.pod_resources && has_supported(pod.pod_resources->requests);
}

bool pod_level_resources_set(const Pod& pod) {
  return pod.pod_resources &&
         (has_supported(pod.pod_resources->requests) || has_supported(pod.pod_resources->limits));
}

OptionalQuantity lookup(const ResourceList& list, std::string_view resource) {
  const auto it = list.find(resource);
  if (it == list.end())
    return std::nullopt;
  return it->second;
}

// addResourceList for one resource: a first value is copied (keeping its text), later ones are
// added.
void add_to(OptionalQuantity& sum, const OptionalQuantity& value) {
  if (!value)
    return;
  if (!sum) {
    sum = value;
  } else {
    sum->add(*value);
  }
}

void max_into(OptionalQuantity& current, const OptionalQuantity& candidate) {
  if (candidate && (!current || candidate->compare(*current) > 0))
    current = candidate;
}

// aggregateContainerResourcesByFn for one resource, following the sidecar KEP: regular containers
// and sidecars run together; each init container runs beside the sidecars started before it.
template <typename Select>
OptionalQuantity aggregate_containers(const Pod& pod, std::string_view resource, Select select) {
  OptionalQuantity result;
  for (const auto& container : pod.containers)
    add_to(result, lookup(select(container), resource));
  OptionalQuantity restartable_sum;
  OptionalQuantity init_max;
  for (const auto& container : pod.init_containers) {
    const OptionalQuantity own = lookup(select(container), resource);
    OptionalQuantity candidate;
    if (container.restartable) {
      add_to(result, own);
      add_to(restartable_sum, own);
      candidate = restartable_sum;
    } else {
      add_to(candidate, own);
      add_to(candidate, restartable_sum);
    }
    max_into(init_max, candidate);
  }
  max_into(result, init_max);
  return result;
}

const ResourceList& requests_of(const Container& c) {
  return c.resources.requests;
}
const ResourceList& limits_of(const Container& c) {
  return c.resources.limits;
}

}  // namespace

std::string_view qos_class_name(QosClass qos) {
  switch (qos) {
    case QosClass::kGuaranteed:
      return "Guaranteed";
    case QosClass::kBurstable:
      return "Burstable";
    case QosClass::kBestEffort:
      return "BestEffort";
  }
  return "";
}

bool has_pod_level_resources(const Pod& pod) {
  return pod_level_resources_set(pod);
}

Quantity pod_request(const Pod& pod, std::string_view resource) {
  Quantity request;
  OptionalQuantity aggregated;
  if (!pod_level_resources_set(pod))
    aggregated = aggregate_containers(pod, resource, requests_of);
  if (pod_level_requests_set(pod) && is_supported_pod_level_resource(resource)) {
    if (auto value = lookup(pod.pod_resources->requests, resource))
      aggregated = value;
  }
  if (aggregated)
    request.add(*aggregated);
  if (auto overhead = lookup(pod.overhead, resource); overhead && !request.is_zero()) {
    request.add(*overhead);
  }
  return request;
}

std::optional<Quantity> pod_limit(const Pod& pod, std::string_view resource) {
  OptionalQuantity limit = aggregate_containers(pod, resource, limits_of);
  if (pod_level_resources_set(pod) && is_supported_pod_level_resource(resource)) {
    if (auto value = lookup(pod.pod_resources->limits, resource))
      limit = value;
  }
  if (auto overhead = lookup(pod.overhead, resource); overhead && limit && !limit->is_zero()) {
    limit->add(*overhead);
  }
  return limit;
}

QosClass pod_qos(const Pod& pod) {
  return pod.status_qos_class.value_or(compute_qos(pod));
}

QosClass compute_qos(const Pod& pod) {
  // Sums of the positive cpu and memory requests and limits; Guaranteed needs both limits on every
  // container (or on the pod) and requests equal to limits.
  std::map<std::string, Quantity, std::less<>> requests;
  std::map<std::string, Quantity, std::less<>> limits;
  bool guaranteed = true;
  auto accumulate = [](std::map<std::string, Quantity, std::less<>>& sums, const ResourceList& list,
                       std::set<std::string>* found) {
    for (const auto& [name, quantity] : list) {
      if ((name != kResourceCpu && name != kResourceMemory) || quantity.sign() <= 0)
        continue;
      if (found != nullptr)
        found->insert(name);
      sums[name].add(quantity);
    }
  };
  auto has_cpu_and_memory = [](const std::set<std::string>& found) {
    return found.contains(std::string(kResourceCpu)) &&
           found.contains(std::string(kResourceMemory));
  };
  if (pod.pod_resources) {
    accumulate(requests, pod.pod_resources->requests, nullptr);
    if (!pod.pod_resources->limits.empty()) {
      std::set<std::string> found;
      accumulate(limits, pod.pod_resources->limits, &found);
      guaranteed = guaranteed && has_cpu_and_memory(found);
    }
  } else {
    for (const auto* group : {&pod.containers, &pod.init_containers}) {
      for (const auto& container : *group) {
        std::set<std::string> found;
        accumulate(requests, container.resources.requests, nullptr);
        accumulate(limits, container.resources.limits, &found);
        guaranteed = guaranteed && has_cpu_and_memory(found);
      }
    }
  }
  if (requests.empty() && limits.empty())
    return QosClass::kBestEffort;
  if (guaranteed) {
    for (const auto& [name, request] : requests) {
      const auto limit = limits.find(name);
      if (limit == limits.end() || limit->second.compare(request) != 0) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && requests.size() == limits.size() ? QosClass::kGuaranteed
                                                        : QosClass::kBurstable;
}

bool is_static_pod(const Pod& pod) {
  const auto source = pod.annotations.find("kubernetes.io/config.source");
  return source != pod.annotations.end() && source->second != "api";
}

bool is_mirror_pod(const Pod& pod) {
  return pod.annotations.contains("kubernetes.io/config.mirror");
}

bool is_critical_pod(const Pod& pod) {
  return is_static_pod(pod) || is_mirror_pod(pod) ||
         (pod.priority && *pod.priority >= kSystemCriticalPriority);
}

int64_t termination_grace_period_seconds(const Pod& pod) {
  return pod.termination_grace_period_seconds.value_or(kDefaultTerminationGracePeriodSeconds);
}

bool is_local_ephemeral_volume(const Volume& volume) {
  return volume.source == VolumeSource::kGitRepo || volume.source == VolumeSource::kConfigMap ||
         (volume.source == VolumeSource::kEmptyDir && volume.medium.empty());
}

bool is_local_volume(const Volume& volume) {
  return volume.source == VolumeSource::kHostPath || is_local_ephemeral_volume(volume);
}

}  // namespace evictd
