// The one bounded reader of whole files: what a hostile or mistaken path gets instead of a hang,
// an abort or an exhausted heap.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/files/text_file.h"
#include "unit/fake_tree.h"

namespace evictd::files {
namespace {

class TextFileTest : public testing::Test {
 protected:
  testing_util::FakeTree tree_;
  const std::string& dir_ = tree_.root();
};

TEST_F(TextFileTest, ARegularFileIsReadWhole) {
  std::ofstream(dir_ + "/config.yaml") << "nodeName: n1\n";
  auto text = read_text_file(dir_ + "/config.yaml");
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(*text, "nodeName: n1\n");
  std::ofstream(dir_ + "/empty.yaml");
  EXPECT_EQ(read_text_file(dir_ + "/empty.yaml").value(), "");
}

TEST_F(TextFileTest, WhatIsNotARegularFileIsRefusedWithItsKind) {
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {dir_, dir_ + ": is a directory, not a regular file"},
      {fifo, fifo + ": is a FIFO, not a regular file"},  // and no wait for a writer
      {"/dev/zero", "/dev/zero: is a device, not a regular file"},
      {"/dev/urandom", "/dev/urandom: is a device, not a regular file"},
      {dir_ + "/missing", dir_ + "/missing: cannot open: No such file or directory"},
  };
  for (const auto& [path, message] : cases) {
    auto text = read_text_file(path);
    ASSERT_FALSE(text.ok()) << path;
    EXPECT_EQ(text.error().message, message);
  }
}

TEST_F(TextFileTest, AFileAboveTheBoundIsRefusedWithoutReadingIt) {
  std::ofstream(dir_ + "/big") << std::string(101, 'x');
  auto text = read_text_file(dir_ + "/big", 100);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().message, dir_ + "/big: is larger than 100 bytes");
  EXPECT_TRUE(read_text_file(dir_ + "/big", 101).ok()) << "the bound itself is allowed";
}

TEST_F(TextFileTest, AKernelFileWithoutASizeIsReadUpToTheBound) {
  auto mountinfo = read_text_file("/proc/self/mountinfo");
  ASSERT_TRUE(mountinfo.ok()) << mountinfo.error().message;
  EXPECT_NE(mountinfo->find(" / "), std::string::npos);
  auto cut = read_text_file("/proc/self/mountinfo", 10);
  ASSERT_FALSE(cut.ok()) << "a /proc file reports size 0 and must still be bounded";
  EXPECT_EQ(cut.error().message, "/proc/self/mountinfo: is larger than 10 bytes");
}

}  // namespace
}  // namespace evictd::files
