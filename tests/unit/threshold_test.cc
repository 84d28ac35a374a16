#include "ranking/threshold.h"

#include <gtest/gtest.h>

#include "ranking/spelling.h"

namespace evictd {
namespace {

using SignalMap = EvictionSettings::SignalMap;

std::vector<std::string> describe(const std::vector<Threshold>& thresholds) {
  std::vector<std::string> out;
  for (const auto& t : thresholds) {
    std::string text = std::string(signal_name(t.signal)) + "<" + t.value.text();
    if (!t.hard())
      text += " grace " + format_go_duration(t.grace_period);
    if (t.min_reclaim)
      text += " reclaim " + t.min_reclaim->text();
    out.push_back(text);
  }
  return out;
}

TEST(EvictionConfig, AbsentEvictionHardTakesLinuxDefaults) {
  auto config = build_eviction_config({});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(
      describe(config->thresholds),
      (std::vector<std::string>{"memory.available<100Mi", "nodefs.available<10%",
                                "nodefs.inodesFree<5%", "imagefs.available<15%",
                                "imagefs.inodesFree<5%", "allocatableMemory.available<100Mi"}));
  EXPECT_EQ(config->pressure_transition_period, std::chrono::minutes(5));
  EXPECT_EQ(config->max_pod_grace_period_seconds, 0);
}

TEST(EvictionConfig, GivenEvictionHardReplacesDefaultsUnlessMerged) {
  EvictionSettings settings;
  settings.eviction_hard = SignalMap{{"memory.available", "500Mi"}};
  EXPECT_EQ(
      describe(build_eviction_config(settings)->thresholds),
      (std::vector<std::string>{"memory.available<500Mi", "allocatableMemory.available<500Mi"}));
  settings.merge_default_eviction_settings = true;
  EXPECT_EQ(
      describe(build_eviction_config(settings)->thresholds),
      (std::vector<std::string>{"memory.available<500Mi", "nodefs.available<10%",
                                "nodefs.inodesFree<5%", "imagefs.available<15%",
                                "imagefs.inodesFree<5%", "allocatableMemory.available<500Mi"}));
  settings.eviction_hard = SignalMap{};
  settings.merge_default_eviction_settings = false;
  EXPECT_TRUE(build_eviction_config(settings)->thresholds.empty());
}

TEST(EvictionConfig, SoftThresholdsTakeGracePeriodsAndMinReclaim) {
  EvictionSettings settings;
  settings.eviction_hard = SignalMap{{"memory.available", "1Gi"}};
  settings.eviction_soft = SignalMap{{"memory.available", "2Gi"}, {"nodefs.available", "15%"}};
  settings.eviction_soft_grace_period =
      SignalMap{{"memory.available", "1m30s"}, {"nodefs.available", "2m"}};
  settings.eviction_minimum_reclaim = SignalMap{{"memory.available", "500Mi"}};
  settings.eviction_max_pod_grace_period = 30;
  settings.eviction_pressure_transition_period = "30s";
  auto config = build_eviction_config(settings);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(
      describe(config->thresholds),
      (std::vector<std::string>{
          "memory.available<1Gi reclaim 500Mi", "memory.available<2Gi grace 1m30s reclaim 500Mi",
          "nodefs.available<15% grace 2m0s", "allocatableMemory.available<1Gi reclaim 500Mi"}));
  EXPECT_EQ(config->max_pod_grace_period_seconds, 30);
  EXPECT_EQ(config->pressure_transition_period, std::chrono::seconds(30));
}

TEST(EvictionConfig, AllocatableThresholdsFollowEnforceNodeAllocatable) {
  EvictionSettings settings;
  settings.eviction_hard = SignalMap{{"memory.available", "1Gi"}};
  settings.enforce_node_allocatable = std::vector<std::string>{};
  EXPECT_EQ(describe(build_eviction_config(settings)->thresholds),
            (std::vector<std::string>{"memory.available<1Gi"}));
  settings.enforce_node_allocatable = std::vector<std::string>{"none"};
  EXPECT_EQ(build_eviction_config(settings)->thresholds.size(), 1U);
}

TEST(EvictionConfig, ZeroAndHundredPercentAreIgnored) {
  EvictionSettings settings;
  settings.eviction_hard = SignalMap{{"nodefs.available", "0%"}, {"imagefs.available", "100%"}};
  EXPECT_TRUE(build_eviction_config(settings)->thresholds.empty());
}

struct Invalid {
  const char* map;
  const char* signal;
  const char* value;
  const char* field;
  const char* message;
};

class EvictionConfigRejectTest : public testing::TestWithParam<Invalid> {};

TEST_P(EvictionConfigRejectTest, NamesFieldSignalAndValue) {
  const Invalid& c = GetParam();
  EvictionSettings settings;
  settings.eviction_hard = SignalMap{};
  const std::string map = c.map;
  SignalMap entries{{c.signal, c.value}};
  if (map == "evictionHard")
    settings.eviction_hard = entries;
  if (map == "evictionSoft")
    settings.eviction_soft = entries;
  if (map == "evictionSoftGracePeriod")
    settings.eviction_soft_grace_period = entries;
  if (map == "evictionMinimumReclaim")
    settings.eviction_minimum_reclaim = entries;
  auto config = build_eviction_config(settings);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().field, c.field);
  EXPECT_EQ(config.error().message, c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, EvictionConfigRejectTest,
    testing::Values(
        Invalid{"evictionHard", "memory.free", "1Gi", "evictionHard[memory.free]",
                "unsupported eviction signal memory.free; the signals are memory.available, "
                "allocatableMemory.available, nodefs.available, nodefs.inodesFree, "
                "imagefs.available, imagefs.inodesFree, containerfs.available, "
                "containerfs.inodesFree, pid.available"},
        Invalid{"evictionSoft", "nodefs.availble", "1Gi", "evictionSoft[nodefs.availble]",
                "unsupported eviction signal nodefs.availble (did you mean \"nodefs.available\"?); "
                "the signals are memory.available, allocatableMemory.available, nodefs.available, "
                "nodefs.inodesFree, imagefs.available, imagefs.inodesFree, containerfs.available, "
                "containerfs.inodesFree, pid.available"},
        // evictd's own signals are unknown to the kubelet: its file may not name them.
        Invalid{"evictionHard", "swap.available", "1Gi", "evictionHard[swap.available]",
                "swap.available is evictd's own signal, unknown to the kubelet: set it under "
                "pressureSignals in evictd's configuration"},
        Invalid{"evictionSoft", "memory.pressure", "20%", "evictionSoft[memory.pressure]",
                "memory.pressure is evictd's own signal, unknown to the kubelet: set it under "
                "pressureSignals in evictd's configuration"},
        Invalid{"evictionHard", "memory.available", "0", "evictionHard[memory.available]",
                "eviction threshold memory.available must be positive: 0"},
        Invalid{"evictionHard", "memory.available", "-1Gi", "evictionHard[memory.available]",
                "eviction threshold memory.available must be positive: -1Gi"},
        Invalid{"evictionHard", "nodefs.available", "101%", "evictionHard[nodefs.available]",
                "eviction percentage threshold nodefs.available must be <= 100%: 101%"},
        Invalid{"evictionHard", "nodefs.available", "-5%", "evictionHard[nodefs.available]",
                "eviction percentage threshold nodefs.available must be >= 0%: -5%"},
        Invalid{"evictionHard", "nodefs.available", "ten%", "evictionHard[nodefs.available]",
                "invalid percentage \"ten%\""},
        Invalid{"evictionHard", "memory.available", "1K", "evictionHard[memory.available]",
                "unable to parse quantity's suffix: \"1K\""},
        Invalid{"evictionSoft", "memory.available", "2Gi",
                "evictionSoftGracePeriod[memory.available]",
                "grace period must be specified for the soft eviction threshold memory.available"},
        Invalid{"evictionSoftGracePeriod", "memory.available", "-1m",
                "evictionSoftGracePeriod[memory.available]",
                "invalid eviction grace period specified: -1m, must be a positive value"},
        Invalid{"evictionSoftGracePeriod", "memory.available", "90",
                "evictionSoftGracePeriod[memory.available]", "missing unit in duration \"90\""},
        Invalid{"evictionMinimumReclaim", "memory.available", "-1Gi",
                "evictionMinimumReclaim[memory.available]",
                "negative eviction minimum reclaim specified for memory.available"},
        Invalid{"evictionMinimumReclaim", "nodefs.available", "0%",
                "evictionMinimumReclaim[nodefs.available]",
                "eviction percentage minimum reclaim nodefs.available must be positive: 0%"}));

TEST(EvictionConfig, RejectsDuplicatesAndBadScalars) {
  EvictionSettings settings;
  settings.eviction_hard = SignalMap{{"memory.available", "1Gi"}, {"memory.available", "2Gi"}};
  EXPECT_EQ(build_eviction_config(settings).error().message,
            "signal memory.available is given twice");
  settings = {};
  settings.eviction_pressure_transition_period = "-1m";
  EXPECT_EQ(build_eviction_config(settings).error().field, "evictionPressureTransitionPeriod");
  settings = {};
  settings.enforce_node_allocatable = std::vector<std::string>{"pods", "none"};
  EXPECT_EQ(build_eviction_config(settings).error().field, "enforceNodeAllocatable");
  settings.enforce_node_allocatable = std::vector<std::string>{"podz"};
  EXPECT_NE(build_eviction_config(settings).error().message.find("\"podz\""), std::string::npos);
}

TEST(ThresholdValue, PercentagesResolveLikeTheKubeletsFloat32) {
  ThresholdValue ten_percent{std::nullopt, 10.0F / 100.0F};
  // float32(0.1) is slightly above 0.1: 10% of 10Gi is 1073741840 bytes, not 1Gi.
  EXPECT_EQ(ten_percent.resolve(Quantity::parse("10Gi").value()).to_string(), "1073741840");
  ThresholdValue quarter{std::nullopt, 0.25F};
  EXPECT_EQ(quarter.resolve(Quantity::parse("8Gi").value()).to_string(), "2Gi");
  EXPECT_EQ(ten_percent.text(), "10%");
}

TEST(ContainerFs, ThresholdsMirrorTheFilesystemThatHoldsWritableLayers) {
  EvictionSettings settings;
  settings.eviction_hard = SignalMap{{"nodefs.available", "10%"},
                                     {"imagefs.available", "15%"},
                                     {"nodefs.inodesFree", "5%"},
                                     {"containerfs.available", "1%"}};
  auto config = build_eviction_config(settings);
  ASSERT_TRUE(config.ok());
  std::vector<std::string> warnings;
  auto shared =
      with_containerfs_thresholds(config->thresholds, FilesystemLayout::kShared, &warnings);
  EXPECT_EQ(describe(shared),
            (std::vector<std::string>{"nodefs.available<10%", "imagefs.available<15%",
                                      "nodefs.inodesFree<5%", "containerfs.available<10%",
                                      "containerfs.inodesFree<5%"}));
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("containerfs.available"), std::string::npos);
  auto dedicated =
      with_containerfs_thresholds(config->thresholds, FilesystemLayout::kDedicatedImageFs, nullptr);
  EXPECT_EQ(describe(dedicated).back(), "containerfs.available<15%");
  auto split = with_containerfs_thresholds(config->thresholds, FilesystemLayout::kSplit, nullptr);
  EXPECT_EQ(describe(split)[3], "containerfs.available<10%");
}

}  // namespace
}  // namespace evictd

namespace evictd {
namespace {

TEST(SignalKinds, EachSignalIsMemoryDiskOrPidsAndDiskSignalsNameTheirFilesystem) {
  for (Signal signal : kAllSignals) {
    const int kinds = (is_memory_signal(signal) ? 1 : 0) + (is_disk_signal(signal) ? 1 : 0) +
                      (signal == Signal::kPidAvailable ? 1 : 0);
    EXPECT_EQ(kinds, 1) << signal_name(signal);
    const Resource resource = signal_resource(signal);
    EXPECT_EQ(is_disk_signal(signal),
              resource == Resource::kEphemeralStorage || resource == Resource::kInodes)
        << signal_name(signal);
  }
  EXPECT_EQ(signal_filesystem(Signal::kNodeFsInodesFree), Filesystem::kNodeFs);
  EXPECT_EQ(signal_filesystem(Signal::kImageFsAvailable), Filesystem::kImageFs);
  EXPECT_EQ(signal_filesystem(Signal::kContainerFsInodesFree), Filesystem::kContainerFs);
  EXPECT_FALSE(signal_filesystem(Signal::kAllocatableMemoryAvailable));
  EXPECT_FALSE(signal_filesystem(Signal::kPidAvailable));
}

TEST(EvictionAdvice, DroppedDefaultsUselessSoftThresholdsAndLoneGracePeriodsAreNamed) {
  EvictionSettings settings;
  settings.eviction_hard = SignalMap{{"memory.available", "200Mi"}, {"nodefs.available", "10%"}};
  settings.eviction_soft = SignalMap{{"memory.available", "200Mi"}, {"nodefs.available", "15%"}};
  settings.eviction_soft_grace_period =
      SignalMap{{"memory.available", "1m"}, {"nodefs.available", "1m"}, {"pid.available", "30s"}};
  auto config = build_eviction_config(settings);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->warnings,
            (std::vector<std::string>{
                "evictionHard leaves out the kubelet's defaults nodefs.inodesFree<5%, "
                "imagefs.available<15%, imagefs.inodesFree<5%: a given evictionHard replaces "
                "them all; set mergeDefaultEvictionSettings: true to keep the ones it does not "
                "name",
                "evictionSoft[memory.available] 200Mi is at or below "
                "evictionHard[memory.available] 200Mi: the hard threshold is met first, so the "
                "soft one never acts; a soft threshold belongs above the hard one",
                "evictionSoftGracePeriod[pid.available] 30s has no evictionSoft[pid.available]: "
                "it does nothing"}));
  settings.merge_default_eviction_settings = true;
  settings.eviction_soft = SignalMap{{"memory.available", "1Gi"}, {"pid.available", "1k"}};
  EXPECT_EQ(build_eviction_config(settings)->warnings.size(), 1u) << "only nodefs' lone period";
  EXPECT_TRUE(build_eviction_config(EvictionSettings{})->warnings.empty()) << "the defaults";
}

TEST(Spelling, SlipsOfTheKeyboardFindTheirWordOthersNothing) {
  static constexpr std::string_view kCommands[] = {"status", "pods", "explain", "evictions",
                                                   "watch"};
  EXPECT_EQ(closest_spelling("stauts", kCommands), "status");  // two letters swapped
  EXPECT_EQ(closest_spelling("Status", kCommands), "status");  // case
  EXPECT_EQ(closest_spelling("evictoins", kCommands), "evictions");
  EXPECT_EQ(closest_spelling("pod", kCommands), "pods");
  EXPECT_FALSE(closest_spelling("frobnicate", kCommands));
  EXPECT_FALSE(closest_spelling("status", kCommands)) << "a word that is right has no suggestion";
  EXPECT_EQ(did_you_mean("wach", kCommands), " (did you mean \"watch\"?)");
  EXPECT_EQ(did_you_mean("x", kCommands), "");
}

}  // namespace
}  // namespace evictd
