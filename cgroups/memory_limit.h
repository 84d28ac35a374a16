// A container's memory limit as its cgroup holds it: what a spec rebuilt from the node (no API
// server) takes as a Guaranteed pod's requests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cgroups/layout.h"

namespace evictd::cgroups {

// memory.limit_in_bytes (v1) or memory.max (v2) of the container's cgroup under `pod_cgroup`
// (relative to the memory hierarchy), named as `driver` names it; nullopt when it has no limit or
// cannot be read.
std::optional<int64_t> container_memory_limit(const CgroupLayout& layout, CgroupDriver driver,
                                              const std::string& pod_cgroup,
                                              const std::string& container_id);

}  // namespace evictd::cgroups
