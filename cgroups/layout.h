// Which cgroup hierarchies the node has (v1, v2, or hybrid) and how the kubelet names pod and
// container cgroups under its kubepods cgroup with the cgroupfs and systemd drivers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/parse.h"
#include "ranking/result.h"

namespace evictd::cgroups {

enum class CgroupVersion { kV1, kV2, kHybrid };
std::string_view cgroup_version_name(CgroupVersion version);

struct CgroupLayout {
  CgroupVersion version = CgroupVersion::kV2;
  // v1 hierarchies (empty on v2); several controllers may share one mount ("cpu,cpuacct").
  std::string memory_root;
  std::string cpuacct_root;
  std::string pids_root;
  std::string freezer_root;
  // The cgroup2 mount (v2, or hybrid's unified mount); empty when there is none.
  std::string unified_root;

  // Whether memory is accounted by cgroup v1: its memory hierarchy (v1 and hybrid) has memcg usage
  // thresholds (cgroup.event_control), which v2 has no equivalent of.
  bool memory_v1() const { return version != CgroupVersion::kV2; }
  // The hierarchy where memory is accounted — usage, limits, memory.stat, notifications: v1's
  // memory hierarchy, or the unified one on v2.
  const std::string& memory_hierarchy() const { return memory_v1() ? memory_root : unified_root; }
};

// Chooses the hierarchies from the cgroup mounts. Fails only when no memory accounting exists at
// all.
Result<CgroupLayout> detect_layout(const std::vector<CgroupMount>& mounts);

enum class CgroupDriver { kCgroupfs, kSystemd };
enum class QosTier { kGuaranteed, kBurstable, kBestEffort };
std::string_view qos_tier_name(QosTier tier);

// The kubelet's cgroup names for a kubepods root named `kubepods` (configurable, as --cgroup-root
// and the kubelet's own naming allow).
class CgroupNaming {
 public:
  CgroupNaming(CgroupDriver driver, std::string kubepods = "kubepods");

  CgroupDriver driver() const { return driver_; }
  // "kubepods" or "kubepods.slice".
  std::string kubepods_dir() const;
  // "burstable" / "kubepods-burstable.slice"; Guaranteed pods sit directly under kubepods.
  std::string tier_dir(QosTier tier) const;
  // The pod UID of a pod cgroup directory name ("pod<uid>" or
  // "kubepods-burstable-pod<uid_>.slice").
  std::optional<std::string> pod_uid(std::string_view dir_name, QosTier tier) const;
  std::string pod_dir(std::string_view uid, QosTier tier) const;

 private:
  CgroupDriver driver_;
  std::string kubepods_;
};

struct ContainerDir {
  std::string_view id;
  std::string_view runtime;  // "containerd", "crio", "docker", or "" (cgroupfs names carry none)
};
// A container cgroup directory: "<id>" (cgroupfs) or "cri-containerd-<id>.scope",
// "crio-<id>.scope", "docker-<id>.scope" (systemd). CRI-O's conmon scopes are not containers.
std::optional<ContainerDir> parse_container_dir(std::string_view dir_name, CgroupDriver driver);

}  // namespace evictd::cgroups
