#include "cgroups/notifier.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "cgroups/parse.h"

namespace evictd::cgroups {
namespace {

// Tags in epoll_event.data for the loop's own descriptors; sources use their fd number (>= 0).
constexpr uint64_t kTimerTag = ~uint64_t{0};
constexpr uint64_t kInterruptTag = ~uint64_t{0} - 1;
constexpr uint64_t kInotifyTag = ~uint64_t{0} - 2;

std::string errno_text() {
  return std::strerror(errno);
}

timespec to_timespec(Nanos d) {
  return timespec{static_cast<time_t>(d.count() / 1'000'000'000),
                  static_cast<long>(d.count() % 1'000'000'000)};
}

void drain(int fd) {
  uint64_t value = 0;
  while (::read(fd, &value, sizeof(value)) > 0) {
  }
}

}  // namespace

std::string_view wake_cause_name(WakeCause cause) {
  switch (cause) {
    case WakeCause::kTimer:
      return "timer";
    case WakeCause::kMemoryThreshold:
      return "memcg-threshold";
    case WakeCause::kPsi:
      return "psi";
    case WakeCause::kMemoryEvents:
      return "memory.events";
    case WakeCause::kPodsChanged:
      return "pods";
    case WakeCause::kInterrupt:
      return "interrupt";
  }
  return "";
}

Nanos PressureNotifier::monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Nanos{static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
}

PressureNotifier::PressureNotifier(Nanos poll_interval) : poll_interval_(poll_interval) {}

Result<std::unique_ptr<PressureNotifier>> PressureNotifier::create(Nanos poll_interval) {
  auto notifier = std::unique_ptr<PressureNotifier>(new PressureNotifier(poll_interval));
  notifier->epoll_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
  if (!notifier->epoll_.valid())
    return make_error("epoll_create1: " + errno_text());
  notifier->timer_ = UniqueFd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!notifier->timer_.valid())
    return make_error("timerfd_create: " + errno_text());
  notifier->interrupt_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!notifier->interrupt_.valid())
    return make_error("eventfd: " + errno_text());
  itimerspec spec{};
  spec.it_interval = to_timespec(poll_interval);
  spec.it_value = to_timespec(poll_interval);
  if (timerfd_settime(notifier->timer_.get(), 0, &spec, nullptr) != 0)
    return make_error("timerfd_settime (poll every " + format_go_duration(poll_interval) +
                      "): " + errno_text());
  if (auto watched = notifier->watch_fd(notifier->timer_.get(), EPOLLIN, kTimerTag); !watched)
    return watched.error();
  if (auto watched = notifier->watch_fd(notifier->interrupt_.get(), EPOLLIN, kInterruptTag);
      !watched)
    return watched.error();
  return notifier;
}

PressureNotifier::~PressureNotifier() = default;

Result<void> PressureNotifier::watch_fd(int fd, uint32_t events, uint64_t tag) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = tag;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0)
    return make_error("epoll_ctl ADD: " + errno_text());
  return {};
}

Result<void> PressureNotifier::add(std::unique_ptr<Source> source, uint32_t events) {
  if (auto watched = watch_fd(source->fd.get(), events, static_cast<uint64_t>(source->fd.get()));
      !watched)
    return make_error(source->description + ": " + watched.error().message);
  const std::string name = source->name;
  sources_[name] = std::move(source);
  return {};
}

void PressureNotifier::remove(const std::string& name) {
  const auto it = sources_.find(name);
  if (it == sources_.end())
    return;
  // Closing the descriptor below takes it out of the epoll set (and unregisters a memcg threshold)
  // whatever EPOLL_CTL_DEL says; the call only makes that explicit.
  [[maybe_unused]] const int removed =
      epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second->fd.get(), nullptr);
  sources_.erase(it);
}

Result<uint64_t> PressureNotifier::arm_memory_threshold(const std::string& name,
                                                        const std::string& cgroup_dir,
                                                        uint64_t bytes) {
  remove(name);
  auto source = std::make_unique<Source>();
  source->cause = WakeCause::kMemoryThreshold;
  source->name = name;
  source->fd = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  source->keep =
      UniqueFd(::open((cgroup_dir + "/memory.usage_in_bytes").c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd control(::open((cgroup_dir + "/cgroup.event_control").c_str(), O_WRONLY | O_CLOEXEC));
  if (!source->fd.valid() || !source->keep.valid() || !control.valid()) {
    return make_error("cannot arm a memory threshold on " + cgroup_dir + ": " + errno_text());
  }
  const std::string line = std::to_string(source->fd.get()) + " " +
                           std::to_string(source->keep.get()) + " " + std::to_string(bytes);
  if (::write(control.get(), line.data(), line.size()) < 0) {
    return make_error("cgroup.event_control of " + cgroup_dir + " refused \"" + line +
                      "\": " + errno_text());
  }
  source->description = "memcg threshold " + name + ": " + cgroup_dir +
                        "/memory.usage_in_bytes crosses " + std::to_string(bytes);
  char text[32];
  const ssize_t length = ::pread(source->keep.get(), text, sizeof(text), 0);
  const auto usage =
      length > 0 ? parse_uint(std::string_view(text, static_cast<size_t>(length))) : std::nullopt;
  if (auto added = add(std::move(source), EPOLLIN); !added)
    return added.error();
  if (!usage) {
    return make_error("cannot read " + cgroup_dir + "/memory.usage_in_bytes after arming: " +
                      (length < 0 ? errno_text() : "not a number"));
  }
  return *usage;
}

PsiTriggerStatus PressureNotifier::add_psi_trigger(const std::string& name,
                                                   const std::string& pressure_file, Nanos stall,
                                                   Nanos window) {
  remove(name);
  PsiTriggerStatus status;
  std::vector<Nanos> windows = {window};
  // Without CAP_SYS_RESOURCE the kernel accepts only windows that are multiples of 2 s.
  constexpr Nanos kUnprivilegedWindow = std::chrono::seconds(2);
  if (window % kUnprivilegedWindow != Nanos{0})
    windows.push_back(kUnprivilegedWindow);
  for (const Nanos candidate : windows) {
    UniqueFd fd(::open(pressure_file.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) {
      status.detail += "cannot open " + pressure_file + ": " + errno_text() + "; ";
      break;
    }
    const Nanos effective_stall = std::min(stall, candidate);
    const std::string trigger = "some " + std::to_string(effective_stall.count() / 1000) + " " +
                                std::to_string(candidate.count() / 1000);
    if (::write(fd.get(), trigger.c_str(), trigger.size() + 1) < 0) {
      status.detail +=
          "window " + format_go_duration(candidate) + " refused (" + errno_text() + "); ";
      continue;
    }
    auto source = std::make_unique<Source>();
    source->cause = WakeCause::kPsi;
    source->name = name;
    source->fd = std::move(fd);
    source->description = "psi trigger " + name + ": " + pressure_file + " \"" + trigger + "\"";
    if (auto added = add(std::move(source), EPOLLPRI); !added) {
      status.detail += added.error().message + "; ";
      break;
    }
    status.active = true;
    status.window = candidate;
    if (candidate != window) {
      fallbacks_.push_back(name + ": PSI window " + format_go_duration(window) +
                           " refused, using " + format_go_duration(candidate));
    }
    return status;
  }
  fallbacks_.push_back(name + ": no PSI trigger (" + status.detail + "polling every " +
                       format_go_duration(poll_interval_) + ")");
  return status;
}

Result<void> PressureNotifier::watch_memory_events(const std::string& name,
                                                   const std::string& events_file) {
  return add_inotify(name, events_file, IN_MODIFY, inotify_watches_);
}

Result<void> PressureNotifier::watch_directory(const std::string& name,
                                               const std::string& directory) {
  return add_inotify(name, directory, IN_CREATE | IN_DELETE | IN_ONLYDIR, directory_watches_);
}

Result<void> PressureNotifier::add_inotify(const std::string& name, const std::string& path,
                                           uint32_t mask, std::map<int, std::string>& watches) {
  if (!inotify_.valid()) {
    UniqueFd inotify(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify.valid())
      return make_error("inotify_init1: " + errno_text());
    if (auto watched = watch_fd(inotify.get(), EPOLLIN, kInotifyTag); !watched)
      return make_error("inotify: " + watched.error().message);
    inotify_ = std::move(inotify);
  }
  const int watch = inotify_add_watch(inotify_.get(), path.c_str(), mask);
  if (watch < 0) {
    fallbacks_.push_back(name + ": cannot watch " + path + " (" + errno_text() + ")");
    return make_error("inotify_add_watch " + path + ": " + errno_text());
  }
  watches[watch] = name;
  return {};
}

Wake PressureNotifier::wait(std::optional<Nanos> timeout) {
  epoll_event events[16];
  const int timeout_ms = timeout ? static_cast<int>(timeout->count() / 1'000'000) : -1;
  for (;;) {
    const int n = epoll_wait(epoll_.get(), events, 16, timeout_ms);
    const Nanos at = monotonic_now();
    if (n < 0 && errno == EINTR)
      continue;
    // A failing epoll_wait (it cannot, on a descriptor this object owns) degrades to polling.
    if (n < 0)
      return Wake{WakeCause::kTimer, "epoll_wait: " + errno_text(), at};
    if (n == 0)
      return Wake{WakeCause::kTimer, "timeout", at};
    // A kernel notification outranks the poll timer when both are ready.
    std::optional<Wake> timer;
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kTimerTag) {
        drain(timer_.get());
        timer = Wake{WakeCause::kTimer, "poll", at};
        continue;
      }
      if (tag == kInterruptTag) {
        drain(interrupt_.get());
        return Wake{WakeCause::kInterrupt, "interrupt", at};
      }
      if (tag == kInotifyTag) {
        alignas(inotify_event) char buffer[4096];
        std::optional<std::string> events_source;
        std::optional<std::string> pods_source;
        for (ssize_t len; (len = ::read(inotify_.get(), buffer, sizeof(buffer))) > 0;) {
          for (ssize_t offset = 0; offset < len;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
            if (const auto found = inotify_watches_.find(event->wd);
                found != inotify_watches_.end())
              events_source = found->second;
            if (const auto found = directory_watches_.find(event->wd);
                found != directory_watches_.end())
              pods_source = found->second;
            offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
          }
        }
        // memory.events (an OOM, a limit hit) outranks a pod coming or going.
        if (events_source)
          return Wake{WakeCause::kMemoryEvents, *events_source, at};
        if (pods_source)
          return Wake{WakeCause::kPodsChanged, *pods_source, at};
        continue;
      }
      for (auto& [name, source] : sources_) {
        if (static_cast<uint64_t>(source->fd.get()) != tag)
          continue;
        if (source->cause == WakeCause::kMemoryThreshold)
          drain(source->fd.get());
        return Wake{source->cause, name, at};
      }
    }
    if (timer)
      return *timer;
  }
}

void PressureNotifier::interrupt() {
  const uint64_t one = 1;
  // EAGAIN means the counter is full: a wake-up is already pending, which is all this asks for.
  [[maybe_unused]] const ssize_t written = ::write(interrupt_.get(), &one, sizeof(one));
}

std::vector<std::string> PressureNotifier::describe() const {
  std::vector<std::string> lines;
  lines.push_back("poll every " + format_go_duration(poll_interval_));
  for (const auto& [name, source] : sources_)
    lines.push_back(source->description);
  for (const auto& [watch, name] : inotify_watches_)
    lines.push_back("inotify " + name);
  for (const auto& [watch, name] : directory_watches_)
    lines.push_back("inotify " + name + " (pods coming and going)");
  for (const auto& fallback : fallbacks_)
    lines.push_back("fallback: " + fallback);
  return lines;
}

}  // namespace evictd::cgroups
