// v1 Pod objects as `kubectl get pod -o yaml|json` prints them; unknown fields are ignored, the
// fields eviction reads are checked.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "ranking/pod.h"
#include "ranking/result.h"

namespace evictd {

Result<Pod> pod_from_yaml(const YAML::Node& node, const std::string& path);
// A Pod, or a v1 List of Pods (kind: List / PodList).
Result<std::vector<Pod>> pods_from_yaml(const YAML::Node& node, const std::string& path);

}  // namespace evictd
