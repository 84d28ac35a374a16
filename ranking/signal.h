// Eviction signals, the resources they starve and the node conditions they raise, as the kubelet
// defines them (pkg/kubelet/eviction/api and helpers.go).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ranking/quantity.h"

namespace evictd {

// Declared in the order evictd resolves several thresholds met at once: memory first (as the
// kubelet; the kubelet's own memory signals before evictd's), then the disk signals, then PIDs.
// The kubelet leaves the order among non-memory signals to Go's map iteration; a fixed order makes
// every decision reproducible.
//
// Four signals are evictd's own, beyond the kubelet (docs/decisions.md): memory and swap available
// together (node and allocatable), swap available, and the share of time tasks in the kubepods
// cgroup stalled on memory (PSI). The kubelet's configuration cannot name them.
enum class Signal : uint8_t {
  kMemoryAvailable,
  kAllocatableMemoryAvailable,
  kMemoryAndSwapAvailable,
  kAllocatableMemoryAndSwapAvailable,
  kSwapAvailable,
  kMemoryPressure,
  kNodeFsAvailable,
  kNodeFsInodesFree,
  kImageFsAvailable,
  kImageFsInodesFree,
  kContainerFsAvailable,
  kContainerFsInodesFree,
  kPidAvailable,
};
inline constexpr size_t kSignalCount = 13;
inline constexpr std::array<Signal, kSignalCount> kAllSignals = {
    Signal::kMemoryAvailable,        Signal::kAllocatableMemoryAvailable,
    Signal::kMemoryAndSwapAvailable, Signal::kAllocatableMemoryAndSwapAvailable,
    Signal::kSwapAvailable,          Signal::kMemoryPressure,
    Signal::kNodeFsAvailable,        Signal::kNodeFsInodesFree,
    Signal::kImageFsAvailable,       Signal::kImageFsInodesFree,
    Signal::kContainerFsAvailable,   Signal::kContainerFsInodesFree,
    Signal::kPidAvailable,
};

enum class Resource : uint8_t { kMemory, kEphemeralStorage, kInodes, kPids };

// Sorted by name, the order in which conditions are reported.
enum class NodeCondition : uint8_t { kDiskPressure, kMemoryPressure, kPIDPressure };
inline constexpr size_t kNodeConditionCount = 3;

std::string_view signal_name(Signal signal);
std::optional<Signal> parse_signal(std::string_view name);
// Whether the kubelet knows the signal; the others are evictd's own and configured apart.
bool is_kubelet_signal(Signal signal);
// memory.pressure is met when the observed stall share rises above its threshold; every other
// signal when what is available falls below.
bool met_from_above(Signal signal);
// The signals whose observation counts swap: their pods rank by memory and swap together.
bool counts_swap(Signal signal);
inline size_t signal_index(Signal signal) {
  return static_cast<size_t>(signal);
}

Resource signal_resource(Signal signal);
std::string_view resource_name(Resource resource);
NodeCondition signal_condition(Signal signal);
std::string_view condition_name(NodeCondition condition);
// The kubelet's signal kinds (helpers.go): memory, a filesystem's bytes or inodes, and which
// filesystem a disk signal observes.
bool is_memory_signal(Signal signal);
bool is_disk_signal(Signal signal);
enum class Filesystem : uint8_t { kNodeFs, kImageFs, kContainerFs };
// The filesystem of a disk signal; nullopt for memory and PIDs.
std::optional<Filesystem> signal_filesystem(Signal signal);
// Bytes print in binary SI (1500Mi), counts of inodes and PIDs in decimal SI (1k), as the kubelet
// does.
QuantityFormat observation_format(Signal signal);
// An observed or threshold amount as it reads: a quantity ("1500Mi", "1k"), or for memory.pressure,
// whose amounts are microseconds stalled in a window of `capacity`, the share ("12.5%").
std::string amount_text(Signal signal, int64_t amount, int64_t capacity);

}  // namespace evictd
