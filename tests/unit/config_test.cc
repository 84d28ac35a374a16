#include "daemon/config/config.h"

#include <gtest/gtest.h>

#include "daemon/net/listen_address.h"
#include "unit/fake_tree.h"

namespace evictd::config {
namespace {

using testing_util::FakeTree;

TEST(Config, EmptyFileMeansEveryDefault) {
  auto config = parse_config("", "/etc/evictd/config.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_FALSE(config->node_name.empty());  // the host name
  EXPECT_EQ(config->container_runtime_endpoint, "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(config->monitoring_interval, std::chrono::seconds(1));
  EXPECT_EQ(config->memory_growth_bound, int64_t{2} << 30);
  EXPECT_EQ(config->soft_eviction_mode, SoftEvictionMode::kDirect);
  EXPECT_FALSE(config->dry_run);
  EXPECT_FALSE(config->pod_metrics);
  EXPECT_EQ(config->metrics_address, "127.0.0.1:9851");  // loopback by default
  EXPECT_EQ(config->eviction.thresholds.size(), 6U);  // the kubelet's Linux defaults + allocatable
}

TEST(Config, WithTheSystemdDriverKubepodsMayBeSpelledAsItsSlice) {
  auto systemd = parse_config("cgroupDriver: systemd\nkubepods: kubepods.slice\n", "c.yaml");
  ASSERT_TRUE(systemd.ok()) << systemd.error().message;
  EXPECT_EQ(systemd->kubepods, "kubepods") << "the sampler names it kubepods.slice itself";
  auto cgroupfs = parse_config("kubepods: kubepods.slice\n", "c.yaml");
  ASSERT_TRUE(cgroupfs.ok());
  EXPECT_EQ(cgroupfs->kubepods, "kubepods.slice") << "a directory name with cgroupfs";
}

TEST(Config, EveryFieldIsRead) {
  auto config = parse_config(R"(nodeName: node-7
kubeconfig: kubeconfig.yaml
cgroupDriver: systemd
kubepods: pods
containerRuntimeEndpoint: unix:///run/crio/crio.sock
monitoringInterval: 500ms
memoryGrowthBound: 512Mi
softEvictionMode: api
dryRun: true
nodeConditions: true
podMetrics: true
stateDirectory: /var/lib/evictd-test
metricsAddress: 127.0.0.1:19851
statusSocket: /run/evictd-test.sock
logLevel: debug
eviction:
  evictionHard: {memory.available: 500Mi}
  evictionSoft: {memory.available: 1Gi}
  evictionSoftGracePeriod: {memory.available: 1m}
  evictionMaxPodGracePeriod: 30
)",
                             "/etc/evictd/config.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->node_name, "node-7");
  EXPECT_EQ(config->kubeconfig, "/etc/evictd/kubeconfig.yaml");  // relative to the file
  EXPECT_EQ(config->cgroup_driver, cgroups::CgroupDriver::kSystemd);
  EXPECT_EQ(config->monitoring_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(config->memory_growth_bound, int64_t{512} << 20);
  EXPECT_EQ(config->soft_eviction_mode, SoftEvictionMode::kApi);
  EXPECT_TRUE(config->dry_run);
  EXPECT_TRUE(config->pod_metrics);
  EXPECT_EQ(config->log_level, LogLevel::kDebug);
  EXPECT_EQ(config->eviction.max_pod_grace_period_seconds, 30);
  EXPECT_EQ(config->eviction.thresholds.size(), 3U);
}

struct Bad {
  const char* text;
  const char* expected;  // the whole first line of the error
};

class ConfigRejectTest : public testing::TestWithParam<Bad> {};

TEST_P(ConfigRejectTest, NamesFileLineFieldAndReason) {
  auto config = parse_config(GetParam().text, "/etc/evictd/config.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigRejectTest,
    testing::Values(
        Bad{"nodeName: a\nmonitoringIntervall: 1s\n",
            "/etc/evictd/config.yaml:2: monitoringIntervall: unknown field (did you mean "
            "\"monitoringInterval\"?); the fields are "
            "nodeName, kubeconfig, "
            "eviction, kubeletConfigFile, pressureSignals, cgroupDriver, kubepods, "
            "containerRuntimeEndpoint, "
            "podSandboxImage, "
            "nodefsPath, monitoringInterval, pressureNotifications, memoryGrowthBound, "
            "imageMinimumGCAge, "
            "evictedPodMetricRetention, "
            "softEvictionMode, postEvictionWatch, dryRun, "
            "nodeConditions, podMetrics, "
            "stateDirectory, metricsAddress, statusSocket, statusSocketGroup, statusAddress, "
            "logLevel"},
        Bad{"cgroupDriver: cgroupv2\n",
            "/etc/evictd/config.yaml:1: cgroupDriver: must be cgroupfs or systemd, not cgroupv2"},
        Bad{"monitoringInterval: 0s\n",
            "/etc/evictd/config.yaml:1: monitoringInterval: must be positive, not 0s"},
        Bad{"monitoringInterval: 1\n",
            "/etc/evictd/config.yaml:1: monitoringInterval: missing unit in duration \"1\""},
        Bad{"memoryGrowthBound: -1Gi\n",
            "/etc/evictd/config.yaml:1: memoryGrowthBound: must not be negative, not -1Gi"},
        Bad{"memoryGrowthBound: fast\n",
            "/etc/evictd/config.yaml:1: memoryGrowthBound: quantities must match the regular "
            "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"},
        Bad{"dryRun: maybe\n", "/etc/evictd/config.yaml:1: dryRun: must be true or false"},
        Bad{"containerRuntimeEndpoint: tcp://1.2.3.4:1\n",
            "/etc/evictd/config.yaml:1: containerRuntimeEndpoint: must be a unix:// socket, not "
            "tcp://1.2.3.4:1"},
        Bad{"eviction:\n  evictionHard:\n    memory.available: 0\n",
            "/etc/evictd/config.yaml:3: eviction.evictionHard[memory.available]: eviction "
            "threshold memory.available "
            "must be positive: 0"},
        Bad{"softEvictionMode: pdb\n",
            "/etc/evictd/config.yaml:1: softEvictionMode: must be direct or api, not pdb"},
        Bad{"softEvictionMode: api\n",
            "/etc/evictd/config.yaml:1: softEvictionMode: api needs kubeconfig: the Eviction API "
            "is the API server's"},
        Bad{"pressureSignals:\n  evictionSoft:\n    memory.pressure: 20%\n",
            "/etc/evictd/config.yaml:3: pressureSignals.evictionSoftGracePeriod[memory.pressure]: "
            "grace period must be specified for the soft eviction threshold memory.pressure"},
        Bad{"pressureSignals:\n  evictionHard:\n    memory.available: 1Gi\n",
            "/etc/evictd/config.yaml:3: pressureSignals.evictionHard[memory.available]: "
            "memory.available is the kubelet's signal: set it in the kubelet's eviction fields "
            "(eviction or kubeletConfigFile)"},
        Bad{"eviction:\n  evictionHard:\n    swap.available: 1Gi\n",
            "/etc/evictd/config.yaml:3: eviction.evictionHard[swap.available]: swap.available is "
            "evictd's own signal, unknown to the kubelet: set it under pressureSignals in evictd's "
            "configuration"},
        Bad{"pressureSignals:\n  memoryPressureWindow: 100ms\n",
            "/etc/evictd/config.yaml:2: pressureSignals.memoryPressureWindow: must be between 1s "
            "and 5m, not 100ms"},
        Bad{"pressureSignals:\n  dryRun: [memory.pressure, memory.presure]\n",
            "/etc/evictd/config.yaml:2: pressureSignals.dryRun[1]: unsupported eviction signal "
            "memory.presure (did you mean \"memory.pressure\"?); the signals are "
            "memoryAndSwap.available, allocatableMemoryAndSwap.available, swap.available, "
            "memory.pressure"},
        Bad{"pressureSignals:\n  memoryPressureStall: all\n",
            "/etc/evictd/config.yaml:2: pressureSignals.memoryPressureStall: must be full or some, "
            "not all"},
        Bad{"statusAddress: 0.0.0.0:9852\n",
            "/etc/evictd/config.yaml:1: statusAddress: must be a loopback address (127.0.0.1:PORT, "
            "[::1]:PORT or localhost:PORT), not 0.0.0.0:9852"}));

TEST(Config, EvictdsOwnSignalsJoinTheKubeletsThresholds) {
  auto config = parse_config(R"(eviction:
  evictionHard:
    memory.available: 100Mi
pressureSignals:
  evictionHard:
    memory.pressure: 40%
    memoryAndSwap.available: 200Mi
  evictionSoft:
    swap.available: 10%
  evictionSoftGracePeriod:
    swap.available: 30s
  dryRun: [memory.pressure]
  memoryPressureWindow: 5s
  memoryPressureStall: some
  swapAwareRanking: true
)",
                             "/etc/evictd/config.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  std::vector<std::string> statements;
  for (const auto& threshold : config->eviction.thresholds)
    statements.push_back(threshold.statement() + (threshold.dry_run ? " dry" : ""));
  EXPECT_EQ(statements, (std::vector<std::string>{
                            "memory.available<100Mi", "allocatableMemory.available<100Mi",
                            "memory.pressure>40% dry", "memoryAndSwap.available<200Mi",
                            "swap.available<10%", "allocatableMemoryAndSwap.available<200Mi"}));
  EXPECT_TRUE(config->eviction.swap_aware_ranking);
  EXPECT_EQ(config->memory_pressure_window, std::chrono::seconds(5));
  EXPECT_TRUE(config->memory_pressure_some);
  const std::string summary = describe(*config);
  EXPECT_NE(summary.find("memory.pressure > 40% (hard), tasks stalled on memory (some) in the "
                         "kubepods cgroup over 5s; dry run: decides and explains, never evicts"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("memory rankings count swap (swapAwareRanking)"), std::string::npos);
  // Without the section, nothing changes: the kubelet's thresholds alone, ranked as it ranks.
  auto plain = parse_config("", "/etc/evictd/config.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->eviction.swap_aware_ranking);
  for (const auto& threshold : plain->eviction.thresholds)
    EXPECT_TRUE(is_kubelet_signal(threshold.signal));
}

TEST(Config, ThresholdsFromTheKubeletsOwnConfigFile) {
  FakeTree tree;
  tree.write("kubelet/config.yaml", R"(apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
clusterDNS: [10.96.0.10]
evictionHard:
  memory.available: 200Mi
  nodefs.available: 5%
evictionPressureTransitionPeriod: 30s
)");
  tree.write("evictd/config.yaml", "kubeletConfigFile: ../kubelet/config.yaml\n");
  auto config = load_config(tree.path("evictd/config.yaml"));
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->eviction.thresholds.size(), 3U);  // the two + allocatable
  EXPECT_EQ(config->eviction.pressure_transition_period, std::chrono::seconds(30));
  // The kubelet makes pod cgroups with the systemd driver; evictd is left at cgroupfs.
  const auto& warnings = config->eviction.warnings;
  EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(), [](const std::string& warning) {
    return warning.starts_with("cgroupDriver is cgroupfs here but systemd in the kubelet's ") &&
           warning.ends_with("set cgroupDriver: systemd");
  })) << (warnings.empty() ? "" : warnings.back());
  tree.write("evictd/config.yaml",
             "kubeletConfigFile: ../kubelet/config.yaml\ncgroupDriver: systemd\n");
  auto same = load_config(tree.path("evictd/config.yaml"));
  ASSERT_TRUE(same.ok());
  for (const auto& warning : same->eviction.warnings)
    EXPECT_EQ(warning.find("cgroupDriver"), std::string::npos) << warning;
  tree.write("evictd/config.yaml", "kubeletConfigFile: ../kubelet/config.yaml\n");
  tree.write("kubelet/config.yaml", "evictionHard:\n  memory.available: lots\n");
  auto bad = load_config(tree.path("evictd/config.yaml"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find(tree.path("evictd/../kubelet/config.yaml").substr(0, 0)), 0U);
  EXPECT_NE(bad.error().message.find("kubelet/config.yaml:2: evictionHard[memory.available]"),
            std::string::npos)
      << bad.error().message;
  tree.write("evictd/config.yaml", "kubeletConfigFile: ../kubelet/config.yaml\neviction: {}\n");
  EXPECT_NE(load_config(tree.path("evictd/config.yaml")).error().message.find("not both"),
            std::string::npos);
  EXPECT_NE(load_config(tree.path("missing.yaml")).error().message.find("cannot read"),
            std::string::npos);
}

TEST(Config, TheSummarySaysWhatANegativeGraceAndACappedQuantityMean) {
  auto config = parse_config(
      "nodeName: n1\neviction:\n  evictionHard: {nodefs.available: 9300Pi}\n"
      "  evictionMaxPodGracePeriod: -5\n",
      "/etc/evictd/config.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const std::string summary = describe(*config);
  EXPECT_NE(summary.find("nodefs.available < 9223372036854775807 (capped at 2^63-1, as Kubernetes "
                         "caps binary quantities)"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("max pod grace period the pod's own terminationGracePeriodSeconds (-5)"),
            std::string::npos)
      << summary;
}

TEST(ListenAddress, TheFormsAListenerTakesAndWhyOthersAreNot) {
  const auto parsed = [](const std::string& text) { return net::parse_listen_address(text); };
  EXPECT_EQ(parsed(":9851")->host, "");
  EXPECT_EQ(parsed("127.0.0.1:9851")->port, 9851);
  EXPECT_EQ(parsed("[::1]:9851")->host, "::1");
  EXPECT_EQ(parsed("localhost:9851")->host, "localhost");
  EXPECT_EQ(parsed("127.0.0.1:0")->port, 0) << "the kernel picks: tests use it";
  for (const auto& [text, reason] : std::vector<std::pair<std::string, std::string>>{
           {"9851", "9851: not :PORT, IPv4:PORT, [IPv6]:PORT or localhost:PORT"},
           {"127.0.0.1:70000", "127.0.0.1:70000: the port must be a number up to 65535, not 70000"},
           {"127.0.0.1:http",
            "127.0.0.1:http: the port must be a number up to 65535, not \"http\""},
           {"nohost:9851", "nohost:9851: nohost is not an IPv4 address or localhost"},
           {"[::g]:9851", "[::g]:9851: ::g is not an IPv6 address"},
           {"::1:9851", "::1:9851: not :PORT, IPv4:PORT, [IPv6]:PORT or localhost:PORT"}}) {
    const auto refused = parsed(text);
    ASSERT_FALSE(refused.ok()) << text;
    EXPECT_EQ(refused.error().message, reason);
  }
}

}  // namespace
}  // namespace evictd::config
