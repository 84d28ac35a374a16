// Prints a sample's percentiles the same way in every harness benchmark:
// "<what> n=N p50=… ms p99=… ms min=… ms max=… ms".
#pragma once

#include <algorithm>
#include <cstdio>
#include <vector>

namespace evictd::bench {

inline void report(const char* what, std::vector<double> ms, int decimals = 2) {
  if (ms.empty())
    return;
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) {
    return ms[static_cast<size_t>(q * static_cast<double>(ms.size() - 1) + 0.5)];
  };
  std::printf("%-44s n=%-4zu p50=%9.*f ms  p99=%9.*f ms  min=%9.*f ms  max=%9.*f ms\n", what,
              ms.size(), decimals, at(0.5), decimals, at(0.99), decimals, ms.front(), decimals,
              ms.back());
}

}  // namespace evictd::bench
