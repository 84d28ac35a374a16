#include "daemon/yaml/reader.h"

#include <algorithm>
#include <limits>

namespace evictd::yaml {

Result<std::string> required_scalar(const YAML::Node& parent, const char* key,
                                    const std::string& parent_path) {
  const YAML::Node node = parent[key];
  if (!node)
    return error_at(parent, child_path(parent_path, key), "is required");
  return scalar(node, child_path(parent_path, key));
}

Result<std::string> scalar(const YAML::Node& node, const std::string& path) {
  if (!node)
    return error_at(node, path, "is required");
  if (!node.IsScalar())
    return error_at(node, path, "must be a string or number");
  return node.Scalar();
}

Result<int64_t> integer(const YAML::Node& node, const std::string& path) {
  if (!node || !node.IsScalar())
    return error_at(node, path, "must be an integer");
  const std::string& text = node.Scalar();
  size_t i = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  if (i == text.size())
    return error_at(node, path, "must be an integer, not \"" + text + "\"");
  int64_t value = 0;
  const bool negative = text[0] == '-';
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return error_at(node, path, "must be an integer, not \"" + text + "\"");
    }
    const int digit = text[i] - '0';
    if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) {
      return error_at(node, path, "integer \"" + text + "\" is out of range");
    }
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

Result<bool> boolean(const YAML::Node& node, const std::string& path) {
  if (node && node.IsScalar()) {
    if (node.Scalar() == "true")
      return true;
    if (node.Scalar() == "false")
      return false;
  }
  return error_at(node, path, "must be true or false");
}

Result<void> expect_map(const YAML::Node& node, const std::string& path) {
  if (!node || node.IsMap() || node.IsNull())
    return {};
  return error_at(node, path, "must be a mapping");
}

Result<void> expect_sequence(const YAML::Node& node, const std::string& path) {
  if (!node || node.IsSequence() || node.IsNull())
    return {};
  return error_at(node, path, "must be a list");
}

Result<void> refuse_unknown_keys(const YAML::Node& node, const std::string& path,
                                 std::span<const std::string_view> known, std::string_view lead) {
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) != known.end())
      continue;
    std::string list;
    for (const auto name : known)
      list += (list.empty() ? "" : ", ") + std::string(name);
    return error_at(entry.first, child_path(path, key),
                    "unknown field; " + std::string(lead) + " " + list);
  }
  return {};
}

}  // namespace evictd::yaml
