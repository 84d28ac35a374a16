#include <gtest/gtest.h>

#include "cgroups/layout.h"

namespace evictd::cgroups {
namespace {

CgroupMount v1(std::string path, std::vector<std::string> controllers) {
  return CgroupMount{std::move(path), false, std::move(controllers)};
}

TEST(Layout, DetectsHybridV1AndV2) {
  const std::vector<CgroupMount> hybrid = {
      v1("/sys/fs/cgroup/memory", {"memory"}), v1("/sys/fs/cgroup/cpu,cpuacct", {"cpu", "cpuacct"}),
      v1("/sys/fs/cgroup/pids", {"pids"}), CgroupMount{"/sys/fs/cgroup/unified", true, {}}};
  auto layout = detect_layout(hybrid);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->version, CgroupVersion::kHybrid);
  EXPECT_EQ(layout->memory_root, "/sys/fs/cgroup/memory");
  EXPECT_EQ(layout->cpuacct_root, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(layout->pids_root, "/sys/fs/cgroup/pids");
  EXPECT_EQ(layout->unified_root, "/sys/fs/cgroup/unified");
  EXPECT_EQ(detect_layout({hybrid[0]})->version, CgroupVersion::kV1);
  auto v2 = detect_layout({CgroupMount{"/sys/fs/cgroup", true, {}}});
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version, CgroupVersion::kV2);
  EXPECT_EQ(v2->unified_root, "/sys/fs/cgroup");
}

TEST(Layout, MemoryIsAccountedByV1WhereverItsMemoryControllerIsMounted) {
  const CgroupMount memory = v1("/sys/fs/cgroup/memory", {"memory"});
  const CgroupMount unified{"/sys/fs/cgroup/unified", true, {}};
  auto hybrid = detect_layout({memory, unified});
  ASSERT_TRUE(hybrid.ok());
  EXPECT_TRUE(hybrid->memory_v1());
  EXPECT_EQ(hybrid->memory_hierarchy(), "/sys/fs/cgroup/memory");
  auto legacy = detect_layout({memory});
  ASSERT_TRUE(legacy.ok());
  EXPECT_TRUE(legacy->memory_v1());
  EXPECT_EQ(legacy->memory_hierarchy(), "/sys/fs/cgroup/memory");
  auto v2 = detect_layout({CgroupMount{"/sys/fs/cgroup", true, {}}});
  ASSERT_TRUE(v2.ok());
  EXPECT_FALSE(v2->memory_v1());
  EXPECT_EQ(v2->memory_hierarchy(), "/sys/fs/cgroup");
}

TEST(Layout, FailsClearlyWithoutMemoryAccounting) {
  auto none = detect_layout({v1("/sys/fs/cgroup/cpu", {"cpu"})});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no usable cgroup hierarchy"), std::string::npos);
}

TEST(Naming, CgroupfsDriver) {
  const CgroupNaming naming(CgroupDriver::kCgroupfs);
  EXPECT_EQ(naming.kubepods_dir(), "kubepods");
  EXPECT_EQ(naming.tier_dir(QosTier::kBurstable), "burstable");
  EXPECT_EQ(naming.pod_dir("0a1b-2c", QosTier::kBestEffort), "pod0a1b-2c");
  EXPECT_EQ(naming.pod_uid("pod6f2ab1c4-1d2e-4f00-9a1b-0c0d0e0f1a2b", QosTier::kBurstable),
            "6f2ab1c4-1d2e-4f00-9a1b-0c0d0e0f1a2b");
  EXPECT_FALSE(naming.pod_uid("burstable", QosTier::kGuaranteed));
  EXPECT_FALSE(naming.pod_uid("pod", QosTier::kGuaranteed));
  EXPECT_FALSE(naming.pod_uid("pod../x", QosTier::kGuaranteed));
  const auto container = parse_container_dir("4f3c2b1a", CgroupDriver::kCgroupfs);
  ASSERT_TRUE(container);
  EXPECT_EQ(container->id, "4f3c2b1a");
}

TEST(Naming, SystemdDriverEscapesDashes) {
  const CgroupNaming naming(CgroupDriver::kSystemd);
  EXPECT_EQ(naming.kubepods_dir(), "kubepods.slice");
  EXPECT_EQ(naming.tier_dir(QosTier::kBurstable), "kubepods-burstable.slice");
  EXPECT_EQ(naming.pod_dir("6f2ab1c4-1d2e", QosTier::kBurstable),
            "kubepods-burstable-pod6f2ab1c4_1d2e.slice");
  EXPECT_EQ(naming.pod_dir("6f2ab1c4-1d2e", QosTier::kGuaranteed),
            "kubepods-pod6f2ab1c4_1d2e.slice");
  EXPECT_EQ(naming.pod_uid("kubepods-besteffort-pod6f2ab1c4_1d2e.slice", QosTier::kBestEffort),
            "6f2ab1c4-1d2e");
  EXPECT_FALSE(naming.pod_uid("kubepods-besteffort-pod6f2ab1c4_1d2e.slice", QosTier::kBurstable));
  EXPECT_FALSE(naming.pod_uid("kubepods-burstable.slice", QosTier::kGuaranteed));
  const CgroupNaming custom(CgroupDriver::kSystemd, "pods");
  EXPECT_EQ(custom.pod_dir("ab", QosTier::kBestEffort), "pods-besteffort-podab.slice");
}

TEST(Naming, SystemdContainerScopes) {
  struct Case {
    const char* name;
    const char* id;
    const char* runtime;
  };
  for (const Case c :
       {Case{"cri-containerd-abc123.scope", "abc123", "containerd"},
        Case{"crio-def456.scope", "def456", "crio"}, Case{"docker-0f0f.scope", "0f0f", "docker"}}) {
    const auto parsed = parse_container_dir(c.name, CgroupDriver::kSystemd);
    ASSERT_TRUE(parsed) << c.name;
    EXPECT_EQ(parsed->id, c.id);
    EXPECT_EQ(parsed->runtime, c.runtime);
  }
  EXPECT_FALSE(parse_container_dir("crio-conmon-def456.scope", CgroupDriver::kSystemd));
  EXPECT_FALSE(parse_container_dir("abc123", CgroupDriver::kSystemd));
  EXPECT_FALSE(parse_container_dir("cri-containerd-.scope", CgroupDriver::kSystemd));
}

}  // namespace
}  // namespace evictd::cgroups
