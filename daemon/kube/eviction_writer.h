// Writing an eviction to Kubernetes as the kubelet does: the pod's status (phase Failed, reason
// Evicted, the message, the DisruptionTarget condition with reason TerminationByKubelet) by a
// strategic merge patch on the status subresource, and a Warning Event with the eviction
// annotations. Also the API-initiated Eviction API (policy/v1), which respects
// PodDisruptionBudgets.
#pragma once

#include <ctime>
#include <map>
#include <string>

#include "daemon/kube/api_client.h"

namespace evictd::kube {

struct EvictionRecord {
  std::string namespace_name;
  std::string name;
  std::string uid;
  int64_t generation = 0;
  std::string message;
  std::map<std::string, std::string> annotations;  // offending_containers, ... (for the Event)
  std::string node_name;
  std::string time;  // RFC 3339, when evictd decided
  // Threshold evictions add the DisruptionTarget condition; local-storage limit evictions do not.
  bool disruption_target = true;
};

// The JSON bodies, exposed for tests and for the ledger (which replays them after a restart).
std::string eviction_status_patch(const EvictionRecord& record);
std::string eviction_event(const EvictionRecord& record);

enum class ApiEvictionOutcome { kEvicted, kBlockedByDisruptionBudget, kMisconfigured, kGone };

class EvictionWriter {
 public:
  explicit EvictionWriter(ApiClient& client) : client_(client) {}

  // Idempotent: patching the same status again changes nothing; a pod already gone (404) is done.
  Result<void> patch_status(const EvictionRecord& record);
  Result<void> post_event(const EvictionRecord& record);
  // DELETE the pod gracefully, only if it is still the one with the record's UID (a precondition);
  // a deletionTimestamp is an update the kubelet acts on at once.
  Result<void> delete_pod(const EvictionRecord& record, int64_t grace_seconds);
  // POST pods/<name>/eviction: 200/201 evicted, 429 a budget forbids it now, 500 several budgets (a
  // misconfiguration), 404 gone.
  Result<ApiEvictionOutcome> evict(const std::string& namespace_name, const std::string& name,
                                   int64_t grace_seconds);

 private:
  ApiClient& client_;
};

// Node conditions for nodes where evictd replaces the kubelet's own eviction (off by default): the
// kubelet's condition types, reasons and messages; lastTransitionTime moves only when a status
// changes.
class NodeConditionWriter {
 public:
  NodeConditionWriter(ApiClient& client, std::string node_name)
      : client_(client), node_name_(std::move(node_name)) {}

  // `memory`, `disk`, `pid`: whether each pressure condition holds now.
  Result<void> update(bool memory, bool disk, bool pid, const std::string& now);
  std::string patch_body(bool memory, bool disk, bool pid, const std::string& now);

 private:
  ApiClient& client_;
  std::string node_name_;
  std::map<std::string, std::pair<bool, std::string>>
      last_;  // type -> (status, lastTransitionTime)
};

// Kubernetes' metav1.Time text, to the second: 2026-11-22T18:40:00Z.
std::string rfc3339(std::time_t seconds);
std::string rfc3339_now();

}  // namespace evictd::kube
