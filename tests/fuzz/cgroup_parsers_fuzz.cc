// Fuzzes every kernel-file parser of cgroups/ (memory.stat, PSI, meminfo, loadavg, cpu.stat,
// /proc/stat, memory.events, mountinfo): any input is read without a crash or sanitizer report, and
// the values that come out obey their files' invariants.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cgroups/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace evictd::cgroups;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_memory_stat(text);
  const Psi psi = parse_psi(text);
  for (const auto& line : {psi.some, psi.full}) {
    if (line && (line->avg10 != line->avg10))
      std::abort();  // NaN is not a PSI average
  }
  const MemInfo info = parse_meminfo(text);
  if (info.mem_total && *info.mem_total % 1024 != 0 && text.find(" kB") != std::string_view::npos &&
      text.find("MemTotal:") == std::string_view::npos) {
    std::abort();
  }
  if (const auto tasks = parse_loadavg_tasks(text); tasks && *tasks < 0)
    std::abort();
  bool unlimited = false;
  if (parse_uint(text, &unlimited) && unlimited)
    std::abort();
  (void)parse_cpu_stat_usage_us(text);
  if (const auto cpu = parse_proc_stat_cpu(text); cpu && cpu->busy > cpu->total)
    std::abort();
  (void)parse_memory_events(text);
  (void)parse_zoneinfo(text);
  for (const auto& mount : parse_mountinfo(text)) {
    if (mount.v2 && !mount.controllers.empty())
      std::abort();
  }
  return 0;
}
