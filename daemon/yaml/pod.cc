#include "daemon/yaml/pod.h"

#include "daemon/yaml/reader.h"

namespace evictd {
namespace {

using yaml::child_path;
using yaml::error_at;
using yaml::index_path;

Result<ResourceList> resource_list(const YAML::Node& node, const std::string& path) {
  ResourceList list;
  if (!node)
    return list;
  if (auto checked = yaml::expect_map(node, path); !checked)
    return checked.error();
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    const std::string field = child_path(path, name);
    auto text = yaml::scalar(entry.second, field);
    if (!text)
      return text.error();
    auto quantity = Quantity::parse(*text);
    if (!quantity) {
      return error_at(entry.second, field, quantity.error().message + ": \"" + *text + "\"");
    }
    list.insert_or_assign(name, *quantity);
  }
  return list;
}

Result<ResourceRequirements> requirements(const YAML::Node& node, const std::string& path) {
  ResourceRequirements result;
  if (!node)
    return result;
  if (auto checked = yaml::expect_map(node, path); !checked)
    return checked.error();
  auto requests = resource_list(node["requests"], child_path(path, "requests"));
  if (!requests)
    return requests.error();
  auto limits = resource_list(node["limits"], child_path(path, "limits"));
  if (!limits)
    return limits.error();
  result.requests = std::move(requests).value();
  result.limits = std::move(limits).value();
  return result;
}

Result<std::vector<Container>> containers(const YAML::Node& node, const std::string& path) {
  std::vector<Container> result;
  if (!node)
    return result;
  if (auto checked = yaml::expect_sequence(node, path); !checked)
    return checked.error();
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string item_path = index_path(path, i);
    if (!item.IsMap())
      return error_at(item, item_path, "must be a mapping");
    Container container;
    auto name = yaml::required_scalar(item, "name", item_path);
    if (!name)
      return name.error();
    container.name = *name;
    auto resources = requirements(item["resources"], child_path(item_path, "resources"));
    if (!resources)
      return resources.error();
    container.resources = std::move(resources).value();
    if (const YAML::Node policy = item["restartPolicy"]; policy && policy.IsScalar()) {
      container.restartable = policy.Scalar() == "Always";
    }
    result.push_back(std::move(container));
  }
  return result;
}

Result<std::vector<Volume>> volumes(const YAML::Node& node, const std::string& path) {
  std::vector<Volume> result;
  if (!node)
    return result;
  if (auto checked = yaml::expect_sequence(node, path); !checked)
    return checked.error();
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string item_path = index_path(path, i);
    if (!item.IsMap())
      return error_at(item, item_path, "must be a mapping");
    Volume volume;
    auto name = yaml::required_scalar(item, "name", item_path);
    if (!name)
      return name.error();
    volume.name = *name;
    if (const YAML::Node empty_dir = item["emptyDir"]) {
      volume.source = VolumeSource::kEmptyDir;
      if (empty_dir.IsMap()) {
        if (const YAML::Node medium = empty_dir["medium"]; medium && medium.IsScalar()) {
          volume.medium = medium.Scalar();
        }
        if (const YAML::Node limit = empty_dir["sizeLimit"]; limit && !limit.IsNull()) {
          const std::string field = child_path(item_path, "emptyDir.sizeLimit");
          auto text = yaml::scalar(limit, field);
          if (!text)
            return text.error();
          auto quantity = Quantity::parse(*text);
          if (!quantity) {
            return error_at(limit, field, quantity.error().message + ": \"" + *text + "\"");
          }
          volume.size_limit = *quantity;
        }
      }
    } else if (item["hostPath"]) {
      volume.source = VolumeSource::kHostPath;
    } else if (item["configMap"]) {
      volume.source = VolumeSource::kConfigMap;
    } else if (item["gitRepo"]) {
      volume.source = VolumeSource::kGitRepo;
    }
    result.push_back(std::move(volume));
  }
  return result;
}

Result<void> read_metadata(const YAML::Node& metadata, const std::string& path, Pod& pod) {
  if (!metadata || !metadata.IsMap())
    return error_at(metadata, path, "is required (a mapping)");
  auto name = yaml::required_scalar(metadata, "name", path);
  if (!name)
    return name.error();
  pod.name = *name;
  if (const YAML::Node ns = metadata["namespace"]) {
    auto value = yaml::scalar(ns, child_path(path, "namespace"));
    if (!value)
      return value.error();
    pod.namespace_name = *value;
  }
  if (const YAML::Node uid = metadata["uid"]) {
    auto value = yaml::scalar(uid, child_path(path, "uid"));
    if (!value)
      return value.error();
    pod.uid = *value;
  }
  if (const YAML::Node generation = metadata["generation"]) {
    auto value = yaml::integer(generation, child_path(path, "generation"));
    if (!value)
      return value.error();
    pod.generation = *value;
  }
  if (const YAML::Node annotations = metadata["annotations"]) {
    if (auto checked = yaml::expect_map(annotations, child_path(path, "annotations")); !checked)
      return checked;
    for (const auto& entry : annotations) {
      pod.annotations[entry.first.Scalar()] = entry.second.IsScalar() ? entry.second.Scalar() : "";
    }
  }
  return {};
}

Result<void> read_spec(const YAML::Node& spec, const std::string& path, Pod& pod) {
  if (!spec || !spec.IsMap())
    return error_at(spec, path, "is required (a mapping)");
  if (const YAML::Node priority = spec["priority"]; priority && !priority.IsNull()) {
    auto value = yaml::integer(priority, child_path(path, "priority"));
    if (!value)
      return value.error();
    if (*value < INT32_MIN || *value > INT32_MAX) {
      return error_at(priority, child_path(path, "priority"), "must fit in a 32-bit integer");
    }
    pod.priority = static_cast<int32_t>(*value);
  }
  if (const YAML::Node name = spec["priorityClassName"]; name && name.IsScalar()) {
    pod.priority_class_name = name.Scalar();
  }
  if (const YAML::Node grace = spec["terminationGracePeriodSeconds"]; grace && !grace.IsNull()) {
    auto value = yaml::integer(grace, child_path(path, "terminationGracePeriodSeconds"));
    if (!value)
      return value.error();
    if (*value < 0) {
      return error_at(grace, child_path(path, "terminationGracePeriodSeconds"),
                      "must not be negative");
    }
    pod.termination_grace_period_seconds = *value;
  }
  auto regular = containers(spec["containers"], child_path(path, "containers"));
  if (!regular)
    return regular.error();
  pod.containers = std::move(regular).value();
  auto init = containers(spec["initContainers"], child_path(path, "initContainers"));
  if (!init)
    return init.error();
  pod.init_containers = std::move(init).value();
  auto overhead = resource_list(spec["overhead"], child_path(path, "overhead"));
  if (!overhead)
    return overhead.error();
  pod.overhead = std::move(overhead).value();
  if (const YAML::Node resources = spec["resources"]; resources && !resources.IsNull()) {
    auto value = requirements(resources, child_path(path, "resources"));
    if (!value)
      return value.error();
    pod.pod_resources = std::move(value).value();
  }
  auto pod_volumes = volumes(spec["volumes"], child_path(path, "volumes"));
  if (!pod_volumes)
    return pod_volumes.error();
  pod.volumes = std::move(pod_volumes).value();
  return {};
}

}  // namespace

Result<Pod> pod_from_yaml(const YAML::Node& node, const std::string& path) {
  if (!node.IsMap())
    return error_at(node, path, "must be a v1 Pod object (a mapping)");
  if (const YAML::Node kind = node["kind"]; kind && kind.IsScalar() && kind.Scalar() != "Pod") {
    return error_at(kind, child_path(path, "kind"), "must be Pod, not " + kind.Scalar());
  }
  Pod pod;
  for (const char* required : {"metadata", "spec"}) {
    if (!node[required])
      return error_at(node, child_path(path, required), "is required");
  }
  if (auto checked = read_metadata(node["metadata"], child_path(path, "metadata"), pod); !checked)
    return checked.error();
  if (auto checked = read_spec(node["spec"], child_path(path, "spec"), pod); !checked)
    return checked.error();
  if (pod.uid.empty())
    pod.uid = pod.key();  // objects written by hand may omit it
  if (const YAML::Node status = node["status"]; status && status.IsMap()) {
    if (const YAML::Node qos = status["qosClass"]; qos && qos.IsScalar() && !qos.Scalar().empty()) {
      const std::string& text = qos.Scalar();
      if (text == "Guaranteed") {
        pod.status_qos_class = QosClass::kGuaranteed;
      } else if (text == "Burstable") {
        pod.status_qos_class = QosClass::kBurstable;
      } else if (text == "BestEffort") {
        pod.status_qos_class = QosClass::kBestEffort;
      } else {
        return error_at(qos, child_path(path, "status.qosClass"),
                        "must be Guaranteed, Burstable or BestEffort, not " + text);
      }
    }
    if (const YAML::Node phase = status["phase"]; phase && phase.IsScalar()) {
      pod.phase = phase.Scalar();
    }
  }
  return pod;
}

Result<std::vector<Pod>> pods_from_yaml(const YAML::Node& node, const std::string& path) {
  std::vector<Pod> pods;
  const YAML::Node kind = node.IsMap() ? node["kind"] : YAML::Node();
  if (kind && kind.IsScalar() && (kind.Scalar() == "List" || kind.Scalar() == "PodList")) {
    const YAML::Node items = node["items"];
    if (auto checked = yaml::expect_sequence(items, child_path(path, "items")); !checked)
      return checked.error();
    for (size_t i = 0; i < items.size(); ++i) {
      auto pod = pod_from_yaml(items[i], index_path(child_path(path, "items"), i));
      if (!pod)
        return pod.error();
      pods.push_back(std::move(pod).value());
    }
    return pods;
  }
  auto pod = pod_from_yaml(node, path);
  if (!pod)
    return pod.error();
  pods.push_back(std::move(pod).value());
  return pods;
}

}  // namespace evictd
