// A private containerd for end-to-end tests: started self-contained under a temp dir (its own root,
// state, socket and runc root), with test images built locally and imported, and pods created the
// way the kubelet creates them (pod cgroups under /kubepods/<tier>/pod<uid>, on v2 with the
// controllers enabled along the path as the kubelet's cgroup manager does, sandboxes with the
// kubelet's labels and cgroup_parent, host network). Everything it starts or makes is stopped and
// removed at the end, also when a test fails: containerd and shims by PID, mounts, cgroups, the
// temp dir.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/cri/cri_client.h"

namespace evictd::testing_util {

// A host path bind-mounted into a container.
struct HostMount {
  std::string host_path;
  std::string container_path;
  bool readonly = false;
};

struct TestContainer {
  std::string name;
  int mib = 16;              // memory the workload allocates
  bool ignore_term = false;  // ignores SIGTERM: only SIGKILL ends it
  int64_t memory_limit = 0;  // bytes; 0 = none
  int rate_mib_s = 0;        // grow at this rate (a leak) instead of allocating at once
  // Arguments for memhog in place of the three above: one of its other workloads
  // (programs/workloads.h), e.g. {"probe", "128", "100", "/out/probe"}.
  std::vector<std::string> args = {};
  std::vector<HostMount> mounts = {};
};

// A container as a DaemonSet's pod template makes it (the agent's own pod): its image and
// arguments, environment, host paths mounted, memory limit and security context.
struct AgentContainer {
  struct Mount {
    std::string host_path;
    std::string container_path;
    bool readonly = false;
  };
  std::string name;
  std::string image;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::vector<Mount> mounts;
  int64_t memory_limit = 0;
  int64_t run_as_user = 0;
  bool readonly_rootfs = false;
  bool no_new_privs = false;  // allowPrivilegeEscalation: false
  std::vector<std::string> add_capabilities;
  std::vector<std::string> drop_capabilities;
};

struct TestPod {
  std::string name;
  std::string namespace_name = "e2e";
  std::string uid;   // made up when empty
  std::string tier;  // "burstable", "besteffort", or "" (guaranteed)
  std::string sandbox_id;
  std::vector<std::string> container_ids;
  std::string cgroup_parent;  // what the CRI gets: /kubepods/... or kubepods-...-pod<uid>.slice
  std::string cgroup_path;    // under a hierarchy's root: /kubepods/... or /kubepods.slice/...
  // A container's cgroup under the hierarchy's root (runc names it after the driver).
  std::string container_cgroup(const std::string& container_id) const;
  // Sandbox annotations (the kubelet passes the pod's, e.g. kubernetes.io/config.source).
  std::map<std::string, std::string> annotations;
  uint32_t attempt = 0;  // the sandbox's: the kubelet counts the sandboxes it made for a pod
};

// The memory controller's cgroup for a path under the root ("/kubepods/..."): under
// /sys/fs/cgroup/memory on cgroup v1 (and hybrid hosts), under /sys/fs/cgroup on the unified
// hierarchy; and its files there.
bool unified_memory();
// The cgroup driver the harness plays the kubelet with, from EVICTD_E2E_CGROUP_DRIVER: cgroupfs
// (the default: the harness makes pod cgroups) or systemd (the unified hierarchy under systemd as
// PID 1: pod slices are transient units, as libcontainer's systemd manager starts them for the
// kubelet, and runc asks systemd for each container's scope).
bool systemd_driver();
// What evictd's configuration says for that driver: "" or "cgroupDriver: systemd\n".
std::string cgroup_driver_config();
// kubepods' cgroup under the hierarchy's root: /kubepods or /kubepods.slice.
std::string kubepods_cgroup();
// kubepods' memory limit as the kubelet sets it: the file, or the slice's MemoryMax.
void set_kubepods_memory_limit(int64_t bytes);
// No limit on kubepods: the node's own memory is what runs out (a node-level OOM race).
void clear_kubepods_memory_limit();
std::string memory_cgroup(const std::string& relative);
std::string memory_limit_file(const std::string& relative);  // memory.limit_in_bytes or memory.max
std::string memory_usage_file(const std::string& relative);  // memory.usage_in_bytes or .current

// Kernel OOM kills whose memory cgroup path contains `fragment` ("/kubepods/", "/pod<uid>/"), from
// the kernel log: v1 counts a kill only in the victim's own memcg, which runc removes with the
// container, and the log is the same on both hierarchies.
long oom_kills(const std::string& fragment);

// Processes left in a pod's memory cgroups (the pod's and every child's), read while they may be
// disappearing: a cgroup removed mid-scan just ends the scan there.
int processes_in(const TestPod& pod);

class ContainerdHarness {
 public:
  // Reads EVICTD_E2E_PAUSE, EVICTD_E2E_MEMHOG and EVICTD_E2E_BUILD_IMAGE from the environment.
  ContainerdHarness();
  ~ContainerdHarness();

  // Builds the images, starts containerd and waits until CRI answers. Empty on success.
  std::string start();
  // SIGTERM to containerd and start it again (the shims and containers keep running).
  std::string restart();
  void stop_containerd();
  // containerd's process: SIGSTOP stalls it as a node out of memory stalls it (-1: not running).
  pid_t containerd_pid() const { return containerd_; }

  std::string endpoint() const { return "unix://" + dir_ + "/containerd.sock"; }
  const std::string& dir() const { return dir_; }
  cri::CriClient& client() { return *client_; }

  // Creates and starts a pod; returns an error message or "".
  std::string create_pod(TestPod& pod, const std::vector<TestContainer>& containers);
  // Creates and starts a pod of one container of its own image, as a DaemonSet's.
  std::string create_agent_pod(TestPod& pod, const AgentContainer& container);
  // Creates and starts one more container in the pod's sandbox (a restart: `attempt` > 0).
  std::string start_container(TestPod& pod, const TestContainer& spec, uint32_t attempt);
  // Removes a stopped pod's cgroups in every hierarchy, as the kubelet does for a terminated pod at
  // its next housekeeping; true when they are gone (retried for up to 2 s while the last tasks
  // exit).
  bool remove_pod_cgroups(const TestPod& pod);
  // Imports an image built from the pause program under another name (with distinct content).
  std::string import_extra_image(const std::string& name);
  // Runs `ctr` against this containerd.
  int ctr(const std::string& args);

  static constexpr const char* kPauseImage = "docker.io/evictd/pause:test";
  static constexpr const char* kMemhogImage = "docker.io/evictd/memhog:test";

 private:
  std::string wait_for_cri();
  std::string make_pod(TestPod& pod, int64_t pod_limit);
  void make_pod_cgroups(const TestPod& pod, int64_t pod_limit);
  runtime::v1::PodSandboxConfig sandbox_config(const TestPod& pod) const;
  runtime::v1::ContainerConfig container_config(const TestPod& pod, const std::string& name,
                                                uint32_t attempt) const;
  std::string run_pod(TestPod& pod, const std::vector<TestContainer>& containers);
  std::string run_sandbox(TestPod& pod);
  std::string create_and_start(TestPod& pod, const runtime::v1::ContainerConfig& config);
  void cleanup();

  std::string dir_;
  pid_t containerd_ = -1;
  std::string pause_;
  std::string memhog_;
  std::string build_image_;
  std::unique_ptr<cri::CriClient> client_;
  std::vector<TestPod> pods_;
  std::vector<std::string> made_cgroups_;  // absolute paths, removed deepest first
  std::vector<std::string> made_slices_;   // transient pod slices (systemd driver)
};

}  // namespace evictd::testing_util
