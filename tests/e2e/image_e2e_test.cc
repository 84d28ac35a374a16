// The DaemonSet's image (scripts/image) run as deploy/daemonset.yaml runs it, in a real containerd:
// the manifest's image reference, arguments, memory limit, security context (read-only root,
// privilege escalation off, every capability dropped but SYS_RESOURCE) and volume mounts (the
// node's cgroup tree, the CRI socket, the kubelet's directory with its configuration, the ledger's
// and the socket's directories, the ConfigMap's config.yaml) are read from the manifest itself,
// with the node's paths pointed at the test's; the service account's credentials point evictd at
// the test API server in-cluster. The running evictd is seen to have what the security context
// asks (its capabilities, no_new_privs, a read-only root, from /proc); a pod leaking memory is
// evicted and recorded as the kubelet would, and the agent's own (critical) pod is never touched.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "apiserver/fake_apiserver_process.h"
#include "e2e/containerd_harness.h"
#include "e2e/daemon_process.h"
#include "read_text.h"

namespace evictd {
namespace {

using testing_util::AgentContainer;
using testing_util::ContainerdHarness;
using testing_util::env;
using testing_util::eventually;
using testing_util::processes_in;
using testing_util::read_text;
using testing_util::shell;
using testing_util::TestContainer;
using testing_util::TestPod;

constexpr int64_t kMiB = 1024 * 1024;
constexpr const char* kNode = "e2e-node";

// deploy/daemonset.yaml: its ConfigMap's config.yaml and its DaemonSet's pod template.
struct Manifest {
  YAML::Node config;     // the ConfigMap's config.yaml, parsed
  YAML::Node container;  // spec.template.spec.containers[0]
  YAML::Node volumes;    // spec.template.spec.volumes
};

Manifest read_manifest(const std::string& path) {
  Manifest manifest;
  for (const auto& document : YAML::LoadAllFromFile(path)) {
    const std::string kind = document["kind"].as<std::string>("");
    if (kind == "ConfigMap")
      manifest.config = YAML::Load(document["data"]["config.yaml"].as<std::string>());
    if (kind == "DaemonSet") {
      manifest.container = document["spec"]["template"]["spec"]["containers"][0];
      manifest.volumes = document["spec"]["template"]["spec"]["volumes"];
    }
  }
  return manifest;
}

// "64Mi" → bytes (the manifest's memory limit).
int64_t mebibytes(const std::string& quantity) {
  return std::stoll(quantity.substr(0, quantity.find("Mi"))) * kMiB;
}

class ImageE2eTest : public testing::Test {
 protected:
  void SetUp() override {
    image_ = env("EVICTD_IMAGE");
    ASSERT_TRUE(std::filesystem::exists(image_))
        << "no image at '" << image_ << "': scripts/image builds it";
    manifest_ = read_manifest(env("EVICTD_SOURCE_DIR") + "/deploy/daemonset.yaml");
    ASSERT_TRUE(manifest_.config.IsMap() && manifest_.container.IsMap());
    ASSERT_EQ(harness_.start(), "");
    ASSERT_TRUE(api_.running());
    ASSERT_EQ(harness_.ctr("images import " + image_), 0) << "ctr images import " << image_;
    node_ = harness_.dir() + "/node";
  }

  // A pod in the runtime and in the API server.
  std::string add_pod(TestPod& pod, const std::string& name, const std::string& namespace_name,
                      const std::string& tier, const std::string& resources,
                      const std::string& spec_extra = "") {
    pod.name = name;
    pod.namespace_name = namespace_name;
    pod.tier = tier;
    pod.uid = testing_util::make_uid();
    const testing_util::ApiPod object{.name = name,
                                      .namespace_name = namespace_name,
                                      .uid = pod.uid,
                                      .node = kNode,
                                      .qos_class = testing_util::qos_class_of(tier),
                                      .resources = resources,
                                      .spec_extra = spec_extra};
    if (!testing_util::api_control(api_, "POST", "/_test/pods", testing_util::api_pod_json(object)))
      return "cannot add pod " + name + " to the API server";
    return "";
  }

  // Where each of the manifest's host paths is on this test's node.
  std::string host_path(const std::string& manifest_path) {
    if (manifest_path == "/sys/fs/cgroup")
      return manifest_path;
    if (manifest_path == "/run/containerd/containerd.sock")
      return harness_.dir() + "/containerd.sock";
    const std::string path = node_ + manifest_path;
    std::filesystem::create_directories(path);
    return path;
  }

  // The node's side of the DaemonSet: the ConfigMap's config.yaml with what differs on this node,
  // the kubelet's configuration file it points at, the service account's credentials.
  void prepare_node(int metrics_port) {
    YAML::Node config = YAML::Clone(manifest_.config);
    config["nodeName"] = kNode;
    config["cgroupDriver"] = testing_util::systemd_driver() ? "systemd" : "cgroupfs";
    config["podSandboxImage"] = ContainerdHarness::kPauseImage;
    config["metricsAddress"] = "127.0.0.1:" + std::to_string(metrics_port);
    std::filesystem::create_directories(node_ + "/configmap");
    std::ofstream(node_ + "/configmap/config.yaml") << YAML::Dump(config) << "\n";
    std::filesystem::create_directories(node_ + "/var/lib/kubelet");
    std::ofstream(node_ + "/var/lib/kubelet/config.yaml")
        << "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
        << "evictionHard: {memory.available: 200Mi}\nevictionPressureTransitionPeriod: 5s\n";
    const std::string secrets = node_ + "/serviceaccount";
    std::filesystem::create_directories(secrets);
    std::filesystem::copy_file(api_.dir() + "/certs/ca.crt", secrets + "/ca.crt");
    std::ofstream(secrets + "/token") << "secret-token\n";
    std::ofstream(secrets + "/namespace") << "kube-system\n";
  }

  // The evictd container as the manifest describes it.
  AgentContainer agent_container() {
    const YAML::Node& c = manifest_.container;
    AgentContainer agent;
    agent.name = c["name"].as<std::string>();
    agent.image = c["image"].as<std::string>();
    for (const auto& arg : c["args"])
      agent.args.push_back(arg.as<std::string>());
    agent.memory_limit = mebibytes(c["resources"]["limits"]["memory"].as<std::string>());
    const YAML::Node& security = c["securityContext"];
    agent.run_as_user = security["runAsUser"].as<int64_t>();
    agent.readonly_rootfs = security["readOnlyRootFilesystem"].as<bool>();
    agent.no_new_privs = !security["allowPrivilegeEscalation"].as<bool>();
    for (const auto& capability : security["capabilities"]["add"])
      agent.add_capabilities.push_back(capability.as<std::string>());
    for (const auto& capability : security["capabilities"]["drop"])
      agent.drop_capabilities.push_back(capability.as<std::string>());
    std::map<std::string, std::string> sources;  // volume name → host path on this node
    for (const auto& volume : manifest_.volumes) {
      const std::string name = volume["name"].as<std::string>();
      sources[name] = volume["hostPath"] ? host_path(volume["hostPath"]["path"].as<std::string>())
                                         : node_ + "/configmap";
    }
    for (const auto& mount : c["volumeMounts"]) {
      agent.mounts.push_back({sources.at(mount["name"].as<std::string>()),
                              mount["mountPath"].as<std::string>(),
                              mount["readOnly"].as<bool>(false)});
    }
    // The service account's token and CA, as the kubelet projects them, and the API server as
    // the kubelet's service links announce it.
    agent.mounts.push_back(
        {node_ + "/serviceaccount", "/var/run/secrets/kubernetes.io/serviceaccount", true});
    agent.env["NODE_NAME"] = kNode;
    agent.env["KUBERNETES_SERVICE_HOST"] = "127.0.0.1";
    agent.env["KUBERNETES_SERVICE_PORT"] = api_.url().substr(api_.url().rfind(':') + 1);
    return agent;
  }

  std::string kubectl(const std::string& args) {
    return shell("kubectl --kubeconfig " + api_.kubeconfig() + " " + args);
  }

  std::string image_;
  Manifest manifest_;
  ContainerdHarness harness_;
  testing_util::FakeApiServer api_{env("EVICTD_SOURCE_DIR")};
  std::string node_;
};

// The agent's main process in its pod (its /proc directory), or "" when there is none.
std::string agent_process(const TestPod& pod) {
  const std::string procs = testing_util::memory_cgroup(pod.cgroup_path);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(procs)) {
    if (entry.path().filename() != "cgroup.procs")
      continue;
    std::istringstream pids(read_text(entry.path()));
    for (std::string pid; pids >> pid;) {
      if (read_text("/proc/" + pid + "/comm").starts_with("evictd"))
        return "/proc/" + pid;
    }
  }
  return "";
}

// A field of /proc/PID/status ("CapEff", "NoNewPrivs"), as the kernel writes it.
std::string status_field(const std::string& process, const std::string& field) {
  const std::string status = read_text(process + "/status");
  const size_t at = status.find(field + ":\t");
  if (at == std::string::npos)
    return "";
  const size_t value = at + field.size() + 2;
  return status.substr(value, status.find('\n', value) - value);
}

// The mount options of the process's root, from its mountinfo (the sixth field of the "/" line).
std::string root_mount_options(const std::string& process) {
  std::istringstream mountinfo(read_text(process + "/mountinfo"));
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point, options;
    fields >> id >> parent >> device >> root >> mount_point >> options;
    if (mount_point == "/")
      return options;
  }
  return "";
}

TEST_F(ImageE2eTest, TheDaemonSetsImageEvictsTheLeakingPodAsTheManifestRunsIt) {
  testing_util::set_kubepods_memory_limit(600 * kMiB);
  TestPod db, batch;
  ASSERT_EQ(add_pod(db, "db", "shop", "burstable", R"({"requests":{"memory":"100Mi"}})"), "");
  ASSERT_EQ(harness_.create_pod(db, {TestContainer{"app", 100}}), "");
  ASSERT_EQ(add_pod(batch, "batch", "shop", "besteffort", "{}"), "");
  ASSERT_EQ(harness_.create_pod(batch, {TestContainer{"app", 60}}), "");

  const int metrics_port = testing_util::free_port();
  prepare_node(metrics_port);
  const AgentContainer agent = agent_container();
  EXPECT_EQ(agent.image, "evictd:" + env("EVICTD_VERSION"))
      << "the manifest and the image disagree";
  TestPod evictd_pod;
  ASSERT_EQ(
      add_pod(
          evictd_pod, "evictd-x7k2p", "kube-system", "",
          R"({"requests":{"memory":"64Mi","cpu":"50m"},"limits":{"memory":"64Mi","cpu":"50m"}})",
          R"(,"priority":2000001000,"priorityClassName":"system-node-critical")"),
      "");
  ASSERT_EQ(harness_.create_agent_pod(evictd_pod, agent), "");
  std::string metrics;
  ASSERT_TRUE(eventually(
      [&] {
        metrics =
            testing_util::http_get("http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics");
        return metrics.find(R"(evictd_signal_available{signal="allocatableMemory.available"})") !=
               std::string::npos;
      },
      std::chrono::seconds(30)))
      << "evictd in its container did not come up: "
      << shell("cat " + harness_.dir() + "/logs/" + evictd_pod.uid + "/*.log | tail -20");
  // The security context holds in the running process: only CAP_SYS_RESOURCE (bit 24) and
  // CAP_IPC_LOCK (bit 14), no privilege escalation, a read-only root; and with IPC_LOCK evictd
  // locked itself in memory, inside the container's memory limit.
  const std::string process = agent_process(evictd_pod);
  ASSERT_FALSE(process.empty()) << "no evictd process in the agent's pod";
  EXPECT_EQ(status_field(process, "CapEff"), "0000000001004000");
  EXPECT_GT(std::atoll(status_field(process, "VmLck").c_str()), 0) << "kB locked";
  EXPECT_EQ(status_field(process, "NoNewPrivs"), "1");
  const std::string root_options = root_mount_options(process);
  EXPECT_TRUE(root_options == "ro" || root_options.starts_with("ro,")) << root_options;

  const long oom_kills_before = testing_util::oom_kills("kubepods");
  TestPod leaky;
  ASSERT_EQ(add_pod(leaky, "leaky", "shop", "burstable", R"({"requests":{"memory":"10Mi"}})"), "");
  TestContainer leak{"app", 500};
  leak.rate_mib_s = 100;
  ASSERT_EQ(harness_.create_pod(leaky, {leak}), "");
  EXPECT_TRUE(eventually([&] { return processes_in(leaky) == 0; }, std::chrono::seconds(30)))
      << shell("cat " + harness_.dir() + "/logs/" + evictd_pod.uid + "/*.log | tail -20");
  EXPECT_GT(processes_in(db), 0);
  EXPECT_GT(processes_in(batch), 0);
  EXPECT_GT(processes_in(evictd_pod), 0) << "the agent's own pod was touched";
  EXPECT_EQ(testing_util::oom_kills("kubepods"), oom_kills_before);
  std::string status;
  EXPECT_TRUE(eventually(
      [&] {
        status = kubectl("get pod -n shop leaky -o jsonpath='{.status.phase} {.status.reason}'");
        return status == "Failed Evicted";
      },
      std::chrono::seconds(10)))
      << status;
  // The ledger is on the node, where a restarted agent finds it.
  EXPECT_TRUE(std::filesystem::exists(node_ + "/var/lib/evictd/ledger"));
}

}  // namespace
}  // namespace evictd
