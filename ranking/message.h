// The kubelet's eviction messages and event annotations, byte for byte (helpers.go evictionMessage
// and the local-storage messages of eviction_manager.go).
#pragma once

#include <map>
#include <string>

#include "ranking/pod.h"
#include "ranking/signal.h"
#include "ranking/stats.h"
#include "ranking/threshold.h"

namespace evictd {

inline constexpr std::string_view kEvictionReason = "Evicted";
inline constexpr std::string_view kOffendingContainersKey = "offending_containers";
inline constexpr std::string_view kOffendingContainersUsageKey = "offending_containers_usage";
inline constexpr std::string_view kOffendingPodKey = "offending_pod";
inline constexpr std::string_view kOffendingPodUsageKey = "offending_pod_usage";
inline constexpr std::string_view kStarvedResourceKey = "starved_resource";

struct EvictionMessage {
  std::string message;
  std::map<std::string, std::string> annotations;
};

// The message for a threshold eviction. `threshold` and `observation` give the "Threshold quantity:
// ..., available: ..." part when known; the container part needs the pod's stats. The kubelet's
// signals read as the kubelet writes them; evictd's own are named in sibling sentences ("The node
// was low on resource: memory and swap.", "The node was under memory pressure: ..."). With
// `with_swap` a container's usage is its working set and swap, and says so.
EvictionMessage threshold_eviction_message(Signal signal, const Pod& pod, const PodStats* stats,
                                           const Threshold* threshold,
                                           const SignalObservation* observation,
                                           bool with_swap = false);

std::string empty_dir_limit_message(const std::string& volume, const Quantity& limit);
std::string pod_ephemeral_storage_limit_message(const Quantity& limit);
std::string container_ephemeral_storage_limit_message(const std::string& container,
                                                      const Quantity& limit);

// Go's %q for the strings these messages quote.
std::string go_quote(std::string_view text);

}  // namespace evictd
