// File access for sampling: descriptors kept open within a budget and re-read with pread into a
// reused buffer, and directory listing with getdents64 on a held descriptor, so that a steady-state
// sample allocates nothing. A file or directory that vanished reads as nullopt, never as an
// exception.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evictd::cgroups {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// How many descriptors sampling may keep open; beyond it files are opened per read.
class FdBudget {
 public:
  explicit FdBudget(size_t limit) : remaining_(limit) {}
  // Raises the soft RLIMIT_NOFILE to the hard limit and keeps a quarter of it free for everything
  // else.
  static FdBudget from_rlimit();
  bool take() {
    if (remaining_ == 0)
      return false;
    --remaining_;
    return true;
  }
  void give() { ++remaining_; }
  size_t remaining() const { return remaining_; }

 private:
  size_t remaining_;
};

// One file sampled again and again (memory.stat, memory.current, ...). Its path is kept as the
// directory it is in, shared with the other files of its cgroup, and its name: a path of its own
// for each of five files in each of thousands of cgroups would be most of the sampler's memory.
class SampledFile {
 public:
  SampledFile() = default;
  // `name` is a string literal (it is not copied).
  SampledFile(std::shared_ptr<const std::string> directory, const char* name, FdBudget* budget)
      : directory_(std::move(directory)), name_(name), budget_(budget) {}
  // A file of its own (/proc/meminfo, ...).
  SampledFile(const std::string& path, FdBudget* budget)
      : directory_(std::make_shared<const std::string>(path)), budget_(budget) {}
  SampledFile(SampledFile&&) noexcept = default;
  SampledFile& operator=(SampledFile&&) noexcept = default;
  ~SampledFile() { close(); }

  std::string path() const;
  bool configured() const { return directory_ != nullptr; }
  // The whole file, read into `buffer` (grown as needed, then reused); nullopt when it cannot be
  // read.
  std::optional<std::string_view> read(std::vector<char>& buffer);
  void close();

 private:
  const char* path_into(std::vector<char>& buffer) const;

  std::shared_ptr<const std::string> directory_;
  const char* name_ = nullptr;  // null: directory_ is the file's whole path
  FdBudget* budget_ = nullptr;
  UniqueFd fd_;
  bool holds_budget_ = false;
};

// Reads a whole file by path (for files read once or rarely).
std::optional<std::string_view> read_path(const std::string& path, std::vector<char>& buffer);

// Rewinds a directory descriptor and reads its entries batch by batch (getdents64).
bool rewind_directory(int dir_fd);
// The next batch of raw linux_dirent64 records in `buffer`: bytes read, 0 at the end, -1 on error.
long read_directory_batch(int dir_fd, std::vector<char>& buffer);
// The subdirectory name of the record at `offset` ("" for files, "." and ".."), and its length.
std::string_view directory_record(const std::vector<char>& buffer, long offset,
                                  long* record_length);

// Calls fn(name) for each subdirectory of the open directory `dir_fd`. Returns false when the
// directory cannot be read (removed, or not a directory).
template <typename Fn>
bool list_subdirectories(int dir_fd, std::vector<char>& buffer, Fn&& fn) {
  if (!rewind_directory(dir_fd))
    return false;
  for (;;) {
    const long n = read_directory_batch(dir_fd, buffer);
    if (n <= 0)
      return n == 0;
    for (long offset = 0; offset < n;) {
      long length = 0;
      const std::string_view name = directory_record(buffer, offset, &length);
      offset += length;
      if (!name.empty())
        fn(name);
    }
  }
}

UniqueFd open_directory(const std::string& path);

}  // namespace evictd::cgroups
