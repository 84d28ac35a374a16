#include <gtest/gtest.h>

#include "cgroups/parse.h"

namespace evictd::cgroups {
namespace {

TEST(MemoryStat, ReadsV1AndV2Fields) {
  const MemoryStat v1 = parse_memory_stat(
      "cache 9379840\nrss 2801664\nrss_huge 0\ninactive_file 100\ntotal_cache 793657344\n"
      "total_rss 5259264\ntotal_inactive_file 387072000\n");
  EXPECT_EQ(v1.rss, 2801664U);
  EXPECT_EQ(v1.total_rss, 5259264U);
  EXPECT_EQ(v1.inactive_file, 100U);
  EXPECT_EQ(v1.total_inactive_file, 387072000U);
  EXPECT_FALSE(v1.anon);
  const MemoryStat v2 = parse_memory_stat("anon 1048576\nfile 2097152\ninactive_file 524288\n");
  EXPECT_EQ(v2.anon, 1048576U);
  EXPECT_EQ(v2.file, 2097152U);
  EXPECT_EQ(v2.inactive_file, 524288U);
}

TEST(MemoryStat, GarbledValuesAreMissing) {
  const MemoryStat stat =
      parse_memory_stat("rss twelve\ninactive_file -5\ntotal_rss\n\nanon 1 2\nfile 7");
  EXPECT_FALSE(stat.rss);
  EXPECT_FALSE(stat.inactive_file);
  EXPECT_FALSE(stat.total_rss);
  EXPECT_FALSE(stat.anon);
  EXPECT_EQ(stat.file, 7U);  // no trailing newline is fine
  EXPECT_FALSE(parse_memory_stat("").rss);
}

TEST(Psi, ReadsSomeAndFull) {
  const Psi psi = parse_psi(
      "some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\nfull avg10=0.10 avg60=0.00 avg300=0.00 "
      "total=789\n");
  ASSERT_TRUE(psi.some);
  EXPECT_DOUBLE_EQ(psi.some->avg10, 1.5);
  EXPECT_DOUBLE_EQ(psi.some->avg60, 0.25);
  EXPECT_EQ(psi.some->total_us, 123456U);
  ASSERT_TRUE(psi.full);
  EXPECT_EQ(psi.full->total_us, 789U);
}

TEST(Psi, MalformedLinesAreMissing) {
  EXPECT_FALSE(parse_psi("some avg10=x avg60=0.00 avg300=0.00 total=1\n").some);
  EXPECT_FALSE(parse_psi("some avg10=0.00 avg60=0.00 total=1\n").some);
  EXPECT_FALSE(parse_psi("some\n").some);
  const Psi cpu_only = parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n");
  EXPECT_TRUE(cpu_only.some);
  EXPECT_FALSE(cpu_only.full);
}

TEST(MemInfo, ConvertsKilobytes) {
  const MemInfo info = parse_meminfo(
      "MemTotal:       24562376 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"
      "Buffers:          1 kB\nInactive(file):   387000 kB\nHugePages_Total:       0\n");
  EXPECT_EQ(info.mem_total, 24562376ULL * 1024);
  EXPECT_EQ(info.mem_free, 1000000ULL * 1024);
  EXPECT_EQ(info.mem_available, 20000000ULL * 1024);
  EXPECT_EQ(info.inactive_file, 387000ULL * 1024);
  EXPECT_FALSE(parse_meminfo("MemTotal: lots kB\n").mem_total);
  EXPECT_FALSE(parse_meminfo("MemTotal: 99999999999999999999 kB\n").mem_total);
}

TEST(LoadAvg, TakesTheTaskCountAfterTheSlash) {
  EXPECT_EQ(parse_loadavg_tasks("1.36 3.49 4.53 2/3518 3715089\n"), 3518);
  EXPECT_EQ(parse_loadavg_tasks("0.89 1.47 1.01 1/77 6793"), 77);
  EXPECT_FALSE(parse_loadavg_tasks("0.89 1.47 1.01 77 6793\n"));
  EXPECT_FALSE(parse_loadavg_tasks("0.89 1.47 1.01 1/77\n"));
  EXPECT_FALSE(parse_loadavg_tasks("0.89 1.47 1.01 1/x 6793\n"));
  EXPECT_FALSE(parse_loadavg_tasks(""));
}

TEST(Uint, ReadsNumbersAndMax) {
  bool unlimited = false;
  EXPECT_EQ(parse_uint("3145728\n", &unlimited), 3145728U);
  EXPECT_FALSE(unlimited);
  EXPECT_FALSE(parse_uint("max\n", &unlimited));
  EXPECT_TRUE(unlimited);
  EXPECT_FALSE(parse_uint("", &unlimited));
  EXPECT_FALSE(parse_uint("-1\n"));
  EXPECT_FALSE(parse_uint("12ab\n"));
}

TEST(CpuStat, ReadsUsage) {
  EXPECT_EQ(parse_cpu_stat_usage_us("usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n"),
            123456U);
  EXPECT_FALSE(parse_cpu_stat_usage_us("user_usec 1\n"));
  const auto cpu = parse_proc_stat_cpu("cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 1 2 3 4\n");
  ASSERT_TRUE(cpu);
  EXPECT_EQ(cpu->busy, 160U);
  EXPECT_EQ(cpu->total, 1180U);
  EXPECT_EQ(cpu->cpus, 1);
  const auto two = parse_proc_stat_cpu("cpu  1 0 1 9 0 0 0\ncpu0 1 0 0 4\ncpu1 0 0 1 5\nintr 1\n");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->cpus, 2);
  EXPECT_FALSE(parse_proc_stat_cpu("intr 1 2 3\n"));
  // Found by the fuzzer: ticks whose sum passes 2^64 wrapped the total below the busy part.
  EXPECT_FALSE(parse_proc_stat_cpu("cpu 0 0 18446744073709551615 2 0 0 0\n"));
  const auto largest = parse_proc_stat_cpu("cpu 0 0 18446744073709551613 2 0 0 0\n");
  ASSERT_TRUE(largest);
  EXPECT_EQ(largest->total, 18446744073709551615U);
  EXPECT_LE(largest->busy, largest->total);
}

TEST(MemoryEvents, ReadsCounters) {
  const MemoryEvents events =
      parse_memory_events("low 0\nhigh 4\nmax 2\noom 1\noom_kill 1\noom_group_kill 0\n");
  EXPECT_EQ(events.high, 4U);
  EXPECT_EQ(events.max, 2U);
  EXPECT_EQ(events.oom_kill, 1U);
}

TEST(ZoneInfo, SumsTheWatermarksOfEveryZoneAndNotThePagesetsHighs) {
  // As the kernel writes it (abridged): the pagesets' "high:" and "high_min:" are no watermarks.
  const std::string text =
      "Node 0, zone      DMA\n  per-node stats\n      nr_inactive_anon 0\n"
      "  pages free     3968\n        boost    0\n        min      38\n        low      47\n"
      "        high     56\n        spanned  4095\n  pagesets\n    cpu: 0\n"
      "              count: 0\n              high:  0\n              high_min: 23\n"
      "Node 0, zone    DMA32\n  pages free     100000\n        min      7707\n"
      "        low      9633\n        high     11559\n";
  const auto watermarks = parse_zoneinfo(text);
  ASSERT_TRUE(watermarks);
  EXPECT_EQ(watermarks->min_pages, 38U + 7707U);
  EXPECT_EQ(watermarks->low_pages, 47U + 9633U);
  EXPECT_EQ(watermarks->high_pages, 56U + 11559U);
  EXPECT_FALSE(parse_zoneinfo("Node 0, zone DMA\n  pages free 3\n"));
  EXPECT_FALSE(parse_zoneinfo(""));
}

TEST(MountInfo, FindsV1ControllersAndTheUnifiedMount) {
  const auto mounts = parse_mountinfo(
      "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup "
      "rw,cpu,cpuacct\n"
      "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
      "40 30 0:37 / /sys/fs/cgroup/un\\040ified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
      "garbage line\n");
  ASSERT_EQ(mounts.size(), 4U);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts[0].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(mounts[1].controllers, std::vector<std::string>{"memory"});
  EXPECT_TRUE(mounts[2].controllers.empty());
  EXPECT_TRUE(mounts[3].v2);
  EXPECT_EQ(mounts[3].mount_point, "/sys/fs/cgroup/un ified");
}

}  // namespace
}  // namespace evictd::cgroups
