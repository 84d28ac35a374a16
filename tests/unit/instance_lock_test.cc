// One evictd per node: the state directory's lock, held by the first, refused to the second with
// the holder's PID, free again once the first is gone.
#include "daemon/node/instance_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "read_text.h"
#include "unit/fake_tree.h"

namespace evictd::node {
namespace {

class InstanceLockTest : public testing::Test {
 protected:
  testing_util::FakeTree tree_;
  const std::string& dir_ = tree_.root();
};

TEST_F(InstanceLockTest, TheSecondIsRefusedWithTheFirstsPidUntilTheFirstIsGone) {
  const std::string state = dir_ + "/state";
  {
    auto first = InstanceLock::acquire(state);
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(testing_util::read_text(state + "/evictd.lock"), std::to_string(getpid()) + "\n");
    struct stat status {};
    ASSERT_EQ(stat(state.c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 0777, 0700u) << "the ledger's directory is its owner's alone";

    // flock belongs to the open file: a second open in this process conflicts as another
    // process's would.
    auto second = InstanceLock::acquire(state);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().message, "another evictd (PID " + std::to_string(getpid()) +
                                          ") is running with stateDirectory " + state +
                                          " (it holds " + state +
                                          "/evictd.lock); one evictd per node");
  }
  auto after = InstanceLock::acquire(state);
  EXPECT_TRUE(after.ok()) << "released with the first";
}

TEST_F(InstanceLockTest, AStateDirectoryThatCannotBeMadeIsSaid) {
  std::ofstream(dir_ + "/plain") << "x";
  auto lock = InstanceLock::acquire(dir_ + "/plain/state");
  ASSERT_FALSE(lock.ok());
  EXPECT_NE(lock.error().message.find("stateDirectory: " + dir_ + "/plain/state"),
            std::string::npos)
      << lock.error().message;
}

}  // namespace
}  // namespace evictd::node
