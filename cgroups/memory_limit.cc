#include "cgroups/memory_limit.h"

#include <fstream>
#include <vector>

#include "cgroups/parse.h"

namespace evictd::cgroups {

std::optional<int64_t> container_memory_limit(const CgroupLayout& layout, CgroupDriver driver,
                                              const std::string& pod_cgroup,
                                              const std::string& container_id) {
  const std::string file = layout.memory_v1() ? "memory.limit_in_bytes" : "memory.max";
  std::vector<std::string> names;
  if (driver == CgroupDriver::kSystemd) {
    for (const char* prefix : {"cri-containerd-", "crio-", "docker-"})
      names.push_back(prefix + container_id + ".scope");
  } else {
    names.push_back(container_id);
  }
  for (const auto& name : names) {
    std::ifstream in(layout.memory_hierarchy() + "/" + pod_cgroup + "/" + name + "/" + file);
    std::string text;
    if (!(in >> text))
      continue;
    const auto value = parse_uint(text);  // "max" (v2's no limit) is not a number
    // v1 reports "no limit" as a page-rounded LLONG_MAX.
    if (!value || *value == 0 || *value >= (uint64_t{1} << 62))
      return std::nullopt;
    return static_cast<int64_t>(*value);
  }
  return std::nullopt;
}

}  // namespace evictd::cgroups
