// Go time.Duration syntax ("300ms", "1m30s", "1.5h"), parsed and printed exactly as Go does, since
// the kubelet's configuration fields (evictionSoftGracePeriod, evictionPressureTransitionPeriod)
// use it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "ranking/result.h"

namespace evictd {

using Nanos = std::chrono::nanoseconds;

Result<Nanos> parse_go_duration(std::string_view text);
std::string format_go_duration(Nanos duration);

}  // namespace evictd
