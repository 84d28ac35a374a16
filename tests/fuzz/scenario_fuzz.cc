// Fuzzes the scenario parser (YAML, v1 Pods, KubeletConfiguration fields) and, for every scenario
// that parses, the whole decision core: no crash, no sanitizer report.
#include <cstdint>
#include <sstream>
#include <string>

#include "daemon/simulate/scenario.h"
#include "daemon/simulate/simulator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024)
    return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto scenario = evictd::simulate::parse_scenario(text);
  if (!scenario)
    return 0;
  std::ostringstream out;
  std::ostringstream diagnostics;
  evictd::simulate::run(*scenario, evictd::simulate::OutputFormat::kJson, out, diagnostics);
  return 0;
}
