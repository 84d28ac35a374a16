// Both systemd protocols evictd speaks (sd_notify, journald's native one) are one datagram per
// message to a unix socket; this is that part.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <optional>
#include <string_view>

namespace evictd::systemd {

struct UnixAddress {
  sockaddr_un address{};
  socklen_t size = 0;
};

// A socket path, or an abstract name when `name` starts with '@' (as NOTIFY_SOCKET may be);
// nullopt for anything else (vsock: and other transports are not for a node agent) or a name too
// long for sockaddr_un.
std::optional<UnixAddress> unix_address(std::string_view name);

// Sends `data` as one datagram (retrying on EINTR); false unless all of it went.
bool send_datagram(int fd, const UnixAddress& to, std::string_view data);

}  // namespace evictd::systemd
