// Kubernetes resource quantities (k8s.io/apimachinery resource.Quantity), parsed and printed
// exactly as the API server and the kubelet do, because eviction messages quote them byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ranking/result.h"

namespace evictd {

__extension__ using Int128 = __int128;

enum class QuantityFormat { kDecimalExponent, kBinarySI, kDecimalSI };

class Quantity {
 public:
  static constexpr Int128 kNanoPerUnit = 1'000'000'000;

  Quantity() = default;

  // Parses "128Mi", "1.5Gi", "100m", "1e3", "2k", ... Values are rounded up to nano units, binary
  // quantities are capped at 2^63-1 as Kubernetes does; decimal ones beyond that are refused.
  // apimachinery's grammar; an error for a size written with bytes ("100MB") says how Kubernetes
  // spells it.
  static Result<Quantity> parse(std::string_view text);
  // resource.NewQuantity(value, format).
  static Quantity from_int(int64_t value, QuantityFormat format);
  static Quantity from_nano(Int128 nano, QuantityFormat format);
  // A byte count, printed in binary SI as the kubelet prints usage.
  static Quantity from_bytes(uint64_t bytes) {
    return from_int(static_cast<int64_t>(bytes), QuantityFormat::kBinarySI);
  }

  Int128 nano() const { return nano_; }
  // Quantity.Value(): the integer value, rounded away from zero.
  int64_t value() const;
  QuantityFormat format() const { return format_; }
  bool is_zero() const { return nano_ == 0; }
  int sign() const { return nano_ > 0 ? 1 : (nano_ < 0 ? -1 : 0); }
  int compare(const Quantity& other) const {
    return nano_ < other.nano_ ? -1 : (nano_ > other.nano_ ? 1 : 0);
  }
  bool operator==(const Quantity& other) const { return nano_ == other.nano_; }

  // Quantity.Add / Quantity.Sub: a zero receiver takes the other's format; the result prints
  // canonically.
  void add(const Quantity& other);
  void sub(const Quantity& other);

  // Quantity.String(): the canonical form, or the text it was parsed from when Kubernetes keeps it.
  std::string to_string() const;

 private:
  static Result<Quantity> parse_exact(std::string_view text);
  Int128 nano_ = 0;
  QuantityFormat format_ = QuantityFormat::kDecimalSI;
  std::string text_;
};

// Formats a 128-bit integer in decimal (std::to_string has no overload for it).
std::string int128_to_string(Int128 value);

}  // namespace evictd
