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

namespace evictd {
namespace {

constexpr std::array<std::string_view, 8> kPressureFields = {
    "evictionHard", "evictionSoft",         "evictionSoftGracePeriod", "evictionMinimumReclaim",
    "dryRun",       "memoryPressureWindow", "memoryPressureStall",     "swapAwareRanking",
};

// The window is what a stall share is measured over: long enough to hold several rounds, short
// enough to act while a pod's thrash is still young.
constexpr Nanos kShortestWindow = std::chrono::seconds(1);
constexpr Nanos kLongestWindow = std::chrono::minutes(5);

Result<void> read_pressure_tuning(const YAML::Node& node, const std::string& path,
                                  PressureSignalsConfig& config) {
  if (const auto& window = node["memoryPressureWindow"]) {
    const std::string field = child_path(path, "memoryPressureWindow");
    auto text = yaml::scalar(window, field);
    if (!text)
      return text.error();
    auto parsed = parse_go_duration(*text);
    if (!parsed)
      return error_at(window, field, parsed.error().message);
    if (*parsed < kShortestWindow || *parsed > kLongestWindow)
      return error_at(window, field, "must be between 1s and 5m, not " + *text);
    config.memory_pressure_window = *parsed;
  }
  if (const auto& stall = node["memoryPressureStall"]) {
    const std::string field = child_path(path, "memoryPressureStall");
    auto text = yaml::scalar(stall, field);
    if (!text)
      return text.error();
    if (*text != "full" && *text != "some")
      return error_at(stall, field, "must be full or some, not " + *text);
    config.memory_pressure_some = *text == "some";
  }
  if (const auto& ranking = node["swapAwareRanking"]) {
    auto flag = yaml::boolean(ranking, child_path(path, "swapAwareRanking"));
    if (!flag)
      return flag.error();
    config.swap_aware_ranking = *flag;
  }
  return {};
}

}  // namespace

Result<PressureSignalsConfig> pressure_signals_from_yaml(const YAML::Node& node,
                                                         const std::string& path,
                                                         bool enforce_pods) {
  PressureSignalsConfig config;
  if (!node || node.IsNull())
    return config;
  if (!node.IsMap())
    return error_at(node, path, "must be a mapping");
  if (auto checked = yaml::refuse_unknown_keys(node, path, kPressureFields, "the fields are");
      !checked)
    return checked.error();
  PressureSettings settings;
  std::map<std::string, int> lines;
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    lines[key] = yaml::line_of(entry.first);
    if (key == "dryRun") {
      const std::string field = child_path(path, key);
      if (auto checked = yaml::expect_sequence(entry.second, field); !checked)
        return checked.error();
      for (size_t i = 0; i < entry.second.size(); ++i) {
        auto item = yaml::scalar(entry.second[i], yaml::index_path(field, i));
        if (!item)
          return item.error();
        lines["dryRun[" + std::to_string(i) + "]"] = yaml::line_of(entry.second[i]);
        settings.dry_run.push_back(*item);
      }
      continue;
    }
    auto* target = key == "evictionHard"              ? &settings.eviction_hard
                   : key == "evictionSoft"            ? &settings.eviction_soft
                   : key == "evictionSoftGracePeriod" ? &settings.eviction_soft_grace_period
                   : key == "evictionMinimumReclaim"  ? &settings.eviction_minimum_reclaim
                                                      : nullptr;
    if (target == nullptr)
      continue;
    auto map = signal_map(entry.second, key, path, lines);
    if (!map)
      return map.error();
    *target = std::move(map).value();
  }
  if (auto tuned = read_pressure_tuning(node, path, config); !tuned)
    return tuned.error();
  auto thresholds = build_pressure_thresholds(settings, enforce_pods, path);
  if (!thresholds) {
    // Located as the kubelet's fields are: at the entry, else at its map, else at the section.
    Error error = thresholds.error();
    const std::string field = error.field.substr(std::min(error.field.size(), path.size() + 1));
    auto line = lines.find(field);
    if (line == lines.end() && field.starts_with("evictionSoftGracePeriod["))
      line = lines.find("evictionSoft" + field.substr(field.find('[')));
    if (line == lines.end())
      line = lines.find(field.substr(0, field.find('[')));
    error.line = line != lines.end() ? line->second : yaml::line_of(node);
    return error;
  }
  config.thresholds = std::move(thresholds).value();
  return config;
}

}  // namespace evictd
