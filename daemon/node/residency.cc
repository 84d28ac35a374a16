#include "daemon/node/residency.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "daemon/files/text_file.h"

namespace evictd::node {
namespace {

constexpr int kCapIpcLock = 14;  // linux/capability.h

// A field of /proc/self/status ("VmLck:\t  1234 kB"), the text after the colon, trimmed.
std::string status_field(std::string_view status, std::string_view name) {
  size_t at = 0;
  while (at < status.size()) {
    const size_t end = std::min(status.find('\n', at), status.size());
    const std::string_view line = status.substr(at, end - at);
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ':') {
      std::string_view value = line.substr(name.size() + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      return std::string(value);
    }
    at = end + 1;
  }
  return "";
}

std::string own_status() {
  auto text = files::read_text_file("/proc/self/status");
  return text ? *text : "";
}

bool has_ipc_lock(std::string_view status) {
  const std::string effective = status_field(status, "CapEff");
  if (effective.empty())
    return false;
  errno = 0;
  char* end = nullptr;
  const unsigned long long mask = std::strtoull(effective.c_str(), &end, 16);
  return errno == 0 && end != effective.c_str() && ((mask >> kCapIpcLock) & 1) != 0;
}

int64_t locked_bytes(std::string_view status) {
  const std::string value = status_field(status, "VmLck");  // "1234 kB"
  return value.empty() ? 0 : std::strtoll(value.c_str(), nullptr, 10) * 1024;
}

std::string mib(int64_t bytes) {
  return std::to_string((bytes + (1 << 19)) >> 20) + " MiB";
}

}  // namespace

Residency keep_resident() {
  Residency residency;
  rlimit limit{};
  const bool unlimited =
      ::getrlimit(RLIMIT_MEMLOCK, &limit) == 0 && limit.rlim_cur == RLIM_INFINITY;
  if (!unlimited && !has_ipc_lock(own_status())) {
    residency.detail =
        "memory not locked: evictd needs CAP_IPC_LOCK or an unlimited memlock limit "
        "(LimitMEMLOCK=infinity), the limit is " +
        std::to_string(limit.rlim_cur / 1024) +
        " KiB; under node-level pressure its pages may be reclaimed and it may stall";
    return residency;
  }
  if (::mlockall(MCL_CURRENT) != 0) {
    residency.detail = std::string("memory not locked: mlockall: ") + std::strerror(errno);
    return residency;
  }
  if (::mlockall(MCL_FUTURE | MCL_ONFAULT) != 0) {
    const int error = errno;
    ::munlockall();
    residency.detail =
        std::string("memory not locked: mlockall(MCL_FUTURE): ") + std::strerror(error);
    return residency;
  }
  residency.locked = true;
  residency.locked_bytes = locked_bytes(own_status());
  residency.detail = "memory locked: " + mib(residency.locked_bytes) +
                     " mapped at start-up made resident, later mappings locked as touched";
  return residency;
}

}  // namespace evictd::node
