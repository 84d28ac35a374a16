// Small builders for tests: pods, stats and observations written the way a reader thinks of them.
#pragma once

#include <string>
#include <vector>

#include "ranking/pod.h"
#include "ranking/stats.h"

namespace evictd::testing_util {

inline Quantity q(const char* text) {
  return Quantity::parse(text).value();
}
inline uint64_t bytes(const char* text) {
  return static_cast<uint64_t>(q(text).value());
}

inline Container container(std::string name, ResourceList requests = {}, ResourceList limits = {}) {
  Container c;
  c.name = std::move(name);
  c.resources.requests = std::move(requests);
  c.resources.limits = std::move(limits);
  return c;
}

inline Pod pod(std::string name, std::vector<Container> containers, int32_t priority = 0,
               std::string ns = "default") {
  Pod p;
  p.name = std::move(name);
  p.namespace_name = std::move(ns);
  p.uid = p.namespace_name + "-" + p.name;
  p.containers = std::move(containers);
  p.priority = priority;
  return p;
}

inline PodStats memory_stats(const char* working_set) {
  PodStats s;
  s.memory_working_set_bytes = bytes(working_set);
  return s;
}

inline SignalObservation observed(const char* available, const char* capacity) {
  return SignalObservation{q(available).value(), q(capacity).value(), std::nullopt};
}

}  // namespace evictd::testing_util
