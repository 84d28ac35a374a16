#include "daemon/agent/membership.h"

#include <algorithm>
#include <iterator>

namespace evictd::agent {

Reconciliation RuntimeMembership::reconcile(std::span<const cgroups::PodSample> cgroup_pods,
                                            std::span<const cri::RuntimePod> runtime_pods,
                                            Nanos now, bool threshold_met, Nanos list_age) {
  std::set<std::string_view> in_runtime;
  for (const auto& pod : runtime_pods)
    in_runtime.insert(pod.uid);
  std::set<std::string_view> in_cgroups;
  for (const auto& pod : cgroup_pods)
    in_cgroups.insert(pod.uid);
  std::vector<std::string_view> views;
  std::set_symmetric_difference(in_runtime.begin(), in_runtime.end(), in_cgroups.begin(),
                                in_cgroups.end(), std::back_inserter(views));
  std::vector<std::string> differ(views.begin(), views.end());
  // A pod with a cgroup but no sandbox listed: a starting pod is listed within a second or so;
  // one still missing after 10 s is a leftover cgroup, not worth a listing in the loop. A pod
  // listed once and gone from the list since went; it is not starting either.
  std::map<std::string, Unlisted> unlisted;
  std::set<std::string> listed;
  std::vector<std::string> missing;
  for (const auto& pod : cgroup_pods) {
    if (!in_runtime.contains(pod.uid))
      missing.push_back(pod.uid);
    if (in_runtime.contains(pod.uid) || listed_.contains(pod.uid)) {
      listed.insert(pod.uid);
      continue;
    }
    const auto seen = unlisted_.find(pod.uid);
    Unlisted state = seen != unlisted_.end() ? seen->second : Unlisted{now, 0, std::nullopt};
    const uint64_t memory = pod.usage.memory.usage_bytes.value_or(0);
    if (memory > state.memory_bytes)
      state.grew_at = now;
    state.memory_bytes = memory;
    unlisted.emplace(pod.uid, state);
  }
  unlisted_ = std::move(unlisted);
  listed_ = std::move(listed);
  Reconciliation result;
  if (!differ.empty()) {
    if (threshold_met && list_now(unlisted_, now, list_age)) {
      result.action = Reconciliation::Action::kListNow;
    } else if (differ != last_unknown_) {
      result.action = missing.empty() ? Reconciliation::Action::kRefreshSoon  // a pod went
                                      : Reconciliation::Action::kExpect;
      result.expected = std::move(missing);
    }
  }
  last_unknown_ = std::move(differ);
  return result;
}

bool RuntimeMembership::list_now(const std::map<std::string, Unlisted>& unlisted, Nanos now,
                                 Nanos list_age) {
  const Nanos list_asked_at = now - list_age;
  return std::any_of(unlisted.begin(), unlisted.end(), [&](const auto& entry) {
    const Unlisted& pod = entry.second;
    if (now - pod.since >= kStartingPodFor)
      return false;  // a leftover cgroup
    return list_age > kListAgainAfter || (pod.grew_at && list_asked_at < *pod.grew_at);
  });
}

}  // namespace evictd::agent
