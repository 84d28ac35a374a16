// Keeping evictd resident when the node runs out of memory. Under node-level pressure the kernel
// reclaims every file-backed page it can — evictd's own code among them — so an agent that is not
// locked in memory stalls on major faults exactly when it must act (docs/daemon.md, "When the node
// is at its worst"). evictd locks what is mapped at start-up (its code, the libraries' code, data
// and heap), populated now, and has the kernel lock every later mapping (thread stacks, malloc
// arenas) page by page as it is touched: locking later mappings whole would make each thread's
// 8 MiB stack resident. Locking needs CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK; a finite limit
// is not enough, since a locked thread stack or arena counts whole against it and a mapping past
// the limit fails — so without either evictd does not lock, and says so.
#pragma once

#include <cstdint>
#include <string>

namespace evictd::node {

struct Residency {
  bool locked = false;
  int64_t locked_bytes = 0;  // VmLck after locking
  std::string detail;        // what was done, or why not
};

// Call before any thread is started: a thread's stack mapped before the first lock would be
// made resident whole.
Residency keep_resident();

}  // namespace evictd::node
