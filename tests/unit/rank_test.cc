#include "ranking/rank.h"

#include <gtest/gtest.h>

#include "unit/builders.h"

namespace evictd {
namespace {

using testing_util::bytes;
using testing_util::container;
using testing_util::memory_stats;
using testing_util::pod;
using testing_util::q;

std::vector<std::string> order(const Ranking& ranking, const std::vector<ActivePod>& pods) {
  std::vector<std::string> names;
  for (size_t index : ranking.order)
    names.push_back(pods[index].pod->name);
  return names;
}

TEST(RankMemory, StatslessFirstThenAboveRequestsThenPriorityThenUsageAboveRequest) {
  std::vector<Pod> pods = {
      pod("guaranteed-low-use", {container("c", {{"memory", q("2Gi")}})}, 0),
      pod("above-small", {container("c", {{"memory", q("100Mi")}})}, 0),
      pod("above-large", {container("c", {{"memory", q("100Mi")}})}, 0),
      pod("above-high-priority", {container("c")}, 1000),
      pod("no-stats", {container("c", {{"memory", q("1Gi")}})}, 5000),
  };
  std::vector<PodStats> stats = {memory_stats("1Gi"), memory_stats("300Mi"), memory_stats("900Mi"),
                                 memory_stats("2Gi")};
  std::vector<ActivePod> active;
  for (size_t i = 0; i < pods.size(); ++i) {
    active.push_back(ActivePod{&pods[i], i < stats.size() ? &stats[i] : nullptr});
  }
  const Ranking ranking = rank_pods(Signal::kMemoryAvailable, FilesystemLayout::kShared, active);
  EXPECT_EQ(order(ranking, active),
            (std::vector<std::string>{"no-stats", "above-large", "above-small",
                                      "above-high-priority", "guaranteed-low-use"}));
  const RankKeys& keys = ranking.keys[2];
  EXPECT_TRUE(keys.exceeds_requests);
  EXPECT_EQ(Quantity::from_nano(keys.usage_above_request, QuantityFormat::kBinarySI).to_string(),
            "800Mi");
}

TEST(RankMemory, TiesKeepTheGivenOrder) {
  std::vector<Pod> pods = {pod("b", {container("c")}), pod("a", {container("c")})};
  PodStats same = memory_stats("1Gi");
  std::vector<ActivePod> active = {{&pods[0], &same}, {&pods[1], &same}};
  EXPECT_EQ(order(rank_pods(Signal::kMemoryAvailable, FilesystemLayout::kShared, active), active),
            (std::vector<std::string>{"b", "a"}));
}

PodStats disk_stats(const char* rootfs, const char* logs, const char* volume) {
  PodStats s;
  ContainerStats c;
  c.name = "c";
  c.rootfs_used_bytes = bytes(rootfs);
  c.logs_used_bytes = bytes(logs);
  c.rootfs_inodes_used = 100;
  c.logs_inodes_used = 1;
  s.containers.push_back(c);
  VolumeStats v;
  v.name = "data";
  v.used_bytes = bytes(volume);
  v.inodes_used = 10;
  s.volumes.push_back(v);
  return s;
}

Pod disk_pod(const char* name) {
  Pod p = pod(name, {container("c")});
  Volume data;
  data.name = "data";
  data.source = VolumeSource::kEmptyDir;
  p.volumes.push_back(data);
  return p;
}

TEST(RankDisk, EachLayoutCountsTheFilesystemUnderPressure) {
  std::vector<Pod> pods = {disk_pod("big-rootfs"), disk_pod("big-logs"), disk_pod("big-volume")};
  std::vector<PodStats> stats = {disk_stats("3Gi", "1Mi", "1Mi"), disk_stats("1Mi", "2Gi", "1Mi"),
                                 disk_stats("1Mi", "1Mi", "1Gi")};
  std::vector<ActivePod> active;
  for (size_t i = 0; i < pods.size(); ++i)
    active.push_back({&pods[i], &stats[i]});
  EXPECT_EQ(order(rank_pods(Signal::kNodeFsAvailable, FilesystemLayout::kShared, active), active),
            (std::vector<std::string>{"big-rootfs", "big-logs", "big-volume"}));
  // With a dedicated imagefs, nodefs holds only logs and volumes; imagefs the writable layers.
  EXPECT_EQ(order(rank_pods(Signal::kNodeFsAvailable, FilesystemLayout::kDedicatedImageFs, active),
                  active),
            (std::vector<std::string>{"big-logs", "big-volume", "big-rootfs"}));
  EXPECT_EQ(order(rank_pods(Signal::kImageFsAvailable, FilesystemLayout::kDedicatedImageFs, active),
                  active)[0],
            "big-rootfs");
  // Split: imagefs holds only images, so every pod counts zero and the smallest request goes first.
  pods[2].containers[0].resources.requests["ephemeral-storage"] = q("5Gi");
  const Ranking split = rank_pods(Signal::kImageFsAvailable, FilesystemLayout::kSplit, active);
  EXPECT_EQ(order(split, active),
            (std::vector<std::string>{"big-rootfs", "big-logs", "big-volume"}));
  EXPECT_EQ(split.keys[0].usage, 0);
}

TEST(RankDisk, InodesCountFilesAndSubtractTheStorageRequest) {
  std::vector<Pod> pods = {disk_pod("a"), disk_pod("b")};
  pods[0].containers[0].resources.requests["ephemeral-storage"] = q("100");
  PodStats a = disk_stats("1Mi", "1Mi", "1Mi");
  PodStats b = disk_stats("1Mi", "1Mi", "1Mi");
  b.containers[0].rootfs_inodes_used = 150;
  std::vector<ActivePod> active = {{&pods[0], &a}, {&pods[1], &b}};
  const Ranking ranking = rank_pods(Signal::kNodeFsInodesFree, FilesystemLayout::kShared, active);
  EXPECT_EQ(order(ranking, active), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(ranking.keys[0].usage, Int128{111} * Quantity::kNanoPerUnit);
  EXPECT_EQ(ranking.keys[0].usage_above_request, Int128{11} * Quantity::kNanoPerUnit);
}

TEST(RankPids, PriorityThenProcessCount) {
  std::vector<Pod> pods = {pod("few", {container("c")}, 0), pod("many", {container("c")}, 0),
                           pod("important-many", {container("c")}, 10)};
  std::vector<PodStats> stats(3);
  stats[0].process_count = 5;
  stats[1].process_count = 500;
  stats[2].process_count = 5000;
  std::vector<ActivePod> active;
  for (size_t i = 0; i < pods.size(); ++i)
    active.push_back({&pods[i], &stats[i]});
  EXPECT_EQ(order(rank_pods(Signal::kPidAvailable, FilesystemLayout::kShared, active), active),
            (std::vector<std::string>{"many", "few", "important-many"}));
}

TEST(RankKeysCompare, NamesTheKeyThatDecides) {
  RankKeys with_stats{.stats_found = true,
                      .exceeds_requests = true,
                      .usage = 5,
                      .request = 1,
                      .usage_above_request = 4};
  RankKeys without_stats;
  EXPECT_EQ(compare_rank_keys(RankKind::kMemory, without_stats, with_stats).key, RankKey::kStats);
  EXPECT_LT(compare_rank_keys(RankKind::kMemory, without_stats, with_stats).order, 0);
  RankKeys within = with_stats;
  within.exceeds_requests = false;
  EXPECT_EQ(compare_rank_keys(RankKind::kMemory, within, with_stats).key,
            RankKey::kExceedsRequests);
  EXPECT_GT(compare_rank_keys(RankKind::kMemory, within, with_stats).order, 0);
  RankKeys more = with_stats;
  more.usage_above_request = 9;
  EXPECT_EQ(compare_rank_keys(RankKind::kMemory, more, with_stats).key,
            RankKey::kUsageAboveRequest);
  RankKeys important = more;
  important.priority = 100;
  EXPECT_EQ(compare_rank_keys(RankKind::kMemory, important, with_stats).key, RankKey::kPriority);
  RankKeys busier = with_stats;
  busier.usage = 9;  // processes, for the PID ranking
  EXPECT_EQ(compare_rank_keys(RankKind::kPids, busier, with_stats).key, RankKey::kProcesses);
  EXPECT_LT(compare_rank_keys(RankKind::kPids, busier, with_stats).order, 0);
  EXPECT_EQ(compare_rank_keys(RankKind::kMemory, with_stats, with_stats).key, RankKey::kTie);
  EXPECT_EQ(compare_rank_keys(RankKind::kMemory, with_stats, with_stats).order, 0);
  EXPECT_EQ(rank_key_name(RankKey::kUsageAboveRequest), "usageAboveRequest");
}

}  // namespace
}  // namespace evictd
