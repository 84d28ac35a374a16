// Each workload writes its events to an optional file as lines "<event> <wall ms> <value>", with
// one write per line so that a reader on the node sees whole lines while it runs.
#include "workloads.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

volatile std::sig_atomic_t stop = 0;
void on_term(int) {
  stop = 1;
}

constexpr size_t kPage = 4096;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Events {
 public:
  explicit Events(const char* path)
      : fd_(path != nullptr ? ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1) {}
  void write(const char* event, int64_t value) const {
    if (fd_ < 0)
      return;
    char line[96];
    const int n = std::snprintf(line, sizeof(line), "%s %lld %lld\n", event,
                                static_cast<long long>(wall_ms()), static_cast<long long>(value));
    (void)!::write(fd_, line, static_cast<size_t>(n));
  }

 private:
  int fd_;
};

void wait_for_term() {
  while (stop == 0)
    pause();
}

// leak MiB BASE RATE HOLD_S RANDOM_PERCENT [OUT]: takes BASE MiB at once, then grows to MiB at
// RATE MiB/s; each page starts with RANDOM_PERCENT of random bytes and is zero after them, so that
// it compresses about as a real heap does. With HOLD_S >= 0 it frees everything HOLD_S seconds
// after the peak (a transient peak); below zero it holds it.
int leak(int argc, char** argv) {
  if (argc < 6)
    return 2;
  const size_t bytes = static_cast<size_t>(std::atol(argv[1])) << 20;
  const size_t base = std::min(bytes, static_cast<size_t>(std::atol(argv[2])) << 20);
  const long rate = std::max(1L, std::atol(argv[3]));
  const long hold_s = std::atol(argv[4]);
  const size_t random_bytes = kPage * std::clamp(std::atol(argv[5]), 0L, 100L) / 100;
  const Events events(argc > 6 ? argv[6] : nullptr);
  auto* memory = static_cast<char*>(
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (memory == MAP_FAILED)
    return 1;
  events.write("start", 0);
  uint64_t state = 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(getpid());
  // Steps of 10 ms at the given rate.
  const size_t step = std::max(kPage, (static_cast<size_t>(rate) << 20) / 100);
  auto due = std::chrono::steady_clock::now();
  size_t done = 0;
  size_t next_report = 100 << 20;
  while (done < bytes && stop == 0) {
    const size_t end = std::min(bytes, done < base ? base : done + step);
    for (; done < end; done += kPage) {
      char* page = memory + done;
      page[kPage - 1] = 1;  // the page exists even when nothing of it is random
      for (size_t offset = 0; offset + 8 <= random_bytes; offset += 8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        std::memcpy(page + offset, &state, 8);
      }
    }
    if (done >= next_report) {
      events.write("mib", static_cast<int64_t>(done >> 20));
      next_report = (done & ~((size_t{100} << 20) - 1)) + (size_t{100} << 20);
    }
    if (done == base) {
      events.write("base", static_cast<int64_t>(done >> 20));
      due = std::chrono::steady_clock::now();
    }
    if (done > base) {
      // A stalled step is not caught up: a leak grows with the work it does, which stalls too.
      due = std::max(due + std::chrono::milliseconds(10), std::chrono::steady_clock::now());
      std::this_thread::sleep_until(due);
    }
  }
  events.write("peak", static_cast<int64_t>(done >> 20));
  if (hold_s >= 0 && stop == 0) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(hold_s);
    while (stop == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    munmap(memory, bytes);
    events.write("freed", 0);
  }
  wait_for_term();
  return 0;
}

// probe MiB PERIOD_MS OUT: touches each page of MiB every PERIOD_MS (a service's hot working
// set) and records, per pass, how long after its due time the pass ended, in microseconds. A pass
// that ends after the next one was due skips the ones missed.
int probe(int argc, char** argv) {
  if (argc < 4)
    return 2;
  const size_t bytes = static_cast<size_t>(std::atol(argv[1])) << 20;
  const auto period = std::chrono::milliseconds(std::max(1L, std::atol(argv[2])));
  const Events events(argv[3]);
  auto* memory = static_cast<volatile char*>(
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (memory == MAP_FAILED)
    return 1;
  for (size_t offset = 0; offset < bytes; offset += kPage)
    memory[offset] = 1;
  events.write("ready", 0);
  auto due = std::chrono::steady_clock::now() + period;
  for (char value = 2; stop == 0; ++value) {
    std::this_thread::sleep_until(due);
    for (size_t offset = 0; offset < bytes; offset += kPage)
      memory[offset] = static_cast<char>(memory[offset] + value);
    const auto ended = std::chrono::steady_clock::now();
    events.write("late",
                 std::chrono::duration_cast<std::chrono::microseconds>(ended - due).count());
    while (due <= ended)
      due += period;
  }
  return 0;
}

// Reads [0, MiB) of a file with read(), in 1 MiB chunks; false when the file ends or fails.
bool read_through(int fd, size_t bytes, char* buffer) {
  constexpr size_t kChunk = 1 << 20;
  for (size_t offset = 0; offset < bytes && stop == 0;) {
    const ssize_t n =
        pread(fd, buffer, std::min(kChunk, bytes - offset), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    offset += static_cast<size_t>(n);
  }
  return true;
}

// hot-read FILE MiB OUT [GROW_MiB [MAX_MiB]]: reads the first MiB of FILE again and again (a hot
// file-backed working set, held open), recording each pass's size and duration; each pass after
// the second reads GROW_MiB more, up to MAX_MiB. stream FILE MiB OUT: reads it once (a page cache
// used once), records the pass and waits.
int file_reader(int argc, char** argv, bool again) {
  if (argc < 4)
    return 2;
  const int fd = ::open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 1;
  size_t bytes = static_cast<size_t>(std::atol(argv[2])) << 20;
  const Events events(argv[3]);
  const size_t grow = argc > 4 ? static_cast<size_t>(std::atol(argv[4])) << 20 : 0;
  const size_t most = argc > 5 ? static_cast<size_t>(std::atol(argv[5])) << 20 : bytes;
  static char buffer[1 << 20];
  events.write("start", 0);
  for (int pass = 1; stop == 0; ++pass) {
    events.write("size", static_cast<int64_t>(bytes >> 20));
    const auto started = std::chrono::steady_clock::now();
    if (!read_through(fd, bytes, buffer))
      break;
    events.write("pass", std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count());
    if (!again)
      break;
    if (pass >= 2)
      bytes = std::min(most, bytes + grow);
  }
  wait_for_term();
  return 0;
}

}  // namespace

int run_workload(int argc, char** argv) {
  std::signal(SIGTERM, on_term);
  const std::string name = argv[0];
  if (name == "leak")
    return leak(argc, argv);
  if (name == "probe")
    return probe(argc, argv);
  if (name == "hot-read")
    return file_reader(argc, argv, true);
  if (name == "stream")
    return file_reader(argc, argv, false);
  std::fprintf(stderr, "memhog: no workload %s\n", name.c_str());
  return 2;
}
