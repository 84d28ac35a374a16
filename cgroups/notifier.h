// Pressure notifications multiplexed in one epoll loop that wakes the evaluator the moment the
// kernel reports pressure: memcg usage thresholds through cgroup.event_control + eventfd (v1), PSI
// triggers on memory.pressure (v2), inotify on memory.events (v2), and a timerfd poll as the safety
// net. Fallbacks (a PSI window the kernel refuses, a file that cannot be watched) are recorded, not
// hidden.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/fs.h"
#include "ranking/duration.h"
#include "ranking/result.h"

namespace evictd::cgroups {

enum class WakeCause { kTimer, kMemoryThreshold, kPsi, kMemoryEvents, kPodsChanged, kInterrupt };
std::string_view wake_cause_name(WakeCause cause);

struct Wake {
  WakeCause cause = WakeCause::kTimer;
  std::string source;  // the notification's name
  Nanos at{0};         // CLOCK_MONOTONIC when epoll returned
};

struct PsiTriggerStatus {
  bool active = false;
  Nanos window{0};     // the window in use (may be wider than asked)
  std::string detail;  // what was tried and refused, for status and logs
};

class PressureNotifier {
 public:
  // The epoll loop with its poll timer and interrupt, ready to wait; an error names the call the
  // kernel refused.
  static Result<std::unique_ptr<PressureNotifier>> create(Nanos poll_interval);
  ~PressureNotifier();
  PressureNotifier(const PressureNotifier&) = delete;
  PressureNotifier& operator=(const PressureNotifier&) = delete;

  // v1: an eventfd that fires when <cgroup_dir>/memory.usage_in_bytes crosses `bytes` (either way).
  // Re-arming the same name replaces the previous threshold. Returns the usage read just after the
  // kernel took the threshold: at or above `bytes`, usage passed it before it was armed, and that
  // crossing will not be signalled.
  Result<uint64_t> arm_memory_threshold(const std::string& name, const std::string& cgroup_dir,
                                        uint64_t bytes);
  // v2: a PSI trigger "some <stall> <window>" on a pressure file. A refused window falls back to
  // the smallest window the kernel accepts without CAP_SYS_RESOURCE (2 s), then to polling.
  PsiTriggerStatus add_psi_trigger(const std::string& name, const std::string& pressure_file,
                                   Nanos stall, Nanos window);
  // v2: wake when a memory.events file changes (high, max, oom, oom_kill counters).
  Result<void> watch_memory_events(const std::string& name, const std::string& events_file);

  // Wake when a subdirectory is made or removed in `directory` (a pod cgroup under a QoS tier):
  // the loop learns of a new pod the moment its cgroup exists, not at the next poll.
  Result<void> watch_directory(const std::string& name, const std::string& directory);

  // Blocks until a notification, the poll interval, or interrupt(); `timeout` bounds the wait.
  Wake wait(std::optional<Nanos> timeout = std::nullopt);
  // Wakes a wait() in another thread.
  void interrupt();

  // One line per notification path and fallback.
  std::vector<std::string> describe() const;
  static Nanos monotonic_now();

 private:
  struct Source {
    WakeCause cause;
    std::string name;
    UniqueFd fd;    // what epoll watches
    UniqueFd keep;  // held open alongside (the memcg usage file)
    std::string description;
  };
  explicit PressureNotifier(Nanos poll_interval);
  Result<void> watch_fd(int fd, uint32_t events, uint64_t tag);
  Result<void> add(std::unique_ptr<Source> source, uint32_t events);
  void remove(const std::string& name);

  UniqueFd epoll_;
  UniqueFd timer_;
  UniqueFd interrupt_;
  UniqueFd inotify_;
  Nanos poll_interval_;
  std::map<std::string, std::unique_ptr<Source>> sources_;
  std::map<int, std::string> inotify_watches_;    // watch descriptor -> source name
  std::map<int, std::string> directory_watches_;  // the same, for watch_directory
  Result<void> add_inotify(const std::string& name, const std::string& path, uint32_t mask,
                           std::map<int, std::string>& watches);
  std::vector<std::string> fallbacks_;
};

}  // namespace evictd::cgroups
