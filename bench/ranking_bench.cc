// Benchmarks of the decision core: ranking N pods for memory and disk pressure, and one evaluation
// step (thresholds, conditions, ranking, message) with N pods. Figures: docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "ranking/evaluator.h"

namespace evictd {
namespace {

struct Node {
  std::vector<Pod> pods;
  std::vector<PodStats> stats;
  std::vector<ActivePod> active;
};

Quantity mebibytes(int64_t mib) {
  return Quantity::from_int(mib << 20, QuantityFormat::kBinarySI);
}

// A node with `count` pods of two containers each, with requests, usage and priorities spread the
// way a busy node's are (fixed seed, so every run ranks the same pods).
Node make_node(size_t count) {
  Node node;
  std::mt19937 random(42);
  std::uniform_int_distribution<int64_t> request_mib(0, 2048);
  std::uniform_int_distribution<int64_t> usage_mib(1, 3000);
  std::uniform_int_distribution<int32_t> priority(-10, 1000);
  node.pods.resize(count);
  node.stats.resize(count);
  for (size_t i = 0; i < count; ++i) {
    Pod& pod = node.pods[i];
    pod.name = "pod-" + std::to_string(i);
    pod.namespace_name = "ns-" + std::to_string(i % 50);
    pod.uid = "uid-" + std::to_string(i);
    pod.priority = priority(random);
    PodStats& stats = node.stats[i];
    uint64_t total = 0;
    for (const char* name : {"app", "sidecar"}) {
      Container container;
      container.name = name;
      container.resources.requests["memory"] = mebibytes(request_mib(random));
      container.resources.requests["ephemeral-storage"] = mebibytes(request_mib(random));
      pod.containers.push_back(container);
      ContainerStats usage;
      usage.name = name;
      usage.memory_working_set_bytes = static_cast<uint64_t>(usage_mib(random)) << 20;
      usage.rootfs_used_bytes = static_cast<uint64_t>(usage_mib(random)) << 20;
      usage.logs_used_bytes = static_cast<uint64_t>(usage_mib(random)) << 10;
      usage.rootfs_inodes_used = 1000;
      usage.logs_inodes_used = 10;
      total += *usage.memory_working_set_bytes;
      stats.containers.push_back(usage);
    }
    stats.memory_working_set_bytes = total;
  }
  for (size_t i = 0; i < count; ++i)
    node.active.push_back(ActivePod{&node.pods[i], &node.stats[i]});
  return node;
}

void BM_RankMemory(benchmark::State& state) {
  const Node node = make_node(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    Ranking ranking = rank_pods(Signal::kMemoryAvailable, FilesystemLayout::kShared, node.active);
    benchmark::DoNotOptimize(ranking.order.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RankMemory)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_RankDisk(benchmark::State& state) {
  const Node node = make_node(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    Ranking ranking = rank_pods(Signal::kNodeFsAvailable, FilesystemLayout::kShared, node.active);
    benchmark::DoNotOptimize(ranking.order.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RankDisk)->Arg(10000)->Unit(benchmark::kMillisecond);

// One synchronize() under a hard memory threshold: every step is a fresh observation, so each one
// crosses, ranks all pods and decides an eviction with its message.
void BM_EvaluateStep(benchmark::State& state) {
  const Node node = make_node(static_cast<size_t>(state.range(0)));
  EvictionSettings settings;
  settings.eviction_hard =
      EvictionSettings::SignalMap{{"memory.available", "1Gi"}, {"nodefs.available", "10%"}};
  settings.eviction_soft = EvictionSettings::SignalMap{{"memory.available", "2Gi"}};
  settings.eviction_soft_grace_period = EvictionSettings::SignalMap{{"memory.available", "1m"}};
  Evaluator evaluator(build_eviction_config(settings).value(), FilesystemLayout::kShared);
  int64_t tick = 0;
  for (auto _ : state) {
    ++tick;
    Observations observations;
    observations.set(Signal::kMemoryAvailable,
                     SignalObservation{int64_t{900} << 20, int64_t{64} << 30, Nanos{tick}});
    observations.set(Signal::kNodeFsAvailable,
                     SignalObservation{int64_t{50} << 30, int64_t{100} << 30, Nanos{tick}});
    Decision decision = evaluator.synchronize(observations, node.active, Nanos{tick}, nullptr);
    if (decision.evictions.size() != 1)
      state.SkipWithError("expected one eviction per step");
    benchmark::DoNotOptimize(decision.evictions.data());
  }
}
BENCHMARK(BM_EvaluateStep)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace evictd

BENCHMARK_MAIN();
