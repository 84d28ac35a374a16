#include "daemon/net/listen_address.h"

#include <arpa/inet.h>

namespace evictd::net {
namespace {

constexpr const char* kForms = "not :PORT, IPv4:PORT, [IPv6]:PORT or localhost:PORT";

bool is_ip_literal(const std::string& host, int family) {
  unsigned char address[sizeof(in6_addr)];
  return inet_pton(family, host.c_str(), address) == 1;
}

}  // namespace

Result<ListenAddress> parse_listen_address(const std::string& text) {
  std::string host;
  std::string port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string::npos || text.size() < close + 3 || text[close + 1] != ':')
      return make_error(text + ": " + kForms);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!is_ip_literal(host, AF_INET6))
      return make_error(text + ": " + host + " is not an IPv6 address");
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon)
      return make_error(text + ": " + kForms);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    // A name other than localhost would depend on the resolver at start-up.
    if (!host.empty() && host != "localhost" && !is_ip_literal(host, AF_INET))
      return make_error(text + ": " + host + " is not an IPv4 address or localhost");
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return make_error(text + ": the port must be a number up to 65535, not \"" + port + "\"");
  const int number = std::stoi(port);
  if (number > 65535)
    return make_error(text + ": the port must be a number up to 65535, not " + port);
  return ListenAddress{host, static_cast<uint16_t>(number)};
}

}  // namespace evictd::net
