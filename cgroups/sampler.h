// The node and pod sampler: the numbers the kubelet's eviction manager uses (memory.available,
// allocatableMemory.available, pid.available, nodefs/imagefs bytes and inodes) and per-pod and
// per-container usage, read from cgroup v1 or v2 files, /proc and statvfs. One call, one complete
// sample; a pod that vanishes mid-read, or a missing or garbled file, leaves that value missing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cgroups/fs.h"
#include "cgroups/layout.h"
#include "cgroups/parse.h"
#include "ranking/stall_window.h"
#include "ranking/stats.h"

namespace evictd::cgroups {

struct MemoryUsage {
  std::optional<uint64_t> usage_bytes;
  std::optional<uint64_t> working_set_bytes;  // usage − inactive_file, as cAdvisor computes it
  std::optional<uint64_t> rss_bytes;
  std::optional<uint64_t> inactive_file_bytes;
  // memory.swap.current (v2), read only while the node has swap.
  std::optional<uint64_t> swap_bytes;
};

struct CgroupUsage {
  MemoryUsage memory;
  std::optional<uint64_t> processes;     // pids.current (tasks, i.e. threads, like the kubelet)
  std::optional<uint64_t> cpu_usage_ns;  // cumulative
  std::optional<double> cpu_cores;       // rate since the previous sample
  std::optional<Psi>
      memory_pressure;  // where the kernel provides it (v2, or hybrid's unified tree)
};

struct ContainerSample {
  std::string id;
  std::string runtime;  // from the systemd scope name; "" with cgroupfs
  CgroupUsage usage;
};

// How much one sample reads. A decision sample reads what eviction decisions need — node signals
// and each pod's memory and process count — and nothing per container; a full sample also reads
// every container, CPU and PSI: 3 files per pod instead of 15, each a system call, which is
// where a sample's time goes (docs/benchmarks.md, "Sampling"). A node sample reads the node's
// signals only and leaves the pods as the last sample found them: what an idle round needs, when no
// threshold is met.
enum class SampleDepth { kNode, kDecision, kFull };

struct PodSample {
  std::string uid;
  QosTier tier = QosTier::kBestEffort;
  std::string cgroup;  // relative to the hierarchy roots, e.g. kubepods/burstable/pod<uid>
  CgroupUsage usage;
  std::vector<ContainerSample> containers;
  // When containers, CPU and PSI were last read (full samples); between full samples they keep the
  // values of the last one.
  Nanos detail_time{0};
};

struct NodeSample {
  Nanos time{0};
  Nanos duration{0};  // wall time the sample took
  Observations observations;
  MemInfo meminfo;
  MemoryUsage memory;    // the root cgroup (the node)
  CgroupUsage kubepods;  // the kubepods cgroup
  std::optional<uint64_t> kubepods_limit_bytes;
  // The node's PSI and CPU, read by every sample that reads the pods (reports, not decisions);
  // `usage_time` is when they were read, and between such samples they keep their values.
  Psi memory_pressure;
  Psi io_pressure;
  Psi cpu_pressure;
  std::optional<double> cpu_cores;    // node CPU in use since the previous reading, from /proc/stat
  std::optional<double> cpu_seconds;  // cumulative busy CPU time of every CPU, from /proc/stat
  int cpus = 0;                       // CPUs online
  Nanos usage_time{0};
  std::vector<PodSample> pods;
  std::vector<std::string> problems;  // what could not be read this time, one line each
};

struct SamplerConfig {
  CgroupDriver driver = CgroupDriver::kCgroupfs;
  std::string kubepods = "kubepods";
  std::string proc_root = "/proc";
  std::string nodefs_path = "/var/lib/kubelet";
  std::string imagefs_path;      // empty: no imagefs observation (the runtime reports it later)
  std::string containerfs_path;  // empty: none
  // Whether decision samples read each pod's process count (pids.current or tasks): needed only
  // when a pid.available threshold may rank pods by it. Full samples always read it.
  bool decision_processes = true;
  // memory.pressure (an evictd signal): the stall share of the kubepods cgroup over this window,
  // read every round; nullopt when no threshold needs it. `some` counts time in which any task
  // stalled, rather than all of them at once.
  std::optional<Nanos> memory_pressure_window;
  bool memory_pressure_some = false;
  // Whether a swap signal is configured: v1 node rounds then read /proc/meminfo every round too.
  bool swap_signals = false;
};

class Sampler {
 public:
  Sampler(CgroupLayout layout, SamplerConfig config, FdBudget budget = FdBudget::from_rlimit());
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Reads everything; `now` stamps every observation (the evaluator's clock). The result stays
  // valid until the next call of sample().
  const NodeSample& sample(Nanos now, SampleDepth depth = SampleDepth::kFull);
  // The node's signals alone, read into a buffer of their own: what the evaluator needs after
  // node-level reclaim, while the round's sample (its pods included) stays as it was.
  Observations observe_node(Nanos now);

  // The memory.pressure window starts over (after an eviction's pod is gone).
  void restart_pressure_window();
  // Whether memory.pressure can be observed: the kubepods cgroup has a memory.pressure file (cgroup
  // v2, or hybrid's unified tree, with PSI on).
  bool observes_memory_pressure() const;

  // Whether pod cgroups came or went since the last sample that read the pods: three directory
  // listings, no file read, so that node-only rounds still notice a new pod at once.
  bool pods_changed();
  // Cheaper still: whether the tier directories' link counts (2 + subdirectories, on cgroupfs as
  // on tmpfs) moved since the pods were last read. Three fstat calls.
  bool subdirectories_changed();
  // The directories pod cgroups are made in (kubepods, burstable, besteffort), by tier name.
  std::vector<std::pair<std::string, std::string>> tier_directories() const;

  const CgroupLayout& layout() const { return layout_; }
  const CgroupNaming& naming() const { return naming_; }
  // Where notifications attach: the root and kubepods memory cgroups (v1 memory, else unified).
  std::string root_memory_dir() const;
  std::string kubepods_memory_dir() const;

 private:
  struct Tracked;
  struct TrackedPod;
  struct NodeFiles;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  void sample_node(NodeSample& out, Nanos now, SampleDepth depth);
  void sample_pods(NodeSample& out, Nanos now, SampleDepth depth);
  void discover_tier(QosTier tier, NodeSample& out);
  void track_files(Tracked& tracked, const std::string& relative);
  void read_usage(Tracked& tracked, CgroupUsage& out, Nanos now, SampleDepth depth);
  void observe_filesystem(NodeSample& out, Signal bytes, Signal inodes, const std::string& path);
  void observe_swap(NodeSample& out, Nanos now);
  struct SwapLimits {
    uint64_t total_bytes = 0;       // the sum of the finite memory.swap.max of pods' containers
    size_t limited_containers = 0;  // how many have one
  };
  void add_swap_limit(Tracked& tracked, SwapLimits& limits);
  void observe_memory_pressure(NodeSample& out, Nanos now);

  CgroupLayout layout_;
  SamplerConfig config_;
  CgroupNaming naming_;
  FdBudget budget_;
  std::vector<char> buffer_;
  std::vector<char> dir_buffer_;
  NodeSample sample_;
  NodeSample node_only_;  // observe_node's buffer
  std::unique_ptr<NodeFiles> node_files_;
  UniqueFd tier_dirs_[3];  // the kubepods, burstable and besteffort directories, by QosTier
  std::unique_ptr<Tracked> root_;
  std::unique_ptr<Tracked> kubepods_;
  SampledFile kubepods_limit_;
  std::optional<StallWindow> stall_window_;  // memory.pressure, when configured
  bool swap_on_ = false;    // the last meminfo had SwapTotal > 0: pods' swap is read
  SwapLimits swap_limits_;  // as of the last full sample
  std::unordered_map<std::string, std::unique_ptr<TrackedPod>, Hash, std::equal_to<>> pods_;
  // The pods in output order (by cgroup path), rebuilt only when a pod appears or goes, so that
  // each PodSample slot keeps holding the same pod and its strings keep their capacity.
  std::vector<TrackedPod*> order_;
  bool membership_changed_ = false;
  std::string
      tier_paths_[3];  // absolute directories of the kubepods, burstable and besteffort tiers
  std::string tier_relative_[3];  // the same, relative to the hierarchy root
  uint64_t generation_ = 0;
  std::optional<CpuTimes> last_cpu_;
  std::optional<uint64_t> max_tasks_;
  uint64_t tier_links_ = 0;  // sum of the tier directories' link counts when pods were last read
  uint64_t tier_links();     // min(pid_max, threads-max), re-read with the pods
  Nanos last_cpu_time_{0};
};

// Where the kubelet places a memcg usage threshold for an eviction threshold (its memory threshold
// notifier): capacity − threshold + inactive_file, so that it fires when the working set reaches
// it.
uint64_t memcg_threshold_bytes(int64_t capacity, int64_t threshold_bytes, uint64_t usage,
                               uint64_t working_set);

}  // namespace evictd::cgroups
