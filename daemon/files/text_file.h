// The one way evictd reads a file whole (its configuration, the kubelet's configuration, a
// kubeconfig and the files it names, a scenario, a token): a regular file, opened without
// blocking, of a bounded size. A directory, a FIFO, a device such as /dev/zero, or a file larger
// than the bound is refused with the reason — never a hang, an abort or an exhausted heap.
#pragma once

#include <cstddef>
#include <string>

#include "ranking/result.h"

namespace evictd::files {

// Configuration-sized files: far above any real one, far below what could strain a node.
inline constexpr size_t kMaxTextFileBytes = 4 << 20;

// The file's bytes; an error "PATH: REASON" otherwise.
Result<std::string> read_text_file(const std::string& path, size_t limit = kMaxTextFileBytes);

}  // namespace evictd::files
