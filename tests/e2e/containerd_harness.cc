#include "e2e/containerd_harness.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "read_text.h"

namespace evictd::testing_util {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// The hierarchies runc puts a container's cgroup in (and so where pod cgroups appear): every v1
// hierarchy, and on hybrid hosts the unified one too.
std::vector<std::string> cgroup_hierarchies() {
  std::vector<std::string> roots;
  std::istringstream mountinfo(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string field; fields >> field;)
      f.push_back(field);
    const auto dash = std::find(f.begin(), f.end(), "-");
    if (dash == f.end() || dash + 1 == f.end() ||
        (*(dash + 1) != "cgroup" && *(dash + 1) != "cgroup2"))
      continue;
    roots.push_back(f[4]);
  }
  return roots;
}

// Removes a cgroup directory and its children (cgroup directories hold only control files, which
// rmdir takes with them); true when it is gone.
bool remove_cgroup_tree(const std::string& path) {
  std::error_code error;
  std::vector<std::string> children;
  for (std::filesystem::directory_iterator it(path, error), end; !error && it != end;
       it.increment(error)) {
    if (it->is_directory(error))
      children.push_back(it->path().string());
  }
  for (const auto& child : children)
    remove_cgroup_tree(child);
  return ::rmdir(path.c_str()) == 0 || errno == ENOENT;
}

// Removes each tree in the order given. A cgroup whose last task is still exiting refuses rmdir
// (EBUSY) for a moment, so the trees left are tried again every 50 ms, `attempts` times in all;
// true when all are gone.
bool remove_cgroup_trees(const std::vector<std::string>& paths, int attempts) {
  for (int attempt = 0; attempt < attempts; ++attempt) {
    bool left = false;
    for (const auto& path : paths)
      left |= !remove_cgroup_tree(path);
    if (!left)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string random_uid() {
  std::random_device device;
  std::mt19937_64 random(device());
  char buffer[40];
  const uint64_t a = random();
  const uint64_t b = random();
  std::snprintf(buffer, sizeof(buffer), "%08x-%04x-4%03x-8%03x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>((a >> 16) & 0xfff), static_cast<unsigned>(b >> 52),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buffer;
}

// On the unified hierarchy a child has a controller's files only when its parent enables it:
// every controller the parent has, as libcontainer's fs2 manager enables them for the kubelet
// (CreateCgroupPath in opencontainers/runc libcontainer/cgroups/fs2/create.go).
void enable_controllers(const std::string& parent) {
  std::istringstream controllers(read_text(parent + "/cgroup.controllers"));
  for (std::string controller; controllers >> controller;)
    std::ofstream(parent + "/cgroup.subtree_control") << "+" << controller;
}

int run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str());
}

// StartTransientUnit for a slice, as libcontainer's systemd manager does for the kubelet's
// kubepods, QoS and pod slices (opencontainers/runc libcontainer/cgroups/systemd/v2.go Apply);
// `memory_max` > 0 sets MemoryMax.
bool start_slice(const std::string& slice, int64_t memory_max) {
  std::string properties = "2 Description s \"" + slice + "\" MemoryAccounting b true";
  if (memory_max > 0)
    properties = "3 Description s \"" + slice + "\" MemoryAccounting b true MemoryMax t " +
                 std::to_string(memory_max);
  return run("busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 "
             "org.freedesktop.systemd1.Manager StartTransientUnit 'ssa(sv)a(sa(sv))' " +
             slice + " replace " + properties + " 0") == 0;
}

// The kubelet's systemd name for a pod's slice: the cgroupfs path's parts joined by '-', dashes in
// the UID made underscores (pkg/kubelet/cm/cgroup_manager_linux.go, ToSystemd).
std::string pod_slice(const std::string& tier, const std::string& uid) {
  std::string escaped = uid;
  std::replace(escaped.begin(), escaped.end(), '-', '_');
  return "kubepods-" + (tier.empty() ? "" : tier + "-") + "pod" + escaped + ".slice";
}

}  // namespace

std::string TestPod::container_cgroup(const std::string& container_id) const {
  return cgroup_path +
         (systemd_driver() ? "/cri-containerd-" + container_id + ".scope" : "/" + container_id);
}

bool systemd_driver() {
  return env("EVICTD_E2E_CGROUP_DRIVER") == "systemd";
}

std::string cgroup_driver_config() {
  return systemd_driver() ? "cgroupDriver: systemd\n" : "";
}

std::string kubepods_cgroup() {
  return systemd_driver() ? "/kubepods.slice" : "/kubepods";
}

void set_kubepods_memory_limit(int64_t bytes) {
  if (!systemd_driver()) {
    // The kubelet makes kubepods at its start, before any pod: on a fresh machine (or guest) it may
    // not be there yet.
    if (unified_memory())
      enable_controllers("/sys/fs/cgroup");
    ::mkdir(memory_cgroup(kubepods_cgroup()).c_str(), 0755);
    std::ofstream(memory_limit_file(kubepods_cgroup())) << bytes;
    return;
  }
  if (run("systemctl set-property --runtime kubepods.slice MemoryMax=" + std::to_string(bytes)) !=
      0)
    start_slice("kubepods.slice", bytes);
}

void clear_kubepods_memory_limit() {
  if (!systemd_driver()) {
    if (unified_memory())
      enable_controllers("/sys/fs/cgroup");
    ::mkdir(memory_cgroup(kubepods_cgroup()).c_str(), 0755);
    std::ofstream(memory_limit_file(kubepods_cgroup())) << (unified_memory() ? "max" : "-1");
    return;
  }
  if (run("systemctl set-property --runtime kubepods.slice MemoryMax=infinity") != 0)
    start_slice("kubepods.slice", 0);
}

bool unified_memory() {
  return ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
}

std::string memory_cgroup(const std::string& relative) {
  return (unified_memory() ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory") + relative;
}

std::string memory_limit_file(const std::string& relative) {
  return memory_cgroup(relative) + (unified_memory() ? "/memory.max" : "/memory.limit_in_bytes");
}

std::string memory_usage_file(const std::string& relative) {
  return memory_cgroup(relative) +
         (unified_memory() ? "/memory.current" : "/memory.usage_in_bytes");
}

long oom_kills(const std::string& fragment) {
  FILE* dmesg = ::popen("dmesg", "r");
  if (dmesg == nullptr)
    return -1;
  std::string log;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), dmesg)) > 0;)
    log.append(buffer, n);
  ::pclose(dmesg);
  std::istringstream lines(log);
  long kills = 0;
  for (std::string line; std::getline(lines, line);)
    kills +=
        line.find("oom-kill:") != std::string::npos && line.find(fragment) != std::string::npos;
  return kills;
}

int processes_in(const TestPod& pod) {
  if (pod.cgroup_path.empty())
    return 0;  // not made yet: not the hierarchy's root
  int count = 0;
  const std::string root = memory_cgroup(pod.cgroup_path);
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(root, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    if (it->path().filename() != "cgroup.procs")
      continue;
    std::istringstream procs(read_text(it->path()));
    for (std::string pid; procs >> pid;)
      ++count;
  }
  return count;
}

ContainerdHarness::ContainerdHarness()
    : pause_(env("EVICTD_E2E_PAUSE")),
      memhog_(env("EVICTD_E2E_MEMHOG")),
      build_image_(env("EVICTD_E2E_BUILD_IMAGE")) {
  // TMPDIR: the real-kernel lab points it at a tmpfs, since containerd's overlay snapshots cannot
  // have the lab's overlay root beneath them.
  const std::string tmp = env("TMPDIR").empty() ? "/tmp" : env("TMPDIR");
  std::string pattern = tmp + "/evictd-e2e-XXXXXX";
  dir_ = mkdtemp(pattern.data());
}

ContainerdHarness::~ContainerdHarness() {
  cleanup();
}

int ContainerdHarness::ctr(const std::string& args) {
  const std::string command =
      "ctr -a " + dir_ + "/containerd.sock -n k8s.io " + args + " >>" + dir_ + "/ctr.log 2>&1";
  return std::system(command.c_str());
}

std::string ContainerdHarness::start() {
  if (pause_.empty() || memhog_.empty() || build_image_.empty()) {
    return "EVICTD_E2E_PAUSE, EVICTD_E2E_MEMHOG and EVICTD_E2E_BUILD_IMAGE must be set (meson test "
           "does)";
  }
  // The images run /pause and /memhog: copy the programs under those names.
  std::error_code error;
  std::filesystem::create_directories(dir_ + "/bin", error);
  for (auto* binary : {&pause_, &memhog_}) {
    const std::string target = dir_ + "/bin/" + (binary == &pause_ ? "pause" : "memhog");
    if (!std::filesystem::copy_file(*binary, target,
                                    std::filesystem::copy_options::overwrite_existing, error)) {
      return "cannot copy " + *binary + ": " + error.message();
    }
    *binary = target;
  }
  std::ofstream(dir_ + "/config.toml")
      << "version = 2\nroot = \"" << dir_ << "/root\"\nstate = \"" << dir_ << "/state\"\n"
      << "[grpc]\n  address = \"" << dir_ << "/containerd.sock\"\n"
      << "[ttrpc]\n  address = \"" << dir_ << "/containerd.sock.ttrpc\"\n"
      << "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
      << "  sandbox_image = \"" << kPauseImage << "\"\n"
      << "  disable_apparmor = true\n  restrict_oom_score_adj = true\n"
      << "  netns_mounts_under_state_dir = true\n"
      << "  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
      << "    bin_dir = \"" << dir_ << "/cni/bin\"\n    conf_dir = \"" << dir_ << "/cni/conf\"\n"
      << "  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
      << "    runtime_type = \"io.containerd.runc.v2\"\n"
      << "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
      << "      SystemdCgroup = " << (systemd_driver() ? "true" : "false") << "\n"
      << "      Root = \"" << dir_ << "/runc\"\n"
      << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << dir_ << "/opt\"\n";
  for (const auto& [name, binary, entry] :
       {std::tuple{std::string(kPauseImage), pause_, std::string("/pause")},
        std::tuple{std::string(kMemhogImage), memhog_, std::string("/memhog")}}) {
    const std::string tar = dir_ + "/" + entry.substr(1) + ".tar";
    const std::string command = build_image_ + " " + tar + " " + name + " " + entry + " " + binary +
                                " >>" + dir_ + "/build.log 2>&1";
    if (std::system(command.c_str()) != 0)
      return "building " + name + " failed (" + dir_ + "/build.log)";
  }
  if (auto error = restart(); !error.empty())
    return error;
  for (const char* tar : {"pause.tar", "memhog.tar"}) {
    if (ctr("images import " + dir_ + "/" + tar) != 0)
      return std::string("ctr images import ") + tar + " failed";
  }
  return "";
}

std::string ContainerdHarness::restart() {
  stop_containerd();
  containerd_ = fork();
  if (containerd_ == 0) {
    setsid();
    const std::string log = dir_ + "/containerd.log";
    freopen(log.c_str(), "a", stdout);
    freopen(log.c_str(), "a", stderr);
    const std::string config = dir_ + "/config.toml";
    execlp("containerd", "containerd", "--config", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  cri::CriConfig config;
  config.endpoint = endpoint();
  config.call_timeout = std::chrono::seconds(5);
  client_ = std::make_unique<cri::CriClient>(config);
  return wait_for_cri();
}

std::string ContainerdHarness::wait_for_cri() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto version = client_->version();
    if (version)
      return "";
    last = version.error().message;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "containerd did not answer CRI Version within 20 s: " + last + " (" + dir_ +
         "/containerd.log)";
}

void ContainerdHarness::stop_containerd() {
  if (containerd_ <= 0)
    return;
  kill(containerd_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(containerd_, nullptr, WNOHANG) == containerd_) {
      containerd_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(containerd_, SIGKILL);
  waitpid(containerd_, nullptr, 0);
  containerd_ = -1;
}

bool ContainerdHarness::remove_pod_cgroups(const TestPod& pod) {
  if (systemd_driver())
    return run("systemctl stop " + pod.cgroup_parent) == 0;
  std::vector<std::string> trees;
  for (const auto& root : cgroup_hierarchies())
    trees.push_back(root + pod.cgroup_path);
  return remove_cgroup_trees(trees, 40);  // 2 s
}

std::string ContainerdHarness::create_pod(TestPod& pod,
                                          const std::vector<TestContainer>& containers) {
  // The kubelet limits a pod's memory to the sum of its containers' limits when every container has
  // one.
  int64_t pod_limit = 0;
  for (const auto& spec : containers) {
    pod_limit = spec.memory_limit > 0 && pod_limit >= 0 ? pod_limit + spec.memory_limit : -1;
  }
  if (auto error = make_pod(pod, pod_limit); !error.empty())
    return error;
  return run_pod(pod, containers);
}

std::string ContainerdHarness::create_agent_pod(TestPod& pod, const AgentContainer& container) {
  if (auto error = make_pod(pod, container.memory_limit); !error.empty())
    return error;
  if (auto error = run_sandbox(pod); !error.empty())
    return error;
  runtime::v1::ContainerConfig config = container_config(pod, container.name, 0);
  config.mutable_image()->set_image(container.image);
  for (const auto& arg : container.args)
    config.add_args(arg);
  for (const auto& [key, value] : container.env) {
    auto* env = config.add_envs();
    env->set_key(key);
    env->set_value(value);
  }
  for (const auto& mount : container.mounts) {
    auto* out = config.add_mounts();
    out->set_host_path(mount.host_path);
    out->set_container_path(mount.container_path);
    out->set_readonly(mount.readonly);
  }
  auto* linux_config = config.mutable_linux();
  if (container.memory_limit > 0)
    linux_config->mutable_resources()->set_memory_limit_in_bytes(container.memory_limit);
  auto* security = linux_config->mutable_security_context();
  security->set_readonly_rootfs(container.readonly_rootfs);
  security->set_no_new_privs(container.no_new_privs);
  security->mutable_run_as_user()->set_value(container.run_as_user);
  for (const auto& capability : container.add_capabilities)
    security->mutable_capabilities()->add_add_capabilities(capability);
  for (const auto& capability : container.drop_capabilities)
    security->mutable_capabilities()->add_drop_capabilities(capability);
  auto error = create_and_start(pod, config);
  pods_.back() = pod;
  return error;
}

// The pod's UID and cgroup, as the kubelet's cgroup manager makes it for the driver in use.
std::string ContainerdHarness::make_pod(TestPod& pod, int64_t pod_limit) {
  if (pod.uid.empty())
    pod.uid = random_uid();
  if (systemd_driver()) {
    pod.cgroup_parent = pod_slice(pod.tier, pod.uid);
    pod.cgroup_path = "/kubepods.slice" +
                      (pod.tier.empty() ? "" : "/kubepods-" + pod.tier + ".slice") + "/" +
                      pod.cgroup_parent;
    if (!start_slice(pod.cgroup_parent, pod_limit))
      return "cannot start the transient unit " + pod.cgroup_parent;
    made_slices_.push_back(pod.cgroup_parent);
  } else {
    pod.cgroup_parent = pod.cgroup_path =
        "/kubepods" + (pod.tier.empty() ? "" : "/" + pod.tier) + "/pod" + pod.uid;
    make_pod_cgroups(pod, pod_limit);
  }
  return "";
}

// Like the kubelet, make the pod cgroup first in every hierarchy (runc makes the containers').
void ContainerdHarness::make_pod_cgroups(const TestPod& pod, int64_t pod_limit) {
  const bool unified = unified_memory();
  for (const auto& root : cgroup_hierarchies()) {
    std::string path = root;
    for (const auto& part : {std::string("kubepods"), pod.tier, "pod" + pod.uid}) {
      if (part.empty())
        continue;
      if (unified)
        enable_controllers(path);
      path += "/" + part;
      if (::mkdir(path.c_str(), 0755) == 0)
        made_cgroups_.push_back(path);
    }
  }
  if (pod_limit > 0)
    std::ofstream(memory_limit_file(pod.cgroup_path)) << pod_limit;
}

runtime::v1::PodSandboxConfig ContainerdHarness::sandbox_config(const TestPod& pod) const {
  runtime::v1::PodSandboxConfig config;
  config.mutable_metadata()->set_name(pod.name);
  config.mutable_metadata()->set_namespace_(pod.namespace_name);
  config.mutable_metadata()->set_uid(pod.uid);
  config.mutable_metadata()->set_attempt(pod.attempt);
  (*config.mutable_labels())["io.kubernetes.pod.name"] = pod.name;
  (*config.mutable_labels())["io.kubernetes.pod.namespace"] = pod.namespace_name;
  (*config.mutable_labels())["io.kubernetes.pod.uid"] = pod.uid;
  for (const auto& [key, value] : pod.annotations)
    (*config.mutable_annotations())[key] = value;
  config.set_log_directory(dir_ + "/logs/" + pod.uid);
  config.mutable_linux()->set_cgroup_parent(pod.cgroup_parent);
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
      runtime::v1::NODE);
  return config;
}

std::string ContainerdHarness::run_pod(TestPod& pod, const std::vector<TestContainer>& containers) {
  if (auto error = run_sandbox(pod); !error.empty())
    return error;
  for (const auto& spec : containers) {
    if (auto error = start_container(pod, spec, 0); !error.empty())
      return error;
  }
  pods_.back() = pod;
  return "";
}

std::string ContainerdHarness::run_sandbox(TestPod& pod) {
  pods_.push_back(pod);
  runtime::v1::RunPodSandboxRequest run;
  *run.mutable_config() = sandbox_config(pod);
  std::filesystem::create_directories(run.config().log_directory());
  runtime::v1::RunPodSandboxResponse ran;
  auto status =
      client_->runtime().RunPodSandbox(client_->context(std::chrono::seconds(30)).get(), run, &ran);
  if (!status.ok())
    return "RunPodSandbox: " + status.error_message();
  pod.sandbox_id = ran.pod_sandbox_id();
  pod.container_ids.clear();
  pods_.back() = pod;
  return "";
}

// What every container of a pod gets from the kubelet: its metadata, the kubelet's labels, a log
// path, and the node's network (the harness has no CNI).
runtime::v1::ContainerConfig ContainerdHarness::container_config(const TestPod& pod,
                                                                 const std::string& name,
                                                                 uint32_t attempt) const {
  runtime::v1::ContainerConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_attempt(attempt);
  (*c.mutable_labels())["io.kubernetes.container.name"] = name;
  (*c.mutable_labels())["io.kubernetes.pod.name"] = pod.name;
  (*c.mutable_labels())["io.kubernetes.pod.namespace"] = pod.namespace_name;
  (*c.mutable_labels())["io.kubernetes.pod.uid"] = pod.uid;
  c.set_log_path(name + "." + std::to_string(attempt) + ".log");
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
      runtime::v1::NODE);
  return c;
}

std::string ContainerdHarness::start_container(TestPod& pod, const TestContainer& spec,
                                               uint32_t attempt) {
  runtime::v1::ContainerConfig c = container_config(pod, spec.name, attempt);
  c.mutable_image()->set_image(kMemhogImage);
  if (spec.args.empty()) {
    c.add_args(std::to_string(spec.mib));
    c.add_args(spec.ignore_term ? "ignore-term" : "term");
    if (spec.rate_mib_s > 0)
      c.add_args(std::to_string(spec.rate_mib_s));
  }
  for (const auto& arg : spec.args)
    c.add_args(arg);
  for (const auto& mount : spec.mounts) {
    auto* out = c.add_mounts();
    out->set_host_path(mount.host_path);
    out->set_container_path(mount.container_path);
    out->set_readonly(mount.readonly);
  }
  if (spec.memory_limit > 0)
    c.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(spec.memory_limit);
  return create_and_start(pod, c);
}

std::string ContainerdHarness::create_and_start(TestPod& pod,
                                                const runtime::v1::ContainerConfig& config) {
  runtime::v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod.sandbox_id);
  *create.mutable_sandbox_config() = sandbox_config(pod);
  *create.mutable_config() = config;
  runtime::v1::CreateContainerResponse created;
  auto status = client_->runtime().CreateContainer(client_->context(std::chrono::seconds(30)).get(),
                                                   create, &created);
  if (!status.ok())
    return "CreateContainer: " + status.error_message();
  runtime::v1::StartContainerRequest start;
  start.set_container_id(created.container_id());
  runtime::v1::StartContainerResponse started;
  status = client_->runtime().StartContainer(client_->context(std::chrono::seconds(30)).get(),
                                             start, &started);
  if (!status.ok())
    return "StartContainer: " + status.error_message();
  pod.container_ids.push_back(created.container_id());
  return "";
}

std::string ContainerdHarness::import_extra_image(const std::string& name) {
  // Distinct content (a marker file), so the image gets its own ID.
  const std::string marker = dir_ + "/marker-" + std::to_string(std::hash<std::string>{}(name));
  std::ofstream(marker) << name;
  const std::string tar = dir_ + "/extra.tar";
  const std::string command = build_image_ + " " + tar + " " + name + " /pause " + pause_ + " " +
                              marker + " >>" + dir_ + "/build.log 2>&1";
  if (std::system(command.c_str()) != 0)
    return "building " + name + " failed";
  if (ctr("images import " + tar) != 0)
    return "importing " + name + " failed";
  return "";
}

void ContainerdHarness::cleanup() {
  if (client_ != nullptr && containerd_ > 0) {
    for (const auto& pod : pods_) {
      if (pod.sandbox_id.empty())
        continue;
      (void)client_->stop_pod_sandbox(pod.sandbox_id, std::chrono::seconds(10));
      (void)client_->remove_pod_sandbox(pod.sandbox_id);
    }
  }
  stop_containerd();
  // Shims outlive containerd: find ours by the socket address on their command line.
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename();
    if (!std::all_of(pid.begin(), pid.end(), ::isdigit))
      continue;
    std::string cmdline = read_text(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find("containerd-shim") != std::string::npos &&
        cmdline.find(dir_) != std::string::npos) {
      kill(std::stoi(pid), SIGKILL);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Mounts under the temp dir (rootfs, shm, netns), deepest first.
  std::vector<std::string> mounts;
  std::istringstream mountinfo(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream fields(line);
    std::string skip;
    std::string point;
    fields >> skip >> skip >> skip >> skip >> point;
    if (point.rfind(dir_, 0) == 0)
      mounts.push_back(point);
  }
  std::sort(mounts.begin(), mounts.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& mount : mounts)
    umount2(mount.c_str(), MNT_DETACH);
  // The cgroups we made and whatever runc left under them, deepest first, for up to 5 s.
  remove_cgroup_trees({made_cgroups_.rbegin(), made_cgroups_.rend()}, 100);
  for (const auto& slice : made_slices_)
    run("systemctl stop " + slice);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace evictd::testing_util
