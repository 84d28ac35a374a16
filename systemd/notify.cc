#include "systemd/notify.h"

#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

namespace evictd::systemd {
namespace {

std::optional<uint64_t> to_uint(const char* text) {
  if (text == nullptr)
    return std::nullopt;
  uint64_t value = 0;
  const char* end = text + std::strlen(text);
  const auto [rest, error] = std::from_chars(text, end, value);
  if (error != std::errc() || rest != end)
    return std::nullopt;
  return value;
}

}  // namespace

Notifier::Notifier() {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (const auto address = unix_address(socket_name != nullptr ? socket_name : "")) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    manager_ = *address;
  }
  // WATCHDOG_PID names the process meant to ping: a child that inherited the variables never
  // pings for us.
  const auto usec = to_uint(std::getenv("WATCHDOG_USEC"));
  const auto pid = to_uint(std::getenv("WATCHDOG_PID"));
  if (fd_ >= 0 && usec && *usec > 0 && (!pid || *pid == static_cast<uint64_t>(getpid())))
    watchdog_ = std::chrono::microseconds(*usec / 2);
}

Notifier::~Notifier() {
  if (fd_ >= 0)
    close(fd_);
}

bool Notifier::send(const std::string& state) {
  // The manager learns our PID from the socket's credentials (SO_PASSCRED on its side).
  return fd_ >= 0 && send_datagram(fd_, manager_, state);
}

void Notifier::ready(const std::string& status) {
  send("READY=1\nSTATUS=" + status);
}

void Notifier::status(const std::string& status) {
  send("STATUS=" + status);
}

void Notifier::watchdog() {
  if (!watchdog_)
    return;
  const auto now = std::chrono::steady_clock::now();
  if (last_watchdog_ && now - *last_watchdog_ < *watchdog_ / 2)
    return;
  last_watchdog_ = now;
  send("WATCHDOG=1");
}

void Notifier::stopping() {
  send("STOPPING=1");
}

void Notifier::reloading(const std::string& status) {
  send("RELOADING=1\nSTATUS=" + status);
}

}  // namespace evictd::systemd
