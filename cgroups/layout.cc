#include "cgroups/layout.h"

#include <algorithm>

namespace evictd::cgroups {
namespace {

bool has_controller(const CgroupMount& mount, std::string_view controller) {
  return std::find(mount.controllers.begin(), mount.controllers.end(), controller) !=
         mount.controllers.end();
}

std::string_view tier_word(QosTier tier) {
  return tier == QosTier::kBurstable ? "burstable" : "besteffort";
}

bool is_uid_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-' ||
         c == '_';
}

}  // namespace

std::string_view cgroup_version_name(CgroupVersion version) {
  switch (version) {
    case CgroupVersion::kV1:
      return "v1";
    case CgroupVersion::kV2:
      return "v2";
    case CgroupVersion::kHybrid:
      return "hybrid";
  }
  return "";
}

std::string_view qos_tier_name(QosTier tier) {
  switch (tier) {
    case QosTier::kGuaranteed:
      return "Guaranteed";
    case QosTier::kBurstable:
      return "Burstable";
    case QosTier::kBestEffort:
      return "BestEffort";
  }
  return "";
}

Result<CgroupLayout> detect_layout(const std::vector<CgroupMount>& mounts) {
  CgroupLayout layout;
  for (const auto& mount : mounts) {
    if (mount.v2) {
      // Prefer the canonical mount point when the cgroup2 hierarchy is mounted twice.
      if (layout.unified_root.empty() || mount.mount_point == "/sys/fs/cgroup") {
        layout.unified_root = mount.mount_point;
      }
      continue;
    }
    if (has_controller(mount, "memory") && layout.memory_root.empty()) {
      layout.memory_root = mount.mount_point;
    }
    if (has_controller(mount, "cpuacct") && layout.cpuacct_root.empty()) {
      layout.cpuacct_root = mount.mount_point;
    }
    if (has_controller(mount, "pids") && layout.pids_root.empty()) {
      layout.pids_root = mount.mount_point;
    }
    if (has_controller(mount, "freezer") && layout.freezer_root.empty()) {
      layout.freezer_root = mount.mount_point;
    }
  }
  if (!layout.memory_root.empty()) {
    layout.version = layout.unified_root.empty() ? CgroupVersion::kV1 : CgroupVersion::kHybrid;
    return layout;
  }
  if (!layout.unified_root.empty()) {
    layout.version = CgroupVersion::kV2;
    layout.cpuacct_root.clear();
    layout.pids_root.clear();
    layout.freezer_root.clear();
    return layout;
  }
  return make_error(
      "no usable cgroup hierarchy: /proc/self/mountinfo has neither a cgroup v1 memory hierarchy "
      "nor a "
      "cgroup2 mount");
}

CgroupNaming::CgroupNaming(CgroupDriver driver, std::string kubepods)
    : driver_(driver), kubepods_(std::move(kubepods)) {}

std::string CgroupNaming::kubepods_dir() const {
  return driver_ == CgroupDriver::kSystemd ? kubepods_ + ".slice" : kubepods_;
}

std::string CgroupNaming::tier_dir(QosTier tier) const {
  if (tier == QosTier::kGuaranteed)
    return "";
  if (driver_ == CgroupDriver::kSystemd)
    return kubepods_ + "-" + std::string(tier_word(tier)) + ".slice";
  return std::string(tier_word(tier));
}

std::string CgroupNaming::pod_dir(std::string_view uid, QosTier tier) const {
  if (driver_ == CgroupDriver::kCgroupfs)
    return "pod" + std::string(uid);
  std::string escaped(uid);
  std::replace(escaped.begin(), escaped.end(), '-', '_');
  std::string prefix = kubepods_ + "-";
  if (tier != QosTier::kGuaranteed)
    prefix += std::string(tier_word(tier)) + "-";
  return prefix + "pod" + escaped + ".slice";
}

std::optional<std::string> CgroupNaming::pod_uid(std::string_view dir_name, QosTier tier) const {
  std::string_view uid;
  if (driver_ == CgroupDriver::kCgroupfs) {
    if (!dir_name.starts_with("pod"))
      return std::nullopt;
    uid = dir_name.substr(3);
  } else {
    std::string prefix = kubepods_ + "-";
    if (tier != QosTier::kGuaranteed)
      prefix += std::string(tier_word(tier)) + "-";
    prefix += "pod";
    if (!dir_name.starts_with(prefix) || !dir_name.ends_with(".slice"))
      return std::nullopt;
    uid = dir_name.substr(prefix.size(), dir_name.size() - prefix.size() - 6);
  }
  if (uid.empty() || !std::all_of(uid.begin(), uid.end(), is_uid_char))
    return std::nullopt;
  std::string result(uid);
  std::replace(result.begin(), result.end(), '_', '-');  // systemd escapes '-' in unit names
  return result;
}

std::optional<ContainerDir> parse_container_dir(std::string_view dir_name, CgroupDriver driver) {
  if (driver == CgroupDriver::kCgroupfs) {
    if (dir_name.empty() || dir_name.starts_with("pod"))
      return std::nullopt;
    return ContainerDir{dir_name, ""};
  }
  static constexpr std::pair<std::string_view, std::string_view> kPrefixes[] = {
      {"cri-containerd-", "containerd"}, {"crio-", "crio"}, {"docker-", "docker"}};
  if (!dir_name.ends_with(".scope") || dir_name.starts_with("crio-conmon-"))
    return std::nullopt;
  for (const auto& [prefix, runtime] : kPrefixes) {
    if (dir_name.starts_with(prefix) && dir_name.size() > prefix.size() + 6) {
      return ContainerDir{dir_name.substr(prefix.size(), dir_name.size() - prefix.size() - 6),
                          runtime};
    }
  }
  return std::nullopt;
}

}  // namespace evictd::cgroups
