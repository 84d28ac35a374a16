// The Debian package as an operator uses it, in the real-kernel lab with systemd as PID 1 (meson
// test install_v2_systemd): `apt-get install ./evictd_<version>_<arch>.deb` starts nothing; the
// operator writes the configuration and runs `systemctl enable --now evictd`; a member of the
// evictd group runs evictctl, anyone else is refused; a pod leaking memory in a real containerd
// (systemd cgroup driver, kubepods.slice) is evicted and recorded in the test API server as the
// kubelet would; `apt-get purge evictd` leaves nothing of evictd behind.
#include <curl/curl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "apiserver/fake_apiserver_process.h"
#include "e2e/containerd_harness.h"
#include "e2e/daemon_process.h"
#include "read_text.h"

namespace evictd {
namespace {

using testing_util::ContainerdHarness;
using testing_util::env;
using testing_util::eventually;
using testing_util::processes_in;
using testing_util::read_text;
using testing_util::shell;
using testing_util::TestContainer;
using testing_util::TestPod;

constexpr int64_t kMiB = 1024 * 1024;
constexpr const char* kNode = "lab-node";
constexpr const char* kOperator = "lab-operator";  // in the evictd group
constexpr const char* kVisitor = "lab-visitor";    // not

// The command's exit status and output.
struct Outcome {
  int status = -1;
  std::string output;
};
Outcome run(const std::string& command) {
  Outcome result;
  result.output = shell(command + "; echo \"rc=$?\"");
  const size_t at = result.output.rfind("rc=");
  if (at != std::string::npos) {
    result.status = std::atoi(result.output.c_str() + at + 3);
    result.output.erase(at);
  }
  return result;
}

// Marks a step on stderr with the seconds since the test began: the guest is slow, and a CI log
// should say where the time went.
void step(const char* what) {
  static const auto started = std::chrono::steady_clock::now();
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
          .count();
  std::cerr << "[" << seconds << " s] " << what << "\n";
}

std::string unit_state() {
  return shell("systemctl is-enabled evictd 2>&1; systemctl is-active evictd 2>&1");
}

class PackageE2eTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(read_text("/proc/1/comm"), "systemd\n") << "run in tests/vm/run --mode v2-systemd";
    struct statfs fs {};
    ASSERT_EQ(statfs("/sys/fs/cgroup", &fs), 0);
    ASSERT_EQ(fs.f_type, 0x63677270) << "/sys/fs/cgroup is not the unified hierarchy";
    deb_ = env("EVICTD_DEB");
    ASSERT_TRUE(std::filesystem::exists(deb_))
        << "no package at '" << deb_ << "': scripts/package builds it";
    // The service has a private /tmp: containerd's socket and the credentials live under /run.
    setenv("TMPDIR", "/run/evictd-package-e2e", 1);
    std::filesystem::create_directories("/run/evictd-package-e2e");
  }

  // A pod in the runtime and in the API server, as the daemon suite makes them.
  std::string add_pod(TestPod& pod, const std::string& name, const std::string& tier,
                      const std::string& resources, const TestContainer& container) {
    pod.name = name;
    pod.namespace_name = "lab";
    pod.tier = tier;
    pod.uid = testing_util::make_uid();
    const testing_util::ApiPod object{.name = name,
                                      .namespace_name = "lab",
                                      .uid = pod.uid,
                                      .node = kNode,
                                      .qos_class = testing_util::qos_class_of(tier),
                                      .resources = resources};
    if (!testing_util::api_control(*api_, "POST", "/_test/pods",
                                   testing_util::api_pod_json(object)))
      return "cannot add pod " + name + " to the API server";
    return harness_->create_pod(pod, {container});
  }

  std::string kubectl(const std::string& args) const {
    return shell("kubectl --kubeconfig " + api_->kubeconfig() + " " + args);
  }

  // The API server's credentials where the service can read them (its /tmp is private); outside
  // /etc/evictd, which purge must leave empty.
  std::string install_credentials() const {
    const std::string dir = "/run/evictd-package-e2e/kube";
    std::filesystem::create_directories(dir + "/certs");
    const auto overwrite = std::filesystem::copy_options::overwrite_existing;
    std::filesystem::copy_file(api_->kubeconfig(), dir + "/kubeconfig", overwrite);
    std::filesystem::copy_file(api_->dir() + "/token", dir + "/token", overwrite);
    std::filesystem::copy_file(api_->dir() + "/certs/ca.crt", dir + "/certs/ca.crt", overwrite);
    return dir + "/kubeconfig";
  }

  std::string deb_;
  std::unique_ptr<ContainerdHarness> harness_;
  std::unique_ptr<testing_util::FakeApiServer> api_;
};

TEST_F(PackageE2eTest, InstalledConfiguredEnabledEvictsAndPurgesClean) {
  // Installed: nothing runs before the operator has configured and enabled it.
  step("apt-get install");
  // The guest is a throwaway overlay of the host: it does not rebuild the man database on every
  // install and purge (half a minute each under TCG), as container images do not.
  std::filesystem::remove("/var/lib/man-db/auto-update");
  // The lab's root is this machine's, which has Docker's /usr/sbin/policy-rc.d (exit 101): it
  // forbids every start and stop from maintainer scripts. A node has none, and with it "installed,
  // nothing started" and "purged, the service stopped" would hold whatever the package did.
  std::filesystem::remove("/usr/sbin/policy-rc.d");
  Outcome installed =
      run("DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends " + deb_ +
          " 2>&1");
  ASSERT_EQ(installed.status, 0) << installed.output;
  EXPECT_EQ(unit_state(), "disabled\ninactive\n");
  EXPECT_NE(shell("dpkg-query -W -f='${Conffiles}' evictd").find("/etc/evictd/config.yaml"),
            std::string::npos)
      << "the configuration is not a conffile";
  ASSERT_NE(getgrnam("evictd"), nullptr) << "the package made no evictd group";
  const std::string files = shell("dpkg -L evictd");
  EXPECT_NE(files.find("/usr/share/man/man8/evictctl.8.gz"), std::string::npos) << files;

  step("containerd, pods, the API server");
  // The node: containerd with the systemd driver, pods in a 600 MiB kubepods.slice, the API server.
  harness_ = std::make_unique<ContainerdHarness>();
  ASSERT_EQ(harness_->start(), "");
  api_ = std::make_unique<testing_util::FakeApiServer>(env("EVICTD_SOURCE_DIR"));
  ASSERT_TRUE(api_->running());
  testing_util::set_kubepods_memory_limit(600 * kMiB);
  TestPod db, batch;
  ASSERT_EQ(add_pod(db, "db", "burstable", R"({"requests":{"memory":"100Mi"}})",
                    TestContainer{"app", 100}),
            "");
  ASSERT_EQ(add_pod(batch, "batch", "besteffort", "{}", TestContainer{"app", 60}), "");

  step("configure, systemctl enable --now evictd");
  // Configured as the shipped file says: appended to it, which keeps statusSocketGroup.
  const std::string kubeconfig = install_credentials();
  std::ofstream(std::string("/etc/evictd/config.yaml"), std::ios::app)
      << "nodeName: " << kNode << "\n"
      << "kubeconfig: " << kubeconfig << "\n"
      << "cgroupDriver: systemd\nkubepods: kubepods.slice\n"
      << "containerRuntimeEndpoint: " << harness_->endpoint() << "\n"
      << "podSandboxImage: " << ContainerdHarness::kPauseImage << "\n"
      << "nodefsPath: /\n"
      << "eviction:\n  evictionHard: {memory.available: \"200Mi\"}\n";
  Outcome checked = run("evictd check-config /etc/evictd/config.yaml 2>&1");
  ASSERT_EQ(checked.status, 0) << checked.output;
  Outcome enabled = run("systemctl enable --now evictd 2>&1");
  ASSERT_EQ(enabled.status, 0) << enabled.output << shell("journalctl -u evictd --no-pager -n 30");
  EXPECT_EQ(unit_state(), "enabled\nactive\n");

  // The status socket: the evictd group's members may ask, others may not.
  step("evictctl as a member of the evictd group, and as someone else");
  ASSERT_EQ(run(std::string("useradd --no-create-home --groups evictd ") + kOperator).status, 0);
  ASSERT_EQ(run(std::string("useradd --no-create-home ") + kVisitor).status, 0);
  std::string status;
  EXPECT_TRUE(eventually(
      [&] {
        status = shell(std::string("runuser -u ") + kOperator + " -- evictctl status");
        return status.find("Runtime:       ") != std::string::npos &&
               status.find("API server:    ") != std::string::npos &&
               status.find("disconnected") == std::string::npos;
      },
      std::chrono::seconds(20)))
      << status << shell("journalctl -u evictd --no-pager -n 30");
  EXPECT_NE(status.find("Cgroups:       v2, systemd driver, kubepods.slice"), std::string::npos)
      << status;
  Outcome refused = run(std::string("runuser -u ") + kVisitor + " -- evictctl status 2>&1");
  EXPECT_NE(refused.status, 0) << refused.output;

  step("a leaking pod");
  // A pod leaking 100 MiB/s is evicted before the kernel's OOM killer, and recorded.
  const long oom_kills_before = testing_util::oom_kills("kubepods");
  TestPod leaky;
  TestContainer leak{"app", 500};
  leak.rate_mib_s = 100;
  ASSERT_EQ(add_pod(leaky, "leaky", "burstable", R"({"requests":{"memory":"10Mi"}})", leak), "");
  EXPECT_TRUE(eventually([&] { return processes_in(leaky) == 0; }, std::chrono::seconds(30)))
      << shell("journalctl -u evictd --no-pager -n 30");
  EXPECT_GT(processes_in(db), 0);
  EXPECT_GT(processes_in(batch), 0);
  EXPECT_EQ(testing_util::oom_kills("kubepods"), oom_kills_before);
  std::string phase;
  EXPECT_TRUE(eventually(
      [&] {
        phase = kubectl("get pod -n lab leaky -o jsonpath='{.status.phase} {.status.reason}'");
        return phase == "Failed Evicted";
      },
      std::chrono::seconds(10)))
      << phase;
  EXPECT_NE(
      shell(std::string("runuser -u ") + kOperator + " -- evictctl evictions").find("lab/leaky"),
      std::string::npos);

  step("apt-get purge");
  // Purged: nothing of evictd is left — files, state, socket, group, the unit's enablement.
  Outcome purged = run("DEBIAN_FRONTEND=noninteractive apt-get purge -y evictd 2>&1");
  ASSERT_EQ(purged.status, 0) << purged.output;
  std::istringstream listed(files);
  for (std::string path; std::getline(listed, path);) {
    if (path.empty() || path == "/.")
      continue;
    const bool ours =
        path.find("evictd") != std::string::npos || path.find("evictctl") != std::string::npos;
    if (std::filesystem::is_directory(path))
      EXPECT_FALSE(ours) << path << " is left";
    else
      EXPECT_FALSE(std::filesystem::exists(path)) << path << " is left";
  }
  for (const char* path : {"/etc/evictd", "/var/lib/evictd", "/run/evictd",
                           "/etc/systemd/system/multi-user.target.wants/evictd.service"})
    EXPECT_FALSE(std::filesystem::exists(path)) << path << " is left";
  EXPECT_EQ(getgrnam("evictd"), nullptr) << "the evictd group is left";
  EXPECT_EQ(shell("systemctl list-unit-files evictd.service --no-legend | wc -l"), "0\n");
  EXPECT_NE(run("dpkg -s evictd >/dev/null 2>&1").status, 0);
  step("done");
}

}  // namespace
}  // namespace evictd
