// The metrics: kube_pod_status_reason as kube-state-metrics reports an evicted pod, kept for the
// retention; signals, thresholds, conditions and histograms in a scrape that promtool accepts.
#include "daemon/metrics/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace evictd::metrics {
namespace {

TEST(MetricsTest, EvictedPodsAsKubeStateMetricsReportsThemKeptForTheRetention) {
  Metrics metrics("1.2.3");
  const auto t0 = std::chrono::system_clock::now();
  metrics.pod_evicted("shop", "web", "uid-web", true, t0);
  metrics.pod_evicted("shop", "cache", "uid-cache", false, t0);
  std::string text = metrics.render();
  EXPECT_NE(
      text.find(
          R"(kube_pod_status_reason{namespace="shop",pod="web",reason="Evicted",uid="uid-web"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(kube_pod_status_reason{namespace="shop",pod="web",reason="TerminationByKubelet",uid="uid-web"} 1)"),
      std::string::npos);
  EXPECT_EQ(text.find(R"(pod="cache",reason="TerminationByKubelet")"), std::string::npos)
      << "no DisruptionTarget condition, no TerminationByKubelet";
  EXPECT_NE(text.find(R"(evictd_build_info{version="1.2.3"} 1)"), std::string::npos);

  const auto hour = std::chrono::hours(1);
  // web's object still exists: kept however old; cache's is gone: kept for the retention only.
  const auto exists = [](const std::string& uid) { return uid == "uid-web"; };
  metrics.expire(t0 + std::chrono::minutes(30), hour, exists);
  EXPECT_EQ(metrics.evicted_pods(), 2u);
  metrics.expire(t0 + std::chrono::minutes(61), hour, exists);
  EXPECT_EQ(metrics.evicted_pods(), 1u);
  text = metrics.render();
  EXPECT_EQ(text.find("uid-cache"), std::string::npos);
  EXPECT_NE(text.find("uid-web"), std::string::npos);
}

// Counters follow the kernel's totals: by their increase, so that rate() over them is the
// kernel's; a pod gone loses its series, and a total that goes back starts a new series.
TEST(MetricsTest, UsageCountersFollowTheKernelsTotals) {
  Metrics metrics("0.1.0");
  NodeUsageFigures usage;
  usage.cpu_seconds = 100.0;
  usage.cpus = 4;
  usage.pressure[0][0] = cgroups::PsiLine{0.5, 0.25, 0.125, 2'000'000};
  usage.pressure[1][1] = cgroups::PsiLine{40.0, 10.0, 2.0, 5'000'000};
  metrics.usage().node(usage);
  usage.cpu_seconds = 130.25;
  usage.pressure[1][1]->total_us = 6'500'000;
  metrics.usage().node(usage);
  std::string text = metrics.render();
  EXPECT_NE(text.find("evictd_node_cpu_usage_seconds_total 130.25"), std::string::npos) << text;
  EXPECT_NE(text.find("evictd_node_cpus 4"), std::string::npos);
  EXPECT_NE(
      text.find(R"(evictd_node_pressure_stalled_seconds_total{kind="full",resource="memory"} 6.5)"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          R"(evictd_node_pressure_stall_ratio{kind="full",resource="memory",window="10s"} 0.4)"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          R"(evictd_node_pressure_stall_ratio{kind="some",resource="cpu",window="300s"} 0.00125)"),
      std::string::npos);
  EXPECT_EQ(text.find(R"(resource="io")"), std::string::npos) << "not read: no series";

  metrics.usage().pods(
      {{"shop", "web", "uid-web", 10.0, 64 << 20, {}}, {"shop", "db", "uid-db", 1.0, {}, {}}});
  metrics.usage().pods({{"shop", "web", "uid-web", 12.5, 32 << 20, 16 << 20}});
  text = metrics.render();
  EXPECT_NE(
      text.find(
          R"(evictd_pod_cpu_usage_seconds_total{namespace="shop",pod="web",uid="uid-web"} 12.5)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(evictd_pod_memory_working_set_bytes{namespace="shop",pod="web",uid="uid-web"} 33554432)"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          R"(evictd_pod_memory_swap_bytes{namespace="shop",pod="web",uid="uid-web"} 16777216)"),
      std::string::npos);
  EXPECT_EQ(text.find("uid-db"), std::string::npos) << "a pod gone loses its series";
  metrics.usage().pods({{"shop", "web", "uid-web", 3.0, {}, {}}});
  EXPECT_NE(
      metrics.render().find(
          R"(evictd_pod_cpu_usage_seconds_total{namespace="shop",pod="web",uid="uid-web"} 3)"),
      std::string::npos);
}

TEST(MetricsTest, ASignalWithAThresholdCountsEvictionsFromZero) {
  Metrics metrics("0.1.0");
  Observations observations;
  observations.set(Signal::kPidAvailable, SignalObservation{30000, 32768, {}});
  Threshold pids;
  pids.signal = Signal::kPidAvailable;
  pids.value.quantity = Quantity::from_int(1000, QuantityFormat::kDecimalSI);
  metrics.observe_signals(observations, {pids});
  metrics.evictions_pending_writes(2);
  const std::string text = metrics.render();
  EXPECT_NE(text.find(R"(evictd_evictions_total{signal="pid.available"} 0)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("evictd_evictions_pending_writes 2"), std::string::npos);
}

TEST(MetricsTest, MemoryPressureIsARatioNotAnAmount) {
  Metrics metrics("0.1.0");
  Observations observations;
  observations.set(Signal::kMemoryPressure, SignalObservation{2'500'000, 10'000'000, {}});
  observations.set(Signal::kSwapAvailable,
                   SignalObservation{int64_t{1} << 30, int64_t{2} << 30, {}});
  Threshold stall;
  stall.signal = Signal::kMemoryPressure;
  stall.value.percentage = 0.2F;
  stall.grace_period = std::chrono::seconds(5);
  metrics.observe_signals(observations, {stall});
  metrics.dry_run_eviction("memory.pressure");
  const std::string text = metrics.render();
  EXPECT_NE(text.find("evictd_memory_pressure_stall_ratio 0.25"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(evictd_memory_pressure_threshold_ratio{kind="soft"} 0.2)"),
            std::string::npos);
  EXPECT_EQ(text.find(R"(evictd_signal_available{signal="memory.pressure"})"), std::string::npos);
  EXPECT_NE(text.find(R"(evictd_signal_available{signal="swap.available"} 1073741824)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(evictd_evictions_total{signal="memory.pressure"} 0)"), std::string::npos);
  EXPECT_NE(text.find(R"(evictd_dry_run_evictions_total{signal="memory.pressure"} 1)"),
            std::string::npos);
}

TEST(MetricsTest, SignalsThresholdsAndHistogramsInAFormatPromtoolAccepts) {
  Metrics metrics("0.1.0");
  Observations observations;
  observations.set(Signal::kMemoryAvailable, SignalObservation{1 << 30, 8LL << 30, {}});
  Threshold hard;
  hard.signal = Signal::kMemoryAvailable;
  hard.value.quantity = Quantity::from_bytes(100 << 20);
  Threshold soft = hard;
  soft.value.quantity.reset();
  soft.value.percentage = 0.1f;
  soft.grace_period = std::chrono::seconds(30);
  metrics.observe_signals(observations, {hard, soft});
  metrics.node_conditions(true, false, false);
  metrics.eviction_decided("memory.available", 0.2, 0.0007);
  metrics.eviction_finished(0.15);
  metrics.sample_finished(0.004);
  metrics.runtime_error();
  NodeUsageFigures usage;
  usage.cpu_seconds = 100.5;
  usage.cpus = 4;
  usage.pressure[1][0] = cgroups::PsiLine{12.5, 3.0, 1.0, 7'000'000};
  metrics.usage().node(usage);
  metrics.usage().pods({{"shop", "web", "uid-web", 2.5, 64 << 20, {}}});
  const std::string text = metrics.render();
  EXPECT_NE(text.find(R"(evictd_signal_available{signal="memory.available"} 1073741824)"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"(evictd_eviction_threshold{kind="hard",signal="memory.available"} 104857600)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(evictd_eviction_threshold{kind="soft",signal="memory.available"} 858993)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(evictd_node_condition{condition="MemoryPressure"} 1)"), std::string::npos);
  EXPECT_NE(text.find("evictd_detection_latency_seconds_count 1"), std::string::npos);
  EXPECT_NE(text.find("evictd_runtime_errors_total 1"), std::string::npos);
  EXPECT_NE(text.find(R"(evictd_evictions_total{signal="memory.available"} 1)"), std::string::npos);
  EXPECT_NE(text.find(R"(evictd_eviction_corrections_total{what="restarted"} 0)"),
            std::string::npos)
      << "known labels start at 0";
  EXPECT_NE(text.find("evictd_evictions_pending_writes 0"), std::string::npos);

  const std::string path = "/tmp/evictd-metrics-" + std::to_string(getpid()) + ".txt";
  std::ofstream(path) << text;
  const int status = std::system(("promtool check metrics < " + path + " >/dev/null 2>&1").c_str());
  std::filesystem::remove(path);
  EXPECT_EQ(status, 0) << "promtool check metrics refused:\n" << text;
}

}  // namespace
}  // namespace evictd::metrics
