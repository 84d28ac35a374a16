#include <gtest/gtest.h>
#include <unistd.h>

#include "cgroups/memory_limit.h"
#include "cgroups/sampler.h"
#include "unit/counting_new.h"
#include "unit/fake_tree.h"

namespace evictd::cgroups {
namespace {

using std::chrono::seconds;
using testing_util::FakeTree;

constexpr uint64_t kMiB = 1024 * 1024;

std::string v2_memory_stat(uint64_t anon, uint64_t file, uint64_t inactive_file) {
  return "anon " + std::to_string(anon) + "\nfile " + std::to_string(file) +
         "\nkernel 0\nkernel_stack 16384\npagetables 0\nshmem 0\nfile_mapped 0\nfile_dirty 0\n"
         "inactive_anon 0\nactive_anon " +
         std::to_string(anon) + "\ninactive_file " + std::to_string(inactive_file) +
         "\nactive_file " + std::to_string(file - inactive_file) +
         "\nunevictable 0\nslab_reclaimable 0\nslab 0\n";
}

constexpr const char* kPsiIdle =
    "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 "
    "total=0\n";

// A v2 cgroup in the kernel's formats.
void write_v2_cgroup(const FakeTree& tree, const std::string& dir, uint64_t current, uint64_t anon,
                     uint64_t inactive_file, uint64_t pids, uint64_t cpu_usec) {
  tree.write(dir + "/memory.current", std::to_string(current) + "\n");
  tree.write(dir + "/memory.stat", v2_memory_stat(anon, current - anon, inactive_file));
  tree.write(dir + "/pids.current", std::to_string(pids) + "\n");
  tree.write(dir + "/cpu.stat", "usage_usec " + std::to_string(cpu_usec) +
                                    "\nuser_usec 1\nsystem_usec 1\nnr_periods 0\nnr_throttled 0\n"
                                    "throttled_usec 0\n");
  tree.write(dir + "/memory.pressure", kPsiIdle);
  tree.write(dir + "/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
  tree.write(dir + "/cgroup.procs", "1234\n");
}

void write_proc(const FakeTree& tree) {
  tree.write(
      "proc/meminfo",
      "MemTotal:       16777216 kB\nMemFree:         4194304 kB\nMemAvailable:   10485760 kB\n"
      "Inactive(file):  2097152 kB\n");
  tree.write("proc/loadavg", "0.50 0.40 0.30 3/812 4242\n");
  tree.write("proc/sys/kernel/pid_max", "4194304\n");
  tree.write("proc/sys/kernel/threads-max", "192730\n");
  tree.write("proc/stat", "cpu  100 0 100 1000 0 0 0 0 0 0\n");
  tree.write("proc/pressure/memory",
             "some avg10=2.50 avg60=1.00 avg300=0.20 total=5000\nfull avg10=1.00 avg60=0.50 "
             "avg300=0.10 total=2000\n");
  tree.write("proc/pressure/io", kPsiIdle);
  tree.write("proc/pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n");
}

class V2SystemdTest : public testing::Test {
 protected:
  void SetUp() override {
    write_proc(tree_);
    tree_.write("cgroup/memory.stat", v2_memory_stat(3000 * kMiB, 5000 * kMiB, 2048 * kMiB));
    write_v2_cgroup(tree_, "cgroup/kubepods.slice", 1500 * kMiB, 1000 * kMiB, 200 * kMiB, 30,
                    5000000);
    tree_.write("cgroup/kubepods.slice/memory.max", std::to_string(8192 * kMiB) + "\n");
    write_v2_cgroup(tree_, kBurstablePod, 600 * kMiB, 500 * kMiB, 100 * kMiB, 12, 2000000);
    write_v2_cgroup(tree_, kBurstablePod + "/cri-containerd-aaaa.scope", 400 * kMiB, 350 * kMiB,
                    50 * kMiB, 10, 1500000);
    write_v2_cgroup(tree_, kBurstablePod + "/crio-conmon-bbbb.scope", 1 * kMiB, 1 * kMiB, 0, 1, 10);
    write_v2_cgroup(tree_, kGuaranteedPod, 300 * kMiB, 250 * kMiB, 10 * kMiB, 3, 100);
    tree_.mkdir("cgroup/kubepods.slice/kubepods-besteffort.slice");
    layout_.version = CgroupVersion::kV2;
    layout_.unified_root = tree_.path("cgroup");
    config_.driver = CgroupDriver::kSystemd;
    config_.proc_root = tree_.path("proc");
    config_.nodefs_path = tree_.root();
  }

  const std::string kBurstablePod =
      "cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod11aa_22bb.slice";
  const std::string kGuaranteedPod = "cgroup/kubepods.slice/kubepods-pod33cc_44dd.slice";
  FakeTree tree_;
  CgroupLayout layout_;
  SamplerConfig config_;
};

TEST_F(V2SystemdTest, NodeObservationsAsTheKubeletComputesThem) {
  Sampler sampler(layout_, config_, FdBudget(1000));
  const NodeSample& sample = sampler.sample(seconds(10));
  EXPECT_TRUE(sample.problems.empty()) << sample.problems.front();
  // usage = MemTotal − MemFree = 12 GiB; working set = usage − inactive_file (2 GiB) = 10 GiB.
  const auto& memory = sample.observations.get(Signal::kMemoryAvailable);
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->capacity, int64_t{16} << 30);
  EXPECT_EQ(memory->available, int64_t{6} << 30);
  EXPECT_EQ(memory->time, seconds(10));
  // allocatable: 8 GiB limit − (1500 − 200) MiB working set.
  const auto& allocatable = sample.observations.get(Signal::kAllocatableMemoryAvailable);
  ASSERT_TRUE(allocatable);
  EXPECT_EQ(allocatable->available, static_cast<int64_t>((8192 - 1300) * kMiB));
  EXPECT_EQ(allocatable->capacity, static_cast<int64_t>(8192 * kMiB));
  // pid.available: min(4194304, 192730) − 812.
  const auto& pids = sample.observations.get(Signal::kPidAvailable);
  ASSERT_TRUE(pids);
  EXPECT_EQ(pids->capacity, 192730);
  EXPECT_EQ(pids->available, 192730 - 812);
  EXPECT_TRUE(sample.observations.get(Signal::kNodeFsAvailable));
  EXPECT_TRUE(sample.observations.get(Signal::kNodeFsInodesFree));
  EXPECT_FALSE(sample.observations.get(Signal::kImageFsAvailable));
  ASSERT_TRUE(sample.memory_pressure.some);
  EXPECT_DOUBLE_EQ(sample.memory_pressure.some->avg10, 2.5);
  EXPECT_EQ(sample.meminfo.mem_available, 10485760ULL * 1024);
}

TEST_F(V2SystemdTest, PodsAndContainersWithTheirTier) {
  Sampler sampler(layout_, config_, FdBudget(1000));
  const NodeSample& sample = sampler.sample(seconds(10));
  ASSERT_EQ(sample.pods.size(), 2U);
  const PodSample& burstable = sample.pods[0];
  EXPECT_EQ(burstable.uid, "11aa-22bb");
  EXPECT_EQ(burstable.tier, QosTier::kBurstable);
  EXPECT_EQ(burstable.usage.memory.usage_bytes, 600 * kMiB);
  EXPECT_EQ(burstable.usage.memory.working_set_bytes, 500 * kMiB);
  EXPECT_EQ(burstable.usage.memory.rss_bytes, 500 * kMiB);
  EXPECT_EQ(burstable.usage.processes, 12U);
  EXPECT_EQ(burstable.usage.cpu_usage_ns, 2000000000U);
  ASSERT_TRUE(burstable.usage.memory_pressure);
  ASSERT_EQ(burstable.containers.size(), 1U);  // the conmon scope is not a container
  EXPECT_EQ(burstable.containers[0].id, "aaaa");
  EXPECT_EQ(burstable.containers[0].runtime, "containerd");
  EXPECT_EQ(burstable.containers[0].usage.memory.working_set_bytes, 350 * kMiB);
  EXPECT_EQ(sample.pods[1].uid, "33cc-44dd");
  EXPECT_EQ(sample.pods[1].tier, QosTier::kGuaranteed);
}

TEST_F(V2SystemdTest, NodeRoundsReadSignalsOnlyAndNoticeNewPodsByListing) {
  Sampler sampler(layout_, config_, FdBudget(1000));
  ASSERT_EQ(sampler.sample(seconds(10), SampleDepth::kDecision).pods.size(), 2U);
  EXPECT_FALSE(sampler.pods_changed());
  EXPECT_FALSE(sampler.subdirectories_changed());

  // The kubepods usage changes, and so does a pod's: a node round sees the first only.
  write_v2_cgroup(tree_, "cgroup/kubepods.slice", 2500 * kMiB, 2000 * kMiB, 200 * kMiB, 30,
                  5000000);
  write_v2_cgroup(tree_, kBurstablePod, 900 * kMiB, 800 * kMiB, 100 * kMiB, 12, 2000000);
  const NodeSample& node = sampler.sample(seconds(11), SampleDepth::kNode);
  const auto& allocatable = node.observations.get(Signal::kAllocatableMemoryAvailable);
  ASSERT_TRUE(allocatable);
  EXPECT_EQ(allocatable->available, static_cast<int64_t>((8192 - 2300) * kMiB));
  EXPECT_EQ(allocatable->time, seconds(11));
  EXPECT_TRUE(node.observations.get(Signal::kPidAvailable)) << "pid_max is remembered";
  EXPECT_TRUE(node.observations.get(Signal::kNodeFsAvailable));
  ASSERT_EQ(node.pods.size(), 2U);
  EXPECT_EQ(node.pods[0].usage.memory.working_set_bytes, 500 * kMiB) << "pods as last read";

  write_v2_cgroup(tree_,
                  "cgroup/kubepods.slice/kubepods-besteffort.slice/"
                  "kubepods-besteffort-pod55ee_66ff.slice",
                  10 * kMiB, 10 * kMiB, 0, 1, 10);
  EXPECT_TRUE(sampler.pods_changed());
  EXPECT_TRUE(sampler.subdirectories_changed());
  EXPECT_EQ(sampler.sample(seconds(12), SampleDepth::kDecision).pods.size(), 3U);
  EXPECT_FALSE(sampler.pods_changed());
  EXPECT_FALSE(sampler.subdirectories_changed());
  tree_.remove(kGuaranteedPod);
  EXPECT_TRUE(sampler.pods_changed()) << "a pod that went counts too";
  EXPECT_TRUE(sampler.subdirectories_changed());
}

TEST_F(V2SystemdTest, ObservingTheNodeAloneLeavesTheRoundsSampleAsItWas) {
  Sampler sampler(layout_, config_, FdBudget(1000));
  const NodeSample& sample = sampler.sample(seconds(10), SampleDepth::kDecision);
  ASSERT_EQ(sample.pods.size(), 2U);
  write_v2_cgroup(tree_, "cgroup/kubepods.slice", 2500 * kMiB, 2000 * kMiB, 200 * kMiB, 30,
                  5000000);
  write_v2_cgroup(tree_, kBurstablePod, 900 * kMiB, 800 * kMiB, 100 * kMiB, 12, 2000000);
  const Observations fresh = sampler.observe_node(seconds(11));
  const auto& allocatable = fresh.get(Signal::kAllocatableMemoryAvailable);
  ASSERT_TRUE(allocatable);
  EXPECT_EQ(allocatable->available, static_cast<int64_t>((8192 - 2300) * kMiB));
  EXPECT_EQ(allocatable->time, seconds(11));
  EXPECT_TRUE(fresh.get(Signal::kNodeFsAvailable));
  // The round's sample, which the evaluator and the pods' view still read, is untouched.
  EXPECT_EQ(sample.time, seconds(10));
  EXPECT_EQ(sample.observations.get(Signal::kAllocatableMemoryAvailable)->available,
            static_cast<int64_t>((8192 - 1300) * kMiB));
  ASSERT_EQ(sample.pods.size(), 2U);
  EXPECT_EQ(sample.pods[0].usage.memory.working_set_bytes, 500 * kMiB);
}

TEST_F(V2SystemdTest, ASteadySampleAllocatesNothingEvenWithAFileMissing) {
  tree_.remove("proc/pressure/io");             // tried again every full sample
  config_.memory_pressure_window = seconds(1);  // its readings are kept in a reserved list
  Sampler sampler(layout_, config_, FdBudget(1000));
  for (auto depth : {SampleDepth::kNode, SampleDepth::kDecision, SampleDepth::kFull})
    sampler.sample(seconds(10), depth);  // the first samples build what later ones reuse
  const long allocations = testing_util::allocations_during([&] {
    for (int i = 0; i < 3; ++i) {
      for (auto depth : {SampleDepth::kNode, SampleDepth::kDecision, SampleDepth::kFull})
        sampler.sample(seconds(11 + i), depth);
    }
  });
  EXPECT_EQ(allocations, 0);
}

// memory.pressure from the kubepods cgroup's stall totals, read every round (node rounds too).
TEST_F(V2SystemdTest, MemoryPressureIsTheStallShareOfTheKubepodsCgroupOverTheWindow) {
  config_.memory_pressure_window = seconds(2);
  Sampler sampler(layout_, config_, FdBudget(1000));
  const auto psi = [&](uint64_t some_us, uint64_t full_us) {
    tree_.write("cgroup/kubepods.slice/memory.pressure",
                "some avg10=9.00 avg60=1.00 avg300=0.10 total=" + std::to_string(some_us) +
                    "\nfull avg10=5.00 avg60=1.00 avg300=0.10 total=" + std::to_string(full_us) +
                    "\n");
  };
  psi(1'000'000, 500'000);
  EXPECT_FALSE(
      sampler.sample(seconds(10), SampleDepth::kNode).observations.get(Signal::kMemoryPressure));
  psi(1'800'000, 900'000);
  EXPECT_FALSE(
      sampler.sample(seconds(11), SampleDepth::kNode).observations.get(Signal::kMemoryPressure))
      << "half a window";
  psi(2'200'000, 1'300'000);
  const auto stalled =
      sampler.sample(seconds(12), SampleDepth::kDecision).observations.get(Signal::kMemoryPressure);
  ASSERT_TRUE(stalled);
  EXPECT_EQ(stalled->available, 800'000);  // full: 1.3 s − 0.5 s
  EXPECT_EQ(stalled->capacity, 2'000'000);
  EXPECT_EQ(stalled->time, seconds(12));

  sampler.restart_pressure_window();
  psi(2'300'000, 1'400'000);
  EXPECT_FALSE(
      sampler.sample(seconds(13), SampleDepth::kNode).observations.get(Signal::kMemoryPressure))
      << "a restarted window is judged whole";

  EXPECT_TRUE(sampler.observes_memory_pressure());
  tree_.remove("cgroup/kubepods.slice/memory.pressure");
  EXPECT_FALSE(sampler.observes_memory_pressure()) << "a kernel without PSI: named at start";

  config_.memory_pressure_some = true;
  Sampler some(layout_, config_, FdBudget(1000));
  psi(0, 0);
  some.sample(seconds(20), SampleDepth::kNode);
  psi(1'000'000, 100'000);
  const auto any_stall =
      some.sample(seconds(22), SampleDepth::kNode).observations.get(Signal::kMemoryPressure);
  ASSERT_TRUE(any_stall);
  EXPECT_EQ(any_stall->available, 1'000'000);
}

// Swap: the node's from meminfo, the pods' and containers' read only while the node has swap.
TEST_F(V2SystemdTest, SwapIsObservedForTheNodeAndReadForPodsOnlyWhileThereIsSwap) {
  tree_.write(kBurstablePod + "/memory.swap.current", std::to_string(300 * kMiB) + "\n");
  tree_.write(kBurstablePod + "/cri-containerd-aaaa.scope/memory.swap.current",
              std::to_string(200 * kMiB) + "\n");
  tree_.write(kGuaranteedPod + "/memory.swap.current", "0\n");
  {
    Sampler sampler(layout_, config_, FdBudget(1000));
    const NodeSample& sample = sampler.sample(seconds(10), SampleDepth::kFull);
    EXPECT_FALSE(sample.observations.get(Signal::kSwapAvailable)) << "no SwapTotal: no swap";
    EXPECT_FALSE(sample.observations.get(Signal::kMemoryAndSwapAvailable))
        << "without swap, no twin of memory.available";
    EXPECT_FALSE(sample.pods.front().usage.memory.swap_bytes) << "not read without swap";
  }
  tree_.write("proc/meminfo",
              "MemTotal:       16777216 kB\nMemFree:         4194304 kB\n"
              "MemAvailable:   10485760 kB\nInactive(file):  2097152 kB\n"
              "SwapTotal:       2097152 kB\nSwapFree:        1572864 kB\n");
  Sampler sampler(layout_, config_, FdBudget(1000));
  const NodeSample& sample = sampler.sample(seconds(10), SampleDepth::kFull);
  const auto& swap = sample.observations.get(Signal::kSwapAvailable);
  ASSERT_TRUE(swap);
  EXPECT_EQ(swap->available, int64_t{1536} << 20);
  EXPECT_EQ(swap->capacity, int64_t{2} << 30);
  const auto& both = sample.observations.get(Signal::kMemoryAndSwapAvailable);
  ASSERT_TRUE(both);
  EXPECT_EQ(both->available, (int64_t{6} << 30) + (int64_t{1536} << 20));
  EXPECT_EQ(both->capacity, int64_t{18} << 30);
  const auto& allocatable = sample.observations.get(Signal::kAllocatableMemoryAndSwapAvailable);
  ASSERT_TRUE(allocatable);
  EXPECT_EQ(allocatable->available,
            static_cast<int64_t>((8192 - 1300) * kMiB) + (int64_t{1536} << 20));
  const PodSample* burstable = nullptr;
  for (const auto& pod : sample.pods)
    burstable = pod.tier == QosTier::kBurstable ? &pod : burstable;
  ASSERT_NE(burstable, nullptr);
  EXPECT_EQ(burstable->usage.memory.swap_bytes, 300 * kMiB);
  bool container_swap = false;
  for (const auto& container : burstable->containers)
    container_swap |= container.id == "aaaa" && container.usage.memory.swap_bytes == 200 * kMiB;
  EXPECT_TRUE(container_swap);
  // A decision sample reads the pods' swap too: ranking needs it.
  const NodeSample& decision = sampler.sample(seconds(11), SampleDepth::kDecision);
  EXPECT_TRUE(decision.pods.front().usage.memory.swap_bytes);

  // LimitedSwap: the Burstable container may swap 600 MiB (the sandbox, unlimited, is no limit),
  // and kubepods has 300 MiB in swap: only 300 MiB of the free swap is any pod's to use.
  tree_.write(kBurstablePod + "/cri-containerd-aaaa.scope/memory.swap.max",
              std::to_string(600 * kMiB) + "\n");
  tree_.write(kBurstablePod + "/crio-conmon-bbbb.scope/memory.swap.max", "max\n");
  tree_.write("cgroup/kubepods.slice/memory.swap.current", std::to_string(300 * kMiB) + "\n");
  Sampler limited(layout_, config_, FdBudget(1000));
  limited.sample(seconds(20), SampleDepth::kFull);
  const auto usable = limited.sample(seconds(21), SampleDepth::kNode)
                          .observations.get(Signal::kMemoryAndSwapAvailable);
  ASSERT_TRUE(usable);
  EXPECT_EQ(usable->available, (int64_t{6} << 30) + static_cast<int64_t>(300 * kMiB));
  EXPECT_EQ(usable->capacity, int64_t{18} << 30);
  const auto& node_swap =
      limited.sample(seconds(22), SampleDepth::kNode).observations.get(Signal::kSwapAvailable);
  ASSERT_TRUE(node_swap);
  EXPECT_EQ(node_swap->available, int64_t{1536} << 20) << "swap.available is the node's SwapFree";

  // With a swap threshold, a decision sample reads the limits too (a pod may be younger than the
  // last full sample), and its own observation counts them.
  config_.swap_signals = true;
  Sampler decided(layout_, config_, FdBudget(1000));
  decided.sample(seconds(30), SampleDepth::kNode);  // learns that the node has swap
  const auto fresh = decided.sample(seconds(31), SampleDepth::kDecision)
                         .observations.get(Signal::kMemoryAndSwapAvailable);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->available, (int64_t{6} << 30) + static_cast<int64_t>(300 * kMiB));
}

TEST_F(V2SystemdTest, CpuRateBetweenSamples) {
  Sampler sampler(layout_, config_, FdBudget(1000));
  EXPECT_FALSE(sampler.sample(seconds(10)).pods[0].usage.cpu_cores);
  write_v2_cgroup(tree_, kBurstablePod, 600 * kMiB, 500 * kMiB, 100 * kMiB, 12, 2000000 + 500000);
  const auto& pod = sampler.sample(seconds(11)).pods[0];
  ASSERT_TRUE(pod.usage.cpu_cores);
  EXPECT_DOUBLE_EQ(*pod.usage.cpu_cores, 0.5);
}

TEST_F(V2SystemdTest, NodeCpuAndPressureAreReadWithThePodsAndKeptBetween) {
  Sampler sampler(layout_, config_, FdBudget(1000));
  const NodeSample& first = sampler.sample(seconds(10), SampleDepth::kDecision);
  EXPECT_FALSE(first.cpu_cores) << "a rate needs two readings";
  ASSERT_TRUE(first.cpu_seconds);
  EXPECT_DOUBLE_EQ(*first.cpu_seconds, 200.0 / static_cast<double>(sysconf(_SC_CLK_TCK)));
  EXPECT_EQ(first.cpus, 0) << "the fake /proc/stat has no per-CPU lines";
  ASSERT_TRUE(first.memory_pressure.full);
  EXPECT_DOUBLE_EQ(first.memory_pressure.some->avg10, 2.5);
  EXPECT_EQ(first.memory_pressure.full->total_us, 2000U);
  EXPECT_EQ(first.usage_time, seconds(10));
  // One CPU-second over the two seconds between the readings: half a core.
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  tree_.write("proc/stat", "cpu  " + std::to_string(100 + static_cast<int>(ticks)) +
                               " 0 100 1000 0 0 0 0 0 0\ncpu0 1 0 0 0\ncpu1 1 0 0 0\n");
  sampler.sample(seconds(11), SampleDepth::kNode);  // a node round reads neither
  EXPECT_EQ(sampler.sample(seconds(11), SampleDepth::kNode).usage_time, seconds(10));
  const NodeSample& second = sampler.sample(seconds(12), SampleDepth::kFull);
  ASSERT_TRUE(second.cpu_cores);
  EXPECT_DOUBLE_EQ(*second.cpu_cores, 0.5);
  EXPECT_EQ(second.cpus, 2);
  EXPECT_EQ(second.usage_time, seconds(12));
}

TEST_F(V2SystemdTest, VanishedAndGarbledCgroupsOnlyLoseTheirValues) {
  Sampler sampler(layout_, config_, FdBudget(1000));
  ASSERT_EQ(sampler.sample(seconds(10)).pods.size(), 2U);
  tree_.write(kGuaranteedPod + "/memory.stat", "anon lots\ninactive_file\n");
  tree_.write(kGuaranteedPod + "/memory.current", "garbage\n");
  tree_.remove(kBurstablePod);
  const NodeSample& sample = sampler.sample(seconds(20));
  ASSERT_EQ(sample.pods.size(), 1U);
  EXPECT_EQ(sample.pods[0].uid, "33cc-44dd");
  EXPECT_FALSE(sample.pods[0].usage.memory.usage_bytes);
  EXPECT_FALSE(sample.pods[0].usage.memory.working_set_bytes);
  EXPECT_EQ(sample.pods[0].usage.processes, 3U);
  // A pod that appears is picked up at the next sample.
  write_v2_cgroup(
      tree_, "cgroup/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod55ee.slice",
      10 * kMiB, 10 * kMiB, 0, 1, 1);
  EXPECT_EQ(sampler.sample(seconds(30)).pods.size(), 2U);
}

TEST_F(V2SystemdTest, WorksOverTheDescriptorBudget) {
  Sampler sampler(layout_, config_, FdBudget(0));  // every file opened per read
  const NodeSample& sample = sampler.sample(seconds(10));
  ASSERT_EQ(sample.pods.size(), 2U);
  EXPECT_EQ(sample.pods[0].usage.memory.working_set_bytes, 500 * kMiB);
}

TEST(SamplerV1Cgroupfs, HierarchicalStatsAndUnlimitedKubepods) {
  FakeTree tree;
  write_proc(tree);
  tree.write("memory/memory.usage_in_bytes", std::to_string(9000 * kMiB) + "\n");
  tree.write("memory/memory.stat", "cache 1\nrss 1\ntotal_rss " + std::to_string(4000 * kMiB) +
                                       "\ntotal_inactive_file " + std::to_string(1000 * kMiB) +
                                       "\n");
  tree.write("memory/kubepods/memory.usage_in_bytes", std::to_string(2000 * kMiB) + "\n");
  tree.write("memory/kubepods/memory.stat",
             "total_inactive_file " + std::to_string(500 * kMiB) + "\n");
  tree.write("memory/kubepods/memory.limit_in_bytes", "9223372036854771712\n");
  tree.write("memory/kubepods/besteffort/pod77/c1/memory.usage_in_bytes",
             std::to_string(64 * kMiB) + "\n");
  tree.write("memory/kubepods/besteffort/pod77/c1/memory.stat",
             "rss 100\ntotal_rss " + std::to_string(60 * kMiB) + "\ntotal_inactive_file " +
                 std::to_string(4 * kMiB) + "\n");
  tree.write("memory/kubepods/besteffort/pod77/memory.usage_in_bytes",
             std::to_string(70 * kMiB) + "\n");
  tree.write("memory/kubepods/besteffort/pod77/memory.stat", "total_inactive_file 0\n");
  tree.write("pids/kubepods/besteffort/pod77/pids.current", "4\n");
  tree.write("cpuacct/kubepods/besteffort/pod77/cpuacct.usage", "123456789\n");
  tree.mkdir("memory/kubepods/burstable");
  CgroupLayout layout;
  layout.version = CgroupVersion::kV1;
  layout.memory_root = tree.path("memory");
  layout.pids_root = tree.path("pids");
  layout.cpuacct_root = tree.path("cpuacct");
  SamplerConfig config;
  config.proc_root = tree.path("proc");
  config.nodefs_path = tree.root();
  Sampler sampler(layout, config, FdBudget(100));
  const NodeSample& sample = sampler.sample(seconds(1));
  const auto& memory = sample.observations.get(Signal::kMemoryAvailable);
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->available, static_cast<int64_t>((16384 - 8000) * kMiB));
  EXPECT_FALSE(sample.observations.get(Signal::kAllocatableMemoryAvailable));  // unlimited
  EXPECT_EQ(sample.memory.rss_bytes, 4000 * kMiB);
  ASSERT_EQ(sample.pods.size(), 1U);
  EXPECT_EQ(sample.pods[0].uid, "77");
  EXPECT_EQ(sample.pods[0].tier, QosTier::kBestEffort);
  EXPECT_EQ(sample.pods[0].cgroup, "kubepods/besteffort/pod77");
  EXPECT_EQ(sample.pods[0].usage.processes, 4U);
  EXPECT_EQ(sample.pods[0].usage.cpu_usage_ns, 123456789U);
  ASSERT_EQ(sample.pods[0].containers.size(), 1U);
  EXPECT_EQ(sample.pods[0].containers[0].usage.memory.working_set_bytes, 60 * kMiB);
  EXPECT_EQ(sample.pods[0].containers[0].usage.memory.rss_bytes, 60 * kMiB);
}

TEST(MemcgThreshold, PlacedWhereTheKubeletPlacesIt) {
  // capacity 16Gi, threshold 1Gi, usage 10Gi of which 2Gi inactive file: fires at usage 17Gi.
  EXPECT_EQ(memcg_threshold_bytes(int64_t{16} << 30, int64_t{1} << 30, uint64_t{10} << 30,
                                  uint64_t{8} << 30),
            uint64_t{17} << 30);
  EXPECT_EQ(memcg_threshold_bytes(100, 200, 0, 0), 0U);
}

TEST(ContainerMemoryLimit, ReadsTheContainersCgroupAndIgnoresNoLimit) {
  std::string pattern = "/tmp/evictd-limits-XXXXXX";
  const std::string root = mkdtemp(pattern.data());
  std::filesystem::create_directories(root + "/kubepods/podx/c1");
  std::filesystem::create_directories(root + "/kubepods/podx/c2");
  std::ofstream(root + "/kubepods/podx/c1/memory.limit_in_bytes") << "134217728\n";
  std::ofstream(root + "/kubepods/podx/c2/memory.limit_in_bytes") << "9223372036854771712\n";
  CgroupLayout layout;
  layout.version = CgroupVersion::kV1;
  layout.memory_root = root;
  const auto lookup = [&](const std::string& pod, const std::string& container) {
    return container_memory_limit(layout, CgroupDriver::kCgroupfs, pod, container);
  };
  EXPECT_EQ(lookup("kubepods/podx", "c1"), 134217728);
  EXPECT_EQ(lookup("kubepods/podx", "c2"), std::nullopt);
  EXPECT_EQ(lookup("kubepods/podx", "missing"), std::nullopt);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace evictd::cgroups
