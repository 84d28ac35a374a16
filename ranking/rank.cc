#include "ranking/rank.h"

#include <algorithm>

namespace evictd {
namespace {

// kubelet cmpBool: true sorts before false.
int cmp_bool(bool a, bool b) {
  if (a == b)
    return 0;
  return b ? 1 : -1;
}

int cmp_value(Int128 a, Int128 b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

Int128 to_nano(uint64_t value) {
  return static_cast<Int128>(value) * Quantity::kNanoPerUnit;
}

// The comparators every ranking starts from when either pod lacks stats: the one without goes
// first.
int cmp_missing_stats(const RankKeys& a, const RankKeys& b) {
  return cmp_bool(!a.stats_found, !b.stats_found);
}

int cmp_exceeds(const RankKeys& a, const RankKeys& b) {
  if (!a.stats_found || !b.stats_found)
    return cmp_missing_stats(a, b);
  return cmp_bool(a.exceeds_requests, b.exceeds_requests);
}

int cmp_priority(const RankKeys& a, const RankKeys& b) {
  return cmp_value(a.priority, b.priority);
}

int cmp_usage_above_request(const RankKeys& a, const RankKeys& b) {
  if (!a.stats_found || !b.stats_found)
    return cmp_missing_stats(a, b);
  return cmp_value(b.usage_above_request, a.usage_above_request);
}

int cmp_processes(const RankKeys& a, const RankKeys& b) {
  if (!a.stats_found || !b.stats_found)
    return cmp_missing_stats(a, b);
  return cmp_value(b.usage, a.usage);
}

// The keys every ranking shares: whether stats exist, priority, criticality.
RankKeys common_keys(const ActivePod& active) {
  RankKeys keys;
  keys.stats_found = active.stats != nullptr;
  keys.priority = pod_priority(*active.pod);
  keys.critical = is_critical_pod(*active.pod);
  return keys;
}

RankKeys memory_keys(const ActivePod& active, bool with_swap) {
  RankKeys keys = common_keys(active);
  keys.request = pod_request(*active.pod, kResourceMemory).nano();
  if (keys.stats_found) {
    if (with_swap)
      keys.swap = to_nano(active.stats->memory_swap_bytes.value_or(0));
    keys.usage = to_nano(active.stats->memory_working_set_bytes.value_or(0)) + keys.swap;
  }
  keys.exceeds_requests = keys.usage > keys.request;
  keys.usage_above_request = keys.usage - keys.request;
  return keys;
}

RankKeys disk_keys(const ActivePod& active, DiskMeasure measure, bool inodes) {
  RankKeys keys = common_keys(active);
  keys.request = pod_request(*active.pod, inodes ? "inodes" : kResourceEphemeralStorage).nano();
  if (keys.stats_found) {
    const DiskUsage usage = pod_disk_usage(*active.pod, *active.stats, measure);
    keys.usage = to_nano(inodes ? usage.inodes : usage.bytes);
  }
  keys.exceeds_requests = keys.usage > keys.request;
  // The kubelet subtracts the ephemeral-storage request even when ranking by inodes.
  keys.usage_above_request =
      keys.usage -
      (inodes ? pod_request(*active.pod, kResourceEphemeralStorage).nano() : keys.request);
  return keys;
}

RankKeys pid_keys(const ActivePod& active) {
  RankKeys keys = common_keys(active);
  if (keys.stats_found)
    keys.usage = to_nano(active.stats->process_count.value_or(0));
  keys.usage_above_request = keys.usage;
  return keys;
}

}  // namespace

DiskMeasure disk_measure(Signal signal, FilesystemLayout layout) {
  const auto filesystem = signal_filesystem(signal);
  const bool image_signal = filesystem == Filesystem::kImageFs;
  const bool container_signal = filesystem == Filesystem::kContainerFs;
  switch (layout) {
    case FilesystemLayout::kShared:
      return {true, true, true};
    case FilesystemLayout::kDedicatedImageFs:
      // nodefs holds logs and volumes; imagefs (and containerfs with it) the writable layers.
      if (image_signal || container_signal)
        return {true, false, false};
      return {false, true, true};
    case FilesystemLayout::kSplit:
      // imagefs holds only images, which no pod is charged for.
      if (image_signal)
        return {false, false, false};
      return {true, true, true};
  }
  return {true, true, true};
}

DiskUsage pod_disk_usage(const Pod& pod, const PodStats& stats, DiskMeasure measure) {
  DiskUsage usage;
  for (const auto& container : stats.containers) {
    if (measure.rootfs) {
      usage.bytes += container.rootfs_used_bytes.value_or(0);
      usage.inodes += container.rootfs_inodes_used.value_or(0);
    }
    if (measure.logs) {
      usage.bytes += container.logs_used_bytes.value_or(0);
      usage.inodes += container.logs_inodes_used.value_or(0);
    }
  }
  if (measure.local_volumes) {
    for (const auto& volume : pod.volumes) {
      if (!is_local_volume(volume))
        continue;
      const auto it = std::find_if(stats.volumes.begin(), stats.volumes.end(),
                                   [&](const VolumeStats& v) { return v.name == volume.name; });
      if (it == stats.volumes.end())
        continue;
      usage.bytes += it->used_bytes.value_or(0);
      usage.inodes += it->inodes_used.value_or(0);
    }
  }
  return usage;
}

RankKind rank_kind(Signal signal) {
  switch (signal_resource(signal)) {
    case Resource::kMemory:
      return RankKind::kMemory;
    case Resource::kPids:
      return RankKind::kPids;
    case Resource::kEphemeralStorage:
    case Resource::kInodes:
      return RankKind::kDisk;
  }
  return RankKind::kMemory;
}

std::string_view rank_key_name(RankKey key) {
  switch (key) {
    case RankKey::kStats:
      return "stats";
    case RankKey::kExceedsRequests:
      return "exceedsRequests";
    case RankKey::kPriority:
      return "priority";
    case RankKey::kUsageAboveRequest:
      return "usageAboveRequest";
    case RankKey::kProcesses:
      return "processes";
    case RankKey::kTie:
      return "tie";
  }
  return "tie";
}

KeyComparison compare_rank_keys(RankKind kind, const RankKeys& a, const RankKeys& b) {
  // A comparator that needs stats orders a pod without them first; that is reported as the stats
  // key rather than the comparator's own.
  const auto key_or_stats = [&](RankKey key) {
    return a.stats_found && b.stats_found ? key : RankKey::kStats;
  };
  if (kind == RankKind::kPids) {
    if (const int order = cmp_priority(a, b); order != 0)
      return {order, RankKey::kPriority};
    if (const int order = cmp_processes(a, b); order != 0)
      return {order, key_or_stats(RankKey::kProcesses)};
    return {};
  }
  if (const int order = cmp_exceeds(a, b); order != 0)
    return {order, key_or_stats(RankKey::kExceedsRequests)};
  if (const int order = cmp_priority(a, b); order != 0)
    return {order, RankKey::kPriority};
  if (const int order = cmp_usage_above_request(a, b); order != 0)
    return {order, key_or_stats(RankKey::kUsageAboveRequest)};
  return {};
}

bool ranks_with_swap(Signal signal, bool swap_aware_ranking) {
  return counts_swap(signal) || (swap_aware_ranking && is_memory_signal(signal));
}

Ranking rank_pods(Signal signal, FilesystemLayout layout, std::span<const ActivePod> pods,
                  bool swap_aware_ranking) {
  Ranking ranking;
  ranking.signal = signal;
  ranking.kind = rank_kind(signal);
  ranking.counts_swap = ranks_with_swap(signal, swap_aware_ranking);
  ranking.keys.reserve(pods.size());
  const DiskMeasure measure = disk_measure(signal, layout);
  const bool inodes = signal_resource(signal) == Resource::kInodes;
  for (const auto& active : pods) {
    switch (ranking.kind) {
      case RankKind::kMemory:
        ranking.keys.push_back(memory_keys(active, ranking.counts_swap));
        break;
      case RankKind::kDisk:
        ranking.keys.push_back(disk_keys(active, measure, inodes));
        break;
      case RankKind::kPids:
        ranking.keys.push_back(pid_keys(active));
        break;
    }
  }
  ranking.order.resize(pods.size());
  for (size_t i = 0; i < pods.size(); ++i)
    ranking.order[i] = i;
  // Stable, so pods that tie on every key keep the order in which they were given; the kubelet's
  // sort.Sort leaves that order unspecified.
  std::stable_sort(ranking.order.begin(), ranking.order.end(), [&](size_t a, size_t b) {
    return compare_rank_keys(ranking.kind, ranking.keys[a], ranking.keys[b]).order < 0;
  });
  return ranking;
}

}  // namespace evictd
