// The Kubernetes API adapter against the test API server (tests/apiserver/fake_apiserver.py) over
// TLS with its own CA, checked with the real kubectl: kubeconfig rules, LIST + WATCH with bookmarks
// and 410, the eviction status patch and Event as kubectl sees them, the Eviction API's PDB
// outcomes, and faults.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "apiserver/fake_apiserver_process.h"
#include "daemon/kube/eviction_writer.h"
#include "daemon/kube/pod_source.h"
#include "e2e/daemon_process.h"
#include "read_text.h"

namespace evictd::kube {
namespace {

using testing_util::read_text;

using testing_util::shell;

class KubeApiTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* source = std::getenv("EVICTD_SOURCE_DIR");
    server_ = new testing_util::FakeApiServer(source != nullptr ? source : ".");
    dir_ = server_->dir();
    server_url_ = server_->url();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->running()) << "the test API server did not start (python3, openssl)";
  }

  ApiClientConfig config(int attempts = 5) const {
    auto credentials = load_kubeconfig(dir_ + "/kubeconfig");
    EXPECT_TRUE(credentials.ok()) << credentials.error().message;
    ApiClientConfig c;
    c.credentials = credentials.value();
    c.max_attempts = attempts;
    c.initial_backoff = std::chrono::milliseconds(20);
    c.max_backoff = std::chrono::milliseconds(200);
    return c;
  }
  // Test controls of the fake server.
  static void control(const std::string& verb, const std::string& path,
                      const std::string& body = "") {
    ApiClientConfig c;
    c.credentials.server = server_url_;
    c.credentials.ca_file = dir_ + "/certs/ca.crt";
    ApiClient client(c);
    auto response = client.call("test control", verb, path, body, "application/json");
    ASSERT_TRUE(response.ok()) << response.error().message;
  }
  static void add_pod(const std::string& ns, const std::string& name, const std::string& node,
                      const std::string& labels = "{}") {
    control("POST", "/_test/pods",
            testing_util::api_pod_json({.name = name,
                                        .namespace_name = ns,
                                        .uid = "uid-" + name,
                                        .node = node,
                                        .qos_class = "Burstable",
                                        .resources = R"({"requests":{"memory":"64Mi"}})",
                                        .labels = labels,
                                        .spec_extra = R"(,"priority":10)"}));
  }
  static std::string kubectl(const std::string& args) {
    return shell("kubectl --kubeconfig " + dir_ + "/kubeconfig " + args);
  }

  static inline testing_util::FakeApiServer* server_ = nullptr;
  static inline std::string dir_;
  static inline std::string server_url_;
};

TEST_F(KubeApiTest, KubeconfigRules) {
  auto credentials = load_kubeconfig(dir_ + "/kubeconfig");
  ASSERT_TRUE(credentials.ok()) << credentials.error().message;
  EXPECT_EQ(credentials->server, server_url_);
  EXPECT_EQ(credentials->ca_file, dir_ + "/certs/ca.crt");  // relative to the kubeconfig
  EXPECT_EQ(credentials->token_file, dir_ + "/token");
  std::ofstream(dir_ + "/insecure")
      << "current-context: c\nclusters:\n- name: k\n  cluster: {server: " << server_url_
      << ", insecure-skip-tls-verify: true}\n"
      << "contexts:\n- name: c\n  context: {cluster: k, user: u}\n";
  auto insecure = load_kubeconfig(dir_ + "/insecure");
  ASSERT_FALSE(insecure.ok());
  EXPECT_NE(insecure.error().message.find("insecure-skip-tls-verify"), std::string::npos);
  std::ofstream(dir_ + "/plain")
      << "current-context: c\nclusters:\n- name: k\n  cluster: {server: http://127.0.0.1:1}\n"
      << "contexts:\n- name: c\n  context: {cluster: k, user: u}\n";
  EXPECT_NE(load_kubeconfig(dir_ + "/plain").error().message.find("must be https://"),
            std::string::npos);
}

TEST_F(KubeApiTest, ListAndWatchThisNodesPodsWithBookmarksAndRelistOn410) {
  add_pod("shop", "web", "node1");
  add_pod("shop", "db", "node1");
  add_pod("shop", "elsewhere", "node2");
  ApiClient client(config());
  PodSource source(client, "node1");
  auto rv = source.list();
  ASSERT_TRUE(rv.ok()) << rv.error().message;
  auto pods = source.pods();
  ASSERT_EQ(pods.size(), 2U);
  auto web = source.find("uid-web");
  ASSERT_TRUE(web);
  EXPECT_EQ(pod_priority(*web), 10);
  EXPECT_EQ(pod_request(*web, "memory").to_string(), "64Mi");
  // A pod that appears is picked up by the watch; bookmarks move the resourceVersion on.
  std::thread later([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    add_pod("jobs", "batch", "node1");
  });
  auto applied = source.watch(std::chrono::seconds(2));
  later.join();
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_GE(*applied, 1U);
  EXPECT_TRUE(source.find("uid-batch"));
  EXPECT_GT(std::stol(source.resource_version()), std::stol(*rv));
  // The server compacts: watching from the old resourceVersion gets 410 and the source relists.
  const size_t relists = source.relists();
  control("POST", "/_test/compact");
  add_pod("jobs", "after-compaction", "node1");
  control("POST", "/_test/compact");
  ASSERT_TRUE(source.watch(std::chrono::seconds(1)).ok());
  EXPECT_EQ(source.relists(), relists + 1);
  EXPECT_TRUE(source.find("uid-after-compaction"));
}

TEST_F(KubeApiTest, AWatchCutOffMidStreamLosesNothing) {
  ApiClient client(config());
  PodSource source(client, "node3");
  ASSERT_TRUE(source.list().ok());
  std::thread cutter([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    add_pod("cut", "before-cut", "node3");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    control("POST", "/_test/cut-watches");
    add_pod("cut", "while-cut", "node3");  // happens while no watch is open
  });
  auto first = source.watch(std::chrono::seconds(3));
  cutter.join();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(source.find("uid-before-cut"));
  const size_t relists = source.relists();
  // Watching again from the last resourceVersion delivers what happened in between, without a
  // relist.
  ASSERT_TRUE(source.watch(std::chrono::seconds(1)).ok());
  EXPECT_TRUE(source.find("uid-while-cut"));
  EXPECT_EQ(source.relists(), relists);
}

TEST_F(KubeApiTest, InClusterCredentials) {
  const std::string root = dir_ + "/incluster";
  const std::string sa = root + "/var/run/secrets/kubernetes.io/serviceaccount";
  std::filesystem::create_directories(sa);
  std::filesystem::copy_file(dir_ + "/certs/ca.crt", sa + "/ca.crt");
  std::ofstream(sa + "/token") << "secret-token\n";
  std::ofstream(sa + "/namespace") << "kube-system";
  setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", server_url_.substr(server_url_.rfind(':') + 1).c_str(), 1);
  auto credentials = in_cluster_credentials(root);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(credentials.ok()) << credentials.error().message;
  EXPECT_EQ(credentials->server, server_url_);
  EXPECT_EQ(credentials->namespace_name, "kube-system");
  ApiClientConfig c;
  c.credentials = *credentials;
  ApiClient client(c);
  EXPECT_TRUE(PodSource(client, "node1").list().ok());
  EXPECT_FALSE(in_cluster_credentials(root).ok());  // outside a cluster: a clear error
}

TEST_F(KubeApiTest, EvictionStatusAndEventAsKubectlSeesThem) {
  add_pod("shop", "victim", "node1");
  ApiClient client(config());
  EvictionWriter writer(client);
  EvictionRecord record;
  record.namespace_name = "shop";
  record.name = "victim";
  record.uid = "uid-victim";
  record.generation = 1;
  record.message =
      "The node was low on resource: memory. Threshold quantity: 2Gi, available: 1500Mi. ";
  record.annotations = {{"offending_containers", ""},
                        {"offending_containers_usage", ""},
                        {"starved_resource", "memory"}};
  record.node_name = "node1";
  record.time = rfc3339_now();
  ASSERT_TRUE(writer.patch_status(record).ok());
  ASSERT_TRUE(writer.patch_status(record).ok());  // idempotent
  ASSERT_TRUE(writer.post_event(record).ok());
  const std::string table = kubectl("get pods -n shop victim");
  EXPECT_NE(table.find("Evicted"), std::string::npos) << table;
  EXPECT_EQ(kubectl("get pod -n shop victim -o "
                    "jsonpath='{.status.conditions[?(@.type==\"DisruptionTarget\")].reason}'"),
            "TerminationByKubelet");
  EXPECT_EQ(kubectl("get pod -n shop victim -o jsonpath='{.status.message}'"), record.message);
  const auto state = nlohmann::json::parse(
      shell("curl -s --cacert " + dir_ + "/certs/ca.crt " + server_url_ + "/_test/state"));
  bool found = false;
  for (const auto& event : state["events"]) {
    if (event["involvedObject"]["name"] == "victim") {
      found = true;
      EXPECT_EQ(event["reason"], "Evicted");
      EXPECT_EQ(event["type"], "Warning");
      EXPECT_EQ(event["metadata"]["annotations"]["starved_resource"], "memory");
    }
  }
  EXPECT_TRUE(found);
  for (const auto& request : state["requests"]) {
    if (request[1].get<std::string>().ends_with("/victim/status")) {
      EXPECT_EQ(request[2], "application/strategic-merge-patch+json");
    }
  }
}

TEST_F(KubeApiTest, EvictionApiRespectsDisruptionBudgets) {
  add_pod("web", "guarded", "node1", R"({"app":"guarded"})");
  add_pod("web", "double", "node1", R"({"app":"double","tier":"x"})");
  add_pod("web", "free", "node1", R"({"app":"free"})");
  control(
      "POST", "/_test/pdbs",
      R"({"namespace":"web","name":"guard","selector":{"app":"guarded"},"disruptionsAllowed":0})");
  control("POST", "/_test/pdbs",
          R"({"namespace":"web","name":"one","selector":{"app":"double"},"disruptionsAllowed":1})");
  control("POST", "/_test/pdbs",
          R"({"namespace":"web","name":"two","selector":{"tier":"x"},"disruptionsAllowed":1})");
  ApiClient client(config());
  EvictionWriter writer(client);
  EXPECT_EQ(*writer.evict("web", "guarded", 30), ApiEvictionOutcome::kBlockedByDisruptionBudget);
  EXPECT_EQ(*writer.evict("web", "double", 30), ApiEvictionOutcome::kMisconfigured);
  EXPECT_EQ(*writer.evict("web", "free", 30), ApiEvictionOutcome::kEvicted);
  // A graceful deletion: the pod stays, terminating, until its kubelet's final delete, with the
  // API server's DisruptionTarget condition.
  const std::string terminating = kubectl("get pods -n web");
  EXPECT_NE(terminating.find("Terminating"), std::string::npos) << terminating;
  EXPECT_EQ(kubectl("get pod free -n web -o jsonpath='{.metadata.deletionGracePeriodSeconds}/"
                    "{.status.conditions[?(@.type==\"DisruptionTarget\")].reason}'"),
            "30/EvictionByEvictionAPI");
  // A terminating pod is evicted again without its budget being consulted.
  EXPECT_EQ(*writer.evict("web", "free", 30), ApiEvictionOutcome::kEvicted);
  control("DELETE", "/_test/pods?namespace=web&name=free");  // the kubelet's final delete
  EXPECT_EQ(*writer.evict("web", "free", 30), ApiEvictionOutcome::kGone);
  EXPECT_NE(kubectl("get pods -n web").find("guarded"), std::string::npos);
}

TEST_F(KubeApiTest, NodeConditionsWithTheKubeletsReasons) {
  control(
      "POST", "/_test/nodes",
      R"({"metadata":{"name":"node1"},"status":{"conditions":[{"type":"Ready","status":"True"}]}})");
  ApiClient client(config());
  NodeConditionWriter conditions(client, "node1");
  ASSERT_TRUE(conditions.update(true, false, false, "2026-11-22T10:00:00Z").ok());
  ASSERT_TRUE(conditions.update(true, false, false, "2026-11-22T10:00:10Z").ok());
  const auto jsonpath = [](const char* type, const char* field) {
    return kubectl(std::string("get node node1 -o jsonpath='{.status.conditions[?(@.type==\"") +
                   type + "\")]." + field + "}'");
  };
  EXPECT_EQ(jsonpath("MemoryPressure", "reason"), "KubeletHasInsufficientMemory");
  EXPECT_EQ(jsonpath("MemoryPressure", "message"), "kubelet has insufficient memory available");
  EXPECT_EQ(jsonpath("MemoryPressure", "lastTransitionTime"), "2026-11-22T10:00:00Z");
  EXPECT_EQ(jsonpath("MemoryPressure", "lastHeartbeatTime"), "2026-11-22T10:00:10Z");
  EXPECT_EQ(jsonpath("DiskPressure", "reason"), "KubeletHasNoDiskPressure");
  EXPECT_EQ(jsonpath("PIDPressure", "status"), "False");
  EXPECT_EQ(jsonpath("Ready", "status"), "True");  // merged by type: other conditions stay
  ASSERT_TRUE(conditions.update(false, false, false, "2026-11-22T10:05:00Z").ok());
  EXPECT_EQ(jsonpath("MemoryPressure", "reason"), "KubeletHasSufficientMemory");
  EXPECT_EQ(jsonpath("MemoryPressure", "lastTransitionTime"), "2026-11-22T10:05:00Z");
}

// An eviction record for pod NAME in namespace shop, as add_pod made it (UID uid-NAME).
EvictionRecord shop_record(const std::string& name) {
  EvictionRecord record;
  record.namespace_name = "shop";
  record.name = name;
  record.uid = "uid-" + name;
  record.message = "m";
  record.time = rfc3339_now();
  return record;
}

// Shutdown: a status write retrying against an API server that answers 503 with Retry-After: 30
// gives up as soon as the client is cancelled, instead of holding the executor's stop for minutes.
TEST_F(KubeApiTest, CancelEndsAWriteRetryingAgainstAFailingApiServer) {
  add_pod("shop", "stuck", "node1");
  ApiClient client(config());
  control("POST", "/_test/faults",
          R"({"path":"/pods/stuck/status","status":503,"count":1000,"retry_after":30})");
  const EvictionRecord record = shop_record("stuck");
  Result<void> written;
  const auto started = std::chrono::steady_clock::now();
  std::thread writer([&] { written = EvictionWriter(client).patch_status(record); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  client.cancel();
  writer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  ASSERT_FALSE(written.ok());
  EXPECT_NE(
      written.error().message.find("patch pods/status shop/stuck: not sent: evictd is stopping"),
      std::string::npos)
      << written.error().message;
  EXPECT_FALSE(EvictionWriter(client).patch_status(record).ok()) << "cancelled for good";
  control("DELETE", "/_test/faults");
}

TEST_F(KubeApiTest, FaultsAreRetriedOrReportedClearly) {
  add_pod("shop", "faulty", "node1");
  ApiClient client(config());
  // 503 twice with Retry-After: the third attempt succeeds.
  control("POST", "/_test/faults",
          R"({"path":"/pods/faulty/status","status":503,"count":2,"retry_after":0})");
  EvictionWriter writer(client);
  const EvictionRecord record = shop_record("faulty");
  ASSERT_TRUE(writer.patch_status(record).ok());
  EXPECT_EQ(client.attempts_made(), 3);
  // Dropped connections are retried too (curl itself retries once on a reused connection that died;
  // the second drop is ours to retry).
  control("POST", "/_test/faults", R"({"path":"/pods/faulty/status","drop":true,"count":2})");
  ASSERT_TRUE(writer.patch_status(record).ok());
  EXPECT_GE(client.attempts_made(), 2);
  // 401 is reported at once, naming the verb and the resource.
  ApiClientConfig wrong_token = config();
  wrong_token.credentials.token_file.clear();
  wrong_token.credentials.token = "expired";
  ApiClient unauthorized(wrong_token);
  auto refused = EvictionWriter(unauthorized).patch_status(record);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, 401);
  EXPECT_NE(refused.error().message.find("patch pods/status shop/faulty: 401 Unauthorized"),
            std::string::npos);
  EXPECT_EQ(unauthorized.attempts_made(), 1);
  // A rotated token file is picked up without a restart.
  std::ofstream(dir_ + "/token") << "rotated-token\n";
  std::filesystem::last_write_time(
      dir_ + "/token", std::filesystem::file_time_type::clock::now() + std::chrono::seconds(1));
  EXPECT_TRUE(writer.patch_status(record).ok());
  // A server certificate from another CA is refused.
  ApiClientConfig wrong_ca = config(1);
  wrong_ca.credentials.ca_file = dir_ + "/certs/other-ca.crt";
  ApiClient untrusted(wrong_ca);
  auto tls = EvictionWriter(untrusted).patch_status(record);
  ASSERT_FALSE(tls.ok());
  EXPECT_NE(tls.error().message.find("TLS"), std::string::npos) << tls.error().message;
  // Nobody listening: an error after bounded retries, not a hang.
  ApiClientConfig down = config(2);
  down.credentials.server = "https://127.0.0.1:1";
  ApiClient nowhere(down);
  auto unreachable = EvictionWriter(nowhere).patch_status(record);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(nowhere.attempts_made(), 2);
  // An event that exists already (409, a retried eviction) is done, not an error.
  control("POST", "/_test/faults", R"({"path":"/namespaces/shop/events","status":409,"count":1})");
  EXPECT_TRUE(writer.post_event(record).ok());
  // A server that does not answer in time: a timeout, retried, then a clear error.
  ApiClientConfig impatient = config(2);
  impatient.timeout = std::chrono::milliseconds(300);
  ApiClient slow(impatient);
  control("POST", "/_test/faults", R"({"path":"/pods/faulty/status","delay":1.0,"count":2})");
  const auto started = std::chrono::steady_clock::now();
  auto timed_out = EvictionWriter(slow).patch_status(record);
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(slow.attempts_made(), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // let the delayed requests finish
  // Client certificates (O=system:nodes) work as well as tokens.
  ApiClientConfig by_cert = config();
  by_cert.credentials.token_file.clear();
  by_cert.credentials.client_cert_file = dir_ + "/certs/client.crt";
  by_cert.credentials.client_key_file = dir_ + "/certs/client.key";
  ApiClient cert_client(by_cert);
  EXPECT_TRUE(EvictionWriter(cert_client).patch_status(record).ok());
}

}  // namespace
}  // namespace evictd::kube
