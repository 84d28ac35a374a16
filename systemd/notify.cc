#include "systemd/notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace evictd::systemd {
namespace {

// NOTIFY_SOCKET as a socket address: a path, or an abstract name when it starts with '@'.
std::optional<std::pair<sockaddr_un, socklen_t>> notify_address(const char* value) {
  if (value == nullptr || (value[0] != '/' && value[0] != '@'))
    return std::nullopt;  // vsock: and other transports are not for a node agent
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const size_t length = std::strlen(value);
  if (length >= sizeof address.sun_path)
    return std::nullopt;
  std::memcpy(address.sun_path, value, length);
  if (value[0] == '@')
    address.sun_path[0] = '\0';  // abstract: the name is the bytes after the NUL, unterminated
  const auto size =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length + (value[0] == '@' ? 0 : 1));
  return std::make_pair(address, size);
}

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
  if (const auto address = notify_address(std::getenv("NOTIFY_SOCKET"))) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    address_ = address->first;
    address_size_ = address->second;
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
  if (fd_ < 0)
    return false;
  // The manager learns our PID from the socket's credentials (SO_PASSCRED on its side).
  ssize_t sent;
  do {
    sent = sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&address_), address_size_);
  } while (sent < 0 && errno == EINTR);
  return sent == static_cast<ssize_t>(state.size());
}

void Notifier::ready(const std::string& status) {
  send("READY=1\nSTATUS=" + status);
}

void Notifier::status(const std::string& status) {
  send("STATUS=" + status);
}

void Notifier::watchdog() {
  if (watchdog_)
    send("WATCHDOG=1");
}

void Notifier::stopping() {
  send("STOPPING=1");
}

void Notifier::reloading(const std::string& status) {
  send("RELOADING=1\nSTATUS=" + status);
}

}  // namespace evictd::systemd
