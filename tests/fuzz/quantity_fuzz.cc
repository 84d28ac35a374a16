// Fuzzes the quantity parser: no crash; whatever parses prints to text that parses back to the same
// value; and printing settles after one reparse (a binary quantity that is not a multiple of 1Ki
// prints as a plain integer, which reparses as decimal and may then print with a decimal suffix,
// exactly as resource.Quantity does).
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
  if (!again || again->nano() != parsed->nano())
    std::abort();
  const std::string settled = again->to_string();
  auto third = evictd::Quantity::parse(settled);
  if (!third || third->nano() != parsed->nano() || third->to_string() != settled)
    std::abort();
  (void)parsed->value();
  return 0;
}
