#include "daemon/yaml/reader.h"

#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

#include "ranking/spelling.h"

namespace evictd::yaml {
namespace {

// The top-level key of a block mapping in force at `line` (1-based): the last line at or before it
// that starts with a key. Deep nesting is reported there, where yaml-cpp knows no path.
std::string top_level_key_at(const std::string& text, int line) {
  std::string key;
  size_t start = 0;
  for (int number = 1; number <= line && start < text.size(); ++number) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view row(text.data() + start, end - start);
    const size_t colon = row.find(':');
    if (!row.empty() && std::isalpha(static_cast<unsigned char>(row.front())) &&
        colon != std::string_view::npos &&
        row.substr(0, colon).find_first_of(" \t[{") == std::string_view::npos)
      key = std::string(row.substr(0, colon));
    start = end + 1;
  }
  return key;
}

// Whether the 1-based `line` of `text` starts with whitespace that holds a tab: yaml-cpp's message
// for it ("illegal map value") does not say so.
bool tab_in_indentation(const std::string& text, int line) {
  size_t start = 0;
  for (int i = 1; i < line && start != std::string::npos; ++i) {
    start = text.find('\n', start);
    if (start != std::string::npos)
      ++start;
  }
  if (start == std::string::npos)
    return false;
  for (size_t i = start; i < text.size() && (text[i] == ' ' || text[i] == '\t'); ++i) {
    if (text[i] == '\t')
      return true;
  }
  return false;
}

}  // namespace

Result<YAML::Node> load(const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    // The scanner may have read ahead to the end of the text: the line is the last one at most.
    const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) +
                      (text.empty() || text.back() == '\n' ? 0 : 1);
    const int line = std::min(e.mark.line + 1, std::max(lines, 1));
    return Error{"nested more than " + std::to_string(e.depth()) + " levels deep",
                 top_level_key_at(text, line), line};
  } catch (const YAML::ParserException& e) {
    const int line = e.mark.line + 1;
    if (tab_in_indentation(text, line))
      return Error{"a tab in the indentation: YAML indents with spaces only", "", line};
    return Error{e.msg, "", line};
  }
}

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
    return error_at(
        entry.first, child_path(path, key),
        "unknown field" + did_you_mean(key, known) + "; " + std::string(lead) + " " + list);
  }
  return {};
}

Result<void> refuse_duplicate_keys(const YAML::Node& node, const std::string& path) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      if (auto checked = refuse_duplicate_keys(node[i], index_path(path, i)); !checked)
        return checked;
    }
    return {};
  }
  if (!node.IsMap())
    return {};
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (!key.empty() && !seen.insert(key).second)
      return error_at(entry.first, child_path(path, key), "given twice");
    if (auto checked = refuse_duplicate_keys(entry.second, child_path(path, key)); !checked)
      return checked;
  }
  return {};
}

}  // namespace evictd::yaml
