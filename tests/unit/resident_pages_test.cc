// release_startup_pages() drops mappings, never contents: after it, code, constants, vtables,
// exception tables and static data must all still be there, and the resident set must shrink.
#include "daemon/agent/resident_pages.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>

namespace evictd::agent {
namespace {

long file_backed_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("RssFile:"))
      return std::stol(line.substr(8));
  }
  return -1;
}

struct Shape {
  virtual ~Shape() = default;
  virtual int sides() const = 0;
};
struct Square : Shape {
  int sides() const override { return 4; }
};

int g_written = 0;  // .bss, written before and read after

TEST(ResidentPagesTest, ReleasesFileBackedPagesAndKeepsEverythingWorking) {
  g_written = 41;
  static const char kConstant[] = "a string in .rodata";
  const long before_kib = file_backed_kib();
  ASSERT_GT(before_kib, 0);

  const auto released = release_startup_pages();
  const long after_kib = file_backed_kib();

  EXPECT_GT(released.ranges, 0);
  EXPECT_GT(released.bytes, 0u);
  // The test binary, libstdc++ and libc were mapped in as gtest started; far fewer pages than
  // that are needed to get here.
  EXPECT_LT(after_kib, before_kib) << "released " << released.bytes << " bytes";

  // Relocated data (vtables through RELRO, the GOT), exception tables, static data, the heap.
  std::unique_ptr<Shape> shape = std::make_unique<Square>();
  EXPECT_EQ(shape->sides(), 4);
  EXPECT_NE(dynamic_cast<Square*>(shape.get()), nullptr);
  EXPECT_THROW(throw std::runtime_error("still unwinds"), std::runtime_error);
  EXPECT_EQ(++g_written, 42);
  EXPECT_STREQ(kConstant, "a string in .rodata");
  std::ostringstream text;
  text << 3.25 << " " << std::hex << 255;
  EXPECT_EQ(text.str(), "3.25 ff");
  EXPECT_TRUE(std::regex_match("pod-42", std::regex("pod-[0-9]+")));
  EXPECT_GT(resident_kib(), 0);
}

TEST(ResidentPagesTest, CanRunAgain) {
  // The daemon runs it once, but nothing in it assumes so.
  const auto first = release_startup_pages();
  const auto second = release_startup_pages();
  EXPECT_EQ(first.ranges, second.ranges);
  EXPECT_EQ(first.bytes, second.bytes);
}

}  // namespace
}  // namespace evictd::agent
