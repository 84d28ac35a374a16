// Counts the heap allocations a piece of code makes, through a replaced global operator new
// (tests/unit/counting_new.cc, linked into the tests that use it).
#pragma once

#include <functional>

namespace evictd::testing_util {

long allocations_during(const std::function<void()>& code);

}  // namespace evictd::testing_util
