// Start-up leaves evictd with a resident set far larger than what the loop touches: gRPC, protobuf
// and OpenSSL initialise themselves through code and tables that never run again, and the kernel
// maps pages around every fault. Those pages stay mapped, and mapped executable pages are the last
// the kernel reclaims — memory the node's pods could use, at the very time evictd is there to
// protect them. Once evictd is ready it drops its mappings of them.
#pragma once

#include <cstddef>

namespace evictd::agent {

struct ReleasedPages {
  size_t bytes = 0;  // of the ranges handed to madvise
  int ranges = 0;
};

// Zaps this process's page-table entries for the read-only, file-backed segments of the executable
// and every loaded library (text, rodata; never a writable or relocated segment, so nothing is
// lost: a page used again faults back in from the page cache), then returns freed heap to the
// kernel. Safe while other threads run.
ReleasedPages release_startup_pages();

// Returns the heap's free pages to the kernel (glibc keeps freed memory that is not at the top of
// an arena, in every arena).
void return_free_heap();

// This process's resident set in KiB (VmRSS), 0 when /proc cannot tell.
long resident_kib();

}  // namespace evictd::agent
