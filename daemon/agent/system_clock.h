// The clock of a running evictd: CLOCK_MONOTONIC (as the notifier stamps its wakes), the system's
// wall clock, and real sleeps.
#pragma once

#include <thread>

#include "cgroups/notifier.h"
#include "daemon/agent/ports.h"

namespace evictd::agent {

class SystemClock final : public Clock {
 public:
  Nanos monotonic() const override { return cgroups::PressureNotifier::monotonic_now(); }
  WallTime wall() const override { return std::chrono::system_clock::now(); }
  void sleep_for(Nanos duration) override { std::this_thread::sleep_for(duration); }
};

}  // namespace evictd::agent
