// The `evictd simulate` scenario format (docs/simulate.md): eviction configuration, filesystem
// layout, v1 Pod objects, and timed steps of node observations and pod usage.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ranking/pod.h"
#include "ranking/result.h"
#include "ranking/stats.h"
#include "ranking/threshold.h"

namespace evictd::simulate {

struct PodUsage {
  std::string key;  // namespace/name
  PodStats stats;
};

struct Step {
  Nanos at{0};
  int line = 0;
  Observations signals;
  std::vector<PodUsage> usage;
  // Observations after node-level reclaim; signals not listed keep their value.
  std::optional<Observations> reclaim;
  std::vector<Pod> add_pods;
  std::vector<std::string> remove_pods;
};

struct Scenario {
  EvictionConfig config;
  FilesystemLayout layout = FilesystemLayout::kShared;
  std::vector<Pod> pods;
  std::vector<Step> steps;
};

// Parses YAML text; errors carry the field path and line (the caller adds the file name).
Result<Scenario> parse_scenario(const std::string& text);

}  // namespace evictd::simulate
