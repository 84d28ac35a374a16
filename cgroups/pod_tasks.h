// A pod's tasks, reached through its cgroup rather than the runtime: relief that needs nothing
// but a write to the kernel.
//
// Freezing while an eviction waits for the API server: the kernel stops scheduling the pod's tasks
// at once, so its memory stops growing within a write to one file, and nothing is killed, so the
// kubelet sees no dead container before it holds the pod's Failed status. v2: cgroup.freeze,
// hierarchical; a frozen task still dies of SIGKILL. v1: the freezer hierarchy's freezer.state; a
// frozen task does not die, not even of SIGKILL, until it is thawed — so on v1 a pod is always
// thawed before it is stopped.
//
// Killing when the runtime does not answer (a node so short of memory that containerd stalls):
// v2 writes cgroup.kill, which the kernel carries out for the cgroup and its children at once; v1
// (and a v2 kernel older than 5.14) sends SIGKILL to each task listed in the pod's cgroups, each
// through a pidfd taken before its cgroup is checked, so that a PID freed and reused meanwhile is
// never signalled — nothing outside the pod is ever touched.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "cgroups/layout.h"
#include "ranking/result.h"

namespace evictd::cgroups {

// The PIDs in a cgroup directory and every cgroup below it; none when it is gone.
std::vector<pid_t> pids_under(const std::string& directory);

class PodTasks {
 public:
  explicit PodTasks(const CgroupLayout& layout);

  // `cgroup` is the pod's cgroup relative to the memory hierarchy, as the sampler reports it; a
  // path that is empty or climbs out ("..") is refused. The same relative path names the pod in
  // the freezer hierarchy on v1, for both cgroup drivers.
  Result<void> freeze(const std::string& cgroup) const;
  Result<void> thaw(const std::string& cgroup) const;
  // Kills every task of the pod; the number of processes found in its cgroups (none: already
  // gone, and nothing is written). Leaves the pod thawed on v1, where a frozen task cannot die.
  Result<int> kill(const std::string& cgroup) const;
  // Whether SIGKILL ends a frozen task (v2), so that a stop without grace may stay frozen.
  bool kills_frozen() const { return !v1_; }
  bool available() const { return !root_.empty(); }

 private:
  Result<std::string> directory(const std::string& cgroup) const;
  Result<void> write_state(const std::string& cgroup, bool frozen) const;
  Result<int> kill_each(const std::string& directory, const std::string& relative) const;

  std::string root_;  // the freezer hierarchy (v1) or the unified one (v2); empty: none
  bool v1_ = false;
};

}  // namespace evictd::cgroups
