#include "cgroups/sampler.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace evictd::cgroups {
namespace {

// cAdvisor treats limits this large as "no limit" (v1 reports PAGE_COUNTER_MAX pages).
constexpr uint64_t kUnlimited = uint64_t{1} << 62;

std::string join(const std::string& root, const std::string& relative, std::string_view file) {
  std::string path = root;
  if (!relative.empty())
    path += "/" + relative;
  if (!file.empty())
    path += "/" + std::string(file);
  return path;
}

bool exists(const std::string& path) {
  return access(path.c_str(), F_OK) == 0;
}

int64_t clamp_to_int64(uint64_t value) {
  return value > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(value);
}

std::optional<uint64_t> working_set(std::optional<uint64_t> usage,
                                    std::optional<uint64_t> inactive) {
  if (!usage)
    return std::nullopt;
  if (!inactive)
    return usage;
  return *usage > *inactive ? *usage - *inactive : 0;
}

}  // namespace

struct Sampler::Tracked {
  SampledFile memory_usage;
  SampledFile memory_stat;
  SampledFile processes;
  SampledFile cpu;
  SampledFile memory_pressure;
  SampledFile memory_swap;      // v2 below the root
  SampledFile memory_swap_max;  // v2 below the root: the swap limit (LimitedSwap sets it)
  bool v2 = false;
  std::optional<uint64_t> last_cpu_ns;
  Nanos last_time{0};
};

struct TrackedContainer {
  std::string dir_name;
  std::string id;
  std::string runtime;
  uint64_t seen = 0;
};

struct Sampler::TrackedPod {
  std::string uid;
  QosTier tier = QosTier::kBestEffort;
  std::string relative;
  std::string path;  // the pod's directory in the memory hierarchy, for listing its containers
  UniqueFd dir;      // held open while the descriptor budget allows
  bool holds_budget = false;
  FdBudget* budget = nullptr;
  ~TrackedPod() {
    if (holds_budget)
      budget->give();
  }
  Tracked cgroup;
  std::vector<TrackedContainer> containers;
  std::vector<std::unique_ptr<Tracked>> container_cgroups;  // parallel to `containers`
  uint64_t seen = 0;
};

// The node-level files, kept open between samples.
struct Sampler::NodeFiles {
  SampledFile meminfo, loadavg, pid_max, threads_max, stat, memory_psi, io_psi, cpu_psi;
  SampledFile unified_root_stat;  // v2: the root cgroup's memory.stat
};

Sampler::Sampler(CgroupLayout layout, SamplerConfig config, FdBudget budget)
    : layout_(std::move(layout)),
      config_(std::move(config)),
      naming_(config_.driver, config_.kubepods),
      budget_(budget),
      node_files_(std::make_unique<NodeFiles>()),
      root_(std::make_unique<Tracked>()),
      kubepods_(std::make_unique<Tracked>()) {
  track_files(*root_, "");
  track_files(*kubepods_, naming_.kubepods_dir());
  const bool v2 = !layout_.memory_v1();
  kubepods_limit_ = SampledFile(join(layout_.memory_hierarchy(), naming_.kubepods_dir(),
                                     v2 ? "memory.max" : "memory.limit_in_bytes"),
                                &budget_);
  const std::string kubepods = naming_.kubepods_dir();
  tier_relative_[static_cast<size_t>(QosTier::kGuaranteed)] = kubepods;
  for (QosTier tier : {QosTier::kBurstable, QosTier::kBestEffort}) {
    tier_relative_[static_cast<size_t>(tier)] = kubepods + "/" + naming_.tier_dir(tier);
  }
  for (size_t i = 0; i < 3; ++i)
    tier_paths_[i] = join(root_memory_dir(), tier_relative_[i], "");
  NodeFiles& files = *node_files_;
  const std::string& proc = config_.proc_root;
  files.meminfo = SampledFile(proc + "/meminfo", &budget_);
  files.loadavg = SampledFile(proc + "/loadavg", &budget_);
  files.pid_max = SampledFile(proc + "/sys/kernel/pid_max", &budget_);
  files.threads_max = SampledFile(proc + "/sys/kernel/threads-max", &budget_);
  files.stat = SampledFile(proc + "/stat", &budget_);
  files.memory_psi = SampledFile(proc + "/pressure/memory", &budget_);
  files.io_psi = SampledFile(proc + "/pressure/io", &budget_);
  files.cpu_psi = SampledFile(proc + "/pressure/cpu", &budget_);
  if (v2)
    files.unified_root_stat = SampledFile(layout_.unified_root + "/memory.stat", &budget_);
  if (config_.memory_pressure_window)
    stall_window_.emplace(*config_.memory_pressure_window);
}

bool Sampler::observes_memory_pressure() const {
  const SampledFile& file = kubepods_->memory_pressure;
  return file.configured() && exists(file.path());
}

void Sampler::restart_pressure_window() {
  if (stall_window_)
    stall_window_->restart();
}

Sampler::~Sampler() = default;

std::string Sampler::root_memory_dir() const {
  return layout_.memory_hierarchy();
}

std::string Sampler::kubepods_memory_dir() const {
  return join(root_memory_dir(), naming_.kubepods_dir(), "");
}

void Sampler::track_files(Tracked& tracked, const std::string& relative) {
  const auto directory = [&](const std::string& root) {
    return std::make_shared<const std::string>(join(root, relative, ""));
  };
  tracked.v2 = layout_.version == CgroupVersion::kV2;
  if (tracked.v2) {
    const auto cgroup = directory(layout_.unified_root);
    if (!relative.empty()) {
      tracked.memory_usage = SampledFile(cgroup, "memory.current", &budget_);
      tracked.memory_swap = SampledFile(cgroup, "memory.swap.current", &budget_);
      tracked.memory_swap_max = SampledFile(cgroup, "memory.swap.max", &budget_);
    }
    tracked.memory_stat = SampledFile(cgroup, "memory.stat", &budget_);
    tracked.processes = SampledFile(cgroup, "pids.current", &budget_);
    tracked.cpu = SampledFile(cgroup, "cpu.stat", &budget_);
    tracked.memory_pressure = SampledFile(cgroup, "memory.pressure", &budget_);
    return;
  }
  const auto memory = directory(layout_.memory_root);
  tracked.memory_usage = SampledFile(memory, "memory.usage_in_bytes", &budget_);
  tracked.memory_stat = SampledFile(memory, "memory.stat", &budget_);
  if (!layout_.pids_root.empty())
    tracked.processes = SampledFile(directory(layout_.pids_root), "pids.current", &budget_);
  if (!layout_.cpuacct_root.empty())
    tracked.cpu = SampledFile(directory(layout_.cpuacct_root), "cpuacct.usage", &budget_);
  // Hybrid hosts have per-cgroup PSI only where the same cgroup exists in the unified tree.
  if (!layout_.unified_root.empty()) {
    auto unified = directory(layout_.unified_root);
    if (exists(*unified + "/memory.pressure"))
      tracked.memory_pressure = SampledFile(std::move(unified), "memory.pressure", &budget_);
  }
}

void Sampler::read_usage(Tracked& tracked, CgroupUsage& out, Nanos now, SampleDepth depth) {
  out.memory = MemoryUsage{};
  out.processes.reset();
  if (auto text = tracked.memory_usage.read(buffer_))
    out.memory.usage_bytes = parse_uint(*text);
  if (auto text = tracked.memory_stat.read(buffer_)) {
    const MemoryStat stat = parse_memory_stat(*text);
    out.memory.inactive_file_bytes =
        stat.total_inactive_file ? stat.total_inactive_file : stat.inactive_file;
    out.memory.rss_bytes = tracked.v2 ? stat.anon : (stat.total_rss ? stat.total_rss : stat.rss);
  }
  out.memory.working_set_bytes =
      working_set(out.memory.usage_bytes, out.memory.inactive_file_bytes);
  if (depth == SampleDepth::kNode)
    return;  // the root's and kubepods' memory is all a node round needs of them
  // Swap is read only while the node has some: on a node without, the file costs a read and says 0.
  if (swap_on_ && tracked.memory_swap.configured()) {
    if (auto text = tracked.memory_swap.read(buffer_))
      out.memory.swap_bytes = parse_uint(*text);
  }
  if (depth == SampleDepth::kDecision && !config_.decision_processes)
    return;
  if (auto text = tracked.processes.read(buffer_))
    out.processes = parse_uint(*text);
  if (depth == SampleDepth::kDecision)
    return;  // CPU and PSI keep the last full sample's values
  out.cpu_usage_ns.reset();
  out.cpu_cores.reset();
  out.memory_pressure.reset();
  if (auto text = tracked.cpu.read(buffer_)) {
    if (tracked.v2) {
      if (auto usec = parse_cpu_stat_usage_us(*text))
        out.cpu_usage_ns = *usec * 1000;
    } else {
      out.cpu_usage_ns = parse_uint(*text);
    }
  }
  if (out.cpu_usage_ns) {
    if (tracked.last_cpu_ns && now > tracked.last_time &&
        *out.cpu_usage_ns >= *tracked.last_cpu_ns) {
      out.cpu_cores = static_cast<double>(*out.cpu_usage_ns - *tracked.last_cpu_ns) /
                      static_cast<double>((now - tracked.last_time).count());
    }
    tracked.last_cpu_ns = out.cpu_usage_ns;
    tracked.last_time = now;
  }
  if (tracked.memory_pressure.configured()) {
    if (auto text = tracked.memory_pressure.read(buffer_))
      out.memory_pressure = parse_psi(*text);
  }
}

const NodeSample& Sampler::sample(Nanos now, SampleDepth depth) {
  const auto started = std::chrono::steady_clock::now();
  sample_.problems.clear();
  sample_.time = now;
  sample_.observations = Observations{};
  sample_node(sample_, now, depth);
  if (depth != SampleDepth::kNode)
    sample_pods(sample_, now, depth);
  observe_swap(sample_, now);  // after the pods: their containers' swap limits bound it
  sample_.duration = std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now() - started);
  return sample_;
}

Observations Sampler::observe_node(Nanos now) {
  node_only_.problems.clear();
  node_only_.time = now;
  node_only_.observations = Observations{};
  node_only_.meminfo.mem_total = sample_.meminfo.mem_total;  // a v1 node round reads no meminfo
  sample_node(node_only_, now, SampleDepth::kNode);
  observe_swap(node_only_, now);
  return node_only_.observations;
}

void Sampler::sample_node(NodeSample& out, Nanos now, SampleDepth depth) {
  // A node round reads the signals only; pid_max and threads-max (sysctls) and the node's PSI and
  // CPU (reports, not decisions) are read with the pods.
  const bool node_round = depth == SampleDepth::kNode;
  NodeFiles& files = *node_files_;
  // A v1 node round needs only MemTotal (the capacity) from meminfo, which the last full round
  // has (the kubelet reads it once, at start); v2 needs MemFree every round.
  if (!node_round || layout_.version == CgroupVersion::kV2 || !out.meminfo.mem_total ||
      config_.swap_signals) {
    out.meminfo = MemInfo{};
    if (auto text = files.meminfo.read(buffer_))
      out.meminfo = parse_meminfo(*text);
    if (!out.meminfo.mem_total)
      out.problems.push_back(config_.proc_root + "/meminfo: no MemTotal");
    swap_on_ = out.meminfo.swap_total.value_or(0) > 0;
  }

  // The node's working set: the root cgroup's usage minus inactive file pages. v2 has no
  // memory.current at the root; its usage is MemTotal − MemFree, as runc and cAdvisor compute it.
  CgroupUsage root;
  if (layout_.version == CgroupVersion::kV2) {
    if (out.meminfo.mem_total && out.meminfo.mem_free &&
        *out.meminfo.mem_total >= *out.meminfo.mem_free) {
      root.memory.usage_bytes = *out.meminfo.mem_total - *out.meminfo.mem_free;
    }
    if (auto text = files.unified_root_stat.read(buffer_)) {
      const MemoryStat stat = parse_memory_stat(*text);
      root.memory.inactive_file_bytes = stat.inactive_file;
      root.memory.rss_bytes = stat.anon;
    }
    if (!root.memory.inactive_file_bytes)
      root.memory.inactive_file_bytes = out.meminfo.inactive_file;
    root.memory.working_set_bytes =
        working_set(root.memory.usage_bytes, root.memory.inactive_file_bytes);
  } else {
    read_usage(*root_, root, now, node_round ? SampleDepth::kNode : SampleDepth::kFull);
  }
  out.memory = root.memory;
  if (out.meminfo.mem_total && out.memory.working_set_bytes) {
    const uint64_t capacity = *out.meminfo.mem_total;
    const uint64_t ws = *out.memory.working_set_bytes;
    out.observations.set(Signal::kMemoryAvailable,
                         SignalObservation{clamp_to_int64(capacity > ws ? capacity - ws : 0),
                                           clamp_to_int64(capacity), now});
  }

  // allocatableMemory.available: the kubepods cgroup's limit minus its working set.
  read_usage(*kubepods_, out.kubepods, now, node_round ? SampleDepth::kNode : SampleDepth::kFull);
  out.kubepods_limit_bytes.reset();
  if (auto text = kubepods_limit_.read(buffer_)) {
    bool unlimited = false;
    const auto limit = parse_uint(*text, &unlimited);
    if (limit && *limit < kUnlimited)
      out.kubepods_limit_bytes = limit;
  }
  if (out.kubepods_limit_bytes && out.kubepods.memory.working_set_bytes) {
    const uint64_t limit = *out.kubepods_limit_bytes;
    const uint64_t ws = *out.kubepods.memory.working_set_bytes;
    const uint64_t available = limit > ws ? limit - ws : 0;
    out.observations.set(
        Signal::kAllocatableMemoryAvailable,
        SignalObservation{clamp_to_int64(available), clamp_to_int64(available + ws), now});
  }

  observe_memory_pressure(out, now);

  // pid.available: min(pid_max, threads-max) − running tasks (the kubelet's pidlimit.Stats).
  if (!node_round || !max_tasks_) {
    max_tasks_.reset();
    for (SampledFile* file : {&files.pid_max, &files.threads_max}) {
      if (auto text = file->read(buffer_)) {
        if (auto value = parse_uint(*text); value && (!max_tasks_ || *value < *max_tasks_))
          max_tasks_ = value;
      }
    }
  }
  const std::optional<uint64_t> max_tasks = max_tasks_;
  std::optional<int64_t> tasks;
  if (auto text = files.loadavg.read(buffer_))
    tasks = parse_loadavg_tasks(*text);
  if (max_tasks && tasks) {
    const int64_t max = clamp_to_int64(*max_tasks);
    out.observations.set(Signal::kPidAvailable, SignalObservation{max - *tasks, max, now});
  }

  if (node_round) {
    observe_filesystem(out, Signal::kNodeFsAvailable, Signal::kNodeFsInodesFree,
                       config_.nodefs_path);
    observe_filesystem(out, Signal::kImageFsAvailable, Signal::kImageFsInodesFree,
                       config_.imagefs_path);
    observe_filesystem(out, Signal::kContainerFsAvailable, Signal::kContainerFsInodesFree,
                       config_.containerfs_path);
    return;
  }
  out.memory_pressure = out.io_pressure = out.cpu_pressure = Psi{};
  if (auto text = files.memory_psi.read(buffer_))
    out.memory_pressure = parse_psi(*text);
  if (auto text = files.io_psi.read(buffer_))
    out.io_pressure = parse_psi(*text);
  if (auto text = files.cpu_psi.read(buffer_))
    out.cpu_pressure = parse_psi(*text);

  out.cpu_cores.reset();
  out.cpu_seconds.reset();
  out.cpus = 0;
  out.usage_time = now;
  if (auto text = files.stat.read(buffer_)) {
    if (auto cpu = parse_proc_stat_cpu(*text)) {
      const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
      out.cpu_seconds = static_cast<double>(cpu->busy) / ticks_per_second;
      out.cpus = cpu->cpus;
      if (last_cpu_ && now > last_cpu_time_ && cpu->busy >= last_cpu_->busy) {
        const double seconds = std::chrono::duration<double>(now - last_cpu_time_).count();
        out.cpu_cores =
            static_cast<double>(cpu->busy - last_cpu_->busy) / ticks_per_second / seconds;
      }
      last_cpu_ = cpu;
      last_cpu_time_ = now;
    }
  }

  observe_filesystem(out, Signal::kNodeFsAvailable, Signal::kNodeFsInodesFree, config_.nodefs_path);
  observe_filesystem(out, Signal::kImageFsAvailable, Signal::kImageFsInodesFree,
                     config_.imagefs_path);
  observe_filesystem(out, Signal::kContainerFsAvailable, Signal::kContainerFsInodesFree,
                     config_.containerfs_path);
}

// evictd's swap signals: the free swap alone, and added to what memory.available and
// allocatableMemory.available observe. Only on a node with swap: without, swap.available would
// always meet its thresholds and the others would repeat their memory-only twins. Memory and swap
// count the swap pods may still use: under LimitedSwap each container may swap up to its
// memory.swap.max, so free swap beyond what the containers' limits leave (the kubepods cgroup's
// memory.swap.current against their sum, as of the last full sample) is no pod's to use.
void Sampler::observe_swap(NodeSample& out, Nanos now) {
  const auto& total = out.meminfo.swap_total;
  const auto& free = out.meminfo.swap_free;
  if (!total || !free)
    return;
  const int64_t swap_total = clamp_to_int64(*total);
  const int64_t swap_free = clamp_to_int64(std::min(*free, *total));
  if (swap_total == 0)
    return;
  out.observations.set(Signal::kSwapAvailable, SignalObservation{swap_free, swap_total, now});
  int64_t usable = swap_free;
  if (swap_limits_.limited_containers > 0 && kubepods_->memory_swap.configured()) {
    if (const auto text = kubepods_->memory_swap.read(buffer_)) {
      const uint64_t used = parse_uint(*text).value_or(0);
      const uint64_t limit = swap_limits_.total_bytes;
      usable = std::min(usable, clamp_to_int64(limit > used ? limit - used : 0));
    }
  }
  const auto with_swap = [&](Signal memory, Signal both) {
    if (const auto& observed = out.observations.get(memory)) {
      out.observations.set(both, SignalObservation{observed->available + usable,
                                                   observed->capacity + swap_total, now});
    }
  };
  with_swap(Signal::kMemoryAvailable, Signal::kMemoryAndSwapAvailable);
  with_swap(Signal::kAllocatableMemoryAvailable, Signal::kAllocatableMemoryAndSwapAvailable);
}

// memory.pressure: the kubepods cgroup's stall total, read every round so that the window's edges
// are where the rounds are.
void Sampler::observe_memory_pressure(NodeSample& out, Nanos now) {
  // Without the file (no PSI on kubepods) the signal is not observed; start-up says so once
  // (observes_memory_pressure), and a round does not allocate to repeat it.
  if (!stall_window_ || !kubepods_->memory_pressure.configured())
    return;
  const auto text = kubepods_->memory_pressure.read(buffer_);
  if (!text)
    return;
  const Psi psi = parse_psi(*text);
  const auto& line = config_.memory_pressure_some ? psi.some : psi.full;
  if (!line)
    return;
  stall_window_->add(now, line->total_us);
  if (const auto observed = stall_window_->observe())
    out.observations.set(Signal::kMemoryPressure, *observed);
}

void Sampler::observe_filesystem(NodeSample& out, Signal bytes, Signal inodes,
                                 const std::string& path) {
  if (path.empty())
    return;
  struct statvfs fs {};
  if (statvfs(path.c_str(), &fs) != 0) {
    out.problems.push_back("statvfs " + path + " failed");
    return;
  }
  const uint64_t unit = fs.f_frsize != 0 ? fs.f_frsize : fs.f_bsize;
  out.observations.set(bytes, SignalObservation{clamp_to_int64(fs.f_bavail * unit),
                                                clamp_to_int64(fs.f_blocks * unit), out.time});
  out.observations.set(
      inodes, SignalObservation{clamp_to_int64(fs.f_ffree), clamp_to_int64(fs.f_files), out.time});
}

void Sampler::discover_tier(QosTier tier, NodeSample& out) {
  const auto index = static_cast<size_t>(tier);
  UniqueFd& dir = tier_dirs_[index];
  if (!dir.valid())
    dir = open_directory(tier_paths_[index]);
  auto visit = [&](std::string_view name) {
    auto found = pods_.find(name);  // known pods first: no string is built for them
    if (found == pods_.end()) {
      const auto uid = naming_.pod_uid(name, tier);
      if (!uid)
        return;
      auto pod = std::make_unique<TrackedPod>();
      pod->uid = *uid;
      pod->tier = tier;
      pod->relative = tier_relative_[index] + "/" + std::string(name);
      pod->path = join(root_memory_dir(), pod->relative, "");
      pod->budget = &budget_;
      track_files(pod->cgroup, pod->relative);
      found = pods_.emplace(std::string(name), std::move(pod)).first;
      membership_changed_ = true;
    }
    found->second->seen = generation_;
  };
  if (!dir.valid() || !list_subdirectories(dir.get(), dir_buffer_, visit)) {
    dir.reset();
    if (tier == QosTier::kGuaranteed)
      out.problems.push_back("cannot list " + tier_paths_[index]);
  }
}

uint64_t Sampler::tier_links() {
  uint64_t links = 0;
  for (size_t index = 0; index < 3; ++index) {
    struct stat st {};
    if (!tier_dirs_[index].valid())
      tier_dirs_[index] = open_directory(tier_paths_[index]);
    if (tier_dirs_[index].valid() && fstat(tier_dirs_[index].get(), &st) == 0)
      links += st.st_nlink;
  }
  return links;
}

std::vector<std::pair<std::string, std::string>> Sampler::tier_directories() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (QosTier tier : {QosTier::kGuaranteed, QosTier::kBurstable, QosTier::kBestEffort})
    out.emplace_back(std::string(qos_tier_name(tier)), tier_paths_[static_cast<size_t>(tier)]);
  return out;
}

bool Sampler::subdirectories_changed() {
  return tier_links() != tier_links_;
}

bool Sampler::pods_changed() {
  size_t listed = 0;
  bool unknown = false;
  for (QosTier tier : {QosTier::kGuaranteed, QosTier::kBurstable, QosTier::kBestEffort}) {
    const auto index = static_cast<size_t>(tier);
    UniqueFd& dir = tier_dirs_[index];
    if (!dir.valid())
      dir = open_directory(tier_paths_[index]);
    auto visit = [&](std::string_view name) {
      if (pods_.contains(name)) {
        ++listed;
      } else if (naming_.pod_uid(name, tier)) {
        unknown = true;
      }
    };
    if (!dir.valid() || !list_subdirectories(dir.get(), dir_buffer_, visit))
      dir.reset();
  }
  return unknown || listed != pods_.size();
}

void Sampler::sample_pods(NodeSample& out, Nanos now, SampleDepth depth) {
  // Before listing: a pod made after this point is seen by the next round's comparison.
  tier_links_ = tier_links();
  ++generation_;
  for (QosTier tier : {QosTier::kGuaranteed, QosTier::kBurstable, QosTier::kBestEffort}) {
    discover_tier(tier, out);
  }
  membership_changed_ |= std::erase_if(pods_, [&](const auto& entry) {
                           return entry.second->seen != generation_;
                         }) > 0;
  if (membership_changed_) {
    order_.clear();
    for (auto& entry : pods_)
      order_.push_back(entry.second.get());
    std::sort(order_.begin(), order_.end(),
              [](const TrackedPod* a, const TrackedPod* b) { return a->relative < b->relative; });
    membership_changed_ = false;
  }

  out.pods.resize(order_.size());
  SwapLimits limits;
  const bool full = depth == SampleDepth::kFull;
  // The containers' swap limits bound memoryAndSwap.available: a decision sample reads them too
  // (a container's, but not its usage) when a swap threshold is configured, so that a pod made
  // since the last full sample counts.
  const bool walk_containers = full || (config_.swap_signals && swap_on_);
  for (size_t index = 0; index < order_.size(); ++index) {
    TrackedPod* pod = order_[index];
    PodSample& sample = out.pods[index];
    sample.uid = pod->uid;
    sample.tier = pod->tier;
    sample.cgroup = pod->relative;
    read_usage(pod->cgroup, sample.usage, now, depth);
    if (!walk_containers)
      continue;
    if (full)
      sample.detail_time = now;
    UniqueFd transient;
    int dir_fd = pod->dir.get();
    if (dir_fd < 0) {
      transient = open_directory(pod->path);
      dir_fd = transient.get();
      if (dir_fd >= 0 && !pod->holds_budget && budget_.take()) {
        pod->holds_budget = true;
        pod->dir = std::move(transient);
      }
    }
    auto visit = [&](std::string_view dir_name) {
      const auto container = parse_container_dir(dir_name, naming_.driver());
      if (!container)
        return;
      auto it = std::find_if(pod->containers.begin(), pod->containers.end(),
                             [&](const TrackedContainer& c) { return c.dir_name == dir_name; });
      if (it == pod->containers.end()) {
        pod->containers.push_back(TrackedContainer{
            std::string(dir_name), std::string(container->id), std::string(container->runtime), 0});
        pod->container_cgroups.push_back(std::make_unique<Tracked>());
        track_files(*pod->container_cgroups.back(), pod->relative + "/" + std::string(dir_name));
        it = pod->containers.end() - 1;
      }
      it->seen = generation_;
    };
    if (dir_fd < 0 || !list_subdirectories(dir_fd, dir_buffer_, visit)) {
      pod->dir.reset();  // vanished mid-sample: its values stay missing; reopened next time
      if (pod->holds_budget) {
        budget_.give();
        pod->holds_budget = false;
      }
    }
    for (size_t i = pod->containers.size(); i-- > 0;) {
      if (pod->containers[i].seen != generation_) {
        pod->containers.erase(pod->containers.begin() + static_cast<ptrdiff_t>(i));
        pod->container_cgroups.erase(pod->container_cgroups.begin() + static_cast<ptrdiff_t>(i));
      }
    }
    if (full) {
      sample.containers.resize(pod->containers.size());
      for (size_t i = 0; i < pod->containers.size(); ++i) {
        sample.containers[i].id = pod->containers[i].id;
        sample.containers[i].runtime = pod->containers[i].runtime;
        read_usage(*pod->container_cgroups[i], sample.containers[i].usage, now, SampleDepth::kFull);
      }
    }
    if (swap_on_) {
      for (auto& container : pod->container_cgroups)
        add_swap_limit(*container, limits);
    }
  }
  if (walk_containers)
    swap_limits_ = limits;
}

// A container's memory.swap.max: LimitedSwap gives each container of the kubelet's a finite one
// (0 for Guaranteed and BestEffort), which bounds the swap its pods may still use.
void Sampler::add_swap_limit(Tracked& tracked, SwapLimits& limits) {
  if (!tracked.memory_swap_max.configured())
    return;
  const auto text = tracked.memory_swap_max.read(buffer_);
  if (!text)
    return;
  bool unlimited = false;
  const auto limit = parse_uint(*text, &unlimited);
  if (limit && *limit < kUnlimited) {
    limits.total_bytes += *limit;
    ++limits.limited_containers;
  }
}

uint64_t memcg_threshold_bytes(int64_t capacity, int64_t threshold_bytes, uint64_t usage,
                               uint64_t working_set) {
  const int64_t inactive = usage > working_set ? static_cast<int64_t>(usage - working_set) : 0;
  const int64_t value = capacity - threshold_bytes + inactive;
  return value > 0 ? static_cast<uint64_t>(value) : 0;
}

}  // namespace evictd::cgroups
