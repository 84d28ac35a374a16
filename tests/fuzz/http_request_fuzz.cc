// Fuzzes the /metrics endpoint's request handling, which faces the network in the DaemonSet
// (metricsAddress 0.0.0.0:9851): any bytes get an answer without a crash, and only a GET or HEAD
// of /metrics is ever answered with the metrics.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "daemon/metrics/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view request(reinterpret_cast<const char*>(data), size);
  const auto reply = evictd::metrics::reply_to(request);
  if (reply.status.empty())
    std::abort();
  if (reply.metrics && (reply.status != "200 OK" || !(request.starts_with("GET /metrics") ||
                                                      request.starts_with("HEAD /metrics"))))
    std::abort();
  return 0;
}
