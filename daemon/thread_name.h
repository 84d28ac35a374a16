// Names the calling thread, as top -H, /proc/PID/task/*/comm and the benchmarks' CPU breakdown
// show it; at most 15 characters (the kernel's limit), so names start with "evictd-".
#pragma once

#include <pthread.h>

namespace evictd {

inline void name_this_thread(const char* name) {
  // A name that does not take changes nothing but what the tools show.
  [[maybe_unused]] const int named = pthread_setname_np(pthread_self(), name);
}

}  // namespace evictd
