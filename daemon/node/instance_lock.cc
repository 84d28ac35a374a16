#include "daemon/node/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace evictd::node {
namespace {

Error lock_error(const std::string& what, const std::string& path) {
  return make_error("stateDirectory: " + what + " " + path + ": " + std::strerror(errno));
}

// The PID the holder wrote, as text ("" when it wrote none yet).
std::string holder_pid(int fd) {
  char text[32] = {};
  const ssize_t got = pread(fd, text, sizeof(text) - 1, 0);
  std::string pid(text, got > 0 ? static_cast<size_t>(got) : 0);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
    pid.pop_back();
  return pid.find_first_not_of("0123456789") == std::string::npos ? pid : "";
}

Result<void> write_own_pid(int fd, const std::string& path) {
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    return lock_error("cannot write the PID to", path);
  return {};
}

}  // namespace

Result<InstanceLock> InstanceLock::acquire(const std::string& state_directory) {
  std::error_code error;
  std::filesystem::create_directories(state_directory, error);
  if (error)
    return make_error("stateDirectory: " + state_directory + ": " + error.message());
  // The ledger beside the lock names pods and carries their messages: for root's eyes only.
  if (chmod(state_directory.c_str(), 0700) != 0)
    return lock_error("cannot make it its owner's alone:", state_directory);
  const std::string path = state_directory + "/" + kLockFileName;
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return lock_error("cannot open", path);
  InstanceLock lock(fd, path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK)
      return lock_error("cannot lock", path);
    const std::string pid = holder_pid(fd);
    return make_error("another evictd" + (pid.empty() ? "" : " (PID " + pid + ")") +
                      " is running with stateDirectory " + state_directory + " (it holds " + path +
                      "); one evictd per node");
  }
  if (auto written = write_own_pid(fd, path); !written)
    return written.error();
  return lock;
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

InstanceLock& InstanceLock::operator=(InstanceLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

InstanceLock::~InstanceLock() {
  if (fd_ >= 0)
    close(fd_);  // releases the lock; the file stays, its PID stale but harmless
}

}  // namespace evictd::node
