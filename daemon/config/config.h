// evictd's configuration file (YAML, docs/configuration.md): every field with its default,
// validated once at the edge into types; errors name the file, the line, the field and the reason.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "cgroups/layout.h"
#include "ranking/duration.h"
#include "ranking/result.h"
#include "ranking/threshold.h"

namespace evictd::config {

enum class SoftEvictionMode { kDirect, kApi };
enum class LogLevel { kDebug, kInfo, kWarning, kError };

struct Config {
  std::string node_name;  // default: the host name
  // API server access: a kubeconfig path, "in-cluster", or "" (standalone: no API server).
  std::string kubeconfig;
  // The eviction thresholds: inline KubeletConfiguration fields, or read from the kubelet's own
  // file.
  EvictionConfig eviction;
  std::string kubelet_config_file;
  // evictd's own signals (pressureSignals): their thresholds join `eviction`; memory.pressure is
  // the stall share over this window, of "full" stalls unless `memory_pressure_some`.
  Nanos memory_pressure_window = std::chrono::seconds(10);
  bool memory_pressure_some = false;
  cgroups::CgroupDriver cgroup_driver = cgroups::CgroupDriver::kCgroupfs;
  std::string kubepods = "kubepods";
  std::string container_runtime_endpoint = "unix:///run/containerd/containerd.sock";
  std::string pod_sandbox_image = "registry.k8s.io/pause:3.10";  // never reclaimed
  std::string nodefs_path = "/var/lib/kubelet";
  Nanos monitoring_interval = std::chrono::seconds(1);
  // Kernel notifications (memcg thresholds, PSI, memory.events); off leaves polling alone, as the
  // kubelet without its threshold notifier.
  bool pressure_notifications = true;
  // Headroom pacing (docs/cgroups.md): the fastest memory growth, in bytes per second, that the
  // node reads are paced for where no kernel notification marks a threshold's crossing; 0 turns
  // it off. Pacing comes with pressureNotifications.
  int64_t memory_growth_bound = int64_t{2} << 30;
  Nanos image_minimum_age = std::chrono::minutes(2);
  // How long kube_pod_status_reason keeps an evicted pod after its object is gone (or, without an
  // API server, after the eviction).
  Nanos evicted_pod_retention = std::chrono::hours(1);
  SoftEvictionMode soft_eviction_mode = SoftEvictionMode::kDirect;
  // How long an evicted pod is watched after its status is written (docs/kubelet.md): run again,
  // it is stopped again; its status changed back, it is written again. Two of the kubelet's 10 s
  // resync periods and a margin; 0 turns the watch off.
  Nanos post_eviction_watch = std::chrono::seconds(25);
  bool dry_run = false;
  bool node_conditions = false;
  // Per-pod CPU and memory series on /metrics: one pair per pod, so off unless asked for (the
  // kubelet's and cAdvisor's own series usually cover them).
  bool pod_metrics = false;
  std::string state_directory = "/var/lib/evictd";
  std::string metrics_address = "127.0.0.1:9851";
  std::string status_socket = "/run/evictd/evictd.sock";
  std::string status_socket_group;
  std::string status_address;  // optional loopback TCP listener for the status API
  LogLevel log_level = LogLevel::kInfo;
};

// What sampling reads for evictd's own signals, decided when the sampler starts: the kubepods
// cgroup's memory.pressure (with its window and stall kind) when a memory.pressure threshold is
// set, and /proc/meminfo on every v1 node round when a swap threshold is.
struct SamplingNeeds {
  std::optional<Nanos> memory_pressure_window;
  bool memory_pressure_some = false;
  bool swap_signals = false;
  bool operator==(const SamplingNeeds&) const = default;
};
SamplingNeeds sampling_needs(const Config& config);

// Parses and validates a configuration file. Relative paths in it resolve against its directory.
Result<Config> load_config(const std::string& path);
// Parses configuration text; `path` names it in errors.
Result<Config> parse_config(const std::string& text, const std::string& path);

std::string describe(const Config& config);  // a readable summary for check-config and logs

}  // namespace evictd::config
