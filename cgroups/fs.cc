#include "cgroups/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace evictd::cgroups {
namespace {

constexpr size_t kInitialBuffer = 4096;

// Reads from offset 0 until EOF into `buffer`, growing it when a read fills it.
std::optional<std::string_view> read_all(int fd, std::vector<char>& buffer) {
  if (buffer.size() < kInitialBuffer)
    buffer.resize(kInitialBuffer);
  size_t used = 0;
  for (;;) {
    const ssize_t n =
        pread(fd, buffer.data() + used, buffer.size() - used, static_cast<off_t>(used));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return std::nullopt;
    }
    if (n == 0)
      break;
    const size_t wanted = buffer.size() - used;
    used += static_cast<size_t>(n);
    // A short read is the end: seq files (cgroup, /proc) fill the whole request unless they run
    // out, and regular files do too. This saves the second, empty pread per file.
    if (static_cast<size_t>(n) < wanted)
      break;
    buffer.resize(buffer.size() * 2);
  }
  return std::string_view(buffer.data(), used);
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other)
    reset(other.release());
  return *this;
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = fd;
}

FdBudget FdBudget::from_rlimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return FdBudget(256);
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
      limit = raised;
  }
  // Keep 1024 descriptors (or a quarter of a small limit) for everything else the daemon opens.
  const rlim_t usable = limit.rlim_cur == RLIM_INFINITY ? 1 << 20 : limit.rlim_cur;
  const rlim_t reserve = std::min<rlim_t>(1024, usable / 4);
  return FdBudget(static_cast<size_t>(usable - reserve));
}

std::string SampledFile::path() const {
  if (directory_ == nullptr)
    return "";
  return name_ == nullptr ? *directory_ : *directory_ + "/" + name_;
}

// The path, written into the read buffer before the file's content replaces it: a file that
// cannot be opened is tried again every sample, and that must not allocate.
const char* SampledFile::path_into(std::vector<char>& buffer) const {
  if (name_ == nullptr)
    return directory_->c_str();
  const size_t name_length = std::strlen(name_);
  const size_t length = directory_->size() + 1 + name_length;
  if (buffer.size() < length + 1)
    buffer.resize(std::max(length + 1, kInitialBuffer));
  std::memcpy(buffer.data(), directory_->data(), directory_->size());
  buffer[directory_->size()] = '/';
  std::memcpy(buffer.data() + directory_->size() + 1, name_, name_length + 1);
  return buffer.data();
}

std::optional<std::string_view> SampledFile::read(std::vector<char>& buffer) {
  if (directory_ == nullptr)
    return std::nullopt;
  if (!fd_.valid()) {
    UniqueFd fd(::open(path_into(buffer), O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
      return std::nullopt;
    if (budget_ != nullptr && budget_->take()) {
      holds_budget_ = true;
      fd_ = std::move(fd);
    } else {
      return read_all(fd.get(), buffer);  // over budget: this read only
    }
  }
  auto content = read_all(fd_.get(), buffer);
  if (!content)
    close();  // the cgroup may be gone; reopen next time
  return content;
}

void SampledFile::close() {
  fd_.reset();
  if (holds_budget_ && budget_ != nullptr)
    budget_->give();
  holds_budget_ = false;
}

std::optional<std::string_view> read_path(const std::string& path, std::vector<char>& buffer) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid())
    return std::nullopt;
  return read_all(fd.get(), buffer);
}

bool rewind_directory(int dir_fd) {
  return lseek(dir_fd, 0, SEEK_SET) == 0;
}

long read_directory_batch(int dir_fd, std::vector<char>& buffer) {
  if (buffer.size() < 32768)
    buffer.resize(32768);
  return syscall(SYS_getdents64, dir_fd, buffer.data(), buffer.size());
}

std::string_view directory_record(const std::vector<char>& buffer, long offset,
                                  long* record_length) {
  const auto* entry = reinterpret_cast<const dirent64*>(buffer.data() + offset);
  *record_length = entry->d_reclen;
  const std::string_view name(entry->d_name);
  if (entry->d_type != DT_DIR || name == "." || name == "..")
    return {};
  return name;
}

UniqueFd open_directory(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

}  // namespace evictd::cgroups
