// Pods the cgroups and the runtime's list disagree on, and what to do about it. A starting pod's
// cgroup exists a moment before the runtime lists its sandbox; a pod that went leaves its
// cgroup until the kubelet's housekeeping removes it. Under pressure a starting pod may be the one
// causing it, so the list is taken at once in the loop; otherwise it is refreshed beside the loop
// until it has the pods (for a starting pod) or once (for a pod that went).
//
// Under pressure a list younger than kListAgainAfter is not taken again, unless it was asked
// before a starting pod's memory last grew: that pod's processes run, so its sandbox is (or is
// about to be) ready, and deciding on a list that cannot have it would rank every other pod
// without the one that may be using the memory.
#pragma once

#include <map>
#include <optional>
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
  // threshold is met on this round's sample; `list_age`: how long ago the runtime's list was
  // asked for.
  Reconciliation reconcile(std::span<const cgroups::PodSample> cgroup_pods,
                           std::span<const cri::RuntimePod> runtime_pods, Nanos now,
                           bool threshold_met, Nanos list_age);

 private:
  struct Unlisted {
    Nanos since{0};                // first seen without a listed sandbox
    uint64_t memory_bytes = 0;     // charged to its cgroup when last seen
    std::optional<Nanos> grew_at;  // when that was last seen to grow
  };
  // Whether a starting pod needs a listing in the loop now.
  static bool list_now(const std::map<std::string, Unlisted>& unlisted, Nanos now, Nanos list_age);

  std::map<std::string, Unlisted> unlisted_;  // pod cgroups without a listed sandbox
  std::set<std::string> listed_;              // pod cgroups whose sandbox was listed once
  std::vector<std::string> last_unknown_;     // the pods the two disagreed on last time
};

}  // namespace evictd::agent
