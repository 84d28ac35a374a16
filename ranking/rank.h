// Ordering pods for eviction, as the kubelet's rank functions do (helpers.go): memory by usage
// above requests, then priority, then usage minus requests; disk likewise for the filesystem under
// pressure; PIDs by priority, then process count. A pod without stats goes first. Each pod's keys
// are kept so every decision can show why a pod stood where it did.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "ranking/pod.h"
#include "ranking/signal.h"
#include "ranking/stats.h"
#include "ranking/threshold.h"

namespace evictd {

// A pod the runtime reports as running, with its stats (nullptr when none were found).
struct ActivePod {
  const Pod* pod = nullptr;
  const PodStats* stats = nullptr;
  // Its PodDisruptionBudget refused an eviction through the Eviction API a moment ago: soft
  // thresholds pass over it for now (hard thresholds never ask the API, so they do not).
  bool soft_eviction_refused = false;
  // Evicted already, and not seen running since: a terminated pod, which the kubelet never ranks
  // (its page cache may still be charged to its cgroup, and a listing may predate its stop).
  bool terminated = false;
};

enum class RankKind { kMemory, kDisk, kPids };

// The filesystem usage a disk signal counts (kubelet fsStatsType: root, logs, localVolumeSource).
struct DiskMeasure {
  bool rootfs = false;
  bool logs = false;
  bool local_volumes = false;
};
DiskMeasure disk_measure(Signal signal, FilesystemLayout layout);

struct DiskUsage {
  uint64_t bytes = 0;
  uint64_t inodes = 0;
};
DiskUsage pod_disk_usage(const Pod& pod, const PodStats& stats, DiskMeasure measure);

struct RankKeys {
  bool stats_found = false;
  bool exceeds_requests = false;  // memory and disk rankings
  int32_t priority = 0;
  // Memory bytes, disk bytes or inodes, or processes; in nano units like Quantity.
  Int128 usage = 0;
  Int128 swap = 0;  // the part of a memory ranking's usage that sits in swap, when it counts swap
  Int128 request = 0;
  Int128 usage_above_request = 0;
  bool critical = false;
};

struct Ranking {
  RankKind kind = RankKind::kMemory;
  Signal signal = Signal::kMemoryAvailable;
  bool counts_swap = false;    // memory usage is working set + swap
  std::vector<size_t> order;   // indices into the ranked pods, first evicted first
  std::vector<RankKeys> keys;  // by pod index
};

RankKind rank_kind(Signal signal);
// Whether a ranking for `signal` counts swap: always for evictd's own memory signals, and for the
// kubelet's when swap-aware ranking is asked for (off by default: the kubelet ranks by working
// set).
bool ranks_with_swap(Signal signal, bool swap_aware_ranking);
Ranking rank_pods(Signal signal, FilesystemLayout layout, std::span<const ActivePod> pods,
                  bool swap_aware_ranking = false);

// The key that orders two pods in a ranking, the first of the ranking's comparators to tell them
// apart (kTie: none does, and the given order stands).
enum class RankKey { kStats, kExceedsRequests, kPriority, kUsageAboveRequest, kProcesses, kTie };
std::string_view rank_key_name(RankKey key);
struct KeyComparison {
  int order = 0;  // < 0: `a` is evicted first; > 0: `b` is; 0: a tie on every key
  RankKey key = RankKey::kTie;
};
KeyComparison compare_rank_keys(RankKind kind, const RankKeys& a, const RankKeys& b);

}  // namespace evictd
