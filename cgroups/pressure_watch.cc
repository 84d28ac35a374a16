#include "cgroups/pressure_watch.h"

#include <unistd.h>

namespace evictd::cgroups {

PressureWatch::PressureWatch(PressureNotifier& notifier, const Sampler& sampler,
                             PressureWatchConfig config)
    : notifier_(notifier), sampler_(sampler), config_(config) {}

std::vector<std::string> PressureWatch::start() {
  const CgroupLayout& layout = sampler_.layout();
  if (!layout.unified_root.empty()) {
    const std::string kubepods = layout.unified_root + "/" + sampler_.naming().kubepods_dir();
    // The root cgroup has no memory.pressure file; the node's is /proc/pressure/memory.
    struct Target {
      const char* name;
      std::string pressure;
      std::string events;
    };
    for (const Target& target :
         {Target{"node", "/proc/pressure/memory", ""},
          Target{"kubepods", kubepods + "/memory.pressure", kubepods + "/memory.events"}}) {
      if (access(target.pressure.c_str(), F_OK) == 0) {
        notifier_.add_psi_trigger(target.name, target.pressure, config_.psi_stall,
                                  config_.psi_window);
      }
      if (!target.events.empty() && access(target.events.c_str(), F_OK) == 0) {
        if (auto watched =
                notifier_.watch_memory_events(std::string(target.name) + "-events", target.events);
            !watched) {
          errors_.push_back(watched.error().message);
        }
      }
    }
  }
  for (const auto& [tier, directory] : sampler_.tier_directories()) {
    if (auto watched = notifier_.watch_directory("pods-" + tier, directory); !watched)
      errors_.push_back(watched.error().message);
  }
  return notifier_.describe();
}

bool PressureWatch::rearm(const NodeSample& sample, const std::vector<Threshold>& thresholds) {
  if (!sampler_.layout().memory_v1())
    return false;  // memcg thresholds are a cgroup v1 interface
  errors_.clear();
  bool passed = false;
  notified_ = true;
  for (size_t i = 0; i < thresholds.size(); ++i) {
    const Threshold& threshold = thresholds[i];
    if (!threshold.hard())
      continue;  // the kubelet arms notifiers for hard memory thresholds only
    const bool node = threshold.signal == Signal::kMemoryAvailable;
    if (!node && threshold.signal != Signal::kAllocatableMemoryAvailable)
      continue;
    const auto& observation = sample.observations.get(threshold.signal);
    const MemoryUsage& usage = node ? sample.memory : sample.kubepods.memory;
    if (!observation || !usage.usage_bytes || !usage.working_set_bytes) {
      notified_ = false;
      continue;
    }
    const Quantity capacity = Quantity::from_int(observation->capacity, QuantityFormat::kBinarySI);
    const uint64_t bytes =
        memcg_threshold_bytes(observation->capacity, threshold.value.resolve(capacity).value(),
                              *usage.usage_bytes, *usage.working_set_bytes);
    const std::string name = std::string(signal_name(threshold.signal)) + "#" + std::to_string(i);
    // Inactive file pages move the point a little on every sample, and re-registering costs a
    // handful of syscalls and an RCU grace period in the kernel. A point that moved down must be
    // followed (the notification would come late), but a move under 1 MiB is within any
    // threshold's meaning. A point that moved up only makes the armed one early: usage reaching it
    // wakes the loop, which samples and arms the right point, so it is followed lazily — as long
    // as usage is still below the armed point (the kernel signals crossings, not levels).
    constexpr uint64_t kLateTolerance = 1 << 20;
    constexpr uint64_t kEarlyTolerance = 64 << 20;
    const auto previous = armed_.find(name);
    if (previous != armed_.end() &&
        (previous->second > bytes
             ? previous->second - bytes < kLateTolerance
             : bytes - previous->second < kEarlyTolerance && *usage.usage_bytes < previous->second))
      continue;
    const std::string dir = node ? sampler_.root_memory_dir() : sampler_.kubepods_memory_dir();
    if (auto armed = notifier_.arm_memory_threshold(name, dir, bytes); !armed) {
      errors_.push_back(armed.error().message);
      armed_.erase(name);
      notified_ = false;
    } else {
      armed_[name] = bytes;
      // Typically after an early notification (the point had moved up): the sample found the
      // threshold not yet met, and a fast leak passed the new point during the registration
      // (which waits for an RCU grace period). Usage already past the point at the sample is
      // what that sample judged, not a crossing it missed.
      passed = passed || (*usage.usage_bytes < bytes && *armed >= bytes);
    }
  }
  return passed;
}

}  // namespace evictd::cgroups
