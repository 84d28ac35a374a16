// Which kernel notifications to arm for a node, and where: the kubelet's memcg thresholds on the
// root and kubepods memory cgroups (v1), re-placed after every sample because inactive file pages
// move the point at which the working set reaches a threshold; PSI triggers and memory.events
// watches (v2 and, where the unified tree has the cgroups, hybrid).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cgroups/notifier.h"
#include "cgroups/sampler.h"
#include "ranking/threshold.h"

namespace evictd::cgroups {

struct PressureWatchConfig {
  Nanos psi_stall = std::chrono::milliseconds(100);
  Nanos psi_window = std::chrono::milliseconds(500);
};

class PressureWatch {
 public:
  PressureWatch(PressureNotifier& notifier, const Sampler& sampler,
                PressureWatchConfig config = {});

  // Sets up what does not depend on samples (PSI triggers, memory.events watches). Returns one line
  // per path armed or fallen back, for the log.
  std::vector<std::string> start();
  // Re-places the memcg thresholds for the hard memory.available and allocatableMemory.available
  // thresholds from a fresh sample (v1 only; a no-op elsewhere). Returns true when usage passed a
  // point between the sample and its arming: the kernel signals crossings after the arming only,
  // so the caller must sample again now rather than wait for a notification that will not come.
  bool rearm(const NodeSample& sample, const std::vector<Threshold>& thresholds);
  const std::vector<std::string>& errors() const { return errors_; }
  // Whether the last rearm left a memcg threshold armed for every hard memory threshold.
  bool hard_memory_crossings_notified() const { return notified_; }

 private:
  PressureNotifier& notifier_;
  const Sampler& sampler_;
  PressureWatchConfig config_;
  std::vector<std::string> errors_;
  std::map<std::string, uint64_t> armed_;  // threshold name -> bytes armed
  bool notified_ = false;
};

}  // namespace evictd::cgroups
