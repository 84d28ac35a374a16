// The share of a window of time during which tasks stalled, from the cumulative stall total of a
// PSI file (its `total=`, in microseconds) read now and then. Differencing the totals answers for
// exactly the window; `avg10`, a decaying average, still shows a stall that ended seconds ago and
// would charge the next pod for the one just evicted.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ranking/duration.h"
#include "ranking/stats.h"

namespace evictd {

class StallWindow {
 public:
  explicit StallWindow(Nanos window);

  // A reading of the cumulative stall total at `now` (readings come in time order).
  void add(Nanos now, uint64_t total_us);
  // Forgets every reading: the next observation covers only time after `now`. Called once an
  // eviction's pod is gone, so that its stall is not charged to the next pod.
  void restart();
  // Microseconds stalled (`available`) over the span between the newest reading and the newest
  // one at least a window older (`capacity`, in microseconds); nullopt until the readings since
  // the last restart cover a whole window. A total that went backwards (the cgroup was made anew)
  // starts over as well.
  std::optional<SignalObservation> observe() const;

  Nanos window() const { return window_; }

 private:
  struct Reading {
    Nanos time{0};
    uint64_t total_us = 0;
  };
  Nanos window_;
  std::vector<Reading> readings_;  // oldest first; the oldest is the base of the next observation
};

}  // namespace evictd
