// Fuzzes ledger replay: any bytes on disk replay without a crash, and what replays re-frames to a
// valid prefix of its own length.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "daemon/ledger/ledger.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("ledger", 0);
  if (fd < 0)
    return 0;
  if (write(fd, data, size) != static_cast<ssize_t>(size)) {
    close(fd);
    return 0;
  }
  const auto report = evictd::ledger::replay_file("/proc/self/fd/" + std::to_string(fd));
  close(fd);
  if (report && report->valid_bytes > size)
    std::abort();
  return 0;
}
