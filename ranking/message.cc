#include "ranking/message.h"

#include <chrono>
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

namespace {

std::string_view evictd_resource_text(Signal signal) {
  switch (signal) {
    case Signal::kMemoryAndSwapAvailable:
    case Signal::kAllocatableMemoryAndSwapAvailable:
      return "memory and swap";
    case Signal::kSwapAvailable:
      return "swap";
    default:
      return "memory";
  }
}

// The node's part of the message: what ran short, the threshold and what was observed.
std::string node_sentence(Signal signal, const Threshold* threshold,
                          const SignalObservation* observation) {
  if (signal == Signal::kMemoryPressure) {
    std::string text = "The node was under memory pressure";
    if (threshold == nullptr || observation == nullptr)
      return text + ". ";
    const Nanos window = std::chrono::microseconds(observation->capacity);
    return text + ": tasks stalled on memory for " +
           amount_text(signal, observation->available, observation->capacity) + " of the last " +
           format_go_duration(window) + ", threshold " + threshold->value.text() + ". ";
  }
  const std::string resource = is_kubelet_signal(signal)
                                   ? std::string(resource_name(signal_resource(signal)))
                                   : std::string(evictd_resource_text(signal));
  std::string text = "The node was low on resource: " + resource + ". ";
  if (threshold != nullptr && observation != nullptr) {
    const Quantity capacity = Quantity::from_int(observation->capacity, observation_format(signal));
    const Quantity available =
        Quantity::from_int(observation->available, observation_format(signal));
    text += "Threshold quantity: " + threshold->value.resolve(capacity).to_string() +
            ", available: " + available.to_string() + ". ";
  }
  return text;
}

// A memory usage as the message states it: the working set, or with swap both parts.
struct MemoryUsageText {
  Quantity total;
  std::string text;
};
std::optional<MemoryUsageText> memory_usage_text(std::optional<uint64_t> working_set,
                                                 std::optional<uint64_t> swap, bool with_swap) {
  if (!working_set)
    return std::nullopt;
  if (!with_swap) {
    const Quantity usage = Quantity::from_bytes(*working_set);
    return MemoryUsageText{usage, usage.to_string()};
  }
  const uint64_t swapped = swap.value_or(0);
  return MemoryUsageText{Quantity::from_bytes(*working_set + swapped),
                         Quantity::from_bytes(*working_set).to_string() + " of memory and " +
                             Quantity::from_bytes(swapped).to_string() + " of swap"};
}

}  // namespace

EvictionMessage threshold_eviction_message(Signal signal, const Pod& pod, const PodStats* stats,
                                           const Threshold* threshold,
                                           const SignalObservation* observation, bool with_swap) {
  EvictionMessage result;
  const Resource resource = signal_resource(signal);
  const std::string resource_text(resource_name(resource));
  result.message = node_sentence(signal, threshold, observation);
  if (stats == nullptr)
    return result;  // the kubelet returns without annotations here

  // Pod-level resources (PodLevelResources, on by default): the pod's own usage against its
  // request.
  if (resource == Resource::kMemory && has_pod_level_resources(pod)) {
    const auto request = pod.pod_resources->requests.find(kResourceMemory);
    const auto usage =
        memory_usage_text(stats->memory_working_set_bytes, stats->memory_swap_bytes, with_swap);
    if (request != pod.pod_resources->requests.end() && usage) {
      result.message += "Pod " + pod.name + " was using " + usage->text + ", request is " +
                        request->second.to_string() + ", has larger consumption of " +
                        resource_text + ". ";
      result.annotations[std::string(kOffendingPodKey)] = pod.name;
      result.annotations[std::string(kOffendingPodUsageKey)] = usage->total.to_string();
    }
  }

  std::vector<std::string> offending;
  std::vector<std::string> offending_usage;
  for (const auto& container_stats : stats->containers) {
    const Container* container = find_spec_container(pod, container_stats.name);
    if (container == nullptr)
      continue;
    std::optional<MemoryUsageText> usage;
    if (resource == Resource::kEphemeralStorage) {
      if (container_stats.rootfs_used_bytes && container_stats.logs_used_bytes) {
        const Quantity bytes = Quantity::from_bytes(*container_stats.rootfs_used_bytes +
                                                    *container_stats.logs_used_bytes);
        usage = MemoryUsageText{bytes, bytes.to_string()};
      }
    } else if (resource == Resource::kMemory) {
      usage = memory_usage_text(container_stats.memory_working_set_bytes,
                                container_stats.memory_swap_bytes, with_swap);
    }
    Quantity request;
    const auto found = container->resources.requests.find(resource_text);
    if (found != container->resources.requests.end())
      request = found->second;
    if (usage && usage->total.compare(request) > 0) {
      result.message += "Container " + container->name + " was using " + usage->text +
                        ", request is " + request.to_string() + ", has larger consumption of " +
                        resource_text + ". ";
      offending.push_back(container->name);
      offending_usage.push_back(usage->total.to_string());
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
