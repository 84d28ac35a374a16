#include "systemd/datagram.h"

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace evictd::systemd {

std::optional<UnixAddress> unix_address(std::string_view name) {
  if (name.empty() || (name[0] != '/' && name[0] != '@'))
    return std::nullopt;
  UnixAddress to;
  to.address.sun_family = AF_UNIX;
  if (name.size() >= sizeof to.address.sun_path)
    return std::nullopt;
  std::memcpy(to.address.sun_path, name.data(), name.size());
  const bool abstract = name[0] == '@';
  if (abstract)
    to.address.sun_path[0] = '\0';  // the name is the bytes after the NUL, unterminated
  to.size =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (abstract ? 0 : 1));
  return to;
}

bool send_datagram(int fd, const UnixAddress& to, std::string_view data) {
  ssize_t sent;
  do {
    sent = sendto(fd, data.data(), data.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&to.address), to.size);
  } while (sent < 0 && errno == EINTR);
  return sent == static_cast<ssize_t>(data.size());
}

}  // namespace evictd::systemd
