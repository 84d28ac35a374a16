// Eviction thresholds (kubelet evictionapi.Threshold) and the KubeletConfiguration fields that
// define them, parsed and validated with the kubelet's rules and defaults.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ranking/duration.h"
#include "ranking/quantity.h"
#include "ranking/result.h"
#include "ranking/signal.h"

namespace evictd {

// Either an absolute quantity or a fraction of capacity. The fraction is a float32, as in the
// kubelet, so that percentages resolve to the very same byte counts.
struct ThresholdValue {
  std::optional<Quantity> quantity;
  float percentage = 0;

  // GetThresholdQuantity: the absolute quantity against a capacity.
  Quantity resolve(const Quantity& capacity) const;
  // "2Gi" or "10%", for explanations.
  std::string text() const;
  bool operator==(const ThresholdValue& other) const;
};

struct Threshold {
  Signal signal = Signal::kMemoryAvailable;
  ThresholdValue value;
  Nanos grace_period{0};
  std::optional<ThresholdValue> min_reclaim;
  // evictd's own signals may be set to decide and explain without evicting, one by one.
  bool dry_run = false;

  // A threshold with no grace period is a hard one (kubelet isHardEvictionThreshold).
  bool hard() const { return grace_period == Nanos{0}; }
  // kubelet hasThreshold: same signal, grace period and value (min-reclaim is not compared).
  bool same_as(const Threshold& other) const {
    return signal == other.signal && grace_period == other.grace_period && value == other.value;
  }
  // "memory.available<100Mi", "memory.pressure>20%": the statement as it is met.
  std::string statement() const;
};

// Where images and container writable layers live (kubelet: dedicatedImageFs,
// splitContainerImageFs).
enum class FilesystemLayout {
  kShared,            // one filesystem: nodefs = imagefs = containerfs
  kDedicatedImageFs,  // imagefs (images and writable layers) apart from nodefs
  kSplit,             // imagefs holds images, writable layers (containerfs) stay on nodefs
};
std::string_view filesystem_layout_name(FilesystemLayout layout);
std::optional<FilesystemLayout> parse_filesystem_layout(std::string_view name);

// The KubeletConfiguration eviction fields as written (field names and value syntax unchanged).
// A map that is absent differs from an empty one: only an absent evictionHard takes the defaults.
struct EvictionSettings {
  using SignalMap = std::vector<std::pair<std::string, std::string>>;
  std::optional<SignalMap> eviction_hard;
  std::optional<SignalMap> eviction_soft;
  std::optional<SignalMap> eviction_soft_grace_period;
  std::optional<SignalMap> eviction_minimum_reclaim;
  std::optional<std::string> eviction_pressure_transition_period;
  std::optional<int64_t> eviction_max_pod_grace_period;
  bool merge_default_eviction_settings = false;
  std::optional<std::vector<std::string>> enforce_node_allocatable;
};

struct EvictionConfig {
  // Hard thresholds, then soft ones, then the allocatableMemory.available thresholds derived from
  // the hard memory.available ones (when enforceNodeAllocatable contains "pods").
  std::vector<Threshold> thresholds;
  Nanos pressure_transition_period = std::chrono::minutes(5);
  int64_t max_pod_grace_period_seconds = 0;
  std::vector<std::string> enforce_node_allocatable = {"pods"};
  // evictd's own: rank the kubelet's memory signals by working set + swap, as evictd's own memory
  // signals always are. Off keeps the kubelet's ranking.
  bool swap_aware_ranking = false;
  // What the settings get wrong although the kubelet takes them, one line each: defaults a partial
  // evictionHard drops, a soft threshold the hard one makes useless, a grace period without its
  // soft threshold.
  std::vector<std::string> warnings;
};

// The kubelet's Linux defaults for evictionHard.
const EvictionSettings::SignalMap& default_eviction_hard();

// Validates and types the settings. Errors name the field and signal (Error::field) and the bad
// value. Only the kubelet's signals are accepted: the kubelet would refuse evictd's own.
Result<EvictionConfig> build_eviction_config(const EvictionSettings& settings);

// evictd's own signals (signal.h), configured in evictd's file with the kubelet's field names and
// rules. memory.pressure takes a share of time ("20%") and no minimum reclaim: its window starts
// over after each eviction instead. `dry_run` names signals that decide and explain but never
// evict.
struct PressureSettings {
  using SignalMap = EvictionSettings::SignalMap;
  std::optional<SignalMap> eviction_hard;
  std::optional<SignalMap> eviction_soft;
  std::optional<SignalMap> eviction_soft_grace_period;
  std::optional<SignalMap> eviction_minimum_reclaim;
  std::vector<std::string> dry_run;
};

// The thresholds of evictd's own signals, hard then soft; with `enforce_pods`
// (enforceNodeAllocatable has "pods") every hard memoryAndSwap.available threshold also guards the
// pods' allocatable memory and swap, as the kubelet derives allocatableMemory.available. Errors
// name the field (prefixed with `section`).
Result<std::vector<Threshold>> build_pressure_thresholds(const PressureSettings& settings,
                                                         bool enforce_pods,
                                                         std::string_view section);

// kubelet UpdateContainerFsThresholds: containerfs.* thresholds mirror nodefs.* (shared and split
// layouts) or imagefs.* (dedicated imagefs); containerfs values given by the user are overridden,
// and each override is reported in `warnings`.
std::vector<Threshold> with_containerfs_thresholds(const std::vector<Threshold>& thresholds,
                                                   FilesystemLayout layout,
                                                   std::vector<std::string>* warnings);

}  // namespace evictd
