// Sampling and notifications on a REAL cgroup v2 unified hierarchy: run inside the real-kernel lab
// (tests/vm/run, which boots Debian's kernel with cgroup_no_v1=all), never on the hybrid host. The
// test builds a kubelet-style kubepods/burstable/pod<uid>/<container> tree with the memory, pids
// and cpu controllers enabled on the way down, runs a child that allocates known amounts in it,
// checks the sampler's figures against the kernel's own files, and arms a PSI trigger with a
// sub-second window (root in the guest has CAP_SYS_RESOURCE) that must fire under a squeeze.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>

#include "cgroups/notifier.h"
#include "cgroups/parse.h"
#include "cgroups/sampler.h"
#include "integration/allocating_child.h"
#include "integration/pod_tasks_check.h"
#include "integration/spinning_child.h"
#include "read_text.h"

namespace evictd::cgroups {
namespace {

using testing_util::AllocatingChild;
using testing_util::read_text;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr const char* kUid = "7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
constexpr const char* kContainer =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class RealV2Test : public testing::Test {
 protected:
  void SetUp() override {
    auto layout = detect_layout(parse_mountinfo(read_text("/proc/self/mountinfo")));
    ASSERT_TRUE(layout.ok()) << layout.error().message;
    ASSERT_EQ(layout->version, CgroupVersion::kV2) << "run this test in tests/vm/run";
    layout_ = *layout;
    kubepods_ = "kubepods-test-" + std::to_string(getpid());
    const std::string pod = kubepods_ + "/burstable/pod" + std::string(kUid);
    for (const auto& dir : {kubepods_, kubepods_ + "/burstable", pod, pod + "/" + kContainer}) {
      const std::string path = layout_.unified_root + "/" + dir;
      ASSERT_EQ(::mkdir(path.c_str(), 0755), 0) << path << ": " << std::strerror(errno);
      made_.push_back(path);
      // As the kubelet and the runtime do: the controllers delegated to every level but the leaf.
      if (dir != pod + "/" + kContainer)
        std::ofstream(path + "/cgroup.subtree_control") << "+memory +pids +cpu";
    }
    container_ = made_.back();
    std::ofstream(made_.front() + "/memory.max") << 512 * kMiB;
  }
  void TearDown() override {
    child_.reset();
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
      if (::rmdir(it->c_str()) != 0)
        ADD_FAILURE() << "cannot remove " << *it << ": " << std::strerror(errno);
    }
  }
  SamplerConfig sampler_config() const {
    SamplerConfig config;
    config.kubepods = kubepods_;
    config.nodefs_path = "/";
    return config;
  }
  // The kernel's own working set of a cgroup: memory.current less inactive_file, as cAdvisor.
  uint64_t kernel_working_set(const std::string& dir) const {
    const uint64_t current = std::stoull(read_text(dir + "/memory.current"));
    const MemoryStat stat = parse_memory_stat(read_text(dir + "/memory.stat"));
    return current - std::min(current, stat.inactive_file.value_or(0));
  }

  CgroupLayout layout_;
  std::string kubepods_;
  std::string container_;
  std::vector<std::string> made_;
  std::unique_ptr<AllocatingChild> child_;
};

TEST_F(RealV2Test, TheSamplersFiguresAreTheKernels) {
  child_ =
      std::make_unique<AllocatingChild>(std::vector<std::string>{container_ + "/cgroup.procs"});
  ASSERT_TRUE(child_->running());
  ASSERT_GE(child_->allocate(64 * kMiB), 0);
  Sampler sampler(layout_, sampler_config());
  const NodeSample& sample = sampler.sample(Nanos{1});
  ASSERT_EQ(sample.pods.size(), 1U) << (sample.problems.empty() ? "" : sample.problems.front());
  const PodSample& pod = sample.pods[0];
  EXPECT_EQ(pod.uid, kUid);
  EXPECT_EQ(pod.tier, QosTier::kBurstable);
  ASSERT_EQ(pod.containers.size(), 1U);
  EXPECT_EQ(pod.containers[0].id, kContainer);
  const auto& usage = pod.containers[0].usage;
  ASSERT_TRUE(usage.memory.working_set_bytes);
  EXPECT_GE(*usage.memory.working_set_bytes, 64 * kMiB);
  EXPECT_LE(*usage.memory.working_set_bytes, 64 * kMiB + 2 * kMiB);
  // Against the kernel's files read right after: within a MiB (the child is idle meanwhile).
  const uint64_t kernel = kernel_working_set(container_);
  EXPECT_LE(*usage.memory.working_set_bytes, kernel + kMiB);
  EXPECT_GE(*usage.memory.working_set_bytes + kMiB, kernel);
  EXPECT_EQ(usage.processes, 1U) << "pids.current";
  EXPECT_TRUE(usage.cpu_usage_ns) << "cpu.stat usage_usec";
  // memory.max 512 MiB on kubepods: allocatableMemory.available is its headroom.
  const auto& allocatable = sample.observations.get(Signal::kAllocatableMemoryAvailable);
  ASSERT_TRUE(allocatable);
  EXPECT_EQ(allocatable->capacity, static_cast<int64_t>(512 * kMiB));
  EXPECT_LE(allocatable->available, static_cast<int64_t>(512 * kMiB - 64 * kMiB));
  EXPECT_TRUE(sample.observations.get(Signal::kMemoryAvailable));

  ASSERT_GE(child_->allocate(32 * kMiB), 0);
  const auto& again = sampler.sample(Nanos{2}).pods[0].containers[0].usage.memory;
  EXPECT_GE(*again.working_set_bytes, 96 * kMiB);
  EXPECT_LE(*again.working_set_bytes, 96 * kMiB + 2 * kMiB);
}

TEST_F(RealV2Test, CpuInUseOfABusyChildAndTheNodesPressureAreTheKernels) {
  testing_util::SpinningChild busy({container_ + "/cgroup.procs"});
  ASSERT_TRUE(busy.running());
  Sampler sampler(layout_, sampler_config());
  const std::string pod = made_[2];
  testing_util::expect_one_busy_core(
      sampler, [&] { return *parse_cpu_stat_usage_us(read_text(pod + "/cpu.stat")) * 1000; });
  // A v2 kernel has PSI for all three, some and full (cpu's full since Linux 5.13).
  const NodeSample& sample = sampler.sample(Nanos{1});
  for (const Psi* psi : {&sample.cpu_pressure, &sample.memory_pressure, &sample.io_pressure}) {
    ASSERT_TRUE(psi->some);
    EXPECT_TRUE(psi->full);
  }
  EXPECT_GT(sample.cpu_pressure.some->total_us, 0U) << "a busy child on a small guest waits";
}

TEST_F(RealV2Test, ASubSecondPsiTriggerIsArmedAndFiresUnderASqueeze) {
  auto created = PressureNotifier::create(std::chrono::seconds(10));
  ASSERT_TRUE(created.ok()) << created.error().message;
  PressureNotifier& notifier = **created;
  const PsiTriggerStatus status =
      notifier.add_psi_trigger("kubepods", made_.front() + "/memory.pressure",
                               std::chrono::milliseconds(50), std::chrono::milliseconds(500));
  ASSERT_TRUE(status.active) << status.detail;
  EXPECT_EQ(status.window, std::chrono::milliseconds(500)) << "no fallback on a real v2 kernel";
  // A squeeze: memory.high far below what the child touches makes it stall in reclaim.
  std::ofstream(made_.front() + "/memory.high") << 32 * kMiB;
  child_ =
      std::make_unique<AllocatingChild>(std::vector<std::string>{container_ + "/cgroup.procs"});
  ASSERT_TRUE(child_->running());
  ASSERT_GE(child_->allocate(64 * kMiB), 0);
  const Wake wake = notifier.wait(std::chrono::seconds(5));
  EXPECT_EQ(wake.cause, WakeCause::kPsi) << wake_cause_name(wake.cause) << " " << wake.source;
}

// memory.events: the kernel counts each breach of memory.high (and max, oom, oom_kill); evictd
// watches the file and is woken when a counter moves.
TEST_F(RealV2Test, MemoryEventsWakeTheLoopWhenMemoryHighIsBreached) {
  auto created = PressureNotifier::create(std::chrono::seconds(10));
  ASSERT_TRUE(created.ok()) << created.error().message;
  PressureNotifier& notifier = **created;
  ASSERT_TRUE(notifier.watch_memory_events("kubepods", made_.front() + "/memory.events").ok());
  std::ofstream(made_.front() + "/memory.high") << 56 * kMiB;
  child_ =
      std::make_unique<AllocatingChild>(std::vector<std::string>{container_ + "/cgroup.procs"});
  ASSERT_TRUE(child_->running());
  ASSERT_GE(child_->allocate(64 * kMiB), 0);
  const Wake wake = notifier.wait(std::chrono::seconds(5));
  EXPECT_EQ(wake.cause, WakeCause::kMemoryEvents)
      << wake_cause_name(wake.cause) << " " << wake.source;
  const std::string events = read_text(made_.front() + "/memory.events");
  EXPECT_EQ(events.find("high 0\n"), std::string::npos) << events;
}

TEST_F(RealV2Test, KillingThePodThroughItsCgroupReachesItsTasksAlone) {
  const std::string pod = kubepods_ + "/burstable/pod" + std::string(kUid);
  testing_util::expect_kill_reaches_the_pod_alone(layout_, pod, {container_ + "/cgroup.procs"},
                                                  container_);
}

}  // namespace
}  // namespace evictd::cgroups
