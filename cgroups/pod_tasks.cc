#include "cgroups/pod_tasks.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <vector>

namespace evictd::cgroups {
namespace {

bool climbs_out(std::string_view path) {
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    if (path.substr(start, end - start) == "..")
      return true;
    start = end + 1;
  }
  return false;
}

Result<void> write_file(const std::string& file, std::string_view value) {
  // O_NOFOLLOW: the path is a kernel directory; a link in its place is not ours to write through.
  const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return make_error(file + ": " + std::strerror(errno));
  const ssize_t written = ::write(fd, value.data(), value.size());
  const int error = errno;
  ::close(fd);
  if (written != static_cast<ssize_t>(value.size()))
    return make_error(file + ": " + std::strerror(error));
  return {};
}

// The PIDs in a cgroup and every cgroup below it.
void collect_pids(const std::filesystem::path& directory, std::vector<pid_t>& pids) {
  std::ifstream procs(directory / "cgroup.procs");
  for (std::string line; std::getline(procs, line);) {
    if (!line.empty())
      pids.push_back(static_cast<pid_t>(std::strtol(line.c_str(), nullptr, 10)));
  }
  std::error_code error;
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end;
       it.increment(error)) {
    if (it->is_directory(error))
      collect_pids(it->path(), pids);
  }
}

// Whether /proc/PID/cgroup places the process in `relative` or below it, in the hierarchy whose
// line `controller` marks ("freezer" on v1; "" for the unified hierarchy's "0::" line).
bool in_cgroup(pid_t pid, std::string_view controller, const std::string& relative) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/cgroup");
  const std::string pod = "/" + relative;
  for (std::string line; std::getline(file, line);) {
    const size_t first = line.find(':');
    const size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos)
      continue;
    const std::string_view controllers =
        std::string_view(line).substr(first + 1, second - first - 1);
    const bool ours =
        controller.empty()
            ? controllers.empty()
            : (controllers == controller || controllers.find(std::string(controller) + ",") == 0 ||
               controllers.find("," + std::string(controller)) != std::string::npos);
    if (!ours)
      continue;
    const std::string_view path = std::string_view(line).substr(second + 1);
    return path.substr(0, pod.size()) == pod &&
           (path.size() == pod.size() || path[pod.size()] == '/');
  }
  return false;
}

// Bookworm's glibc 2.36 declares pidfd_open and pidfd_send_signal without C linkage (fixed in
// 2.37), so C++ cannot link them; the system calls are made directly.
int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int signal_pidfd(int fd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, fd, signal, nullptr, 0));
}

}  // namespace

std::vector<pid_t> pids_under(const std::string& directory) {
  std::vector<pid_t> pids;
  collect_pids(directory, pids);
  return pids;
}

PodTasks::PodTasks(const CgroupLayout& layout) {
  if (layout.version == CgroupVersion::kV2) {
    root_ = layout.unified_root;
  } else {
    root_ = layout.freezer_root;
    v1_ = true;
  }
}

Result<std::string> PodTasks::directory(const std::string& cgroup) const {
  if (root_.empty())
    return make_error("no freezer: the node has no cgroup freezer hierarchy");
  std::string_view relative = cgroup;
  while (!relative.empty() && relative.front() == '/')
    relative.remove_prefix(1);
  if (relative.empty() || climbs_out(relative))
    return make_error("refusing cgroup \"" + cgroup + "\": not a pod's cgroup path");
  return root_ + "/" + std::string(relative);
}

Result<void> PodTasks::freeze(const std::string& cgroup) const {
  return write_state(cgroup, true);
}

Result<void> PodTasks::thaw(const std::string& cgroup) const {
  return write_state(cgroup, false);
}

Result<void> PodTasks::write_state(const std::string& cgroup, bool frozen) const {
  auto path = directory(cgroup);
  if (!path)
    return path.error();
  return write_file(*path + (v1_ ? "/freezer.state" : "/cgroup.freeze"),
                    v1_ ? (frozen ? "FROZEN" : "THAWED") : (frozen ? "1" : "0"));
}

Result<int> PodTasks::kill(const std::string& cgroup) const {
  auto path = directory(cgroup);
  if (!path)
    return path.error();
  const std::string relative = path->substr(root_.size() + 1);
  if (!v1_ && std::filesystem::exists(*path + "/cgroup.kill")) {
    const std::vector<pid_t> pids = pids_under(*path);
    if (pids.empty())
      return 0;
    if (auto killed = write_file(*path + "/cgroup.kill", "1"); !killed)
      return killed.error();
    return static_cast<int>(pids.size());
  }
  // One task at a time (v1, and v2 before Linux 5.14), frozen first so that none forks meanwhile;
  // thawed after, since on v1 a frozen task dies only once thawed.
  (void)write_state(cgroup, true);
  auto killed = kill_each(*path, relative);
  (void)write_state(cgroup, false);
  return killed;
}

Result<int> PodTasks::kill_each(const std::string& directory, const std::string& relative) const {
  const std::vector<pid_t> pids = pids_under(directory);
  if (pids.empty() && !std::filesystem::exists(directory))
    return make_error(directory + ": " + std::strerror(ENOENT));
  const std::string_view controller = v1_ ? "freezer" : "";
  for (const pid_t pid : pids) {
    // The pidfd pins the process first; its cgroup is then read, and the process is alive after
    // the read — so the cgroup read was its own, and the signal can reach no other process.
    const int fd = open_pidfd(pid);
    if (fd < 0)
      continue;  // gone already
    if (in_cgroup(pid, controller, relative) && signal_pidfd(fd, 0) == 0)
      (void)signal_pidfd(fd, SIGKILL);
    ::close(fd);
  }
  return static_cast<int>(pids.size());
}

}  // namespace evictd::cgroups
