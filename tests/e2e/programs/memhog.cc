// A test container's workload: allocates and touches N MiB, then waits. "term" exits at SIGTERM (a
// graceful container); "ignore-term" ignores it, so only SIGKILL after the grace period ends it.
// Usage: memhog MiB term|ignore-term
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

namespace {
volatile std::sig_atomic_t stop = 0;
void on_term(int) {
  stop = 1;
}
}  // namespace

int main(int argc, char** argv) {
  const long mib = argc > 1 ? std::atol(argv[1]) : 0;
  const bool ignore_term = argc > 2 && std::strcmp(argv[2], "ignore-term") == 0;
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
    for (size_t offset = 0; offset < bytes; offset += 4096)
      memory[offset] = 1;
  }
  while (stop == 0)
    pause();
  return 0;
}
