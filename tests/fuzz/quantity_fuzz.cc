// Fuzzes the quantity parser: no crash, and whatever parses prints to a string that parses back to
// the same value and prints the same way again.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ranking/quantity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = evictd::Quantity::parse(text);
  if (!parsed)
    return 0;
  const std::string printed = parsed->to_string();
  auto again = evictd::Quantity::parse(printed);
  if (!again || again->nano() != parsed->nano() || again->to_string() != printed)
    std::abort();
  (void)parsed->value();
  return 0;
}
