#include "daemon/kube/pod_json.h"

#include <cstdint>
#include <nlohmann/json.hpp>

namespace evictd::kube {
namespace {

using Json = nlohmann::json;

Error field_error(const std::string& path, std::string reason) {
  return make_error(std::move(reason), path);
}

// A member of an object, or null when absent; the API server omits empty fields.
const Json& member(const Json& object, const char* key) {
  static const Json kAbsent;
  if (!object.is_object())
    return kAbsent;
  const auto found = object.find(key);
  return found != object.end() ? *found : kAbsent;
}

Result<std::string> text(const Json& value, const std::string& path) {
  if (value.is_string())
    return value.get<std::string>();
  if (value.is_number())
    return value.dump();  // a quantity or name written as a number
  return field_error(path, "must be a string or number");
}

Result<int64_t> integer(const Json& value, const std::string& path) {
  if (value.is_number_integer() &&
      !(value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)))
    return value.get<int64_t>();
  return field_error(path, "must be an integer, not " + value.dump());
}

Result<void> expect(const Json& value, bool (Json::*is)() const noexcept, const std::string& path,
                    const char* what) {
  if (value.is_null() || (value.*is)())
    return {};
  return field_error(path, std::string("must be ") + what);
}

Result<Quantity> quantity(const Json& value, const std::string& path) {
  auto written = text(value, path);
  if (!written)
    return written.error();
  auto parsed = Quantity::parse(*written);
  if (!parsed)
    return field_error(path, parsed.error().message + ": \"" + *written + "\"");
  return *parsed;
}

Result<ResourceList> resource_list(const Json& value, const std::string& path) {
  if (auto checked = expect(value, &Json::is_object, path, "a mapping"); !checked)
    return checked.error();
  ResourceList list;
  if (value.is_null())
    return list;
  for (const auto& [name, entry] : value.items()) {
    auto parsed = quantity(entry, path + "." + name);
    if (!parsed)
      return parsed.error();
    list.insert_or_assign(name, *parsed);
  }
  return list;
}

Result<ResourceRequirements> requirements(const Json& value, const std::string& path) {
  if (auto checked = expect(value, &Json::is_object, path, "a mapping"); !checked)
    return checked.error();
  ResourceRequirements result;
  auto requests = resource_list(member(value, "requests"), path + ".requests");
  if (!requests)
    return requests.error();
  auto limits = resource_list(member(value, "limits"), path + ".limits");
  if (!limits)
    return limits.error();
  result.requests = std::move(requests).value();
  result.limits = std::move(limits).value();
  return result;
}

Result<std::string> required_name(const Json& object, const std::string& path) {
  const Json& name = member(object, "name");
  if (name.is_null())
    return field_error(path + ".name", "is required");
  return text(name, path + ".name");
}

Result<Container> container(const Json& value, const std::string& path) {
  if (!value.is_object())
    return field_error(path, "must be a mapping");
  Container result;
  auto name = required_name(value, path);
  if (!name)
    return name.error();
  result.name = *name;
  auto resources = requirements(member(value, "resources"), path + ".resources");
  if (!resources)
    return resources.error();
  result.resources = std::move(resources).value();
  result.restartable = member(value, "restartPolicy") == "Always";
  return result;
}

Result<Volume> volume(const Json& value, const std::string& path) {
  if (!value.is_object())
    return field_error(path, "must be a mapping");
  Volume result;
  auto name = required_name(value, path);
  if (!name)
    return name.error();
  result.name = *name;
  if (value.contains("emptyDir")) {
    result.source = VolumeSource::kEmptyDir;
    const Json& empty_dir = value["emptyDir"];
    if (const Json& medium = member(empty_dir, "medium"); medium.is_string())
      result.medium = medium.get<std::string>();
    if (const Json& limit = member(empty_dir, "sizeLimit"); !limit.is_null()) {
      auto parsed = quantity(limit, path + ".emptyDir.sizeLimit");
      if (!parsed)
        return parsed.error();
      result.size_limit = *parsed;
    }
  } else if (value.contains("hostPath")) {
    result.source = VolumeSource::kHostPath;
  } else if (value.contains("configMap")) {
    result.source = VolumeSource::kConfigMap;
  } else if (value.contains("gitRepo")) {
    result.source = VolumeSource::kGitRepo;
  }
  return result;
}

// Each element of a list decoded by `decode`; absent or null is an empty list.
template <typename T>
Result<std::vector<T>> list_of(const Json& value, const std::string& path,
                               Result<T> (*decode)(const Json&, const std::string&)) {
  if (auto checked = expect(value, &Json::is_array, path, "a list"); !checked)
    return checked.error();
  std::vector<T> result;
  if (value.is_null())
    return result;
  result.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    auto item = decode(value[i], path + "[" + std::to_string(i) + "]");
    if (!item)
      return item.error();
    result.push_back(std::move(item).value());
  }
  return result;
}

Result<void> read_metadata(const Json& metadata, Pod& pod) {
  if (!metadata.is_object())
    return field_error("pod.metadata", "is required (a mapping)");
  auto name = required_name(metadata, "pod.metadata");
  if (!name)
    return name.error();
  pod.name = *name;
  pod.deleting = member(metadata, "deletionTimestamp").is_string();
  for (auto [key, target] : {std::pair{"namespace", &pod.namespace_name}, {"uid", &pod.uid}}) {
    if (const Json& value = member(metadata, key); !value.is_null()) {
      auto written = text(value, std::string("pod.metadata.") + key);
      if (!written)
        return written.error();
      *target = *written;
    }
  }
  if (const Json& generation = member(metadata, "generation"); !generation.is_null()) {
    auto value = integer(generation, "pod.metadata.generation");
    if (!value)
      return value.error();
    pod.generation = *value;
  }
  const Json& annotations = member(metadata, "annotations");
  if (auto checked = expect(annotations, &Json::is_object, "pod.metadata.annotations", "a mapping");
      !checked)
    return checked;
  if (annotations.is_object()) {
    for (const auto& [key, value] : annotations.items())
      pod.annotations[key] = value.is_string() ? value.get<std::string>() : "";
  }
  return {};
}

Result<void> read_priority_and_grace(const Json& spec, Pod& pod) {
  if (const Json& priority = member(spec, "priority"); !priority.is_null()) {
    auto value = integer(priority, "pod.spec.priority");
    if (!value)
      return value.error();
    if (*value < INT32_MIN || *value > INT32_MAX)
      return field_error("pod.spec.priority", "must fit in a 32-bit integer");
    pod.priority = static_cast<int32_t>(*value);
  }
  if (const Json& name = member(spec, "priorityClassName"); name.is_string())
    pod.priority_class_name = name.get<std::string>();
  if (const Json& grace = member(spec, "terminationGracePeriodSeconds"); !grace.is_null()) {
    auto value = integer(grace, "pod.spec.terminationGracePeriodSeconds");
    if (!value)
      return value.error();
    if (*value < 0)
      return field_error("pod.spec.terminationGracePeriodSeconds", "must not be negative");
    pod.termination_grace_period_seconds = *value;
  }
  return {};
}

Result<void> read_spec(const Json& spec, Pod& pod) {
  if (!spec.is_object())
    return field_error("pod.spec", "is required (a mapping)");
  if (auto read = read_priority_and_grace(spec, pod); !read)
    return read;
  auto containers = list_of(member(spec, "containers"), "pod.spec.containers", &container);
  if (!containers)
    return containers.error();
  pod.containers = std::move(containers).value();
  auto init = list_of(member(spec, "initContainers"), "pod.spec.initContainers", &container);
  if (!init)
    return init.error();
  pod.init_containers = std::move(init).value();
  auto overhead = resource_list(member(spec, "overhead"), "pod.spec.overhead");
  if (!overhead)
    return overhead.error();
  pod.overhead = std::move(overhead).value();
  if (const Json& resources = member(spec, "resources"); !resources.is_null()) {
    auto value = requirements(resources, "pod.spec.resources");
    if (!value)
      return value.error();
    pod.pod_resources = std::move(value).value();
  }
  auto volumes = list_of(member(spec, "volumes"), "pod.spec.volumes", &volume);
  if (!volumes)
    return volumes.error();
  pod.volumes = std::move(volumes).value();
  return {};
}

Result<void> read_status(const Json& status, Pod& pod) {
  if (const Json& qos = member(status, "qosClass"); qos.is_string() && qos != "") {
    if (qos == "Guaranteed")
      pod.status_qos_class = QosClass::kGuaranteed;
    else if (qos == "Burstable")
      pod.status_qos_class = QosClass::kBurstable;
    else if (qos == "BestEffort")
      pod.status_qos_class = QosClass::kBestEffort;
    else
      return field_error("pod.status.qosClass",
                         "must be Guaranteed, Burstable or BestEffort, not " + qos.dump());
  }
  if (const Json& phase = member(status, "phase"); phase.is_string())
    pod.phase = phase.get<std::string>();
  if (const Json& reason = member(status, "reason"); reason.is_string())
    pod.status_reason = reason.get<std::string>();
  if (const Json& message = member(status, "message"); message.is_string())
    pod.status_message = message.get<std::string>();
  return {};
}

}  // namespace

Result<Pod> pod_from_json(const Json& object) {
  if (!object.is_object())
    return field_error("pod", "must be a v1 Pod object (a mapping)");
  if (const Json& kind = member(object, "kind"); kind.is_string() && kind != "Pod")
    return field_error("pod.kind", "must be Pod, not " + kind.get<std::string>());
  Pod pod;
  if (auto read = read_metadata(member(object, "metadata"), pod); !read)
    return read.error();
  if (auto read = read_spec(member(object, "spec"), pod); !read)
    return read.error();
  if (pod.uid.empty())
    pod.uid = pod.key();
  if (auto read = read_status(member(object, "status"), pod); !read)
    return read.error();
  return pod;
}

}  // namespace evictd::kube
