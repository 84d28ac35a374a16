// The KubeletConfiguration eviction fields read from YAML: evictd's own configuration and scenarios
// (strict: unknown keys are refused), or a kubelet's config file (other kubelet fields are
// ignored).
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

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

}  // namespace evictd
