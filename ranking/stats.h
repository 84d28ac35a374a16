// What the sampler observed: node signals and per-pod usage (the kubelet's Summary API, reduced to
// the fields eviction reads). Absent values are absent, not zero.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ranking/duration.h"
#include "ranking/signal.h"

namespace evictd {

struct ContainerStats {
  std::string name;
  std::optional<uint64_t> memory_working_set_bytes;
  std::optional<uint64_t> memory_swap_bytes;  // cgroup v2's memory.swap.current, where swap is on
  std::optional<uint64_t> rootfs_used_bytes;
  std::optional<uint64_t> rootfs_inodes_used;
  std::optional<uint64_t> logs_used_bytes;
  std::optional<uint64_t> logs_inodes_used;
};

struct VolumeStats {
  std::string name;
  std::optional<uint64_t> used_bytes;
  std::optional<uint64_t> inodes_used;
};

struct PodStats {
  std::optional<uint64_t> memory_working_set_bytes;
  std::optional<uint64_t> memory_swap_bytes;
  std::vector<ContainerStats> containers;
  std::vector<VolumeStats> volumes;
  std::optional<uint64_t> process_count;
  // Total local ephemeral storage of the pod (writable layers, logs, ephemeral volumes).
  std::optional<uint64_t> ephemeral_storage_used_bytes;
};

struct SignalObservation {
  // For memory.pressure: microseconds stalled within a window of `capacity` microseconds.
  int64_t available = 0;
  int64_t capacity = 0;
  // When the value was sampled, on the evaluator's clock; nullopt when unknown (always "new").
  std::optional<Nanos> time;
};

class Observations {
 public:
  void set(Signal signal, SignalObservation observation) {
    values_[signal_index(signal)] = observation;
  }
  void erase(Signal signal) { values_[signal_index(signal)].reset(); }
  const std::optional<SignalObservation>& get(Signal signal) const {
    return values_[signal_index(signal)];
  }

 private:
  std::array<std::optional<SignalObservation>, kSignalCount> values_;
};

}  // namespace evictd
