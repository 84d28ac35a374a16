// Small helpers for reading Kubernetes objects and configuration from yaml-cpp nodes (YAML or JSON
// text) with errors that carry the field path and the line.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ranking/result.h"

namespace evictd::yaml {

inline int line_of(const YAML::Node& node) {
  if (!node.IsDefined())
    return 0;  // a missing key has no position (and Mark() would throw)
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

inline Error error_at(const YAML::Node& node, std::string path, std::string reason) {
  Error error{std::move(reason), std::move(path), line_of(node)};
  return error;
}

inline std::string child_path(std::string_view parent, std::string_view key) {
  if (parent.empty())
    return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

inline std::string index_path(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

// YAML (or JSON) text as a node: a syntax error with its line; nesting deeper than yaml-cpp takes
// (a depth fixed when it is built: 500 in Debian's) with its line and the top-level field.
Result<YAML::Node> load(const std::string& text);

// A field that must be present: an error at the parent's line when it is missing.
Result<std::string> required_scalar(const YAML::Node& parent, const char* key,
                                    const std::string& parent_path);
Result<std::string> scalar(const YAML::Node& node, const std::string& path);
Result<int64_t> integer(const YAML::Node& node, const std::string& path);
Result<bool> boolean(const YAML::Node& node, const std::string& path);
// A mapping or null (absent); anything else is an error.
Result<void> expect_map(const YAML::Node& node, const std::string& path);
Result<void> expect_sequence(const YAML::Node& node, const std::string& path);
// Refuses a mapping key that is not in `known`: "unknown field; <lead> a, b, c" at the key's line,
// so that a typo never passes silently.
Result<void> refuse_unknown_keys(const YAML::Node& node, const std::string& path,
                                 std::span<const std::string_view> known,
                                 std::string_view lead = "expected");

// Refuses a mapping anywhere under `node` that gives a key twice: yaml-cpp keeps one of them
// silently, and which one was meant cannot be known ("given twice" at the second one's line).
Result<void> refuse_duplicate_keys(const YAML::Node& node, const std::string& path = "");

}  // namespace evictd::yaml
