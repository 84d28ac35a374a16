#include "systemd/notify.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>

namespace evictd::systemd {

Notifier::Notifier() {
  enabled_ = std::getenv("NOTIFY_SOCKET") != nullptr;
  uint64_t usec = 0;
  // sd_watchdog_enabled checks WATCHDOG_PID against our PID, so a child never pings for us.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
    watchdog_ = std::chrono::microseconds(usec / 2);
}

void Notifier::ready(const std::string& status) {
  if (enabled_)
    sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void Notifier::status(const std::string& status) {
  if (enabled_)
    sd_notifyf(0, "STATUS=%s", status.c_str());
}

void Notifier::watchdog() {
  if (watchdog_)
    sd_notify(0, "WATCHDOG=1");
}

void Notifier::stopping() {
  if (enabled_)
    sd_notify(0, "STOPPING=1");
}

void Notifier::reloading(const std::string& status) {
  if (enabled_)
    sd_notifyf(0, "RELOADING=1\nSTATUS=%s", status.c_str());
}

}  // namespace evictd::systemd
