// The service manager protocol (sd_notify): READY=1 once evictd can protect the node, STATUS= with
// a one-line summary, WATCHDOG=1 from the loop itself (so a stuck loop, not just a dead process, is
// restarted), STOPPING=1 on the way out. Every call is a no-op when not run by systemd.
//
// The protocol is one datagram per message to $NOTIFY_SOCKET; spoken here rather than through
// libsystemd, which would map six more libraries (compression, gcrypt) into a process that
// sends a few short strings.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "systemd/datagram.h"

namespace evictd::systemd {

class Notifier {
 public:
  Notifier();
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  bool enabled() const { return fd_ >= 0; }
  // The interval at which the loop must ping, half of WatchdogSec (nullopt when no watchdog).
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

  void ready(const std::string& status);
  void status(const std::string& status);
  // WATCHDOG=1 at most every quarter of WatchdogSec: the loop calls this on every wake, which near
  // a memory threshold is every few ms, and the loop's waits are bounded by watchdog_interval().
  void watchdog();
  void stopping();
  void reloading(const std::string& status);

 private:
  bool send(const std::string& state);

  int fd_ = -1;
  UnixAddress manager_;
  std::optional<std::chrono::microseconds> watchdog_;
  std::optional<std::chrono::steady_clock::time_point> last_watchdog_;
};

}  // namespace evictd::systemd
