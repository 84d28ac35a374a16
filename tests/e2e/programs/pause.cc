// The test sandbox image's pause program: sleeps until SIGTERM or SIGINT, then exits 0.
#include <unistd.h>

#include <csignal>

namespace {
volatile std::sig_atomic_t stop = 0;
void on_signal(int) {
  stop = 1;
}
}  // namespace

int main() {
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  while (stop == 0)
    pause();
  return 0;
}
