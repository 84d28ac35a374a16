#include "cgroups/freezer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

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

}  // namespace

CgroupFreezer::CgroupFreezer(const CgroupLayout& layout) {
  if (layout.version == CgroupVersion::kV2) {
    root_ = layout.unified_root;
  } else {
    root_ = layout.freezer_root;
    v1_ = true;
  }
}

Result<void> CgroupFreezer::freeze(const std::string& cgroup) const {
  return write_state(cgroup, true);
}

Result<void> CgroupFreezer::thaw(const std::string& cgroup) const {
  return write_state(cgroup, false);
}

Result<void> CgroupFreezer::write_state(const std::string& cgroup, bool frozen) const {
  if (root_.empty())
    return make_error("no freezer: the node has no cgroup freezer hierarchy");
  std::string_view relative = cgroup;
  while (!relative.empty() && relative.front() == '/')
    relative.remove_prefix(1);
  if (relative.empty() || climbs_out(relative))
    return make_error("refusing to freeze cgroup \"" + cgroup + "\": not a pod's cgroup path");
  const std::string file =
      root_ + "/" + std::string(relative) + (v1_ ? "/freezer.state" : "/cgroup.freeze");
  const std::string_view value = v1_ ? (frozen ? "FROZEN" : "THAWED") : (frozen ? "1" : "0");
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

}  // namespace evictd::cgroups
