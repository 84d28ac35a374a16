// A child process that joins given cgroups and allocates memory on command, so tests and benchmarks
// can make a real cgroup's usage cross a threshold at a known moment.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

namespace evictd::testing_util {

inline int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class AllocatingChild {
 public:
  // Forks a child that writes its PID to each of `procs_files` (cgroup.procs) and then waits.
  explicit AllocatingChild(const std::vector<std::string>& procs_files) {
    int to_child[2];
    int from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0)
      return;
    pid_ = fork();
    if (pid_ == 0) {
      ::close(to_child[1]);
      ::close(from_child[0]);
      run(procs_files, to_child[0], from_child[1]);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    to_child_ = to_child[1];
    from_child_ = from_child[0];
    int64_t ready = 0;
    if (::read(from_child_, &ready, sizeof(ready)) != sizeof(ready) || ready != 0)
      stop();
  }
  ~AllocatingChild() { stop(); }
  AllocatingChild(const AllocatingChild&) = delete;
  AllocatingChild& operator=(const AllocatingChild&) = delete;

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Allocates and touches `bytes` more; returns the child's CLOCK_MONOTONIC just before allocating.
  int64_t allocate(uint64_t bytes) {
    if (::write(to_child_, &bytes, sizeof(bytes)) != sizeof(bytes))
      return -1;
    int64_t started = -1;
    if (::read(from_child_, &started, sizeof(started)) != sizeof(started))
      return -1;
    return started;
  }

  void stop() {
    if (pid_ <= 0)
      return;
    ::close(to_child_);  // EOF: the child exits
    ::close(from_child_);
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_)
      kill(pid_, SIGKILL);
    pid_ = -1;
  }

 private:
  [[noreturn]] static void run(const std::vector<std::string>& procs_files, int in, int out) {
    const std::string pid = std::to_string(getpid());
    int64_t status = 0;
    for (const auto& file : procs_files) {
      std::ofstream procs(file);
      procs << pid << std::flush;
      if (!procs)
        status = 1;
    }
    if (::write(out, &status, sizeof(status)) != sizeof(status))
      _exit(2);
    const long page = sysconf(_SC_PAGESIZE);
    uint64_t bytes = 0;
    while (::read(in, &bytes, sizeof(bytes)) == sizeof(bytes)) {
      // MAP_POPULATE faults the whole range in inside one call, so a crossing happens within
      // microseconds of `started` instead of after hundreds of separate page faults.
      const int64_t started = monotonic_ns();
      auto* memory = static_cast<char*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
      if (memory != MAP_FAILED) {
        for (uint64_t offset = 0; offset < bytes; offset += static_cast<uint64_t>(page))
          memory[offset] = 1;
      }
      if (::write(out, &started, sizeof(started)) != sizeof(started))
        _exit(2);
    }
    _exit(0);
  }

  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
};

}  // namespace evictd::testing_util
