// One evictd per node. Two would decide the same evictions, interleave records in one ledger and
// fight over one status socket (a DaemonSet beside the systemd unit, or a second `evictd run` by
// hand). The first to start holds an exclusive flock on <stateDirectory>/evictd.lock for its whole
// life — the kernel releases it when the process ends, however it ends — and writes its PID there
// so that a second one can say who holds it.
#pragma once

#include <string>

#include "ranking/result.h"

namespace evictd::node {

inline constexpr const char* kLockFileName = "evictd.lock";

class InstanceLock {
 public:
  // Creates the state directory (0700) when missing; an error naming the holder's PID when
  // another process holds the lock.
  static Result<InstanceLock> acquire(const std::string& state_directory);

  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&& other) noexcept;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  ~InstanceLock();

  const std::string& path() const { return path_; }

 private:
  InstanceLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_ = -1;
  std::string path_;
};

}  // namespace evictd::node
