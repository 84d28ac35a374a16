// The node's memory and the kernel's reserve of free memory (its watermarks), read from /proc for
// the advice on memory.available thresholds (ranking/memory_headroom.h): at start-up, by
// check-config, and by the benchmarks that race the kernel's OOM killer.
#pragma once

#include <cstdint>
#include <string>

#include "ranking/memory_headroom.h"
#include "ranking/result.h"

namespace evictd::cgroups {

struct NodeMemory {
  int64_t total_bytes = 0;       // MemTotal
  int64_t swap_total_bytes = 0;  // SwapTotal
  KernelReserve reserve;
};

// `proc` is /proc, or a directory laid out like it (tests).
Result<NodeMemory> read_node_memory(const std::string& proc = "/proc");

}  // namespace evictd::cgroups
