#include "daemon/yaml/eviction_settings.h"

#include <array>

#include "daemon/yaml/reader.h"

namespace evictd {
namespace {

using yaml::child_path;
using yaml::error_at;

Result<EvictionSettings::SignalMap> signal_map(const YAML::Node& node, const std::string& name,
                                               const std::string& path,
                                               std::map<std::string, int>& lines) {
  EvictionSettings::SignalMap result;
  if (node.IsNull())
    return result;
  if (!node.IsMap())
    return error_at(node, child_path(path, name), "must be a mapping of signals");
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const std::string field = name + "[" + key + "]";
    auto value = yaml::scalar(entry.second, child_path(path, field));
    if (!value)
      return value.error();
    lines[field] = yaml::line_of(entry.first);
    result.emplace_back(key, *value);
  }
  return result;
}

}  // namespace

Result<EvictionSettingsInput> eviction_settings_from_yaml(const YAML::Node& node,
                                                          const std::string& path,
                                                          UnknownKeys unknown_keys) {
  static constexpr std::array<std::string_view, 8> kFields = {
      "evictionHard",
      "evictionSoft",
      "evictionSoftGracePeriod",
      "evictionMinimumReclaim",
      "evictionPressureTransitionPeriod",
      "evictionMaxPodGracePeriod",
      "mergeDefaultEvictionSettings",
      "enforceNodeAllocatable",
  };
  EvictionSettingsInput input;
  input.line = yaml::line_of(node);
  if (!node || node.IsNull())
    return input;
  if (!node.IsMap())
    return error_at(node, path, "must be a mapping");
  EvictionSettings& s = input.settings;
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    const std::string field = child_path(path, key);
    input.lines[key] = yaml::line_of(entry.first);
    if (key == "evictionHard" || key == "evictionSoft" || key == "evictionSoftGracePeriod" ||
        key == "evictionMinimumReclaim") {
      auto map = signal_map(value, key, path, input.lines);
      if (!map)
        return map.error();
      auto& target = key == "evictionHard"              ? s.eviction_hard
                     : key == "evictionSoft"            ? s.eviction_soft
                     : key == "evictionSoftGracePeriod" ? s.eviction_soft_grace_period
                                                        : s.eviction_minimum_reclaim;
      target = std::move(map).value();
    } else if (key == "evictionPressureTransitionPeriod") {
      auto text = yaml::scalar(value, field);
      if (!text)
        return text.error();
      s.eviction_pressure_transition_period = *text;
    } else if (key == "evictionMaxPodGracePeriod") {
      auto number = yaml::integer(value, field);
      if (!number)
        return number.error();
      s.eviction_max_pod_grace_period = *number;
    } else if (key == "mergeDefaultEvictionSettings") {
      auto flag = yaml::boolean(value, field);
      if (!flag)
        return flag.error();
      s.merge_default_eviction_settings = *flag;
    } else if (key == "enforceNodeAllocatable") {
      if (auto checked = yaml::expect_sequence(value, field); !checked)
        return checked.error();
      std::vector<std::string> list;
      for (size_t i = 0; i < value.size(); ++i) {
        auto item = yaml::scalar(value[i], yaml::index_path(field, i));
        if (!item)
          return item.error();
        list.push_back(*item);
      }
      s.enforce_node_allocatable = std::move(list);
    } else if (unknown_keys == UnknownKeys::kRefuse && key != "apiVersion" && key != "kind") {
      std::string known;
      for (const auto name : kFields)
        known += (known.empty() ? "" : ", ") + std::string(name);
      return error_at(entry.first, field, "unknown field; the eviction fields are " + known);
    }
  }
  return input;
}

Result<EvictionConfig> eviction_config_from_yaml(const YAML::Node& node, const std::string& path,
                                                 UnknownKeys unknown_keys) {
  auto input = eviction_settings_from_yaml(node, path, unknown_keys);
  if (!input)
    return input.error();
  auto config = build_eviction_config(input->settings);
  if (config)
    return config;
  Error error = config.error();
  auto line = input->lines.find(error.field);
  if (line == input->lines.end() && error.field.starts_with("evictionSoftGracePeriod[")) {
    // A missing grace period is best shown at the soft threshold that needs it.
    line = input->lines.find("evictionSoft" + error.field.substr(error.field.find('[')));
  }
  if (line != input->lines.end()) {
    error.line = line->second;
  } else {
    // A field validated without being written (a default) or named by its map: use the map's line.
    const auto map_line = input->lines.find(error.field.substr(0, error.field.find('[')));
    error.line = map_line != input->lines.end() ? map_line->second : input->line;
  }
  error.field = child_path(path, error.field);
  return error;
}

}  // namespace evictd
