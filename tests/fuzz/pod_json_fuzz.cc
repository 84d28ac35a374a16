// Fuzzes the decoding of the API server's pod objects into the core's Pod model (LIST and WATCH
// bodies come from the network): any JSON decodes to a pod or an error, never a crash or an
// exception past the edge.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "daemon/kube/pod_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto object = nlohmann::json::parse(data, data + size, nullptr, false);
  if (object.is_discarded())
    return 0;
  [[maybe_unused]] const auto pod = evictd::kube::pod_from_json(object);
  return 0;
}
