#include "ranking/quantity.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <limits>
#include <optional>

namespace evictd {
namespace {

constexpr std::string_view kFormatError =
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
constexpr Int128 kMaxUnits = std::numeric_limits<int64_t>::max();
constexpr Int128 kMaxNano = kMaxUnits * Quantity::kNanoPerUnit;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The pieces of a quantity string, split the way apimachinery's parseQuantityString splits them.
struct Scanned {
  bool positive = true;
  std::string_view num;     // integer digits without leading zeros ("0" when none)
  std::string_view denom;   // fraction digits
  std::string_view suffix;  // unit or exponent
};

Result<Scanned> scan(std::string_view s) {
  Scanned out;
  size_t pos = 0;
  const size_t end = s.size();
  if (s[0] == '-' || s[0] == '+') {
    out.positive = s[0] == '+';
    ++pos;
  }
  const size_t number_start = pos;
  while (pos < end && s[pos] == '0')
    ++pos;
  size_t i = pos;
  while (i < end && is_digit(s[i]))
    ++i;
  out.num = s.substr(pos, i - pos);
  if (out.num.empty())
    out.num = "0";
  pos = i;
  if (pos < end && s[pos] == '.') {
    ++pos;
    i = pos;
    while (i < end && is_digit(s[i]))
      ++i;
    out.denom = s.substr(pos, i - pos);
    pos = i;
  }
  // apimachinery's scanner accepts a bare sign as zero; its documented grammar (and we) do not.
  if (pos == number_start)
    return make_error(std::string(kFormatError));
  const size_t suffix_start = pos;
  while (pos < end && std::string_view("eEinumkKMGTP").find(s[pos]) != std::string_view::npos)
    ++pos;
  if (pos < end && (s[pos] == '-' || s[pos] == '+'))
    ++pos;
  while (pos < end && is_digit(s[pos]))
    ++pos;
  if (pos != end)
    return make_error(std::string(kFormatError));
  out.suffix = s.substr(suffix_start);
  return out;
}

struct Suffix {
  int base;  // 10 or 2
  int exponent;
  QuantityFormat format;
};

std::optional<Suffix> interpret_suffix(std::string_view suffix) {
  static constexpr std::array<std::pair<std::string_view, int>, 10> kDecimal = {{
      {"n", -9},
      {"u", -6},
      {"m", -3},
      {"", 0},
      {"k", 3},
      {"M", 6},
      {"G", 9},
      {"T", 12},
      {"P", 15},
      {"E", 18},
  }};
  static constexpr std::array<std::pair<std::string_view, int>, 6> kBinary = {{
      {"Ki", 10},
      {"Mi", 20},
      {"Gi", 30},
      {"Ti", 40},
      {"Pi", 50},
      {"Ei", 60},
  }};
  for (const auto& [name, exponent] : kDecimal) {
    if (suffix == name)
      return Suffix{10, exponent, QuantityFormat::kDecimalSI};
  }
  for (const auto& [name, exponent] : kBinary) {
    if (suffix == name)
      return Suffix{2, exponent, QuantityFormat::kBinarySI};
  }
  if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    std::string_view digits = suffix.substr(1);
    bool negative = false;
    if (digits[0] == '+' || digits[0] == '-') {
      negative = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (digits.empty() || digits.size() > 9)
      return std::nullopt;
    int exponent = 0;
    for (char c : digits) {
      if (!is_digit(c))
        return std::nullopt;
      exponent = exponent * 10 + (c - '0');
    }
    return Suffix{10, negative ? -exponent : exponent, QuantityFormat::kDecimalExponent};
  }
  return std::nullopt;
}

// Whether apimachinery's fast path keeps the input string as the quantity's printed form.
bool keeps_original_text(const Scanned& s, const Suffix& suffix) {
  int precision = 0;
  int scale = 0;
  int64_t mantissa = 1;
  if (suffix.format == QuantityFormat::kBinarySI) {
    if (!s.denom.empty())
      return false;
    mantissa = int64_t{1} << suffix.exponent;
    precision = 15 - static_cast<int>(s.num.size()) -
                static_cast<int>(static_cast<float>(suffix.exponent) * 3 / 10) - 1;
  } else {
    scale = suffix.exponent;
    precision = 18 - static_cast<int>(s.num.size() + s.denom.size());
  }
  if (precision < 0)
    return false;
  scale -= static_cast<int>(s.denom.size());
  if (scale < -9)
    return false;
  std::string shifted(s.num);
  shifted.append(s.denom);
  int64_t value = 0;
  for (char c : shifted)
    value = value * 10 + (c - '0');
  if (value != 0 && mantissa > std::numeric_limits<int64_t>::max() / value)
    return false;
  if (suffix.format == QuantityFormat::kBinarySI) {
    return suffix.exponent % 10 == 0 && (value & 0x07) != 0;
  }
  return scale % 3 == 0 && !(shifted.size() >= 3 && shifted.ends_with("000")) && shifted[0] != '0';
}

void double_digits(std::string& digits) {
  int carry = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    const int v = (*it - '0') * 2 + carry;
    *it = static_cast<char>('0' + v % 10);
    carry = v / 10;
  }
  if (carry != 0)
    digits.insert(digits.begin(), '1');
}

// The exact magnitude in nano units, rounded up; nullopt when it does not fit in 38 digits.
std::optional<Int128> magnitude_in_nano(const Scanned& s, const Suffix& suffix) {
  std::string digits(s.num);
  digits.append(s.denom);
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  if (digits.empty())
    return Int128{0};
  if (suffix.base == 2) {
    for (int i = 0; i < suffix.exponent; ++i)
      double_digits(digits);
  }
  const int64_t decimal_exponent =
      (suffix.base == 10 ? suffix.exponent : 0) - static_cast<int64_t>(s.denom.size()) + 9;
  bool round_up = false;
  if (decimal_exponent >= 0) {
    if (static_cast<int64_t>(digits.size()) + decimal_exponent > 38)
      return std::nullopt;
    digits.append(static_cast<size_t>(decimal_exponent), '0');
  } else {
    const auto drop = static_cast<size_t>(-decimal_exponent);
    if (drop >= digits.size())
      return Int128{1};  // non-zero and below 1n: rounds up to 1n
    round_up = digits.find_first_not_of('0', digits.size() - drop) != std::string::npos;
    digits.resize(digits.size() - drop);
    if (digits.size() > 38)
      return std::nullopt;
  }
  Int128 value = 0;
  for (char c : digits)
    value = value * 10 + (c - '0');
  return value + (round_up ? 1 : 0);
}

}  // namespace

std::string int128_to_string(Int128 value) {
  if (value == 0)
    return "0";
  const bool negative = value < 0;
  __extension__ unsigned __int128 magnitude =
      negative ? -static_cast<unsigned __int128>(value) : static_cast<unsigned __int128>(value);
  std::string out;
  while (magnitude > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  }
  if (negative)
    out.push_back('-');
  std::reverse(out.begin(), out.end());
  return out;
}

namespace {

// A size written as people write bytes ("100MB", "1GiB", "512kB"): how Kubernetes spells it, or ""
// when the text is not such a size.
std::string byte_unit_hint(std::string_view text) {
  if (text.size() < 2 || (text.back() != 'B' && text.back() != 'b'))
    return "";
  std::string_view unit = text.substr(0, text.size() - 1);
  size_t digits = 0;
  while (digits < unit.size() && (is_digit(unit[digits]) || unit[digits] == '.'))
    ++digits;
  if (digits == 0)
    return "";
  const std::string number(unit.substr(0, digits));
  std::string_view prefix = unit.substr(digits);
  if (prefix.empty())
    return "; Kubernetes quantities have no \"B\": use " + number;
  const bool binary = prefix.size() == 2 && (prefix[1] == 'i' || prefix[1] == 'I');
  const char letter = prefix[0];
  static constexpr std::string_view kLetters = "kKMGTPE";
  if (prefix.size() > 2 || (prefix.size() == 2 && !binary) ||
      kLetters.find(letter) == std::string_view::npos)
    return "";
  const char upper = letter == 'k' ? 'K' : letter;
  const std::string decimal = number + (upper == 'K' ? 'k' : upper);
  const std::string power_of_two = number + upper + "i";
  if (binary)
    return "; Kubernetes quantities have no \"B\": use " + power_of_two;
  return "; Kubernetes quantities have no \"B\": use " + decimal + " (10^" +
         std::to_string(3 * (1 + std::string_view("KMGTPE").find(upper))) + " bytes each) or " +
         power_of_two + " (2^" + std::to_string(10 * (1 + std::string_view("KMGTPE").find(upper))) +
         ")";
}

}  // namespace

Result<Quantity> Quantity::parse(std::string_view text) {
  auto parsed = parse_exact(text);
  if (!parsed) {
    if (const std::string hint = byte_unit_hint(text); !hint.empty()) {
      Error error = parsed.error();
      error.message += hint;
      return error;
    }
  }
  return parsed;
}

Result<Quantity> Quantity::parse_exact(std::string_view text) {
  if (text.empty())
    return make_error(std::string(kFormatError));
  Quantity q;
  if (text == "0") {
    q.text_ = "0";
    return q;
  }
  auto scanned = scan(text);
  if (!scanned)
    return scanned.error();
  const auto suffix = interpret_suffix(scanned->suffix);
  if (!suffix)
    return make_error("unable to parse quantity's suffix");
  q.format_ = suffix->format;
  auto magnitude = magnitude_in_nano(*scanned, *suffix);
  if (!magnitude || *magnitude > kMaxNano) {
    if (suffix->format != QuantityFormat::kBinarySI) {
      return make_error("quantity " + std::string(text) + " is out of range (at most 2^63-1)");
    }
    magnitude = kMaxNano;  // Kubernetes caps binary quantities here
  }
  if (suffix->format == QuantityFormat::kBinarySI && *magnitude > 0 && *magnitude < kNanoPerUnit) {
    q.format_ = QuantityFormat::kDecimalSI;
  }
  q.nano_ = scanned->positive ? *magnitude : -*magnitude;
  if (keeps_original_text(*scanned, *suffix))
    q.text_ = std::string(text);
  return q;
}

Quantity Quantity::from_int(int64_t value, QuantityFormat format) {
  return from_nano(static_cast<Int128>(value) * kNanoPerUnit, format);
}

Quantity Quantity::from_nano(Int128 nano, QuantityFormat format) {
  Quantity q;
  q.nano_ = nano;
  q.format_ = format;
  return q;
}

int64_t Quantity::value() const {
  Int128 units = nano_ / kNanoPerUnit;
  if (nano_ % kNanoPerUnit != 0)
    units += nano_ > 0 ? 1 : -1;
  if (units > kMaxUnits)
    return std::numeric_limits<int64_t>::max();
  if (units < -kMaxUnits)
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(units);
}

void Quantity::add(const Quantity& other) {
  text_.clear();
  if (nano_ == 0)
    format_ = other.format_;
  nano_ += other.nano_;
}

void Quantity::sub(const Quantity& other) {
  text_.clear();
  if (nano_ == 0)
    format_ = other.format_;
  nano_ -= other.nano_;
}

std::string Quantity::to_string() const {
  if (!text_.empty())
    return text_;
  if (nano_ == 0)
    return "0";
  QuantityFormat format = format_;
  const Int128 magnitude = nano_ < 0 ? -nano_ : nano_;
  if (format == QuantityFormat::kBinarySI &&
      (magnitude < 1024 * kNanoPerUnit || magnitude % kNanoPerUnit != 0)) {
    format = QuantityFormat::kDecimalSI;  // below 1Ki or fractional: printed in decimal
  }
  const std::string sign = nano_ < 0 ? "-" : "";
  if (format == QuantityFormat::kBinarySI) {
    static constexpr std::array<std::string_view, 7> kSuffixes = {"",   "Ki", "Mi", "Gi",
                                                                  "Ti", "Pi", "Ei"};
    Int128 units = magnitude / kNanoPerUnit;
    size_t exponent = 0;
    while (exponent + 1 < kSuffixes.size() && units % 1024 == 0) {
      units /= 1024;
      ++exponent;
    }
    return sign + int128_to_string(units) + std::string(kSuffixes[exponent]);
  }
  Int128 mantissa = magnitude;
  int exponent = -9;
  while (mantissa % 10 == 0) {
    mantissa /= 10;
    ++exponent;
  }
  while (exponent % 3 != 0) {
    mantissa *= 10;
    --exponent;
  }
  std::string suffix;
  if (format == QuantityFormat::kDecimalSI && exponent >= -9 && exponent <= 18) {
    static constexpr std::array<std::string_view, 10> kSuffixes = {"n", "u", "m", "",  "k",
                                                                   "M", "G", "T", "P", "E"};
    suffix = kSuffixes[static_cast<size_t>((exponent + 9) / 3)];
  } else if (exponent != 0) {
    suffix = "e" + std::to_string(exponent);
  }
  return sign + int128_to_string(mantissa) + suffix;
}

}  // namespace evictd
