// The Kubernetes API adapter against the test API server on loopback (python3, TLS): time to load N
// pods from a LIST into the pod cache, the heap the cache holds for them, and the round trip of the
// eviction status patch. Figures: docs/benchmarks.md. Usage: kube_bench SOURCE_DIR [pods] [patches]
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apiserver/fake_apiserver_process.h"
#include "daemon/kube/eviction_writer.h"
#include "daemon/kube/pod_json.h"
#include "daemon/kube/pod_source.h"
#include "report.h"

namespace evictd::kube {
namespace {

std::string pod_json(int i) {
  const std::string name = "pod-" + std::to_string(i);
  // Shaped like kubectl get pod -o json of a typical Deployment pod (two containers, labels,
  // status).
  return R"({"metadata":{"name":")" + name + R"(","namespace":"ns-)" + std::to_string(i % 20) +
         R"(","uid":"0b1e2c3d-)" + std::to_string(100000 + i) +
         R"(","labels":{"app":"web","pod-template-hash":"7c9f8d6b5"},"annotations":{"kubernetes.io/config.seen":"2026-11-22T10:00:00Z"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7c9f8d6b5","uid":"aa","controller":true}]},"spec":{"nodeName":"node1","priority":0,"terminationGracePeriodSeconds":30,"containers":[{"name":"app","image":"registry.example/web:1.2.3","resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"memory":"512Mi"}},"ports":[{"containerPort":8080}]},{"name":"proxy","image":"registry.example/proxy:2","resources":{"requests":{"cpu":"50m","memory":"64Mi"}}}],"volumes":[{"name":"cache","emptyDir":{"sizeLimit":"1Gi"}},{"name":"config","configMap":{"name":"web"}}]},"status":{"phase":"Running","qosClass":"Burstable","podIP":"10.0.0.1","conditions":[{"type":"Ready","status":"True"}]}})";
}

int run(const std::string& source, int pods, int patches) {
  testing_util::FakeApiServer server(source);
  if (!server.running()) {
    std::fprintf(stderr, "the test API server did not start\n");
    return 1;
  }
  ApiClientConfig control_config;
  control_config.credentials.server = server.url();
  control_config.credentials.ca_file = server.dir() + "/certs/ca.crt";
  ApiClient control(control_config);
  for (int i = 0; i < pods; ++i) {
    if (!control.call("add pod", "POST", "/_test/pods", pod_json(i), "application/json"))
      return 1;
  }
  ApiClientConfig config;
  config.credentials = load_kubeconfig(server.kubeconfig()).value();
  ApiClient client(config);
  std::vector<double> list_ms;
  size_t cache_bytes = 0;
  for (int round = 0; round < 10; ++round) {
    const size_t before = mallinfo2().uordblks;
    auto source_cache = std::make_unique<PodSource>(client, "node1");
    const auto started = std::chrono::steady_clock::now();
    auto listed = source_cache->list();
    list_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count());
    if (!listed || static_cast<int>(source_cache->pods().size()) != pods)
      return 1;
    cache_bytes = mallinfo2().uordblks - before;
  }
  char what[64];
  std::snprintf(what, sizeof(what), "LIST %d pods into the cache", pods);
  bench::report(what, list_ms, 2);
  // evictd's own share: parsing the same PodList body into the pod model, without the server.
  auto body = client.call("list", "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode1");
  std::vector<double> parse_ms;
  for (int round = 0; round < 10 && body; ++round) {
    const auto started = std::chrono::steady_clock::now();
    const auto list = nlohmann::json::parse(body->body);
    size_t converted = 0;
    for (const auto& item : list["items"])
      converted += pod_from_json(item).ok() ? 1 : 0;
    parse_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count());
    if (static_cast<int>(converted) != pods)
      return 1;
  }
  std::snprintf(what, sizeof(what), "  of which evictd parses %d pods", pods);
  bench::report(what, parse_ms, 2);
  std::printf("%-40s %.2f MiB (%.0f bytes per pod)\n", "heap held by the pod cache",
              cache_bytes / 1048576.0, static_cast<double>(cache_bytes) / pods);
  EvictionWriter writer(client);
  EvictionRecord record;
  record.namespace_name = "ns-0";
  record.name = "pod-0";
  record.uid = "0b1e2c3d-100000";
  record.message =
      "The node was low on resource: memory. Threshold quantity: 2Gi, available: 1500Mi. ";
  record.time = rfc3339_now();
  std::vector<double> patch_ms;
  for (int i = 0; i < patches; ++i) {
    const auto started = std::chrono::steady_clock::now();
    if (!writer.patch_status(record))
      return 1;
    patch_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count());
  }
  bench::report("status patch round trip (TLS, reused)", patch_ms, 2);
  return 0;
}

}  // namespace
}  // namespace evictd::kube

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: kube_bench SOURCE_DIR [pods] [patches]\n");
    return 2;
  }
  return evictd::kube::run(argv[1], argc > 2 ? std::atoi(argv[2]) : 1000,
                           argc > 3 ? std::atoi(argv[3]) : 200);
}
