// v1 Pod objects as the API server sends them (JSON, in a PodList or a watch event), decoded
// straight into the decision core's Pod model: no text is parsed twice. Unknown fields are
// ignored; the fields eviction reads are checked, and an error names the field path and the reason
// (`pod.spec.containers[0].resources.requests.memory: ...`).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "ranking/pod.h"
#include "ranking/result.h"

namespace evictd::kube {

Result<Pod> pod_from_json(const nlohmann::json& object);

}  // namespace evictd::kube
