// What the daemon benchmarks share: evictd's configuration against the harness's containerd, and
// the times read back from evictd's log.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <sstream>
#include <string>

#include "e2e/containerd_harness.h"

namespace evictd::bench {

// Standalone (no API server), against the harness's containerd, with one hard memory threshold.
inline std::string standalone_config(const testing_util::ContainerdHarness& harness,
                                     const std::string& dir,
                                     const std::string& threshold = "100Mi") {
  return "nodeName: bench-node\n"
         "eviction:\n  evictionHard: {memory.available: \"" +
         threshold +
         "\"}\n"
         "containerRuntimeEndpoint: " +
         harness.endpoint() + "\npodSandboxImage: " + testing_util::ContainerdHarness::kPauseImage +
         "\nnodefsPath: " + dir + "\nstateDirectory: " + dir + "/state\n" +
         testing_util::cgroup_driver_config();
}

// The wall-clock time (ms since the epoch) that starts a line of evictd's log; 0 when none does.
inline int64_t log_line_time_ms(const std::string& line) {
  std::tm utc{};
  int ms = 0;
  if (std::sscanf(line.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &utc.tm_year, &utc.tm_mon, &utc.tm_mday,
                  &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &ms) != 7)
    return 0;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&utc)) * 1000 + ms;
}

// The wall-clock time (ms since the epoch) of evictd's "evicting pod" line for a pod.
inline int64_t decision_time_ms(const std::string& log, const std::string& uid) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("evicting pod") != std::string::npos &&
        line.find("uid=" + uid) != std::string::npos)
      return log_line_time_ms(line);
  }
  return 0;
}

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace evictd::bench
