#include "daemon/kube/eviction_writer.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "daemon/kube/names.h"

namespace evictd::kube {

using Json = nlohmann::json;

namespace {

// Names come from the API server's own objects, or from the ledger after a restart; escaped all the
// same, so that no name can change the path it is put in.
std::string pod_path(const std::string& namespace_name, const std::string& name) {
  return "/api/v1/namespaces/" + escape_path_segment(namespace_name) + "/pods/" +
         escape_path_segment(name);
}

}  // namespace

std::string rfc3339(std::time_t seconds) {
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string rfc3339_now() {
  return rfc3339(std::time(nullptr));
}

std::string eviction_status_patch(const EvictionRecord& record) {
  Json condition = {{"type", "DisruptionTarget"},
                    {"status", "True"},
                    {"reason", "TerminationByKubelet"},
                    {"message", record.message},
                    {"lastTransitionTime", record.time}};
  if (record.generation > 0)
    condition["observedGeneration"] = record.generation;
  Json patch = {
      {"status", {{"phase", "Failed"}, {"reason", "Evicted"}, {"message", record.message}}}};
  if (record.disruption_target)
    patch["status"]["conditions"] = Json::array({condition});
  // Guards against patching a different pod that took the same name.
  patch["metadata"] = {{"uid", record.uid}};
  return patch.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string eviction_event(const EvictionRecord& record) {
  // Named like the kubelet's events: <pod>.<unique hex>; the UID makes retries of one eviction
  // collide (409) instead of duplicating.
  std::string suffix = record.uid;
  suffix.erase(std::remove(suffix.begin(), suffix.end(), '-'), suffix.end());
  Json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata",
       {{"name", record.name + "." + suffix.substr(0, 16)},
        {"namespace", record.namespace_name},
        {"annotations", record.annotations}}},
      {"involvedObject",
       {{"apiVersion", "v1"},
        {"kind", "Pod"},
        {"namespace", record.namespace_name},
        {"name", record.name},
        {"uid", record.uid}}},
      {"reason", "Evicted"},
      {"message", record.message},
      {"type", "Warning"},
      {"source", {{"component", "evictd"}, {"host", record.node_name}}},
      {"reportingComponent", "evictd"},
      {"reportingInstance", record.node_name},
      {"firstTimestamp", record.time},
      {"lastTimestamp", record.time},
      {"count", 1},
  };
  return event.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string NodeConditionWriter::patch_body(bool memory, bool disk, bool pid,
                                            const std::string& now) {
  struct Kind {
    const char* type;
    bool pressure;
    const char* true_reason;
    const char* true_message;
    const char* false_reason;
    const char* false_message;
  };
  const Kind kinds[] = {
      {"MemoryPressure", memory, "KubeletHasInsufficientMemory",
       "kubelet has insufficient memory available", "KubeletHasSufficientMemory",
       "kubelet has sufficient memory available"},
      {"DiskPressure", disk, "KubeletHasDiskPressure", "kubelet has disk pressure",
       "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
      {"PIDPressure", pid, "KubeletHasInsufficientPID", "kubelet has insufficient PID available",
       "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
  };
  Json conditions = Json::array();
  for (const Kind& kind : kinds) {
    auto& [status, transition] = last_[kind.type];
    if (transition.empty() || status != kind.pressure) {
      status = kind.pressure;
      transition = now;
    }
    conditions.push_back({{"type", kind.type},
                          {"status", kind.pressure ? "True" : "False"},
                          {"reason", kind.pressure ? kind.true_reason : kind.false_reason},
                          {"message", kind.pressure ? kind.true_message : kind.false_message},
                          {"lastHeartbeatTime", now},
                          {"lastTransitionTime", transition}});
  }
  return Json{{"status", {{"conditions", conditions}}}}.dump();
}

Result<void> NodeConditionWriter::update(bool memory, bool disk, bool pid, const std::string& now) {
  auto response =
      client_.call("patch nodes/status " + node_name_, "PATCH",
                   "/api/v1/nodes/" + escape_path_segment(node_name_) + "/status",
                   patch_body(memory, disk, pid, now), "application/strategic-merge-patch+json");
  if (!response)
    return response.error();
  return {};
}

Result<void> EvictionWriter::patch_status(const EvictionRecord& record) {
  const std::string path = pod_path(record.namespace_name, record.name) + "/status";
  auto response =
      client_.call("patch pods/status " + record.namespace_name + "/" + record.name, "PATCH", path,
                   eviction_status_patch(record), "application/strategic-merge-patch+json", {404});
  if (!response)
    return response.error();
  return {};  // 404: the pod is gone, nothing left to record on it
}

Result<void> EvictionWriter::post_event(const EvictionRecord& record) {
  const std::string path =
      "/api/v1/namespaces/" + escape_path_segment(record.namespace_name) + "/events";
  auto response = client_.call("create events " + record.namespace_name, "POST", path,
                               eviction_event(record), "application/json", {409});
  if (!response)
    return response.error();
  return {};  // 409: this eviction's event is already there
}

Result<void> EvictionWriter::delete_pod(const EvictionRecord& record, int64_t grace_seconds) {
  const Json options = {{"apiVersion", "v1"},
                        {"kind", "DeleteOptions"},
                        {"gracePeriodSeconds", grace_seconds},
                        {"preconditions", {{"uid", record.uid}}}};
  auto response = client_.call("delete pods " + record.namespace_name + "/" + record.name, "DELETE",
                               pod_path(record.namespace_name, record.name), options.dump(),
                               "application/json", {404, 409});
  if (!response)
    return response.error();
  return {};  // 404 gone; 409 the name is another pod's now: neither is ours to delete
}

Result<ApiEvictionOutcome> EvictionWriter::evict(const std::string& namespace_name,
                                                 const std::string& name, int64_t grace_seconds) {
  const Json body = {{"apiVersion", "policy/v1"},
                     {"kind", "Eviction"},
                     {"metadata", {{"name", name}, {"namespace", namespace_name}}},
                     {"deleteOptions", {{"gracePeriodSeconds", grace_seconds}}}};
  auto response = client_.call("create pods/eviction " + namespace_name + "/" + name, "POST",
                               pod_path(namespace_name, name) + "/eviction", body.dump(),
                               "application/json", {404, 429, 500});
  if (!response)
    return response.error();
  switch (response->status) {
    case 404:
      return ApiEvictionOutcome::kGone;
    case 429:
      return ApiEvictionOutcome::kBlockedByDisruptionBudget;
    case 500:
      return ApiEvictionOutcome::kMisconfigured;
    default:
      return ApiEvictionOutcome::kEvicted;
  }
}

}  // namespace evictd::kube
