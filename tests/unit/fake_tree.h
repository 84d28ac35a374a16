// A directory tree written by a test (cgroup hierarchies and /proc in the kernel's file formats),
// removed when the test ends.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace evictd::testing_util {

class FakeTree {
 public:
  FakeTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "evictd-tree-XXXXXX").string();
    root_ = mkdtemp(pattern.data());
  }
  ~FakeTree() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  const std::string& root() const { return root_; }
  std::string path(const std::string& relative) const { return root_ + "/" + relative; }

  void write(const std::string& relative, const std::string& content) const {
    const std::filesystem::path file = path(relative);
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << content;
  }
  void mkdir(const std::string& relative) const {
    std::filesystem::create_directories(path(relative));
  }
  void remove(const std::string& relative) const { std::filesystem::remove_all(path(relative)); }

 private:
  std::string root_;
};

}  // namespace evictd::testing_util
