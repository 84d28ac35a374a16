// The address a listener of evictd's binds (metricsAddress): `:PORT` (every address),
// `IPv4:PORT`, `[IPv6]:PORT` or `localhost:PORT`, the port from 0 to 65535 (0: one the kernel
// picks, which tests use; the configuration asks for a real one). Checked when the configuration
// is read, and read the same way by the server that binds it.
#pragma once

#include <cstdint>
#include <string>

#include "ranking/result.h"

namespace evictd::net {

struct ListenAddress {
  std::string host;  // empty: every address; an IP literal or localhost otherwise
  uint16_t port = 0;
};

// An error says what is wrong with `text` (without naming the field: the caller does).
Result<ListenAddress> parse_listen_address(const std::string& text);

}  // namespace evictd::net
