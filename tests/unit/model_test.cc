// The node's model: only pods the runtime reports, joined by UID with their cgroup usage, with the
// API server's spec when it has one and a spec rebuilt from the node when not.
#include <gtest/gtest.h>

#include "daemon/model/pod_view.h"
#include "ranking/pod.h"

namespace evictd::model {
namespace {

cgroups::NodeSample sample_with(std::vector<std::pair<std::string, uint64_t>> pods) {
  cgroups::NodeSample sample;
  for (const auto& [uid, working_set] : pods) {
    cgroups::PodSample pod;
    pod.uid = uid;
    pod.tier = cgroups::QosTier::kGuaranteed;
    pod.cgroup = "kubepods/pod" + uid;
    pod.usage.memory.working_set_bytes = working_set;
    pod.usage.processes = 3;
    pod.usage.cpu_usage_ns = working_set * 1'000'000;
    pod.usage.cpu_cores = static_cast<double>(working_set) / 1000;
    sample.pods.push_back(pod);
  }
  return sample;
}

cri::RuntimePod runtime_pod(const std::string& uid, const std::string& name) {
  cri::RuntimePod pod;
  pod.uid = uid;
  pod.name = name;
  pod.namespace_name = "shop";
  pod.containers.push_back(cri::RuntimeContainer{"c-" + name, "app", {}, "", ""});
  return pod;
}

TEST(PodViewTest, OnlyPodsTheRuntimeReportsWithUsageJoinedByUid) {
  RuntimeSnapshot runtime;
  runtime.pods = {runtime_pod("a", "web"), runtime_pod("b", "db")};
  const auto sample = sample_with({{"b", 200}, {"a", 100}, {"stray", 999}});
  const auto view = build_pod_view(sample, runtime, {}, {});
  ASSERT_EQ(view.entries.size(), 2u) << "the cgroup without a runtime pod is not a pod to act on";
  EXPECT_EQ(view.entries[0].pod.name, "web");
  EXPECT_EQ(view.entries[0].stats.memory_working_set_bytes, 100u);
  EXPECT_EQ(view.entries[1].stats.memory_working_set_bytes, 200u);
  EXPECT_EQ(view.entries[1].stats.process_count, 3u);
  EXPECT_EQ(view.entries[1].cpu_usage_ns, 200'000'000u);
  EXPECT_DOUBLE_EQ(view.entries[1].cpu_cores.value_or(0), 0.2);
  ASSERT_EQ(view.active.size(), 2u);
  EXPECT_EQ(view.active[1].pod, &view.entries[1].pod);
}

TEST(PodViewTest, ApiSpecsWhenKnownElseRebuiltFromTheNode) {
  RuntimeSnapshot runtime;
  runtime.pods = {runtime_pod("a", "web"), runtime_pod("b", "static-proxy")};
  runtime.pods[1].annotations["kubernetes.io/config.source"] = "file";
  const auto sample = sample_with({{"a", 100}, {"b", 200}});
  const SpecLookup specs = [](const std::string& uid) -> std::optional<Pod> {
    if (uid != "a")
      return std::nullopt;
    Pod pod;
    pod.name = "web";
    pod.namespace_name = "shop";
    pod.uid = "a";
    pod.priority = 1000;
    return pod;
  };
  const LimitLookup limits = [](const std::string& cgroup,
                                const std::string& container) -> std::optional<int64_t> {
    EXPECT_EQ(cgroup, "kubepods/podb");
    EXPECT_EQ(container, "c-static-proxy");
    return 128 << 20;
  };
  const auto view = build_pod_view(sample, runtime, specs, limits);
  ASSERT_EQ(view.entries.size(), 2u);
  EXPECT_EQ(view.entries[0].spec_source, SpecSource::kApiServer);
  EXPECT_EQ(view.entries[0].pod.priority, 1000);
  const auto& rebuilt = view.entries[1];
  EXPECT_EQ(rebuilt.spec_source, SpecSource::kNode);
  EXPECT_EQ(pod_qos(rebuilt.pod), QosClass::kGuaranteed);
  EXPECT_TRUE(is_critical_pod(rebuilt.pod)) << "a static pod stays critical without the API";
  EXPECT_EQ(pod_request(rebuilt.pod, kResourceMemory).value(), 128 << 20);
}

}  // namespace
}  // namespace evictd::model
