#include "daemon/kube/pod_source.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "daemon/kube/pod_json.h"

namespace evictd::kube {
namespace {

std::string url_encode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buffer[4];
      std::snprintf(buffer, sizeof(buffer), "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

}  // namespace

PodSource::PodSource(ApiClient& client, std::string node_name)
    : client_(client), node_name_(std::move(node_name)) {}

Result<std::string> PodSource::list() {
  const std::string path =
      "/api/v1/pods?fieldSelector=" + url_encode("spec.nodeName=" + node_name_);
  auto response = client_.call("list pods on node " + node_name_, "GET", path);
  if (!response)
    return response.error();
  const auto body = nlohmann::json::parse(response->body, nullptr, false);
  if (body.is_discarded() || !body.contains("items"))
    return make_error("list pods: not a PodList");
  std::map<std::string, Pod> fresh;
  for (const auto& item : body["items"]) {
    auto pod = pod_from_json(item);
    if (!pod)
      continue;  // a pod evictd cannot read is not one it ranks
    fresh[pod->uid] = std::move(pod).value();
  }
  std::lock_guard lock(mutex_);
  by_uid_ = std::move(fresh);
  resource_version_ = body["metadata"].value("resourceVersion", "");
  ++relists_;
  return resource_version_;
}

bool PodSource::apply(const std::string& type, const nlohmann::json& object) {
  if (!object.is_object())
    return false;
  std::optional<Pod> pod;
  if (type != "BOOKMARK") {
    auto parsed = pod_from_json(object);
    if (!parsed)
      return false;
    pod = std::move(parsed).value();
  }
  std::lock_guard lock(mutex_);
  if (object.contains("metadata"))
    resource_version_ = object["metadata"].value("resourceVersion", resource_version_);
  if (!pod)
    return true;  // a bookmark only moves the resourceVersion on
  if (type == "DELETED") {
    by_uid_.erase(pod->uid);
  } else {
    by_uid_[pod->uid] = std::move(*pod);
  }
  return true;
}

Result<size_t> PodSource::watch(Nanos timeout) {
  if (resource_version().empty()) {
    if (auto listed = list(); !listed)
      return listed.error();
  }
  const std::string path =
      "/api/v1/pods?watch=true&allowWatchBookmarks=true&fieldSelector=" +
      url_encode("spec.nodeName=" + node_name_) + "&resourceVersion=" + resource_version() +
      "&timeoutSeconds=" + std::to_string(std::max<int64_t>(1, timeout.count() / 1'000'000'000));
  size_t applied = 0;
  bool gone = false;
  auto status = client_.stream(
      "watch pods on node " + node_name_, path,
      [&](std::string_view line) {
        const auto event = nlohmann::json::parse(line, nullptr, false);
        if (event.is_discarded())
          return true;
        if (event.value("kind", "") == "Status" || event.value("type", "") == "ERROR") {
          const auto& status_object = event.contains("object") ? event["object"] : event;
          gone = status_object.value("code", 0) == 410;
          return false;
        }
        if (apply(event.value("type", ""), event.value("object", nlohmann::json())))
          ++applied;
        return true;
      },
      timeout + std::chrono::seconds(5));
  if (!status)
    return status.error();
  if (gone || *status == 410) {
    // The resourceVersion is too old: start over from a fresh list.
    if (auto listed = list(); !listed)
      return listed.error();
  } else if (*status != 200) {
    Error error;
    error.message = "watch pods: HTTP " + std::to_string(*status);
    error.code = static_cast<int>(*status);
    return error;
  }
  return applied;
}

std::vector<Pod> PodSource::pods() const {
  std::lock_guard lock(mutex_);
  std::vector<Pod> result;
  result.reserve(by_uid_.size());
  for (const auto& [uid, pod] : by_uid_)
    result.push_back(pod);
  return result;
}

std::optional<Pod> PodSource::find(const std::string& uid) const {
  std::lock_guard lock(mutex_);
  const auto it = by_uid_.find(uid);
  if (it == by_uid_.end())
    return std::nullopt;
  return it->second;
}

std::string PodSource::resource_version() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

}  // namespace evictd::kube
