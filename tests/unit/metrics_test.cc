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

  const std::string path = "/tmp/evictd-metrics-" + std::to_string(getpid()) + ".txt";
  std::ofstream(path) << text;
  const int status = std::system(("promtool check metrics < " + path + " >/dev/null 2>&1").c_str());
  std::filesystem::remove(path);
  EXPECT_EQ(status, 0) << "promtool check metrics refused:\n" << text;
}

}  // namespace
}  // namespace evictd::metrics
