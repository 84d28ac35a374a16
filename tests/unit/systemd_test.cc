// The two systemd protocols evictd speaks itself: sd_notify datagrams and journald's native
// protocol, received here on real unix sockets.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "systemd/journal.h"
#include "systemd/notify.h"

namespace evictd::systemd {
namespace {

// A datagram socket bound at `name` (a path, or an abstract name when it starts with '@').
class Receiver {
 public:
  explicit Receiver(const std::string& name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    socklen_t size = offsetof(sockaddr_un, sun_path) + name.size();
    if (name[0] == '@')
      address.sun_path[0] = '\0';
    else
      size += 1;
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&address), size) == 0;
    timeval timeout{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~Receiver() { close(fd_); }
  bool bound() const { return bound_; }
  std::string receive() {
    std::string buffer(65536, '\0');
    const ssize_t got = recv(fd_, buffer.data(), buffer.size(), 0);
    buffer.resize(got < 0 ? 0 : static_cast<size_t>(got));
    return buffer;
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

std::string temp_socket(const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("evictd-" + name + "-" + std::to_string(getpid()) + ".sock");
  std::filesystem::remove(path);
  return path.string();
}

TEST(JournalTest, EntryIsNameEqualsValueLinesWithFieldNamesUpperCased) {
  EXPECT_EQ(journal_entry(4, "evicting pod", {{"pod", "web-1"}, {"rss_before_kib", "19780"}}),
            "MESSAGE=evicting pod\nPRIORITY=4\nSYSLOG_IDENTIFIER=evictd\nPOD=web-1\n"
            "RSS_BEFORE_KIB=19780\n");
  // A key the journal would refuse (leading underscore: trusted fields; leading digit).
  EXPECT_EQ(journal_entry(6, "m", {{"_pid", "1"}, {"9lives", "x"}}),
            "MESSAGE=m\nPRIORITY=6\nSYSLOG_IDENTIFIER=evictd\nF_PID=1\nF9LIVES=x\n");
}

TEST(JournalTest, ValueWithNewlineIsLengthPrefixed) {
  const std::string entry = journal_entry(3, "two\nlines", {});
  const std::string expected = std::string("MESSAGE\n") + std::string("\x09\0\0\0\0\0\0\0", 8) +
                               "two\nlines\nPRIORITY=3\nSYSLOG_IDENTIFIER=evictd\n";
  EXPECT_EQ(entry, expected);
}

TEST(JournalTest, SendsOneDatagramToTheSocket) {
  const std::string path = temp_socket("journal");
  Receiver journal(path);
  ASSERT_TRUE(journal.bound());
  ASSERT_TRUE(journal_send(6, "hello", {{"namespace", "default"}}, path.c_str()));
  EXPECT_EQ(journal.receive(), journal_entry(6, "hello", {{"namespace", "default"}}));
  std::filesystem::remove(path);
  EXPECT_FALSE(journal_send(6, "nobody listens", {}, path.c_str()));
}

class NotifierTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
  }
};

TEST_F(NotifierTest, SendsStatesToAPathSocket) {
  const std::string path = temp_socket("notify");
  Receiver manager(path);
  ASSERT_TRUE(manager.bound());
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  setenv("WATCHDOG_USEC", "4000000", 1);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  Notifier notifier;
  ASSERT_TRUE(notifier.enabled());
  ASSERT_TRUE(notifier.watchdog_interval().has_value());
  EXPECT_EQ(*notifier.watchdog_interval(), std::chrono::seconds(2));  // half of WatchdogSec
  notifier.ready("watching 3 pods");
  EXPECT_EQ(manager.receive(), "READY=1\nSTATUS=watching 3 pods");
  notifier.watchdog();
  EXPECT_EQ(manager.receive(), "WATCHDOG=1");
  notifier.watchdog();  // a second wake at once: no second ping within a quarter of WatchdogSec
  notifier.reloading("reloading /etc/evictd/config.yaml");
  EXPECT_EQ(manager.receive(), "RELOADING=1\nSTATUS=reloading /etc/evictd/config.yaml");
  notifier.stopping();
  EXPECT_EQ(manager.receive(), "STOPPING=1");
  std::filesystem::remove(path);
}

TEST_F(NotifierTest, SendsToAnAbstractSocket) {
  const std::string name = "@evictd-notify-test-" + std::to_string(getpid());
  Receiver manager(name);
  ASSERT_TRUE(manager.bound());
  setenv("NOTIFY_SOCKET", name.c_str(), 1);
  Notifier notifier;
  notifier.status("3 pods, no pressure");
  EXPECT_EQ(manager.receive(), "STATUS=3 pods, no pressure");
  EXPECT_FALSE(notifier.watchdog_interval().has_value());
}

TEST_F(NotifierTest, WatchdogMeantForAnotherProcessOrNoManagerIsOff) {
  const std::string path = temp_socket("notify-other");
  Receiver manager(path);
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  setenv("WATCHDOG_USEC", "4000000", 1);
  setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
  EXPECT_FALSE(Notifier().watchdog_interval().has_value());
  std::filesystem::remove(path);

  unsetenv("NOTIFY_SOCKET");
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  Notifier alone;
  EXPECT_FALSE(alone.enabled());
  EXPECT_FALSE(alone.watchdog_interval().has_value());
  alone.ready("nobody hears this");  // a no-op, not a crash
}

}  // namespace
}  // namespace evictd::systemd
