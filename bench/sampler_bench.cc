// One full sample of N pods × 2 containers (cgroup v2, systemd driver) from a tree on tmpfs written
// in the kernel's formats: CPU time per sample and heap allocations per sample in steady state.
// Figures: docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>

#include "cgroups/sampler.h"

namespace {

std::atomic<uint64_t> allocations{0};

}  // namespace

// Counts every heap allocation of the process, to show that a steady-state sample makes none. The
// replacement pair is malloc/free on both sides, which GCC's heuristic cannot see.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size))
    return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}

namespace evictd::cgroups {
namespace {

void write(const std::filesystem::path& file, const std::string& content) {
  std::ofstream(file) << content;
}

void write_cgroup(const std::filesystem::path& dir, uint64_t seed) {
  std::filesystem::create_directories(dir);
  const uint64_t current = (seed % 900 + 100) << 20;
  write(dir / "memory.current", std::to_string(current) + "\n");
  write(
      dir / "memory.stat",
      "anon " + std::to_string(current / 2) + "\nfile " + std::to_string(current / 2) +
          "\nkernel 0\nkernel_stack 16384\npagetables 65536\nsec_pagetables 0\npercpu 0\nsock 0\n"
          "vmalloc 0\nshmem 0\nzswap 0\nzswapped 0\nfile_mapped 0\nfile_dirty 0\nfile_writeback 0\n"
          "swapcached 0\nanon_thp 0\nfile_thp 0\nshmem_thp 0\ninactive_anon 0\nactive_anon " +
          std::to_string(current / 2) + "\ninactive_file " + std::to_string(current / 4) +
          "\nactive_file " + std::to_string(current / 4) +
          "\nunevictable 0\nslab_reclaimable 0\nslab_unreclaimable 0\nslab "
          "0\nworkingset_refault_anon 0\n"
          "workingset_refault_file 0\nworkingset_activate_anon 0\nworkingset_activate_file 0\n"
          "workingset_restore_anon 0\nworkingset_restore_file 0\nworkingset_nodereclaim 0\npgscan "
          "0\n"
          "pgsteal 0\npgfault 100\npgmajfault 0\n");
  write(dir / "pids.current", std::to_string(seed % 50 + 1) + "\n");
  write(dir / "cpu.stat",
        "usage_usec " + std::to_string(seed * 1000) +
            "\nuser_usec 1\nsystem_usec 1\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n");
  write(dir / "memory.pressure",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 "
        "total=0\n");
}

class Tree {
 public:
  explicit Tree(size_t pods) {
    std::string pattern = "/dev/shm/evictd-bench-XXXXXX";
    root_ = mkdtemp(pattern.data());
    const std::filesystem::path cgroup = root_ / "cgroup";
    write(cgroup / "memory.stat", "anon 1\nfile 1\ninactive_file 1\n");
    std::filesystem::create_directories(root_ / "proc/sys/kernel");
    std::filesystem::create_directories(root_ / "proc/pressure");
    write(root_ / "proc/meminfo",
          "MemTotal: 16777216 kB\nMemFree: 4194304 kB\nInactive(file): 100 kB\n");
    write(root_ / "proc/loadavg", "0.5 0.4 0.3 3/812 4242\n");
    write(root_ / "proc/sys/kernel/pid_max", "4194304\n");
    write(root_ / "proc/sys/kernel/threads-max", "192730\n");
    write(root_ / "proc/stat", "cpu  100 0 100 1000 0 0 0 0 0 0\n");
    for (const char* psi : {"memory", "io", "cpu"}) {
      write(root_ / "proc/pressure" / psi, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    }
    const std::filesystem::path kubepods = cgroup / "kubepods.slice";
    write_cgroup(kubepods, 1);
    write(kubepods / "memory.max", "17179869184\n");
    for (size_t i = 0; i < pods; ++i) {
      const bool burstable = i % 2 == 0;
      const std::string uid = "0000" + std::to_string(1000000 + i);
      const std::filesystem::path pod =
          kubepods / (burstable ? "kubepods-burstable.slice" : "kubepods-besteffort.slice") /
          (std::string(burstable ? "kubepods-burstable-pod" : "kubepods-besteffort-pod") + uid +
           ".slice");
      write_cgroup(pod, i);
      write_cgroup(pod / ("cri-containerd-" + uid + "a.scope"), i + 1);
      write_cgroup(pod / ("cri-containerd-" + uid + "b.scope"), i + 2);
    }
  }
  ~Tree() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  std::string path(const std::string& relative) const { return (root_ / relative).string(); }

 private:
  std::filesystem::path root_;
};

void BM_Sample(benchmark::State& state) {
  const auto pods = static_cast<size_t>(state.range(0));
  const auto kind = state.range(1);
  const auto depth = kind == 0   ? SampleDepth::kNode
                     : kind == 3 ? SampleDepth::kFull
                                 : SampleDepth::kDecision;
  Tree tree(pods);
  CgroupLayout layout;
  layout.version = CgroupVersion::kV2;
  layout.unified_root = tree.path("cgroup");
  SamplerConfig config;
  config.driver = CgroupDriver::kSystemd;
  config.proc_root = tree.path("proc");
  config.nodefs_path = tree.path("");
  config.decision_processes = kind == 2;
  Sampler sampler(layout, config);
  int64_t tick = 0;
  if (sampler.sample(Nanos{++tick}).pods.size() != pods)
    state.SkipWithError("pods not found");
  sampler.sample(Nanos{++tick});  // warm: buffers sized, descriptors open
  const uint64_t before = allocations.load();
  for (auto _ : state) {
    const NodeSample& sample = sampler.sample(Nanos{++tick}, depth);
    benchmark::DoNotOptimize(sample.pods.data());
  }
  state.counters["allocs_per_sample"] = benchmark::Counter(
      static_cast<double>(allocations.load() - before) / static_cast<double>(state.iterations()));
  state.counters["cgroups"] = static_cast<double>(1 + pods * 3);
}
// Second argument: 0 = node round (node signals only), 1 = decision sample (pods' memory: the
// daemon's without pid.available thresholds), 2 = decision sample with process counts, 3 = full
// sample (and containers, CPU, PSI).
BENCHMARK(BM_Sample)
    ->ArgsProduct({{10, 100, 1000, 5000}, {0, 1, 2, 3}})
    ->ArgNames({"pods", "depth"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace evictd::cgroups

BENCHMARK_MAIN();
