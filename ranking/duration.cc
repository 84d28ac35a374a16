#include "ranking/duration.h"

#include <array>
#include <cstdint>
#include <utility>

namespace evictd {
namespace {

constexpr uint64_t kOverflowLimit = uint64_t{1} << 63;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

Error invalid(std::string_view text) {
  return make_error("invalid duration \"" + std::string(text) + "\"");
}

}  // namespace

Result<Nanos> parse_go_duration(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 8> kUnits = {{
      {"ns", 1},
      {"us", 1'000},
      {"\xc2\xb5s", 1'000},  // U+00B5 micro sign
      {"\xce\xbcs", 1'000},  // U+03BC Greek small letter mu
      {"ms", 1'000'000},
      {"s", 1'000'000'000},
      {"m", 60'000'000'000},
      {"h", 3'600'000'000'000},
  }};
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0")
    return Nanos{0};
  if (s.empty())
    return invalid(text);
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || is_digit(s[0])))
      return invalid(text);
    uint64_t whole = 0;
    size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (whole > kOverflowLimit / 10)
        return invalid(text);
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      if (whole > kOverflowLimit)
        return invalid(text);
    }
    const bool has_whole = i > 0;
    s.remove_prefix(i);
    uint64_t fraction = 0;
    double scale = 1;
    bool has_fraction = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool overflow = false;
      for (i = 0; i < s.size() && is_digit(s[i]); ++i) {
        // Like Go, extra fraction digits beyond 63 bits of precision are ignored, not an error.
        if (overflow)
          continue;
        if (fraction > (kOverflowLimit - 1) / 10) {
          overflow = true;
          continue;
        }
        const uint64_t next = fraction * 10 + static_cast<uint64_t>(s[i] - '0');
        if (next > kOverflowLimit) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      has_fraction = i > 0;
      s.remove_prefix(i);
    }
    if (!has_whole && !has_fraction)
      return invalid(text);
    i = 0;
    while (i < s.size() && s[i] != '.' && !is_digit(s[i]))
      ++i;
    if (i == 0)
      return make_error("missing unit in duration \"" + std::string(text) + "\"");
    const std::string_view unit_name = s.substr(0, i);
    s.remove_prefix(i);
    uint64_t unit = 0;
    for (const auto& [name, nanos] : kUnits) {
      if (name == unit_name)
        unit = nanos;
    }
    if (unit == 0) {
      return make_error("unknown unit \"" + std::string(unit_name) + "\" in duration \"" +
                        std::string(text) + "\"");
    }
    if (whole > kOverflowLimit / unit)
      return invalid(text);
    whole *= unit;
    if (fraction > 0) {
      // Go computes the fractional part in float64, which is nanosecond-exact up to hours.
      whole += static_cast<uint64_t>(static_cast<double>(fraction) *
                                     (static_cast<double>(unit) / scale));
      if (whole > kOverflowLimit)
        return invalid(text);
    }
    total += whole;
    if (total > kOverflowLimit)
      return invalid(text);
  }
  if (negative)
    return Nanos{static_cast<int64_t>(0 - total)};
  if (total > kOverflowLimit - 1)
    return invalid(text);
  return Nanos{static_cast<int64_t>(total)};
}

namespace {

// Writes v/10^precision's fraction (without trailing zeros, and without the point when it is zero)
// in front of `out`, and returns v/10^precision.
uint64_t prepend_fraction(std::string& out, uint64_t v, int precision) {
  bool print = false;
  std::string digits;
  for (int i = 0; i < precision; ++i) {
    const auto digit = static_cast<char>('0' + v % 10);
    print = print || digit != '0';
    if (print)
      digits.insert(digits.begin(), digit);
    v /= 10;
  }
  if (print)
    out.insert(0, "." + digits);
  return v;
}

void prepend_int(std::string& out, uint64_t v) {
  out.insert(0, std::to_string(v));
}

}  // namespace

std::string format_go_duration(Nanos duration) {
  const int64_t d = duration.count();
  uint64_t u = d < 0 ? 0 - static_cast<uint64_t>(d) : static_cast<uint64_t>(d);
  std::string out;
  if (u < 1'000'000'000) {
    if (u == 0)
      return "0s";
    int precision = 0;
    if (u < 1'000) {
      out = "ns";
    } else if (u < 1'000'000) {
      precision = 3;
      out = "\xc2\xb5s";
    } else {
      precision = 6;
      out = "ms";
    }
    u = prepend_fraction(out, u, precision);
    prepend_int(out, u);
  } else {
    out = "s";
    u = prepend_fraction(out, u, 9);
    prepend_int(out, u % 60);
    u /= 60;
    if (u > 0) {
      out.insert(0, "m");
      prepend_int(out, u % 60);
      u /= 60;
      if (u > 0) {
        out.insert(0, "h");
        prepend_int(out, u);
      }
    }
  }
  if (d < 0)
    out.insert(0, "-");
  return out;
}

}  // namespace evictd
