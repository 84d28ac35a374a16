// Killing a pod through its cgroup on REAL cgroups (v1 on the host, v2 in the lab): a child and
// its own child in the pod's container cgroup die of SIGKILL, a bystander outside the pod does not.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cgroups/pod_tasks.h"
#include "read_text.h"

namespace evictd::testing_util {

// Forks a child that joins `procs_files` (none: stays where the test runs), forks a child of its
// own when asked, and sleeps; the PID of the first.
inline pid_t spawn_sleeper(const std::vector<std::string>& procs_files, bool with_child) {
  const pid_t pid = fork();
  if (pid != 0)
    return pid;
  for (const auto& file : procs_files) {
    std::ofstream procs(file);
    procs << getpid() << std::flush;
    if (!procs)
      _exit(1);
  }
  if (with_child && fork() == 0) {
    for (;;)
      pause();
  }
  for (;;)
    pause();
}

inline size_t lines_in(const std::string& file) {
  const std::string text = read_text(file);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

inline bool within(std::chrono::milliseconds limit, const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// `pod` is the pod's cgroup relative to the hierarchies' roots; `container_procs` the container's
// cgroup.procs in every hierarchy (the child joins them); `container_dir` one hierarchy's
// container directory, whose cgroup.procs is read.
inline void expect_kill_reaches_the_pod_alone(const cgroups::CgroupLayout& layout,
                                              const std::string& pod,
                                              const std::vector<std::string>& container_procs,
                                              const std::string& container_dir) {
  struct Bystander {
    pid_t pid = spawn_sleeper({}, false);
    ~Bystander() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } bystander;
  const pid_t child = spawn_sleeper(container_procs, true);
  ASSERT_GT(child, 0);
  ASSERT_TRUE(within(std::chrono::seconds(2),
                     [&] { return lines_in(container_dir + "/cgroup.procs") == 2; }))
      << "the child and its own child did not join " << container_dir;
  cgroups::PodTasks tasks(layout);
  ASSERT_TRUE(tasks.freeze(pod).ok());  // as an eviction beside the kubelet leaves it
  auto killed = tasks.kill(pod);
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  EXPECT_EQ(*killed, 2);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_TRUE(within(std::chrono::seconds(2), [&] {
    return lines_in(container_dir + "/cgroup.procs") == 0;
  })) << "the child's own child is still in the pod";
  EXPECT_EQ(::waitpid(bystander.pid, &status, WNOHANG), 0) << "the bystander outside the pod died";
  // A path that climbs out of the hierarchy is refused, never written.
  EXPECT_FALSE(tasks.kill(pod + "/../../..").ok());
}

}  // namespace evictd::testing_util
