#include "daemon/agent/resident_pages.h"

#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace evictd::agent {
namespace {

struct Range {
  uintptr_t begin = 0;
  uintptr_t end = 0;
};

// A text relocation writes into a read-only segment: those pages are private copies, and zapping
// them would lose the relocation. x86-64 objects do not have them, but a hand-built one could.
bool has_text_relocations(const dl_phdr_info& object) {
  for (int i = 0; i < object.dlpi_phnum; ++i) {
    const auto& header = object.dlpi_phdr[i];
    if (header.p_type != PT_DYNAMIC)
      continue;
    const auto* entry = reinterpret_cast<const ElfW(Dyn)*>(object.dlpi_addr + header.p_vaddr);
    for (; entry->d_tag != DT_NULL; ++entry) {
      if (entry->d_tag == DT_TEXTREL ||
          (entry->d_tag == DT_FLAGS && (entry->d_un.d_val & DF_TEXTREL) != 0))
        return true;
    }
  }
  return false;
}

int collect(dl_phdr_info* object, size_t, void* out) {
  auto& ranges = *static_cast<std::vector<Range>*>(out);
  // The vDSO is the kernel's, not a file.
  if (object->dlpi_name != nullptr && std::strstr(object->dlpi_name, "linux-vdso") != nullptr)
    return 0;
  if (has_text_relocations(*object))
    return 0;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  // Pages a writable segment (data, and RELRO, which lies inside it) shares are kept: they hold
  // this process's own writes.
  std::vector<Range> keep;
  for (int i = 0; i < object->dlpi_phnum; ++i) {
    const auto& header = object->dlpi_phdr[i];
    if ((header.p_type == PT_LOAD && (header.p_flags & PF_W) != 0) ||
        header.p_type == PT_GNU_RELRO) {
      const uintptr_t begin = object->dlpi_addr + header.p_vaddr;
      keep.push_back({begin & ~(page - 1), (begin + header.p_memsz + page - 1) & ~(page - 1)});
    }
  }
  for (int i = 0; i < object->dlpi_phnum; ++i) {
    const auto& header = object->dlpi_phdr[i];
    if (header.p_type != PT_LOAD || (header.p_flags & PF_W) != 0)
      continue;
    const uintptr_t begin = object->dlpi_addr + header.p_vaddr;
    // Whole pages of the file's bytes only (p_filesz: beyond it a segment would be anonymous).
    Range range{(begin + page - 1) & ~(page - 1), (begin + header.p_filesz) & ~(page - 1)};
    for (const auto& kept : keep) {
      if (kept.begin < range.end && range.begin < kept.end) {
        if (kept.begin <= range.begin)
          range.begin = std::max(range.begin, kept.end);
        else
          range.end = std::min(range.end, kept.begin);
      }
    }
    if (range.begin < range.end)
      ranges.push_back(range);
  }
  return 0;
}

}  // namespace

ReleasedPages release_startup_pages() {
  std::vector<Range> ranges;
  dl_iterate_phdr(collect, &ranges);
  ReleasedPages released;
  for (const auto& range : ranges) {
    // Private, never-written file pages: MADV_DONTNEED drops the mapping, not the data.
    if (madvise(reinterpret_cast<void*>(range.begin), range.end - range.begin, MADV_DONTNEED) ==
        0) {
      released.bytes += range.end - range.begin;
      ++released.ranges;
    }
  }
  return_free_heap();
  return released;
}

void return_free_heap() {
  malloc_trim(0);
}

long resident_kib() {
  std::FILE* status = std::fopen("/proc/self/status", "re");
  if (status == nullptr)
    return 0;
  long kib = 0;
  char line[256];
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1)
      break;
  }
  std::fclose(status);
  return kib;
}

}  // namespace evictd::agent
