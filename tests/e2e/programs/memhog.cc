// A test container's workload: allocates and touches N MiB, then waits. "term" exits at SIGTERM (a
// graceful container); "ignore-term" ignores it, so only SIGKILL after the grace period ends it.
// With a rate, it grows to N MiB at that many MiB per second (a leak), touching each page as it
// goes. Usage: memhog MiB term|ignore-term [MiB-per-second]
// A word first runs one of the workloads of workloads.h instead: memhog WORKLOAD ARGS...
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "workloads.h"

namespace {
volatile std::sig_atomic_t stop = 0;
void on_term(int) {
  stop = 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::isalpha(static_cast<unsigned char>(argv[1][0])) != 0)
    return run_workload(argc - 1, argv + 1);
  const long mib = argc > 1 ? std::atol(argv[1]) : 0;
  const bool ignore_term = argc > 2 && std::strcmp(argv[2], "ignore-term") == 0;
  const long rate = argc > 3 ? std::atol(argv[3]) : 0;
  if (ignore_term) {
    std::signal(SIGTERM, SIG_IGN);
  } else {
    std::signal(SIGTERM, on_term);
  }
  const size_t bytes = static_cast<size_t>(mib) << 20;
  if (bytes > 0) {
    auto* memory = static_cast<char*>(
        mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (memory == MAP_FAILED)
      return 1;
    // Steps of 1 ms at the given rate; at once without one.
    const size_t step =
        rate > 0 ? std::max<size_t>(4096, (static_cast<size_t>(rate) << 20) / 1000) : bytes;
    for (size_t start = 0; start < bytes && stop == 0; start += step) {
      for (size_t offset = start; offset < std::min(bytes, start + step); offset += 4096)
        memory[offset] = 1;
      if (rate > 0)
        usleep(1000);
    }
  }
  while (stop == 0)
    pause();
  return 0;
}
