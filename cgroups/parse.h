// Parsers of the kernel's text files that sampling reads: memory.stat, PSI files, /proc/meminfo,
// /proc/loadavg, cpu.stat and /proc/self/mountinfo. Each takes a buffer (the caller reads the file,
// usually into a reused buffer), allocates nothing except mountinfo's result, and treats garbled
// input as missing values, never as an error that aborts a sample.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evictd::cgroups {

// The memory.stat fields sampling uses; v1 files have rss/cache/total_*, v2 files anon/file.
struct MemoryStat {
  std::optional<uint64_t> inactive_file;
  std::optional<uint64_t> total_inactive_file;  // v1, hierarchical
  std::optional<uint64_t> rss;                  // v1
  std::optional<uint64_t> total_rss;            // v1, hierarchical
  std::optional<uint64_t> anon;                 // v2
  std::optional<uint64_t> file;                 // v2
};
MemoryStat parse_memory_stat(std::string_view text);

// A "some"/"full" line of a PSI file: averages in percent, total stall time in microseconds.
struct PsiLine {
  double avg10 = 0;
  double avg60 = 0;
  double avg300 = 0;
  uint64_t total_us = 0;
};
struct Psi {
  std::optional<PsiLine> some;
  std::optional<PsiLine> full;
};
Psi parse_psi(std::string_view text);

// /proc/meminfo, in bytes.
struct MemInfo {
  std::optional<uint64_t> mem_total;
  std::optional<uint64_t> mem_free;
  std::optional<uint64_t> mem_available;
  std::optional<uint64_t> inactive_file;
  std::optional<uint64_t> swap_total;
  std::optional<uint64_t> swap_free;
};
MemInfo parse_meminfo(std::string_view text);

// /proc/zoneinfo: the free-memory watermarks of every zone, summed, in pages. The kernel's kswapd
// reclaims when a zone's free pages fall below its low watermark, until they pass the high one;
// below min, allocations reclaim directly. Absent when the file has no zone.
struct ZoneWatermarks {
  uint64_t min_pages = 0;
  uint64_t low_pages = 0;
  uint64_t high_pages = 0;
};
std::optional<ZoneWatermarks> parse_zoneinfo(std::string_view text);

// The kubelet's running task count: the number after '/' in the fourth field of /proc/loadavg.
std::optional<int64_t> parse_loadavg_tasks(std::string_view text);

// A single unsigned integer file (memory.current, pids.current, memory.limit_in_bytes, pid_max);
// "max" reads as nullopt with *unlimited set.
std::optional<uint64_t> parse_uint(std::string_view text, bool* unlimited = nullptr);

// cpu.stat (v2): usage_usec in microseconds.
std::optional<uint64_t> parse_cpu_stat_usage_us(std::string_view text);

// Aggregate CPU time of /proc/stat's first line, in clock ticks: busy (all but idle and iowait) and
// total.
struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
  int cpus = 0;  // the per-CPU lines that follow: the CPUs online
};
std::optional<CpuTimes> parse_proc_stat_cpu(std::string_view text);

// memory.events (v2): the counters that matter for eviction.
struct MemoryEvents {
  std::optional<uint64_t> high;
  std::optional<uint64_t> max;
  std::optional<uint64_t> oom;
  std::optional<uint64_t> oom_kill;
};
MemoryEvents parse_memory_events(std::string_view text);

struct CgroupMount {
  std::string mount_point;
  bool v2 = false;
  std::vector<std::string> controllers;  // v1 only: from the super options (memory, cpu, pids, ...)
};
// The cgroup and cgroup2 mounts of a mountinfo file, with octal escapes (\040) undone.
std::vector<CgroupMount> parse_mountinfo(std::string_view text);

}  // namespace evictd::cgroups
