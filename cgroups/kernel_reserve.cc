#include "cgroups/kernel_reserve.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "cgroups/parse.h"

namespace evictd::cgroups {
namespace {

Result<std::string> read_whole(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return make_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<NodeMemory> read_node_memory(const std::string& proc) {
  auto meminfo = read_whole(proc + "/meminfo");
  if (!meminfo)
    return meminfo.error();
  auto zoneinfo = read_whole(proc + "/zoneinfo");
  if (!zoneinfo)
    return zoneinfo.error();
  const MemInfo info = parse_meminfo(*meminfo);
  if (!info.mem_total)
    return make_error(proc + "/meminfo: no MemTotal");
  const auto watermarks = parse_zoneinfo(*zoneinfo);
  if (!watermarks)
    return make_error(proc + "/zoneinfo: no zone watermarks");
  const auto page = static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
  NodeMemory memory;
  memory.total_bytes = static_cast<int64_t>(*info.mem_total);
  memory.swap_total_bytes = static_cast<int64_t>(info.swap_total.value_or(0));
  memory.reserve.min_bytes = static_cast<int64_t>(watermarks->min_pages) * page;
  memory.reserve.low_bytes = static_cast<int64_t>(watermarks->low_pages) * page;
  memory.reserve.high_bytes = static_cast<int64_t>(watermarks->high_pages) * page;
  return memory;
}

}  // namespace evictd::cgroups
