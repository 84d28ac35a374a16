#include "ranking/pod.h"

#include <gtest/gtest.h>

#include "daemon/yaml/pod.h"
#include "unit/builders.h"

namespace evictd {
namespace {

using testing_util::container;
using testing_util::pod;
using testing_util::q;

TEST(PodRequest, SumsContainersAndTakesLargestInitContainer) {
  Pod p = pod("a",
              {container("a", {{"memory", q("100Mi")}}), container("b", {{"memory", q("200Mi")}})});
  EXPECT_EQ(pod_request(p, "memory").to_string(), "300Mi");
  p.init_containers = {container("init", {{"memory", q("1Gi")}})};
  EXPECT_EQ(pod_request(p, "memory").to_string(), "1Gi");
  EXPECT_EQ(pod_request(p, "ephemeral-storage").to_string(), "0");
}

TEST(PodRequest, SidecarsRunBesideLaterInitContainersAndTheMainContainers) {
  Container sidecar = container("sidecar", {{"memory", q("100Mi")}});
  sidecar.restartable = true;
  Pod p = pod("a", {container("main", {{"memory", q("200Mi")}})});
  p.init_containers = {sidecar, container("migrate", {{"memory", q("500Mi")}})};
  // max(main + sidecar = 300Mi, migrate + sidecar = 600Mi)
  EXPECT_EQ(pod_request(p, "memory").to_string(), "600Mi");
  p.init_containers[1].resources.requests["memory"] = q("50Mi");
  EXPECT_EQ(pod_request(p, "memory").to_string(), "300Mi");
}

TEST(PodRequest, OverheadCountsOnlyOnANonZeroRequest) {
  Pod p = pod("a", {container("main", {{"memory", q("200Mi")}})});
  p.overhead = {{"memory", q("56Mi")}};
  EXPECT_EQ(pod_request(p, "memory").to_string(), "256Mi");
  Pod empty = pod("b", {container("main")});
  empty.overhead = {{"memory", q("56Mi")}};
  EXPECT_EQ(pod_request(empty, "memory").to_string(), "0");
}

TEST(PodRequest, PodLevelResourcesReplaceContainerLevel) {
  Pod p = pod("a", {container("main", {{"memory", q("200Mi")}, {"ephemeral-storage", q("1Gi")}})});
  p.pod_resources = ResourceRequirements{{{"memory", q("1Gi")}}, {{"memory", q("2Gi")}}};
  EXPECT_EQ(pod_request(p, "memory").to_string(), "1Gi");
  // With pod-level resources the kubelet skips container requests, also for ephemeral-storage.
  EXPECT_EQ(pod_request(p, "ephemeral-storage").to_string(), "0");
  EXPECT_TRUE(has_pod_level_resources(p));
}

TEST(PodLimit, AggregatesAndReportsAbsence) {
  Pod p = pod("a", {container("a", {}, {{"ephemeral-storage", q("1Gi")}}), container("b")});
  EXPECT_EQ(pod_limit(p, "ephemeral-storage")->to_string(), "1Gi");
  EXPECT_FALSE(pod_limit(p, "memory").has_value());
  p.overhead = {{"ephemeral-storage", q("1Gi")}};
  EXPECT_EQ(pod_limit(p, "ephemeral-storage")->to_string(), "2Gi");
}

struct QosCase {
  const char* name;
  Pod pod;
  QosClass expected;
};

class QosTest : public testing::TestWithParam<QosCase> {};

TEST_P(QosTest, ComputedAsTheApiServerDoes) {
  EXPECT_EQ(qos_class_name(compute_qos(GetParam().pod)), qos_class_name(GetParam().expected))
      << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, QosTest,
    testing::Values(QosCase{"no resources", pod("a", {container("a")}), QosClass::kBestEffort},
                    QosCase{"only ephemeral storage",
                            pod("a", {container("a", {{"ephemeral-storage", q("1Gi")}})}),
                            QosClass::kBestEffort},
                    QosCase{"requests equal limits",
                            pod("a", {container("a", {{"cpu", q("1")}, {"memory", q("1Gi")}},
                                                {{"cpu", q("1")}, {"memory", q("1Gi")}})}),
                            QosClass::kGuaranteed},
                    QosCase{"memory limit only",
                            pod("a", {container("a", {}, {{"memory", q("1Gi")}})}),
                            QosClass::kBurstable},
                    QosCase{"requests below limits",
                            pod("a", {container("a", {{"cpu", q("500m")}, {"memory", q("1Gi")}},
                                                {{"cpu", q("1")}, {"memory", q("1Gi")}})}),
                            QosClass::kBurstable},
                    QosCase{"one guaranteed one best effort",
                            pod("a", {container("a", {{"cpu", q("1")}, {"memory", q("1Gi")}},
                                                {{"cpu", q("1")}, {"memory", q("1Gi")}}),
                                      container("b")}),
                            QosClass::kBurstable}));

TEST(Qos, StatusWinsOverComputation) {
  Pod p = pod("a", {container("a")});
  p.status_qos_class = QosClass::kGuaranteed;
  EXPECT_EQ(pod_qos(p), QosClass::kGuaranteed);
}

TEST(Critical, StaticMirrorAndSystemPriorityPodsAreCritical) {
  Pod p = pod("a", {container("a")});
  EXPECT_FALSE(is_critical_pod(p));
  p.annotations["kubernetes.io/config.source"] = "api";
  EXPECT_FALSE(is_critical_pod(p));
  p.annotations["kubernetes.io/config.source"] = "file";
  EXPECT_TRUE(is_static_pod(p));
  EXPECT_TRUE(is_critical_pod(p));
  Pod mirror = pod("m", {container("a")});
  mirror.annotations["kubernetes.io/config.mirror"] = "hash";
  EXPECT_TRUE(is_mirror_pod(mirror));
  EXPECT_TRUE(is_critical_pod(mirror));
  EXPECT_TRUE(is_critical_pod(pod("c", {container("a")}, 2000000000)));
  EXPECT_FALSE(is_critical_pod(pod("d", {container("a")}, 1999999999)));
}

TEST(PodYaml, ReadsKubectlJsonAndIgnoresUnknownFields) {
  const char* json = R"({"apiVersion":"v1","kind":"Pod",
    "metadata":{"name":"web","namespace":"shop","uid":"u-1","generation":3,
                "annotations":{"kubernetes.io/config.source":"api"},"labels":{"app":"web"}},
    "spec":{"priority":1000,"terminationGracePeriodSeconds":45,"nodeName":"n1",
            "containers":[{"name":"app","image":"x","resources":{"requests":{"memory":"256Mi","cpu":1}}}],
            "initContainers":[{"name":"proxy","restartPolicy":"Always",
                               "resources":{"requests":{"memory":"64Mi"}}}],
            "volumes":[{"name":"cache","emptyDir":{"sizeLimit":"1Gi"}},{"name":"cfg","configMap":{"name":"c"}},
                       {"name":"tmp","emptyDir":{"medium":"Memory"}},{"name":"host","hostPath":{"path":"/x"}}]},
    "status":{"phase":"Running","qosClass":"Burstable"}})";
  auto parsed = pod_from_yaml(YAML::Load(json), "pod");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const Pod& p = *parsed;
  EXPECT_EQ(p.key(), "shop/web");
  EXPECT_EQ(p.generation, 3);
  EXPECT_EQ(pod_priority(p), 1000);
  EXPECT_EQ(termination_grace_period_seconds(p), 45);
  EXPECT_TRUE(p.init_containers[0].restartable);
  EXPECT_EQ(pod_request(p, "memory").to_string(), "320Mi");
  EXPECT_EQ(p.volumes[0].size_limit->to_string(), "1Gi");
  EXPECT_TRUE(is_local_ephemeral_volume(p.volumes[0]));
  EXPECT_TRUE(is_local_ephemeral_volume(p.volumes[1]));
  EXPECT_FALSE(is_local_volume(p.volumes[2]));
  EXPECT_TRUE(is_local_volume(p.volumes[3]));
  EXPECT_EQ(pod_qos(p), QosClass::kBurstable);
}

TEST(PodYaml, DefaultsAndLists) {
  auto pods = pods_from_yaml(YAML::Load(R"(
kind: List
items:
- metadata: {name: a}
  spec: {containers: [{name: c}]}
- metadata: {name: b, namespace: x}
  spec: {containers: [{name: c}]}
)"),
                             "pods");
  ASSERT_TRUE(pods.ok());
  ASSERT_EQ(pods->size(), 2U);
  EXPECT_EQ((*pods)[0].key(), "default/a");
  EXPECT_EQ(termination_grace_period_seconds((*pods)[0]), 30);
  EXPECT_EQ(pod_priority((*pods)[0]), 0);
}

struct BadPod {
  const char* yaml;
  const char* field;
  int line;
};

class PodYamlRejectTest : public testing::TestWithParam<BadPod> {};

TEST_P(PodYamlRejectTest, ErrorNamesFieldAndLine) {
  auto parsed = pod_from_yaml(YAML::Load(GetParam().yaml), "pod");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().field, GetParam().field) << parsed.error().message;
  EXPECT_EQ(parsed.error().line, GetParam().line) << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PodYamlRejectTest,
    testing::Values(BadPod{"metadata: {name: a}\nspec:\n  containers:\n  - name: c\n    "
                           "resources:\n      requests: "
                           "{memory: 1Gb}\n",
                           "pod.spec.containers[0].resources.requests.memory", 6},
                    BadPod{"metadata: {name: a}\nspec:\n  priority: high\n  containers: []\n",
                           "pod.spec.priority", 3},
                    BadPod{"metadata: {namespace: x}\nspec: {containers: []}\n",
                           "pod.metadata.name", 1},
                    BadPod{"metadata: {name: a}\n", "pod.spec", 1},
                    BadPod{"kind: Service\nmetadata: {name: a}\nspec: {}\n", "pod.kind", 1}));

}  // namespace
}  // namespace evictd
