// The KubeletConfiguration eviction fields read from YAML: evictd's own configuration and scenarios
// (strict: unknown keys are refused), or a kubelet's config file (other kubelet fields are
// ignored).
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "ranking/result.h"
#include "ranking/threshold.h"

namespace evictd {

struct EvictionSettingsInput {
  EvictionSettings settings;
  // Line of each field and map entry, keyed as Error::field names them ("evictionHard",
  // "evictionHard[memory.available]"), so validation errors can point into the file.
  std::map<std::string, int> lines;
  int line = 0;  // of the mapping itself
};

enum class UnknownKeys { kRefuse, kIgnore };

Result<EvictionSettingsInput> eviction_settings_from_yaml(const YAML::Node& node,
                                                          const std::string& path,
                                                          UnknownKeys unknown_keys);

// Builds the typed configuration, locating any validation error at its line with `path` prefixed.
Result<EvictionConfig> eviction_config_from_yaml(const YAML::Node& node, const std::string& path,
                                                 UnknownKeys unknown_keys);

// evictd's own signals (the `pressureSignals` section of its configuration, docs/configuration.md).
struct PressureSignalsConfig {
  std::vector<Threshold> thresholds;  // hard, soft, then derived allocatable ones
  Nanos memory_pressure_window = std::chrono::seconds(10);
  bool memory_pressure_some = false;  // "some" rather than "full" stalls
  bool swap_aware_ranking = false;
};
// `enforce_pods`: enforceNodeAllocatable has "pods" (allocatable thresholds are derived).
Result<PressureSignalsConfig> pressure_signals_from_yaml(const YAML::Node& node,
                                                         const std::string& path,
                                                         bool enforce_pods);

}  // namespace evictd
