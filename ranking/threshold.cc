#include "ranking/threshold.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "ranking/spelling.h"

namespace evictd {
namespace {

std::string field_of(std::string_view map_name, std::string_view key) {
  return std::string(map_name) + "[" + std::string(key) + "]";
}

// kubelet parsePercentage: strconv.ParseFloat(strings.TrimRight(v, "%"), 32) / 100, in float32.
std::optional<float> parse_percentage(std::string_view text) {
  while (!text.empty() && text.back() == '%')
    text.remove_suffix(1);
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front())) != 0)
    return std::nullopt;
  const std::string copy(text);
  char* end = nullptr;
  errno = 0;
  const float value = std::strtof(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || errno == ERANGE || std::isnan(value))
    return std::nullopt;
  return value / 100.0F;
}

Result<std::optional<Threshold>> parse_threshold_statement(std::string_view field, Signal signal,
                                                           const std::string& text) {
  const std::string name(signal_name(signal));
  if (text.ends_with("%")) {
    if (met_from_above(signal) && (text == "0%" || text == "100%")) {
      // The kubelet's rule (ignore them) would read "any stall" as no threshold at all.
      return make_error(name + " must be above 0% and below 100%, not " + text, std::string(field));
    }
    if (text == "0%" || text == "100%")
      return std::optional<Threshold>{};  // ignored, as the kubelet
    const auto percentage = parse_percentage(text);
    if (!percentage)
      return make_error("invalid percentage \"" + text + "\"", std::string(field));
    if (*percentage < 0) {
      return make_error("eviction percentage threshold " + name + " must be >= 0%: " + text,
                        std::string(field));
    }
    if (*percentage > 1) {
      return make_error("eviction percentage threshold " + name + " must be <= 100%: " + text,
                        std::string(field));
    }
    Threshold threshold;
    threshold.signal = signal;
    threshold.value.percentage = *percentage;
    return std::optional<Threshold>{threshold};
  }
  if (met_from_above(signal)) {
    return make_error(name +
                          " is a share of time stalled on memory; give a percentage such as "
                          "\"20%\", not \"" +
                          text + "\"",
                      std::string(field));
  }
  auto quantity = Quantity::parse(text);
  if (!quantity)
    return make_error(quantity.error().message + ": \"" + text + "\"", std::string(field));
  if (quantity->sign() <= 0) {
    return make_error("eviction threshold " + name + " must be positive: " + quantity->to_string(),
                      std::string(field));
  }
  Threshold threshold;
  threshold.signal = signal;
  threshold.value.quantity = *quantity;
  return std::optional<Threshold>{threshold};
}

Result<ThresholdValue> parse_min_reclaim(std::string_view field, Signal signal,
                                         const std::string& text) {
  const std::string name(signal_name(signal));
  if (text.ends_with("%")) {
    const auto percentage = parse_percentage(text);
    if (!percentage)
      return make_error("invalid percentage \"" + text + "\"", std::string(field));
    if (*percentage <= 0) {
      return make_error(
          "eviction percentage minimum reclaim " + name + " must be positive: " + text,
          std::string(field));
    }
    return ThresholdValue{std::nullopt, *percentage};
  }
  auto quantity = Quantity::parse(text);
  if (!quantity)
    return make_error(quantity.error().message + ": \"" + text + "\"", std::string(field));
  if (quantity->sign() < 0) {
    return make_error("negative eviction minimum reclaim specified for " + name,
                      std::string(field));
  }
  return ThresholdValue{*quantity, 0};
}

// Which signals a configuration may name: the kubelet's file only the kubelet's, evictd's section
// only evictd's own.
enum class SignalFamily { kKubelet, kEvictd };

// The names a configuration of `family` may use, for the error that lists them.
std::vector<std::string_view> family_names(SignalFamily family) {
  std::vector<std::string_view> names;
  for (Signal signal : kAllSignals) {
    if (is_kubelet_signal(signal) == (family == SignalFamily::kKubelet))
      names.push_back(signal_name(signal));
  }
  return names;
}

Result<Signal> signal_of(std::string_view key, SignalFamily family, const std::string& field) {
  const auto signal = parse_signal(key);
  if (!signal) {
    const auto names = family_names(family);
    std::string list;
    for (const auto name : names)
      list += (list.empty() ? "" : ", ") + std::string(name);
    return make_error("unsupported eviction signal " + std::string(key) + did_you_mean(key, names) +
                          "; the signals are " + list,
                      field);
  }
  if (family == SignalFamily::kKubelet && !is_kubelet_signal(*signal)) {
    return make_error(std::string(key) +
                          " is evictd's own signal, unknown to the kubelet: set it under "
                          "pressureSignals in evictd's configuration",
                      field);
  }
  if (family == SignalFamily::kEvictd && is_kubelet_signal(*signal)) {
    return make_error(std::string(key) +
                          " is the kubelet's signal: set it in the kubelet's eviction fields "
                          "(eviction or kubeletConfigFile)",
                      field);
  }
  return *signal;
}

// Resolves the signal of each key, refusing unknown signals, signals of the other family and keys
// given twice.
template <typename Fn>
Result<void> for_each_signal(std::string_view map_name, const EvictionSettings::SignalMap& entries,
                             SignalFamily family, Fn&& fn) {
  std::set<Signal> seen;
  for (const auto& [key, value] : entries) {
    const std::string field = field_of(map_name, key);
    auto signal = signal_of(key, family, field);
    if (!signal)
      return signal.error();
    if (!seen.insert(*signal).second)
      return make_error("signal " + key + " is given twice", field);
    if (auto checked = fn(*signal, field, value); !checked)
      return checked;
  }
  return {};
}

// The four signal maps of a configuration, as written (nullptr: absent).
struct SignalMaps {
  const EvictionSettings::SignalMap* hard = nullptr;
  const EvictionSettings::SignalMap* soft = nullptr;
  const EvictionSettings::SignalMap* grace_periods = nullptr;
  const EvictionSettings::SignalMap* min_reclaims = nullptr;
};

Result<void> read_grace_periods(const EvictionSettings::SignalMap& entries, SignalFamily family,
                                std::map<Signal, Nanos>& out) {
  return for_each_signal(
      "evictionSoftGracePeriod", entries, family,
      [&](Signal signal, const std::string& field, const std::string& value) -> Result<void> {
        auto period = parse_go_duration(value);
        if (!period)
          return make_error(period.error().message, field);
        if (period->count() < 0) {
          return make_error(
              "invalid eviction grace period specified: " + value + ", must be a positive value",
              field);
        }
        out[signal] = *period;
        return {};
      });
}

Result<void> read_min_reclaims(const EvictionSettings::SignalMap& entries, SignalFamily family,
                               std::map<Signal, ThresholdValue>& out) {
  return for_each_signal(
      "evictionMinimumReclaim", entries, family,
      [&](Signal signal, const std::string& field, const std::string& value) -> Result<void> {
        if (met_from_above(signal)) {
          return make_error(std::string(signal_name(signal)) +
                                " has no amount to reclaim: after each eviction its window "
                                "starts over instead",
                            field);
        }
        auto parsed = parse_min_reclaim(field, signal, value);
        if (!parsed)
          return parsed.error();
        out[signal] = *parsed;
        return {};
      });
}

// Hard thresholds, then soft ones with their grace periods, each with its minimum reclaim: the
// kubelet's ParseThresholdConfig.
Result<std::vector<Threshold>> typed_thresholds(const SignalMaps& maps, SignalFamily family) {
  std::vector<Threshold> hard_thresholds;
  std::vector<Threshold> soft_thresholds;
  std::map<Signal, Nanos> grace_periods;
  std::map<Signal, ThresholdValue> min_reclaims;

  auto collect = [](std::vector<Threshold>& out) {
    return
        [&out](Signal signal, const std::string& field, const std::string& value) -> Result<void> {
          auto parsed = parse_threshold_statement(field, signal, value);
          if (!parsed)
            return parsed.error();
          if (parsed.value())
            out.push_back(**parsed);
          return {};
        };
  };
  for (const auto& [name, entries, out] :
       {std::tuple{"evictionHard", maps.hard, &hard_thresholds},
        std::tuple{"evictionSoft", maps.soft, &soft_thresholds}}) {
    if (entries == nullptr)
      continue;
    if (auto checked = for_each_signal(name, *entries, family, collect(*out)); !checked)
      return checked.error();
  }
  if (maps.grace_periods != nullptr) {
    if (auto checked = read_grace_periods(*maps.grace_periods, family, grace_periods); !checked)
      return checked.error();
  }
  if (maps.min_reclaims != nullptr) {
    if (auto checked = read_min_reclaims(*maps.min_reclaims, family, min_reclaims); !checked)
      return checked.error();
  }
  for (auto& threshold : soft_thresholds) {
    const auto period = grace_periods.find(threshold.signal);
    if (period == grace_periods.end()) {
      const std::string name(signal_name(threshold.signal));
      return make_error("grace period must be specified for the soft eviction threshold " + name,
                        field_of("evictionSoftGracePeriod", name));
    }
    threshold.grace_period = period->second;
  }

  std::vector<Threshold> thresholds = std::move(hard_thresholds);
  thresholds.insert(thresholds.end(), soft_thresholds.begin(), soft_thresholds.end());
  for (auto& threshold : thresholds) {
    const auto min_reclaim = min_reclaims.find(threshold.signal);
    if (min_reclaim != min_reclaims.end())
      threshold.min_reclaim = min_reclaim->second;
  }
  return thresholds;
}

// kubelet addAllocatableThresholds: every hard threshold of `node` also guards the pods'
// allocatable share, through `allocatable`.
void add_allocatable_thresholds(std::vector<Threshold>& thresholds, Signal node,
                                Signal allocatable) {
  std::vector<Threshold> derived;
  for (const auto& threshold : thresholds) {
    if (threshold.signal == node && threshold.hard()) {
      Threshold copy = threshold;
      copy.signal = allocatable;
      derived.push_back(copy);
    }
  }
  thresholds.insert(thresholds.end(), derived.begin(), derived.end());
}

// A threshold's text as a comparable amount: bytes (or a count) for a quantity, or a fraction for
// a percentage; nullopt when it is neither (the validation that follows says why).
struct Amount {
  bool percentage = false;
  double value = 0;
};
std::optional<Amount> amount_of(const std::string& text) {
  if (text.ends_with("%")) {
    const auto fraction = parse_percentage(text);
    if (!fraction)
      return std::nullopt;
    return Amount{true, static_cast<double>(*fraction)};
  }
  const auto quantity = Quantity::parse(text);
  if (!quantity)
    return std::nullopt;
  return Amount{false, static_cast<double>(quantity->value())};
}

const std::string* find_value(const EvictionSettings::SignalMap& entries, const std::string& key) {
  for (const auto& [name, value] : entries) {
    if (name == key)
      return &value;
  }
  return nullptr;
}

std::vector<std::string> advise(const EvictionSettings& settings) {
  std::vector<std::string> warnings;
  if (settings.eviction_hard && !settings.merge_default_eviction_settings) {
    std::string dropped;
    for (const auto& [name, value] : default_eviction_hard()) {
      if (find_value(*settings.eviction_hard, name) == nullptr)
        dropped += (dropped.empty() ? "" : ", ") + name + "<" + value;
    }
    if (!dropped.empty()) {
      warnings.push_back("evictionHard leaves out the kubelet's defaults " + dropped +
                         ": a given evictionHard replaces them all; set "
                         "mergeDefaultEvictionSettings: true to keep the ones it does not name");
    }
  }
  if (settings.eviction_soft && settings.eviction_hard) {
    for (const auto& [name, soft] : *settings.eviction_soft) {
      const std::string* hard = find_value(*settings.eviction_hard, name);
      const auto soft_amount = amount_of(soft);
      const auto hard_amount = hard ? amount_of(*hard) : std::nullopt;
      if (!soft_amount || !hard_amount || soft_amount->percentage != hard_amount->percentage)
        continue;
      if (soft_amount->value <= hard_amount->value) {
        warnings.push_back("evictionSoft[" + name + "] " + soft + " is at or below evictionHard[" +
                           name + "] " + *hard +
                           ": the hard threshold is met first, so the soft one never acts; a soft "
                           "threshold belongs above the hard one");
      }
    }
  }
  if (settings.eviction_soft_grace_period) {
    for (const auto& [name, period] : *settings.eviction_soft_grace_period) {
      if (!settings.eviction_soft || find_value(*settings.eviction_soft, name) == nullptr) {
        warnings.push_back("evictionSoftGracePeriod[" + name + "] " + period +
                           " has no evictionSoft[" + name + "]: it does nothing");
      }
    }
  }
  return warnings;
}

}  // namespace

Quantity ThresholdValue::resolve(const Quantity& capacity) const {
  if (quantity)
    return *quantity;
  const auto bytes =
      static_cast<int64_t>(static_cast<double>(capacity.value()) * static_cast<double>(percentage));
  return Quantity::from_int(bytes, QuantityFormat::kBinarySI);
}

std::string ThresholdValue::text() const {
  if (quantity)
    return quantity->to_string();
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g%%", static_cast<double>(percentage) * 100.0);
  return buffer;
}

bool ThresholdValue::operator==(const ThresholdValue& other) const {
  if (quantity.has_value() != other.quantity.has_value())
    return false;
  if (quantity)
    return *quantity == *other.quantity;
  return percentage == other.percentage;
}

std::string_view filesystem_layout_name(FilesystemLayout layout) {
  switch (layout) {
    case FilesystemLayout::kShared:
      return "shared";
    case FilesystemLayout::kDedicatedImageFs:
      return "imagefs";
    case FilesystemLayout::kSplit:
      return "split";
  }
  return "";
}

std::optional<FilesystemLayout> parse_filesystem_layout(std::string_view name) {
  for (auto layout :
       {FilesystemLayout::kShared, FilesystemLayout::kDedicatedImageFs, FilesystemLayout::kSplit}) {
    if (filesystem_layout_name(layout) == name)
      return layout;
  }
  return std::nullopt;
}

const EvictionSettings::SignalMap& default_eviction_hard() {
  static const EvictionSettings::SignalMap kDefaults = {
      {"memory.available", "100Mi"}, {"nodefs.available", "10%"},  {"nodefs.inodesFree", "5%"},
      {"imagefs.available", "15%"},  {"imagefs.inodesFree", "5%"},
  };
  return kDefaults;
}

Result<EvictionConfig> build_eviction_config(const EvictionSettings& settings) {
  EvictionConfig config;

  // Defaulting (kubelet SetDefaults_KubeletConfiguration): an absent evictionHard takes the
  // defaults; a given one is used as is, or completed with them under mergeDefaultEvictionSettings.
  EvictionSettings::SignalMap hard = settings.eviction_hard.value_or(default_eviction_hard());
  if (settings.eviction_hard && settings.merge_default_eviction_settings) {
    for (const auto& entry : default_eviction_hard()) {
      bool present = false;
      for (const auto& given : hard)
        present = present || given.first == entry.first;
      if (!present)
        hard.push_back(entry);
    }
  }

  const auto map = [](const std::optional<EvictionSettings::SignalMap>& entries) {
    return entries ? &*entries : nullptr;
  };
  auto thresholds = typed_thresholds(
      SignalMaps{&hard, map(settings.eviction_soft), map(settings.eviction_soft_grace_period),
                 map(settings.eviction_minimum_reclaim)},
      SignalFamily::kKubelet);
  if (!thresholds)
    return thresholds.error();
  config.thresholds = std::move(thresholds).value();

  if (settings.enforce_node_allocatable) {
    config.enforce_node_allocatable = *settings.enforce_node_allocatable;
    static const std::set<std::string> kValid = {"pods",
                                                 "system-reserved",
                                                 "system-reserved-compressible",
                                                 "kube-reserved",
                                                 "kube-reserved-compressible",
                                                 "none"};
    std::set<std::string> seen;
    for (const auto& value : config.enforce_node_allocatable) {
      if (!kValid.contains(value)) {
        return make_error(
            "option \"" + value +
                "\" specified for enforceNodeAllocatable. Valid options are \"pods\", "
                "\"system-reserved\", \"system-reserved-compressible\", "
                "\"kube-reserved\", \"kube-reserved-compressible\" or \"none\"",
            "enforceNodeAllocatable");
      }
      if (!seen.insert(value).second) {
        return make_error("duplicated enforcements \"" + value + "\" in enforceNodeAllocatable",
                          "enforceNodeAllocatable");
      }
    }
    if (seen.contains("none") && seen.size() > 1) {
      return make_error(
          "enforceNodeAllocatable may not contain additional enforcements when \"none\" is "
          "specified",
          "enforceNodeAllocatable");
    }
    if (seen.contains("system-reserved") && seen.contains("system-reserved-compressible")) {
      return make_error(
          "both \"system-reserved\" and \"system-reserved-compressible\" cannot be specified "
          "together",
          "enforceNodeAllocatable");
    }
    if (seen.contains("kube-reserved") && seen.contains("kube-reserved-compressible")) {
      return make_error(
          "both \"kube-reserved\" and \"kube-reserved-compressible\" cannot be specified together",
          "enforceNodeAllocatable");
    }
  }
  const bool enforce_pods =
      std::find(config.enforce_node_allocatable.begin(), config.enforce_node_allocatable.end(),
                "pods") != config.enforce_node_allocatable.end();
  if (enforce_pods) {
    add_allocatable_thresholds(config.thresholds, Signal::kMemoryAvailable,
                               Signal::kAllocatableMemoryAvailable);
  }

  if (settings.eviction_pressure_transition_period) {
    auto period = parse_go_duration(*settings.eviction_pressure_transition_period);
    if (!period)
      return make_error(period.error().message, "evictionPressureTransitionPeriod");
    if (period->count() < 0) {
      return make_error("evictionPressureTransitionPeriod " +
                            *settings.eviction_pressure_transition_period + " must not be negative",
                        "evictionPressureTransitionPeriod");
    }
    config.pressure_transition_period = *period;
  }
  config.warnings = advise(settings);
  if (settings.eviction_max_pod_grace_period) {
    const int64_t value = *settings.eviction_max_pod_grace_period;
    if (value < INT32_MIN || value > INT32_MAX) {
      return make_error("evictionMaxPodGracePeriod " + std::to_string(value) +
                            " does not fit in a 32-bit integer",
                        "evictionMaxPodGracePeriod");
    }
    config.max_pod_grace_period_seconds = value;
  }
  return config;
}

Result<std::vector<Threshold>> build_pressure_thresholds(const PressureSettings& settings,
                                                         bool enforce_pods,
                                                         std::string_view section) {
  const auto prefixed = [&](Error error) {
    error.field = std::string(section) + "." + error.field;
    return error;
  };
  const auto map = [](const std::optional<EvictionSettings::SignalMap>& entries) {
    return entries ? &*entries : nullptr;
  };
  auto thresholds = typed_thresholds(
      SignalMaps{map(settings.eviction_hard), map(settings.eviction_soft),
                 map(settings.eviction_soft_grace_period), map(settings.eviction_minimum_reclaim)},
      SignalFamily::kEvictd);
  if (!thresholds)
    return prefixed(thresholds.error());
  std::vector<Threshold> typed = std::move(thresholds).value();
  if (enforce_pods) {
    add_allocatable_thresholds(typed, Signal::kMemoryAndSwapAvailable,
                               Signal::kAllocatableMemoryAndSwapAvailable);
  }
  std::set<Signal> dry_run;
  for (size_t i = 0; i < settings.dry_run.size(); ++i) {
    const std::string field = "dryRun[" + std::to_string(i) + "]";
    auto signal = signal_of(settings.dry_run[i], SignalFamily::kEvictd, field);
    if (!signal)
      return prefixed(signal.error());
    dry_run.insert(*signal);
  }
  for (auto& threshold : typed) {
    // The allocatable thresholds follow their node signal too.
    threshold.dry_run = dry_run.contains(threshold.signal) ||
                        (threshold.signal == Signal::kAllocatableMemoryAndSwapAvailable &&
                         dry_run.contains(Signal::kMemoryAndSwapAvailable));
  }
  return typed;
}

std::string Threshold::statement() const {
  return std::string(signal_name(signal)) + (met_from_above(signal) ? ">" : "<") + value.text();
}

std::vector<Threshold> with_containerfs_thresholds(const std::vector<Threshold>& thresholds,
                                                   FilesystemLayout layout,
                                                   std::vector<std::string>* warnings) {
  const bool from_imagefs = layout == FilesystemLayout::kDedicatedImageFs;
  const Signal bytes_source = from_imagefs ? Signal::kImageFsAvailable : Signal::kNodeFsAvailable;
  const Signal inodes_source =
      from_imagefs ? Signal::kImageFsInodesFree : Signal::kNodeFsInodesFree;
  std::vector<Threshold> result;
  for (const auto& threshold : thresholds) {
    if (signal_filesystem(threshold.signal) == Filesystem::kContainerFs) {
      if (warnings != nullptr) {
        warnings->push_back("found " + std::string(signal_name(threshold.signal)) + " for " +
                            (threshold.hard() ? "hard" : "soft") +
                            " eviction; ignoring it: containerfs thresholds follow the " +
                            (from_imagefs ? "imagefs" : "nodefs") + " thresholds");
      }
      continue;
    }
    result.push_back(threshold);
  }
  std::vector<Threshold> mirrored;
  for (const auto& threshold : result) {
    if (threshold.signal == bytes_source || threshold.signal == inodes_source) {
      Threshold copy = threshold;
      copy.signal = threshold.signal == bytes_source ? Signal::kContainerFsAvailable
                                                     : Signal::kContainerFsInodesFree;
      mirrored.push_back(copy);
    }
  }
  result.insert(result.end(), mirrored.begin(), mirrored.end());
  return result;
}

}  // namespace evictd
