// Sampling and notifications on REAL cgroup v1 hierarchies of this machine (root is required; CI
// runs as root). The test builds its own kubepods/burstable/pod<uid>/<id> tree under a unique
// kubepods name, runs a child that allocates known amounts in it, and removes everything it made,
// also on failure.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "cgroups/notifier.h"
#include "cgroups/pressure_watch.h"
#include "cgroups/sampler.h"
#include "integration/allocating_child.h"
#include "integration/pod_tasks_check.h"
#include "integration/spinning_child.h"
#include "integration/v1_pod_tree.h"
#include "read_text.h"

namespace evictd::cgroups {
namespace {

using testing_util::AllocatingChild;
using testing_util::hard_memory_100mi;
using testing_util::V1PodTree;

constexpr uint64_t kMiB = 1024 * 1024;

using testing_util::read_text;

// The loop every test waits on; creating it fails only when the kernel refuses epoll itself.
std::unique_ptr<PressureNotifier> notifier_polling_every(Nanos interval) {
  auto created = PressureNotifier::create(interval);
  if (!created) {
    ADD_FAILURE() << created.error().message;
    return nullptr;
  }
  return std::move(created).value();
}

class RealV1Test : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (std::getenv("CI") != nullptr)
        FAIL() << "this test needs root, and CI runs as root";
      GTEST_SKIP() << "needs root (real cgroups)";
    }
    auto layout = detect_layout(parse_mountinfo(read_text("/proc/self/mountinfo")));
    ASSERT_TRUE(layout.ok()) << layout.error().message;
    ASSERT_NE(layout->version, CgroupVersion::kV2) << "this machine kind has cgroup v1 controllers";
    ASSERT_FALSE(layout->pids_root.empty());
    ASSERT_FALSE(layout->cpuacct_root.empty());
    layout_ = *layout;
    tree_ = std::make_unique<V1PodTree>(layout_, "evictd-test-" + std::to_string(getpid()));
    ASSERT_TRUE(tree_->error().empty()) << tree_->error();
    std::ofstream(layout_.memory_root + "/" + tree_->kubepods() + "/memory.limit_in_bytes")
        << (512 * kMiB);
  }

  void TearDown() override {
    child_.reset();  // the cgroups can only go once empty
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
      if (::rmdir(it->c_str()) != 0)
        ADD_FAILURE() << "cannot remove " << *it << ": " << std::strerror(errno);
    }
    if (tree_ != nullptr) {
      for (const auto& left : tree_->remove())
        ADD_FAILURE() << "cannot remove " << left;
    }
  }

  SamplerConfig sampler_config() const { return tree_->sampler_config(); }
  std::string pod_dir(const std::string& root) const { return tree_->pod_dir(root); }

  void start_child() {
    child_ = std::make_unique<AllocatingChild>(tree_->container_procs());
    ASSERT_TRUE(child_->running());
  }

  static constexpr const char* kUid = V1PodTree::kUid;
  static constexpr const char* kContainer = V1PodTree::kContainer;
  CgroupLayout layout_;
  std::unique_ptr<V1PodTree> tree_;
  std::vector<std::string> made_;  // directories a test makes beside the tree
  std::unique_ptr<AllocatingChild> child_;
};

TEST_F(RealV1Test, WorkingSetOfAChildThatAllocatesAKnownAmount) {
  start_child();
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
  // 64 MiB of touched anonymous memory, plus what the child's own stack and page tables take.
  EXPECT_GE(*usage.memory.working_set_bytes, 64 * kMiB);
  EXPECT_LE(*usage.memory.working_set_bytes, 64 * kMiB + 2 * kMiB);
  EXPECT_GE(*usage.memory.rss_bytes, 64 * kMiB);
  EXPECT_EQ(usage.processes, 1U);
  EXPECT_TRUE(usage.cpu_usage_ns);
  ASSERT_TRUE(pod.usage.memory.working_set_bytes);
  EXPECT_GE(*pod.usage.memory.working_set_bytes, *usage.memory.working_set_bytes);
  // The kubepods limit of 512 MiB makes allocatableMemory.available observable.
  const auto& allocatable = sample.observations.get(Signal::kAllocatableMemoryAvailable);
  ASSERT_TRUE(allocatable);
  EXPECT_EQ(allocatable->capacity, static_cast<int64_t>(512 * kMiB));
  EXPECT_LE(allocatable->available, static_cast<int64_t>(512 * kMiB - 64 * kMiB));
  EXPECT_TRUE(sample.observations.get(Signal::kMemoryAvailable));
  EXPECT_TRUE(sample.observations.get(Signal::kPidAvailable));

  // 32 MiB more shows in the next sample.
  ASSERT_GE(child_->allocate(32 * kMiB), 0);
  const auto& again = sampler.sample(Nanos{2}).pods[0].containers[0].usage.memory;
  EXPECT_GE(*again.working_set_bytes, 96 * kMiB);
  EXPECT_LE(*again.working_set_bytes, 96 * kMiB + 2 * kMiB);
}

TEST_F(RealV1Test, CpuInUseOfABusyChildIsTheKernels) {
  testing_util::SpinningChild busy(tree_->container_procs());
  ASSERT_TRUE(busy.running());
  Sampler sampler(layout_, sampler_config());
  const std::string usage = pod_dir(layout_.cpuacct_root) + "/cpuacct.usage";
  testing_util::expect_one_busy_core(sampler, [&] { return std::stoull(read_text(usage)); });
  // PSI, where the kernel has it (/proc/pressure), shows with the node's figures.
  if (access("/proc/pressure/cpu", R_OK) == 0) {
    EXPECT_TRUE(sampler.sample(Nanos{1}).cpu_pressure.some);
  }
}

TEST_F(RealV1Test, EventfdThresholdFiresWhenTheChildCrossesIt) {
  start_child();
  ASSERT_GE(child_->allocate(16 * kMiB), 0);
  auto notifier_owner =
      notifier_polling_every(std::chrono::seconds(60));  // no poll wake-up during the test
  ASSERT_NE(notifier_owner, nullptr);
  PressureNotifier& notifier = *notifier_owner;
  const uint64_t usage =
      std::stoull(read_text(pod_dir(layout_.memory_root) + "/memory.usage_in_bytes"));
  auto armed =
      notifier.arm_memory_threshold("pod", pod_dir(layout_.memory_root), usage + 32 * kMiB);
  ASSERT_TRUE(armed.ok()) << armed.error().message;
  // Below the threshold: nothing fires.
  ASSERT_GE(child_->allocate(8 * kMiB), 0);
  EXPECT_EQ(notifier.wait(std::chrono::milliseconds(200)).cause, WakeCause::kTimer);
  // Crossing it wakes the loop at once.
  const int64_t started = child_->allocate(40 * kMiB);
  const Wake wake = notifier.wait(std::chrono::seconds(5));
  EXPECT_EQ(wake.cause, WakeCause::kMemoryThreshold);
  EXPECT_EQ(wake.source, "pod");
  EXPECT_LT(wake.at.count() - started, 1'000'000'000);
}

TEST_F(RealV1Test, KubeletThresholdsArePlacedFromTheSampleAndFire) {
  start_child();
  ASSERT_GE(child_->allocate(32 * kMiB), 0);
  Sampler sampler(layout_, sampler_config());
  auto notifier_owner = notifier_polling_every(std::chrono::seconds(60));
  ASSERT_NE(notifier_owner, nullptr);
  PressureNotifier& notifier = *notifier_owner;
  PressureWatch watch(notifier, sampler);
  watch.start();
  const std::vector<Threshold> thresholds = hard_memory_100mi();
  ASSERT_FALSE(thresholds.empty());
  // Derived: allocatableMemory.available<100Mi on the 512 MiB kubepods: fires near 412 MiB used.
  watch.rearm(sampler.sample(Nanos{1}), thresholds);
  ASSERT_TRUE(watch.errors().empty()) << watch.errors().front();
  bool armed = false;
  for (const auto& line : notifier.describe()) {
    armed = armed || line.find("allocatableMemory.available") != std::string::npos;
  }
  EXPECT_TRUE(armed);
  ASSERT_GE(child_->allocate(300 * kMiB), 0);
  EXPECT_EQ(notifier.wait(std::chrono::milliseconds(200)).cause, WakeCause::kTimer);
  ASSERT_GE(child_->allocate(100 * kMiB), 0);
  const Wake wake = notifier.wait(std::chrono::seconds(5));
  EXPECT_EQ(wake.cause, WakeCause::kMemoryThreshold);
  EXPECT_EQ(wake.source, "allocatableMemory.available#1");
}

// The armed point follows a move down at once (1 MiB), and a move up only lazily (64 MiB), unless
// usage has already passed the armed point (the kernel signals crossings, not levels).
TEST_F(RealV1Test, ThresholdPointsFollowMovesDownAtOnceAndMovesUpLazily) {
  Sampler sampler(layout_, sampler_config());
  auto notifier_owner = notifier_polling_every(std::chrono::seconds(60));
  ASSERT_NE(notifier_owner, nullptr);
  PressureNotifier& notifier = *notifier_owner;
  PressureWatch watch(notifier, sampler);
  const std::vector<Threshold> thresholds = hard_memory_100mi();
  ASSERT_FALSE(thresholds.empty());
  NodeSample sample = sampler.sample(Nanos{1});
  ASSERT_TRUE(sample.kubepods.memory.usage_bytes.has_value());
  const auto armed_at = [&] {
    for (const auto& line : notifier.describe()) {
      if (line.find("allocatableMemory.available#1") != std::string::npos)
        return std::stoull(line.substr(line.rfind(' ') + 1));
    }
    return 0ULL;
  };
  // 512 MiB kubepods, 100Mi threshold, 20 MiB used of which 4 MiB inactive files: 416 MiB.
  const auto place = [&](uint64_t usage_mib, uint64_t inactive_mib) {
    sample.kubepods.memory.usage_bytes = usage_mib * kMiB;
    sample.kubepods.memory.working_set_bytes = (usage_mib - inactive_mib) * kMiB;
    sample.observations.set(
        Signal::kAllocatableMemoryAvailable,
        SignalObservation{static_cast<int64_t>((512 - usage_mib + inactive_mib) * kMiB),
                          static_cast<int64_t>(512 * kMiB), Nanos{1}});
    watch.rearm(sample, thresholds);
    EXPECT_TRUE(watch.errors().empty()) << watch.errors().front();
    return armed_at() / kMiB;
  };
  EXPECT_EQ(place(20, 4), 416U);
  EXPECT_EQ(place(20, 3), 415U) << "down by 1 MiB: followed";
  EXPECT_EQ(place(40, 23), 415U) << "up by 20 MiB with usage below the point: kept";
  EXPECT_EQ(place(120, 83), 495U) << "up by 80 MiB: followed";
  EXPECT_EQ(place(500, 93), 495U + 10U) << "usage past the armed point: followed at once";
}

// The kernel signals crossings after a threshold is registered only: usage that passed the point
// between the sample and the registration is reported by rearm, so the loop samples again.
TEST_F(RealV1Test, APointPassedBeforeItWasArmedAsksForAnotherSample) {
  start_child();
  Sampler sampler(layout_, sampler_config());
  const std::vector<Threshold> thresholds = hard_memory_100mi();
  ASSERT_FALSE(thresholds.empty());
  const NodeSample before = sampler.sample(Nanos{1});
  {
    auto notifier_owner = notifier_polling_every(std::chrono::seconds(60));
    ASSERT_NE(notifier_owner, nullptr);
    PressureNotifier& notifier = *notifier_owner;
    PressureWatch watch(notifier, sampler);
    EXPECT_FALSE(watch.rearm(before, thresholds)) << "usage far below the point (about 412 MiB)";
    ASSERT_TRUE(watch.errors().empty()) << watch.errors().front();
  }
  ASSERT_GE(child_->allocate(430 * kMiB), 0);

  // Armed from the sample taken before the 430 MiB: usage is past the point when it is armed.
  auto notifier_owner = notifier_polling_every(std::chrono::seconds(60));
  ASSERT_NE(notifier_owner, nullptr);
  PressureNotifier& notifier = *notifier_owner;
  PressureWatch watch(notifier, sampler);
  EXPECT_TRUE(watch.rearm(before, thresholds));
  ASSERT_TRUE(watch.errors().empty()) << watch.errors().front();
  // And the kernel stays silent about it: this is why the loop must not wait.
  EXPECT_EQ(notifier.wait(std::chrono::milliseconds(200)).cause, WakeCause::kTimer);

  // A sample that already shows the usage judged it: no second sample is asked for.
  auto fresh_notifier_owner = notifier_polling_every(std::chrono::seconds(60));
  ASSERT_NE(fresh_notifier_owner, nullptr);
  PressureNotifier& fresh_notifier = *fresh_notifier_owner;
  PressureWatch fresh_watch(fresh_notifier, sampler);
  EXPECT_FALSE(fresh_watch.rearm(sampler.sample(Nanos{2}), thresholds));
}

TEST_F(RealV1Test, PsiTriggerFallsBackToTheSmallestAcceptedWindow) {
  if (layout_.unified_root.empty())
    GTEST_FAIL() << "this machine kind has a cgroup2 mount";
  const std::string dir = layout_.unified_root + "/" + tree_->kubepods();
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
  made_.push_back(dir);
  auto notifier_owner = notifier_polling_every(std::chrono::seconds(1));
  ASSERT_NE(notifier_owner, nullptr);
  PressureNotifier& notifier = *notifier_owner;
  const PsiTriggerStatus status =
      notifier.add_psi_trigger("kubepods", dir + "/memory.pressure", std::chrono::milliseconds(100),
                               std::chrono::milliseconds(500));
  // Without CAP_SYS_RESOURCE a 500 ms window is refused and 2 s is used; with it, 500 ms is kept.
  ASSERT_TRUE(status.active) << status.detail;
  EXPECT_TRUE(status.window == std::chrono::milliseconds(500) ||
              status.window == std::chrono::seconds(2));
  bool reported = status.window == std::chrono::milliseconds(500);
  for (const auto& line : notifier.describe()) {
    reported = reported || line.find("fallback: kubepods: PSI window 500ms refused, using 2s") !=
                               std::string::npos;
  }
  EXPECT_TRUE(reported);
}

TEST_F(RealV1Test, KillingThePodThroughItsCgroupReachesItsTasksAlone) {
  ASSERT_FALSE(layout_.freezer_root.empty()) << "this machine kind has the v1 freezer";
  testing_util::expect_kill_reaches_the_pod_alone(layout_, tree_->pod(), tree_->container_procs(),
                                                  tree_->container_dir(layout_.freezer_root));
}

}  // namespace
}  // namespace evictd::cgroups
