// A child process that joins given cgroups and keeps one CPU busy until it is killed: a known CPU
// load for the tests that check the sampler's CPU figures on real cgroups.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cgroups/sampler.h"

namespace evictd::testing_util {

class SpinningChild {
 public:
  explicit SpinningChild(const std::vector<std::string>& procs_files) {
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0)
      return;
    pid_ = fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      for (const auto& file : procs_files) {
        std::ofstream procs(file);
        procs << getpid() << std::flush;
        if (!procs)
          _exit(1);
      }
      const char byte = 1;
      if (::write(ready[1], &byte, 1) != 1)
        _exit(1);
      volatile unsigned long spins = 0;
      for (;;) {
        const unsigned long next = spins + 1;
        spins = next;
      }
    }
    ::close(ready[1]);
    char byte = 0;
    if (pid_ < 0 || ::read(ready[0], &byte, 1) != 1)
      stop();
    ::close(ready[0]);
  }
  ~SpinningChild() { stop(); }
  SpinningChild(const SpinningChild&) = delete;
  SpinningChild& operator=(const SpinningChild&) = delete;

  bool running() const { return pid_ > 0; }

 private:
  void stop() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  pid_t pid_ = -1;
};

// With a SpinningChild the sampler's only pod: two full samples a second apart show one core in use
// by the pod (less when the machine's other work takes a share of its CPU) and at least as much by
// the node, and the pod's total is the kernel's (`kernel_usage_ns` reads the cgroup's file).
inline void expect_one_busy_core(cgroups::Sampler& sampler,
                                 const std::function<uint64_t()>& kernel_usage_ns) {
  const auto now = [] {
    return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now().time_since_epoch());
  };
  sampler.sample(now(), cgroups::SampleDepth::kFull);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const uint64_t kernel_before = kernel_usage_ns();
  const cgroups::NodeSample& sample = sampler.sample(now(), cgroups::SampleDepth::kFull);
  const uint64_t kernel_after = kernel_usage_ns();
  ASSERT_EQ(sample.pods.size(), 1U);
  const cgroups::CgroupUsage& pod = sample.pods[0].usage;
  ASSERT_TRUE(pod.cpu_cores);
  EXPECT_GE(*pod.cpu_cores, 0.5);
  EXPECT_LE(*pod.cpu_cores, 1.05) << "one thread cannot use more than a core";
  ASSERT_TRUE(pod.cpu_usage_ns);
  // cpuacct.usage is in ns, cpu.stat's usage_usec in µs.
  EXPECT_GE(*pod.cpu_usage_ns + 1000, kernel_before);
  EXPECT_LE(*pod.cpu_usage_ns, kernel_after);
  ASSERT_TRUE(sample.cpu_cores);
  EXPECT_GE(*sample.cpu_cores, *pod.cpu_cores - 0.05) << "the node's CPU includes the pod's";
  EXPECT_LE(*sample.cpu_cores, sample.cpus + 0.05);
  EXPECT_EQ(sample.cpus, sysconf(_SC_NPROCESSORS_ONLN));
  ASSERT_TRUE(sample.cpu_seconds);
  EXPECT_GT(*sample.cpu_seconds, 1.0);
}

}  // namespace evictd::testing_util
