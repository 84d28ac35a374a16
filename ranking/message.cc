#include "ranking/message.h"

#include <cstdio>

namespace evictd {
namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0)
      out += ",";
    out += parts[i];
  }
  return out;
}

const Container* find_spec_container(const Pod& pod, const std::string& name) {
  for (const auto* group : {&pod.containers, &pod.init_containers}) {
    for (const auto& container : *group) {
      if (container.name == name)
        return &container;
    }
  }
  return nullptr;
}

}  // namespace

std::string go_quote(std::string_view text) {
  std::string out = "\"";
  for (const unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\x%02x", c);
          out += buffer;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

EvictionMessage threshold_eviction_message(Resource resource, const Pod& pod, const PodStats* stats,
                                           const Threshold* threshold,
                                           const SignalObservation* observation) {
  EvictionMessage result;
  const std::string resource_text(resource_name(resource));
  result.message = "The node was low on resource: " + resource_text + ". ";
  if (threshold != nullptr && observation != nullptr) {
    const Signal signal = threshold->signal;
    const Quantity capacity = Quantity::from_int(observation->capacity, observation_format(signal));
    const Quantity available =
        Quantity::from_int(observation->available, observation_format(signal));
    result.message += "Threshold quantity: " + threshold->value.resolve(capacity).to_string() +
                      ", available: " + available.to_string() + ". ";
  }
  if (stats == nullptr)
    return result;  // the kubelet returns without annotations here

  // Pod-level resources (PodLevelResources, on by default): the pod's own usage against its
  // request.
  if (resource == Resource::kMemory && has_pod_level_resources(pod)) {
    const auto request = pod.pod_resources->requests.find(kResourceMemory);
    if (request != pod.pod_resources->requests.end() && stats->memory_working_set_bytes) {
      const std::string usage = Quantity::from_bytes(*stats->memory_working_set_bytes).to_string();
      result.message += "Pod " + pod.name + " was using " + usage + ", request is " +
                        request->second.to_string() + ", has larger consumption of " +
                        resource_text + ". ";
      result.annotations[std::string(kOffendingPodKey)] = pod.name;
      result.annotations[std::string(kOffendingPodUsageKey)] = usage;
    }
  }

  std::vector<std::string> offending;
  std::vector<std::string> offending_usage;
  for (const auto& container_stats : stats->containers) {
    const Container* container = find_spec_container(pod, container_stats.name);
    if (container == nullptr)
      continue;
    std::optional<Quantity> usage;
    if (resource == Resource::kEphemeralStorage) {
      if (container_stats.rootfs_used_bytes && container_stats.logs_used_bytes) {
        usage = Quantity::from_bytes(*container_stats.rootfs_used_bytes +
                                     *container_stats.logs_used_bytes);
      }
    } else if (resource == Resource::kMemory) {
      if (container_stats.memory_working_set_bytes) {
        usage = Quantity::from_bytes(*container_stats.memory_working_set_bytes);
      }
    }
    Quantity request;
    const auto found = container->resources.requests.find(resource_text);
    if (found != container->resources.requests.end())
      request = found->second;
    if (usage && usage->compare(request) > 0) {
      result.message += "Container " + container->name + " was using " + usage->to_string() +
                        ", request is " + request.to_string() + ", has larger consumption of " +
                        resource_text + ". ";
      offending.push_back(container->name);
      offending_usage.push_back(usage->to_string());
    }
  }
  result.annotations[std::string(kOffendingContainersKey)] = join(offending);
  result.annotations[std::string(kOffendingContainersUsageKey)] = join(offending_usage);
  result.annotations[std::string(kStarvedResourceKey)] = resource_text;
  return result;
}

std::string empty_dir_limit_message(const std::string& volume, const Quantity& limit) {
  return "Usage of EmptyDir volume " + go_quote(volume) + " exceeds the limit " +
         go_quote(limit.to_string()) + ". ";
}

std::string pod_ephemeral_storage_limit_message(const Quantity& limit) {
  return "Pod ephemeral local storage usage exceeds the total limit of containers " +
         limit.to_string() + ". ";
}

std::string container_ephemeral_storage_limit_message(const std::string& container,
                                                      const Quantity& limit) {
  return "Container " + container + " exceeded its local ephemeral storage limit " +
         go_quote(limit.to_string()) + ". ";
}

}  // namespace evictd
