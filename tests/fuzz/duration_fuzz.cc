// Fuzzes the Go duration parser: no crash, and what parses formats to text that parses back equal.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ranking/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = evictd::parse_go_duration(text);
  if (!parsed)
    return 0;
  auto again = evictd::parse_go_duration(evictd::format_go_duration(*parsed));
  if (!again || *again != *parsed)
    std::abort();
  return 0;
}
