// Pods the cgroups and the runtime's list disagree on, and what to do about it. A starting pod's
// cgroup exists a moment before the runtime lists its sandbox; a pod that went leaves its
// cgroup until the kubelet's housekeeping removes it. Under pressure a starting pod may be the one
// causing it, so the list is taken at once in the loop; otherwise it is refreshed beside the loop
// until it has the pods (for a starting pod) or once (for a pod that went).
#pragma once

#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "cgroups/sampler.h"
#include "daemon/cri/runtime_pods.h"

namespace evictd::agent {

inline constexpr std::chrono::seconds kStartingPodFor{10};
inline constexpr std::chrono::milliseconds kListAgainAfter{100};

struct Reconciliation {
  enum class Action { kNone, kListNow, kExpect, kRefreshSoon };
  Action action = Action::kNone;
  std::vector<std::string> expected;  // kExpect: the pods with a cgroup and no sandbox listed
};

class RuntimeMembership {
 public:
  // Compares the pods read from the cgroups with the runtime's last list. `threshold_met`: a
  // threshold is met on this round's sample; `list_age`: how old the runtime's list is.
  Reconciliation reconcile(std::span<const cgroups::PodSample> cgroup_pods,
                           std::span<const cri::RuntimePod> runtime_pods, Nanos now,
                           bool threshold_met, Nanos list_age);

 private:
  std::map<std::string, Nanos> unlisted_since_;  // pod cgroups without a listed sandbox
  std::set<std::string> listed_;                 // pod cgroups whose sandbox was listed once
  std::vector<std::string> last_unknown_;        // the pods the two disagreed on last time
};

}  // namespace evictd::agent
