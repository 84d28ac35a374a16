#include "daemon/simulate/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "daemon/yaml/eviction_settings.h"
#include "daemon/yaml/pod.h"
#include "daemon/yaml/reader.h"

namespace evictd::simulate {
namespace {

using yaml::child_path;
using yaml::error_at;
using yaml::index_path;

Result<void> refuse_unknown_keys(const YAML::Node& node, const std::string& path,
                                 std::initializer_list<std::string_view> known) {
  return yaml::refuse_unknown_keys(node, path,
                                   std::span<const std::string_view>(known.begin(), known.size()));
}

Result<Quantity> quantity(const YAML::Node& node, const std::string& path) {
  auto text = yaml::scalar(node, path);
  if (!text)
    return text.error();
  auto parsed = Quantity::parse(*text);
  if (!parsed)
    return error_at(node, path, parsed.error().message + ": \"" + *text + "\"");
  if (parsed->sign() < 0)
    return error_at(node, path, "must not be negative: " + *text);
  return parsed;
}

Result<uint64_t> amount(const YAML::Node& node, const std::string& path) {
  auto q = quantity(node, path);
  if (!q)
    return q.error();
  return static_cast<uint64_t>(q->value());
}

Result<Nanos> duration(const YAML::Node& node, const std::string& path) {
  auto text = yaml::scalar(node, path);
  if (!text)
    return text.error();
  auto parsed = parse_go_duration(*text);
  if (!parsed)
    return error_at(node, path, parsed.error().message);
  return parsed;
}

// memory.pressure as the sampler observes it, given as `{stalled: 25%, window: 10s, time: D}`: the
// share of the window tasks stalled (the window defaults to 10s).
Result<SignalObservation> stall_observation(const YAML::Node& value, const std::string& field,
                                            Nanos at) {
  if (!value.IsMap())
    return error_at(value, field, "must be {stalled, window}");
  if (auto checked = refuse_unknown_keys(value, field, {"stalled", "window", "time"}); !checked)
    return checked.error();
  if (!value["stalled"])
    return error_at(value, child_path(field, "stalled"), "is required");
  auto text = yaml::scalar(value["stalled"], child_path(field, "stalled"));
  if (!text)
    return text.error();
  char* end = nullptr;
  const double percent = std::strtod(text->c_str(), &end);
  if (text->empty() || !text->ends_with("%") || end != text->c_str() + text->size() - 1 ||
      percent < 0 || percent > 100) {
    return error_at(value["stalled"], child_path(field, "stalled"),
                    "must be a share between 0% and 100%, not " + *text);
  }
  Nanos window = std::chrono::seconds(10);
  if (value["window"]) {
    auto parsed = duration(value["window"], child_path(field, "window"));
    if (!parsed)
      return parsed.error();
    if (parsed->count() <= 0)
      return error_at(value["window"], child_path(field, "window"), "must be positive");
    window = *parsed;
  }
  SignalObservation observation;
  observation.capacity = std::chrono::duration_cast<std::chrono::microseconds>(window).count();
  observation.available =
      static_cast<int64_t>(static_cast<double>(observation.capacity) * percent / 100.0);
  observation.time = at;
  if (value["time"]) {
    auto time = duration(value["time"], child_path(field, "time"));
    if (!time)
      return time.error();
    observation.time = *time;
  }
  return observation;
}

// `signal: {available: Q, capacity: Q, time: D}` entries; `time` defaults to the step's time.
Result<Observations> observations(const YAML::Node& node, const std::string& path, Nanos at,
                                  const Observations* base) {
  Observations result = base != nullptr ? *base : Observations{};
  if (!node || node.IsNull())
    return result;
  if (!node.IsMap())
    return error_at(node, path, "must be a mapping of signal names");
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    const std::string field = path + "[" + name + "]";
    const auto signal = parse_signal(name);
    if (!signal)
      return error_at(entry.first, field, "unknown eviction signal " + name);
    const YAML::Node& value = entry.second;
    if (*signal == Signal::kMemoryPressure) {
      auto stall = stall_observation(value, field, at);
      if (!stall)
        return stall.error();
      result.set(*signal, *stall);
      continue;
    }
    if (!value.IsMap())
      return error_at(value, field, "must be {available, capacity}");
    if (auto checked = refuse_unknown_keys(value, field, {"available", "capacity", "time"});
        !checked)
      return checked.error();
    SignalObservation observation;
    for (const char* key : {"available", "capacity"}) {
      if (!value[key])
        return error_at(value, child_path(field, key), "is required");
      auto q = quantity(value[key], child_path(field, key));
      if (!q)
        return q.error();
      (std::string_view(key) == "available" ? observation.available : observation.capacity) =
          q->value();
    }
    if (observation.available > observation.capacity) {
      return error_at(value, field, "available exceeds capacity");
    }
    observation.time = at;
    if (value["time"]) {
      auto time = duration(value["time"], child_path(field, "time"));
      if (!time)
        return time.error();
      observation.time = *time;
    }
    result.set(*signal, observation);
  }
  return result;
}

const Pod* find_pod(const std::vector<Pod>& pods, const std::string& key) {
  for (const auto& pod : pods) {
    if (pod.key() == key)
      return &pod;
  }
  return nullptr;
}

bool has_container(const Pod& pod, const std::string& name) {
  for (const auto* group : {&pod.containers, &pod.init_containers}) {
    for (const auto& c : *group) {
      if (c.name == name)
        return true;
    }
  }
  return false;
}

Result<ContainerStats> container_stats(const YAML::Node& node, const std::string& field,
                                       const std::string& name) {
  if (!node.IsMap())
    return error_at(node, field, "must be a mapping");
  if (auto checked = refuse_unknown_keys(
          node, field, {"memory", "swap", "rootfs", "logs", "rootfsInodes", "logsInodes"});
      !checked) {
    return checked.error();
  }
  ContainerStats container;
  container.name = name;
  struct Field {
    const char* key;
    std::optional<uint64_t>* target;
  };
  for (const Field f :
       {Field{"memory", &container.memory_working_set_bytes},
        Field{"swap", &container.memory_swap_bytes}, Field{"rootfs", &container.rootfs_used_bytes},
        Field{"logs", &container.logs_used_bytes},
        Field{"rootfsInodes", &container.rootfs_inodes_used},
        Field{"logsInodes", &container.logs_inodes_used}}) {
    if (!node[f.key])
      continue;
    auto value = amount(node[f.key], child_path(field, f.key));
    if (!value)
      return value.error();
    *f.target = *value;
  }
  return container;
}

// The pod's containers' stats; their memory adds up to the pod's, their disk to its ephemeral
// storage.
Result<void> read_containers(const YAML::Node& containers, const std::string& path, const Pod& pod,
                             PodStats& stats, uint64_t& ephemeral) {
  if (!containers.IsMap())
    return error_at(containers, path, "must be a mapping of container names");
  uint64_t memory_sum = 0;
  uint64_t swap_sum = 0;
  bool any_memory = false;
  bool any_swap = false;
  for (const auto& entry : containers) {
    const std::string name = entry.first.Scalar();
    const std::string field = child_path(path, name);
    if (!has_container(pod, name))
      return error_at(entry.first, field, "pod " + pod.key() + " has no container " + name);
    auto container = container_stats(entry.second, field, name);
    if (!container)
      return container.error();
    if (container->memory_working_set_bytes) {
      any_memory = true;
      memory_sum += *container->memory_working_set_bytes;
    }
    if (container->memory_swap_bytes) {
      any_swap = true;
      swap_sum += *container->memory_swap_bytes;
    }
    ephemeral += container->rootfs_used_bytes.value_or(0) + container->logs_used_bytes.value_or(0);
    stats.containers.push_back(std::move(container).value());
  }
  if (any_memory)
    stats.memory_working_set_bytes = memory_sum;
  if (any_swap)
    stats.memory_swap_bytes = swap_sum;
  return {};
}

// The pod's volumes' usage: bytes alone, or bytes and inodes; local ephemeral volumes count in its
// ephemeral storage.
Result<void> read_volumes(const YAML::Node& volumes, const std::string& path, const Pod& pod,
                          PodStats& stats, uint64_t& ephemeral) {
  if (!volumes.IsMap())
    return error_at(volumes, path, "must be a mapping of volume names");
  for (const auto& entry : volumes) {
    const std::string name = entry.first.Scalar();
    const std::string field = child_path(path, name);
    const auto spec = std::find_if(pod.volumes.begin(), pod.volumes.end(),
                                   [&](const Volume& v) { return v.name == name; });
    if (spec == pod.volumes.end())
      return error_at(entry.first, field, "pod " + pod.key() + " has no volume " + name);
    VolumeStats volume;
    volume.name = name;
    if (entry.second.IsMap()) {
      if (auto checked = refuse_unknown_keys(entry.second, field, {"bytes", "inodes"}); !checked)
        return checked.error();
      for (const char* key : {"bytes", "inodes"}) {
        if (!entry.second[key])
          continue;
        auto value = amount(entry.second[key], child_path(field, key));
        if (!value)
          return value.error();
        (std::string_view(key) == "bytes" ? volume.used_bytes : volume.inodes_used) = *value;
      }
    } else {
      auto value = amount(entry.second, field);
      if (!value)
        return value.error();
      volume.used_bytes = *value;
    }
    if (is_local_ephemeral_volume(*spec))
      ephemeral += volume.used_bytes.value_or(0);
    stats.volumes.push_back(volume);
  }
  return {};
}

// The pod's own `key` (memory, swap), given instead of its containers' (which add up to it).
Result<void> read_pod_amount(const YAML::Node& node, const std::string& path, const char* key,
                             std::optional<uint64_t>& target) {
  const YAML::Node given = node[key];
  if (!given)
    return {};
  if (target) {
    return error_at(
        given, child_path(path, key),
        "give the pod's " + std::string(key) + " or its containers' " + key + ", not both");
  }
  auto value = amount(given, child_path(path, key));
  if (!value)
    return value.error();
  target = *value;
  return {};
}

Result<PodStats> pod_stats(const YAML::Node& node, const std::string& path, const Pod& pod) {
  PodStats stats;
  if (!node.IsMap())
    return error_at(node, path, "must be a mapping");
  if (auto checked = refuse_unknown_keys(
          node, path, {"memory", "swap", "containers", "volumes", "processes", "ephemeralStorage"});
      !checked) {
    return checked.error();
  }
  uint64_t ephemeral = 0;
  if (const YAML::Node containers = node["containers"]) {
    if (auto read =
            read_containers(containers, child_path(path, "containers"), pod, stats, ephemeral);
        !read)
      return read.error();
  }
  for (const auto& [key, target] : {std::pair{"memory", &stats.memory_working_set_bytes},
                                    std::pair{"swap", &stats.memory_swap_bytes}}) {
    if (auto read = read_pod_amount(node, path, key, *target); !read)
      return read.error();
  }
  if (const YAML::Node volumes = node["volumes"]) {
    if (auto read = read_volumes(volumes, child_path(path, "volumes"), pod, stats, ephemeral);
        !read)
      return read.error();
  }
  if (const YAML::Node processes = node["processes"]) {
    auto value = amount(processes, child_path(path, "processes"));
    if (!value)
      return value.error();
    stats.process_count = *value;
  }
  stats.ephemeral_storage_used_bytes = ephemeral;
  if (const YAML::Node total = node["ephemeralStorage"]) {
    auto value = amount(total, child_path(path, "ephemeralStorage"));
    if (!value)
      return value.error();
    stats.ephemeral_storage_used_bytes = *value;
  }
  return stats;
}

Result<std::vector<Pod>> pod_list(const YAML::Node& node, const std::string& path) {
  std::vector<Pod> pods;
  if (!node || node.IsNull())
    return pods;
  if (!node.IsSequence())
    return error_at(node, path, "must be a list of v1 Pod objects");
  for (size_t i = 0; i < node.size(); ++i) {
    auto parsed = pods_from_yaml(node[i], index_path(path, i));
    if (!parsed)
      return parsed.error();
    for (auto& pod : parsed.value())
      pods.push_back(std::move(pod));
  }
  return pods;
}

Result<void> add_unique(std::vector<Pod>& pods, std::vector<Pod> added, const YAML::Node& node,
                        const std::string& path) {
  for (auto& pod : added) {
    if (find_pod(pods, pod.key()) != nullptr) {
      return error_at(node, path, "pod " + pod.key() + " is given twice");
    }
    pods.push_back(std::move(pod));
  }
  return {};
}

Result<Step> parse_step(const YAML::Node& node, const std::string& path, std::vector<Pod>& pods) {
  Step step;
  step.line = yaml::line_of(node);
  if (!node.IsMap())
    return error_at(node, path, "must be a mapping");
  if (auto checked = refuse_unknown_keys(
          node, path, {"at", "signals", "pods", "reclaim", "addPods", "removePods"});
      !checked) {
    return checked.error();
  }
  if (!node["at"])
    return error_at(node, child_path(path, "at"), "is required");
  auto at = duration(node["at"], child_path(path, "at"));
  if (!at)
    return at.error();
  step.at = *at;

  if (const YAML::Node removed = node["removePods"]) {
    if (auto checked = yaml::expect_sequence(removed, child_path(path, "removePods")); !checked)
      return checked.error();
    for (size_t i = 0; i < removed.size(); ++i) {
      const std::string field = index_path(child_path(path, "removePods"), i);
      auto key = yaml::scalar(removed[i], field);
      if (!key)
        return key.error();
      const auto it =
          std::find_if(pods.begin(), pods.end(), [&](const Pod& p) { return p.key() == *key; });
      if (it == pods.end())
        return error_at(removed[i], field, "no pod " + *key + " to remove");
      pods.erase(it);
      step.remove_pods.push_back(*key);
    }
  }
  auto added = pod_list(node["addPods"], child_path(path, "addPods"));
  if (!added)
    return added.error();
  step.add_pods = added.value();
  if (auto checked =
          add_unique(pods, std::move(added).value(), node["addPods"], child_path(path, "addPods"));
      !checked) {
    return checked.error();
  }

  auto signals = observations(node["signals"], child_path(path, "signals"), step.at, nullptr);
  if (!signals)
    return signals.error();
  step.signals = *signals;
  if (const YAML::Node reclaim = node["reclaim"]) {
    auto after = observations(reclaim, child_path(path, "reclaim"), step.at, &step.signals);
    if (!after)
      return after.error();
    step.reclaim = *after;
  }
  if (const YAML::Node usage = node["pods"]) {
    const std::string field = child_path(path, "pods");
    if (!usage.IsMap())
      return error_at(usage, field, "must be a mapping of namespace/name to usage");
    for (const auto& entry : usage) {
      const std::string key = entry.first.Scalar();
      const std::string entry_path = field + "[" + key + "]";
      const Pod* pod = find_pod(pods, key);
      if (pod == nullptr)
        return error_at(entry.first, entry_path, "no pod " + key + " at this step");
      auto stats = pod_stats(entry.second, entry_path, *pod);
      if (!stats)
        return stats.error();
      step.usage.push_back(PodUsage{key, std::move(stats).value()});
    }
  }
  return step;
}

}  // namespace

// evictd's own signals, as in its configuration file; their window and stall kind are the
// sampler's and play no part here (the steps give memory.pressure's observations).
Result<void> read_pressure_signals(const YAML::Node& node, Scenario& scenario) {
  const auto& enforced = scenario.config.enforce_node_allocatable;
  const bool enforce_pods = std::find(enforced.begin(), enforced.end(), "pods") != enforced.end();
  auto pressure = pressure_signals_from_yaml(node, "pressureSignals", enforce_pods);
  if (!pressure)
    return pressure.error();
  auto& thresholds = scenario.config.thresholds;
  thresholds.insert(thresholds.end(), pressure->thresholds.begin(), pressure->thresholds.end());
  scenario.config.swap_aware_ranking = pressure->swap_aware_ranking;
  return {};
}

Result<Scenario> parse_scenario(const std::string& text) {
  auto loaded = yaml::load(text);
  if (!loaded)
    return loaded.error();
  const YAML::Node root = *loaded;
  try {
    if (!root.IsMap())
      return error_at(root, "", "a scenario must be a mapping");
    if (auto checked = refuse_unknown_keys(
            root, "", {"config", "pressureSignals", "filesystems", "pods", "steps"});
        !checked) {
      return checked.error();
    }
    Scenario scenario;
    auto config = eviction_config_from_yaml(root["config"], "config", UnknownKeys::kRefuse);
    if (!config)
      return config.error();
    scenario.config = std::move(config).value();
    if (auto read = read_pressure_signals(root["pressureSignals"], scenario); !read)
      return read.error();
    if (const YAML::Node layout = root["filesystems"]) {
      auto name = yaml::scalar(layout, "filesystems");
      if (!name)
        return name.error();
      const auto parsed = parse_filesystem_layout(*name);
      if (!parsed)
        return error_at(layout, "filesystems", "must be shared, imagefs or split, not " + *name);
      scenario.layout = *parsed;
    }
    auto pods = pod_list(root["pods"], "pods");
    if (!pods)
      return pods.error();
    if (auto checked = add_unique(scenario.pods, std::move(pods).value(), root["pods"], "pods");
        !checked) {
      return checked.error();
    }
    const YAML::Node steps = root["steps"];
    if (!steps || !steps.IsSequence() || steps.size() == 0) {
      return error_at(steps ? steps : root, "steps", "must be a non-empty list");
    }
    std::vector<Pod> current = scenario.pods;
    for (size_t i = 0; i < steps.size(); ++i) {
      auto step = parse_step(steps[i], index_path("steps", i), current);
      if (!step)
        return step.error();
      if (!scenario.steps.empty() && step->at <= scenario.steps.back().at) {
        return error_at(steps[i]["at"], index_path("steps", i) + ".at",
                        "steps must be in increasing `at`");
      }
      scenario.steps.push_back(std::move(step).value());
    }
    return scenario;
  } catch (const YAML::Exception& e) {
    return Error{e.msg, "", e.mark.line + 1};
  }
}

}  // namespace evictd::simulate
