// Prints a sample's percentiles the same way in every harness benchmark:
// "<what> n=N p50=… ms p99=… ms min=… ms max=… ms" (another unit when named).
#pragma once

#include <algorithm>
#include <cstdio>
#include <vector>

namespace evictd::bench {

inline void report(const char* what, std::vector<double> values, int decimals = 2,
                   const char* unit = "ms") {
  if (values.empty())
    return;
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) {
    return values[static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5)];
  };
  std::printf("%-44s n=%-4zu p50=%9.*f %s  p99=%9.*f %s  min=%9.*f %s  max=%9.*f %s\n", what,
              values.size(), decimals, at(0.5), unit, decimals, at(0.99), unit, decimals,
              values.front(), unit, decimals, values.back(), unit);
}

}  // namespace evictd::bench
