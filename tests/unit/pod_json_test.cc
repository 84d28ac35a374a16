// The API server's pod JSON decoded straight into the core's model: the same Pod as the YAML reader
// makes of the same object (every field eviction reads, quantities with their written text), and
// errors that name the field path.
#include "daemon/kube/pod_json.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "daemon/yaml/pod.h"

namespace evictd {
namespace {

std::string text_of(const ResourceList& list) {
  std::string out;
  for (const auto& [name, quantity] : list)
    out += name + "=" + quantity.to_string() + ",";
  return out;
}

std::string text_of(const std::vector<Container>& containers) {
  std::string out;
  for (const auto& c : containers) {
    out += c.name + (c.restartable ? "(sidecar)" : "") + "[req " + text_of(c.resources.requests) +
           " lim " + text_of(c.resources.limits) + "];";
  }
  return out;
}

// Every field of the model, for comparing two decoders.
std::string describe(const Pod& pod) {
  std::ostringstream out;
  out << pod.namespace_name << "/" << pod.name << " uid=" << pod.uid << " gen=" << pod.generation
      << " prio=" << (pod.priority ? std::to_string(*pod.priority) : "-")
      << " class=" << pod.priority_class_name << " grace="
      << (pod.termination_grace_period_seconds
              ? std::to_string(*pod.termination_grace_period_seconds)
              : "-")
      << " phase=" << pod.phase << " qos="
      << (pod.status_qos_class ? std::string(qos_class_name(*pod.status_qos_class)) : "-")
      << "\n annotations:";
  for (const auto& [key, value] : pod.annotations)
    out << " " << key << "=" << value;
  out << "\n containers: " << text_of(pod.containers) << "\n init: " << text_of(pod.init_containers)
      << "\n overhead: " << text_of(pod.overhead) << "\n pod resources: "
      << (pod.pod_resources
              ? text_of(pod.pod_resources->requests) + " / " + text_of(pod.pod_resources->limits)
              : "-")
      << "\n volumes:";
  for (const auto& volume : pod.volumes) {
    out << " " << volume.name << ":" << static_cast<int>(volume.source) << ":" << volume.medium
        << ":" << (volume.size_limit ? volume.size_limit->to_string() : "-");
  }
  return out.str();
}

constexpr const char* kRichPod = R"({"apiVersion":"v1","kind":"Pod",
  "metadata":{"name":"web","namespace":"shop","uid":"u-1","generation":3,
              "annotations":{"kubernetes.io/config.source":"api","n":"1"},"labels":{"app":"web"}},
  "spec":{"priority":1000,"priorityClassName":"high","terminationGracePeriodSeconds":45,
          "nodeName":"n1","overhead":{"memory":"10Mi"},
          "resources":{"requests":{"memory":"1Gi"},"limits":{"memory":"2Gi"}},
          "containers":[{"name":"app","image":"x","resources":{"requests":{"memory":"256Mi","cpu":1},
                                                               "limits":{"memory":"0.5Gi"}}},
                        {"name":"side","resources":{}}],
          "initContainers":[{"name":"proxy","restartPolicy":"Always",
                             "resources":{"requests":{"memory":"64Mi"}}},
                            {"name":"setup","restartPolicy":"OnFailure"}],
          "volumes":[{"name":"cache","emptyDir":{"sizeLimit":"1Gi"}},{"name":"cfg","configMap":{"name":"c"}},
                     {"name":"tmp","emptyDir":{"medium":"Memory"}},{"name":"host","hostPath":{"path":"/x"}},
                     {"name":"repo","gitRepo":{}},{"name":"pvc","persistentVolumeClaim":{"claimName":"d"}}]},
  "status":{"phase":"Running","qosClass":"Burstable"}})";

class PodJsonTest : public testing::TestWithParam<const char*> {};

TEST_P(PodJsonTest, DecodesTheSamePodAsTheYamlReader) {
  auto from_json = kube::pod_from_json(nlohmann::json::parse(GetParam()));
  auto from_yaml = pod_from_yaml(YAML::Load(GetParam()), "pod");
  ASSERT_TRUE(from_json.ok()) << from_json.error().field << ": " << from_json.error().message;
  ASSERT_TRUE(from_yaml.ok()) << from_yaml.error().message;
  EXPECT_EQ(describe(*from_json), describe(*from_yaml));
}

INSTANTIATE_TEST_SUITE_P(
    Objects, PodJsonTest,
    testing::Values(kRichPod,
                    // A list item: no kind, no namespace (default), no uid (the key stands in).
                    R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c"}]}})",
                    R"({"metadata":{"name":"b","annotations":{}},"spec":{"priority":null,
                        "containers":[{"name":"c","resources":{"requests":null}}],
                        "volumes":null},"status":{}})"));

TEST(PodJson, QuantitiesPrintAsKubernetesPrintsThem) {
  auto pod = kube::pod_from_json(nlohmann::json::parse(kRichPod));
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(pod->containers[0].resources.requests.at("memory").to_string(), "256Mi");
  EXPECT_EQ(pod->containers[0].resources.limits.at("memory").to_string(), "512Mi");  // 0.5Gi
  EXPECT_EQ(pod_request(*pod, "memory").to_string(), "1034Mi");  // pod-level 1Gi + overhead
  EXPECT_EQ(pod_qos(*pod), QosClass::kBurstable);
}

struct BadJson {
  const char* json;
  const char* field;
};

class PodJsonRejectTest : public testing::TestWithParam<BadJson> {};

TEST_P(PodJsonRejectTest, ErrorNamesTheField) {
  auto pod = kube::pod_from_json(nlohmann::json::parse(GetParam().json));
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.error().field, GetParam().field) << pod.error().message;
  EXPECT_FALSE(pod.error().message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, PodJsonRejectTest,
    testing::Values(
        BadJson{R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c",
                "resources":{"requests":{"memory":"1Gb"}}}]}})",
                "pod.spec.containers[0].resources.requests.memory"},
        BadJson{R"({"metadata":{"name":"a"},"spec":{"priority":"high"}})", "pod.spec.priority"},
        BadJson{R"({"metadata":{"name":"a"},"spec":{"priority":4000000000}})", "pod.spec.priority"},
        BadJson{R"({"metadata":{"name":"a"},"spec":{"terminationGracePeriodSeconds":-1}})",
                "pod.spec.terminationGracePeriodSeconds"},
        BadJson{R"({"metadata":{"namespace":"x"},"spec":{}})", "pod.metadata.name"},
        BadJson{R"({"metadata":{"name":"a"}})", "pod.spec"},
        BadJson{R"({"spec":{}})", "pod.metadata"},
        BadJson{R"({"kind":"Service","metadata":{"name":"a"},"spec":{}})", "pod.kind"},
        BadJson{R"({"metadata":{"name":"a"},"spec":{"containers":{"name":"c"}}})",
                "pod.spec.containers"},
        BadJson{R"({"metadata":{"name":"a"},"spec":{"volumes":[{"emptyDir":{}}]}})",
                "pod.spec.volumes[0].name"},
        BadJson{R"({"metadata":{"name":"a"},"spec":{},"status":{"qosClass":"Gold"}})",
                "pod.status.qosClass"},
        BadJson{R"([1, 2])", "pod"}));

}  // namespace
}  // namespace evictd
