#include "ranking/stall_window.h"

#include <algorithm>

namespace evictd {
namespace {

// A reading closer than window / kReadingsPerWindow to the one before the newest replaces the
// newest instead of adding one: a burst of wake-ups keeps the list short without losing the
// window's edges. Every other reading is then that far from its second predecessor, which bounds
// the list (reserved once, so that sampling allocates nothing).
constexpr int64_t kReadingsPerWindow = 32;
constexpr size_t kMostReadings = 2 * kReadingsPerWindow + 4;

}  // namespace

StallWindow::StallWindow(Nanos window) : window_(window) {
  readings_.reserve(kMostReadings);
}

void StallWindow::add(Nanos now, uint64_t total_us) {
  if (!readings_.empty() && (now < readings_.back().time || total_us < readings_.back().total_us)) {
    readings_.clear();  // a clock or a counter that went back: nothing before is comparable
  }
  const Nanos spacing = window_ / kReadingsPerWindow;
  if (readings_.size() >= 2 && now - readings_[readings_.size() - 2].time < spacing) {
    readings_.back() = Reading{now, total_us};
  } else {
    readings_.push_back(Reading{now, total_us});
  }
  // Keep one reading at least a window old (the base) and everything newer.
  const auto base = std::find_if(readings_.rbegin(), readings_.rend(),
                                 [&](const Reading& r) { return now - r.time >= window_; });
  if (base != readings_.rend())
    readings_.erase(readings_.begin(), base.base() - 1);
}

void StallWindow::restart() {
  readings_.clear();
}

std::optional<SignalObservation> StallWindow::observe() const {
  if (readings_.size() < 2)
    return std::nullopt;
  const Reading& base = readings_.front();
  const Reading& newest = readings_.back();
  const Nanos span = newest.time - base.time;
  if (span < window_)
    return std::nullopt;
  const int64_t span_us = std::chrono::duration_cast<std::chrono::microseconds>(span).count();
  const auto stalled = static_cast<int64_t>(newest.total_us - base.total_us);
  return SignalObservation{std::min(stalled, span_us), span_us, newest.time};
}

}  // namespace evictd
