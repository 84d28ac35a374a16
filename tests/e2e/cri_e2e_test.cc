// End to end against a REAL containerd + runc started by the harness (root; CI runs as root): pod
// discovery and the UID join with the cgroup sampler, stats beside the cgroups', graceful and hard
// stops, dry-run, image reclaim, and a containerd restart survived.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cgroups/sampler.h"
#include "daemon/cri/runtime_pods.h"
#include "e2e/containerd_harness.h"
#include "read_text.h"

namespace evictd {
namespace {

using testing_util::ContainerdHarness;
using testing_util::processes_in;
using testing_util::TestContainer;
using testing_util::TestPod;

constexpr uint64_t kMiB = 1024 * 1024;

using testing_util::read_text;

TestPod pod_named(std::string name, std::string tier) {
  TestPod pod;
  pod.name = std::move(name);
  pod.tier = std::move(tier);
  return pod;
}

TestContainer workload(std::string name, int mib, bool ignore_term = false, int64_t limit = 0) {
  TestContainer container;
  container.name = std::move(name);
  container.mib = mib;
  container.ignore_term = ignore_term;
  container.memory_limit = limit;
  return container;
}

class CriE2E : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      setup_error_ = "needs root (it runs containerd and makes cgroups); CI runs as root";
      return;
    }
    harness_ = new ContainerdHarness();
    setup_error_ = harness_->start();
  }
  static void TearDownTestSuite() {
    delete harness_;
    harness_ = nullptr;
  }
  void SetUp() override {
    if (!setup_error_.empty()) {
      if (geteuid() != 0 && std::getenv("CI") == nullptr)
        GTEST_SKIP() << setup_error_;
      FAIL() << setup_error_;
    }
  }

  static cri::CriClient& client() { return harness_->client(); }

  static std::optional<cri::RuntimePod> find(const std::string& uid) {
    auto pods = cri::discover_pods(client());
    if (!pods)
      return std::nullopt;
    for (const auto& pod : *pods) {
      if (pod.uid == uid)
        return pod;
    }
    return std::nullopt;
  }

  static inline ContainerdHarness* harness_ = nullptr;
  static inline std::string setup_error_;
};

TEST_F(CriE2E, VersionHandshake) {
  auto version = client().version();
  ASSERT_TRUE(version.ok()) << version.error().message;
  EXPECT_EQ(version->runtime_name, "containerd");
  EXPECT_EQ(version->runtime_api_version, "v1");
}

TEST_F(CriE2E, FilesystemLayoutFromImageFsInfo) {
  auto filesystems = cri::discover_filesystems(client(), harness_->dir());
  ASSERT_TRUE(filesystems.ok()) << filesystems.error().message;
  // containerd keeps its images under its root, here on the temp dir's filesystem: one filesystem.
  EXPECT_EQ(filesystems->imagefs_mountpoint.rfind(harness_->dir(), 0), 0U)
      << filesystems->imagefs_mountpoint;
  EXPECT_EQ(filesystems->layout, FilesystemLayout::kShared);
}

TEST_F(CriE2E, DiscoveryJoinsRuntimePodsWithCgroupSamplesByUid) {
  TestPod guaranteed = pod_named("g", "");
  TestPod burstable = pod_named("b", "burstable");
  TestPod best_effort = pod_named("be", "besteffort");
  ASSERT_EQ(harness_->create_pod(guaranteed, {workload("app", 32, false, 64 * kMiB)}), "");
  ASSERT_EQ(harness_->create_pod(burstable, {workload("app", 32), workload("sidecar", 8)}), "");
  ASSERT_EQ(harness_->create_pod(best_effort, {workload("app", 24)}), "");
  std::this_thread::sleep_for(
      std::chrono::milliseconds(300));  // let the workloads touch their memory
  EXPECT_EQ(read_text(testing_util::memory_limit_file(guaranteed.cgroup_path)),
            std::to_string(64 * kMiB) + "\n");

  auto runtime_b = find(burstable.uid);
  ASSERT_TRUE(runtime_b);
  EXPECT_EQ(runtime_b->name, "b");
  EXPECT_EQ(runtime_b->namespace_name, "e2e");
  ASSERT_EQ(runtime_b->containers.size(), 2U);
  for (const auto& c : runtime_b->containers)
    EXPECT_EQ(c.state, runtime::v1::CONTAINER_RUNNING);

  auto layout = cgroups::detect_layout(cgroups::parse_mountinfo(read_text("/proc/self/mountinfo")));
  ASSERT_TRUE(layout.ok());
  cgroups::SamplerConfig config;
  config.nodefs_path = "/";
  cgroups::Sampler sampler(*layout, config);
  const auto& sample = sampler.sample(Nanos{1});
  auto stats = cri::container_stats_by_pod(client());
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  int joined = 0;
  for (const TestPod* pod : {&guaranteed, &burstable, &best_effort}) {
    const auto it = std::find_if(sample.pods.begin(), sample.pods.end(),
                                 [&](const cgroups::PodSample& s) { return s.uid == pod->uid; });
    ASSERT_NE(it, sample.pods.end()) << pod->name << " not found in the cgroups";
    EXPECT_EQ(it->tier, pod->tier == "burstable"    ? cgroups::QosTier::kBurstable
                        : pod->tier == "besteffort" ? cgroups::QosTier::kBestEffort
                                                    : cgroups::QosTier::kGuaranteed);
    // Stats from the runtime agree with the cgroups for every container the runtime reports.
    for (const auto& runtime_stats : stats.value()[pod->uid]) {
      const auto c =
          std::find_if(it->containers.begin(), it->containers.end(),
                       [&](const cgroups::ContainerSample& s) { return s.id == runtime_stats.id; });
      ASSERT_NE(c, it->containers.end()) << runtime_stats.id;
      ASSERT_TRUE(runtime_stats.working_set_bytes && c->usage.memory.working_set_bytes);
      const auto a = static_cast<int64_t>(*runtime_stats.working_set_bytes);
      const auto b = static_cast<int64_t>(*c->usage.memory.working_set_bytes);
      EXPECT_LE(std::abs(a - b), static_cast<int64_t>(2 * kMiB)) << runtime_stats.name;
      if (runtime_stats.name == "app") {
        EXPECT_GE(b, static_cast<int64_t>(24 * kMiB));
      }
      EXPECT_TRUE(runtime_stats.rootfs_used_bytes);
      ++joined;
    }
  }
  EXPECT_EQ(joined, 4);
}

TEST_F(CriE2E, GracefulHardAndDryRunStops) {
  TestPod graceful = pod_named("graceful", "burstable");
  TestPod stubborn = pod_named("stubborn", "burstable");
  TestPod hard = pod_named("hard", "besteffort");
  ASSERT_EQ(harness_->create_pod(graceful, {workload("app", 8)}), "");
  ASSERT_EQ(harness_->create_pod(stubborn, {workload("app", 8, true)}), "");
  ASSERT_EQ(harness_->create_pod(hard, {workload("app", 8, true), workload("other", 8, true)}), "");

  // Dry-run touches nothing.
  cri::PodStopper dry(client(), true);
  auto pod = find(hard.uid);
  ASSERT_TRUE(pod);
  EXPECT_TRUE(dry.stop(*pod, 0, true).stopped);
  ASSERT_TRUE(find(hard.uid));
  EXPECT_GT(processes_in(hard), 0);

  cri::PodStopper stopper(client(), false);
  // A workload that exits on SIGTERM is gone long before its 10 s grace period.
  auto report = stopper.stop(*find(graceful.uid), 10, false);
  EXPECT_TRUE(report.stopped) << report.steps.front().detail;
  EXPECT_LT(report.duration, std::chrono::seconds(5));
  // One that ignores SIGTERM is killed when its grace period (2 s) ends.
  report = stopper.stop(*find(stubborn.uid), 2, false);
  EXPECT_TRUE(report.stopped);
  EXPECT_GE(report.duration, std::chrono::seconds(2));
  EXPECT_LT(report.duration, std::chrono::seconds(8));
  // A hard stop does not wait: both containers in parallel, then the sandbox.
  report = stopper.stop(*find(hard.uid), 1, true);
  EXPECT_TRUE(report.stopped);
  EXPECT_EQ(report.steps.size(), 3U);
  EXPECT_LT(report.duration, std::chrono::seconds(2));
  for (const TestPod* stopped : {&graceful, &stubborn, &hard}) {
    EXPECT_FALSE(find(stopped->uid)) << stopped->name << " still ready";
    EXPECT_EQ(processes_in(*stopped), 0) << stopped->name << " cgroups not empty";
  }
  // Stopping again is a no-op that succeeds (NOT_FOUND counts as done).
  cri::RuntimePod gone;
  gone.sandbox_id = "0000000000000000000000000000000000000000000000000000000000000000";
  gone.containers.push_back({"1111111111111111111111111111111111111111111111111111111111111111",
                             "app", runtime::v1::CONTAINER_RUNNING, "", ""});
  EXPECT_TRUE(stopper.stop(gone, 1, true).stopped);
}

TEST_F(CriE2E, ImageReclaimRemovesUnusedImagesAndKeepsUsedAndPinnedOnes) {
  TestPod user = pod_named("image-user", "besteffort");
  ASSERT_EQ(harness_->create_pod(user, {workload("app", 4)}), "");
  ASSERT_EQ(harness_->import_extra_image("docker.io/evictd/unused:test"), "");
  cri::NodeResourceReclaimer reclaimer(client(), false, Nanos{0}, {ContainerdHarness::kPauseImage});
  const auto report = reclaimer.delete_unused_images(Nanos{1});
  EXPECT_TRUE(report.errors.empty()) << report.errors.front();
  EXPECT_EQ(report.removed, std::vector<std::string>{"docker.io/evictd/unused:test"});
  EXPECT_GT(report.bytes_freed, 0U);
  auto images = client().list_images();
  ASSERT_TRUE(images.ok());
  std::vector<std::string> tags;
  for (const auto& image : *images) {
    for (const auto& tag : image.repo_tags())
      tags.push_back(tag);
  }
  EXPECT_NE(std::find(tags.begin(), tags.end(), ContainerdHarness::kMemhogImage), tags.end());
  EXPECT_NE(std::find(tags.begin(), tags.end(), ContainerdHarness::kPauseImage), tags.end());
  EXPECT_EQ(std::find(tags.begin(), tags.end(), "docker.io/evictd/unused:test"), tags.end());
}

TEST_F(CriE2E, ContainerdRestartIsSurvived) {
  TestPod survivor = pod_named("survivor", "burstable");
  ASSERT_EQ(harness_->create_pod(survivor, {workload("app", 4)}), "");
  cri::CriConfig config;
  config.endpoint = harness_->endpoint();
  config.call_timeout = std::chrono::seconds(1);
  cri::CriClient client(config);  // a long-lived client, as the daemon has
  ASSERT_TRUE(client.version().ok());
  harness_->stop_containerd();
  auto down = client.version();
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(down.error().code == cri::kUnavailable || down.error().code == cri::kDeadlineExceeded)
      << down.error().message;
  ASSERT_EQ(harness_->restart(), "");
  // The same client reconnects by itself within its backoff.
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    back = client.version().ok();
    if (!back)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(back);
  auto pods = cri::discover_pods(client);
  ASSERT_TRUE(pods.ok()) << pods.error().message;
  EXPECT_TRUE(std::any_of(pods->begin(), pods->end(),
                          [&](const auto& p) { return p.uid == survivor.uid; }));
  EXPECT_GT(processes_in(survivor), 0);
}

}  // namespace
}  // namespace evictd
