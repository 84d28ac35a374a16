#include "daemon/config/config.h"

#include <grp.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "daemon/files/text_file.h"
#include "daemon/kube/kubeconfig.h"
#include "daemon/kube/names.h"
#include "daemon/net/listen_address.h"
#include "daemon/yaml/eviction_settings.h"
#include "daemon/yaml/reader.h"

namespace evictd::config {
namespace {

using yaml::error_at;

constexpr std::array<std::string_view, 26> kFields = {"nodeName",
                                                      "kubeconfig",
                                                      "eviction",
                                                      "kubeletConfigFile",
                                                      "pressureSignals",
                                                      "cgroupDriver",
                                                      "kubepods",
                                                      "containerRuntimeEndpoint",
                                                      "podSandboxImage",
                                                      "nodefsPath",
                                                      "monitoringInterval",
                                                      "pressureNotifications",
                                                      "memoryGrowthBound",
                                                      "imageMinimumGCAge",
                                                      "evictedPodMetricRetention",
                                                      "softEvictionMode",
                                                      "postEvictionWatch",
                                                      "dryRun",
                                                      "nodeConditions",
                                                      "podMetrics",
                                                      "stateDirectory",
                                                      "metricsAddress",
                                                      "statusSocket",
                                                      "statusSocketGroup",
                                                      "statusAddress",
                                                      "logLevel"};

// The default node name: NODE_NAME (a DaemonSet sets it from spec.nodeName with the downward API,
// since a node's name need not be its host name), else the host name.
std::string host_name() {
  if (const char* node = std::getenv("NODE_NAME"); node != nullptr && *node != '\0')
    return node;
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0)
    return "";
  // As the kubelet takes the host name (GetHostname in
  // staging/src/k8s.io/component-helpers/node/util/hostname.go): lowercased.
  std::string name = buffer;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

std::string resolve(const std::string& value, const std::string& config_path) {
  if (value.empty() || value.front() == '/' || value == "in-cluster")
    return value;
  return (std::filesystem::path(config_path).parent_path() / value).lexically_normal().string();
}

// Locates an error at `file:line` with the field, in the one-line form every evictd error has.
// A value that did not come from the file (a default, NODE_NAME) has no line: `file: field: ...`.
Error located(const std::string& path, Error error) {
  error.message = path + (error.line > 0 ? ":" + std::to_string(error.line) : "") + ": " +
                  (error.field.empty() ? "" : error.field + ": ") + error.message;
  return error;
}

using Step = Result<void> (*)(const YAML::Node& root, const std::string& path, Config& config);

Result<void> read_text_fields(const YAML::Node& root, const std::string& path, Config& config) {
  for (auto [key, target] : std::initializer_list<std::pair<const char*, std::string*>>{
           {"nodeName", &config.node_name},
           {"kubeconfig", &config.kubeconfig},
           {"kubeletConfigFile", &config.kubelet_config_file},
           {"kubepods", &config.kubepods},
           {"containerRuntimeEndpoint", &config.container_runtime_endpoint},
           {"podSandboxImage", &config.pod_sandbox_image},
           {"nodefsPath", &config.nodefs_path},
           {"stateDirectory", &config.state_directory},
           {"metricsAddress", &config.metrics_address},
           {"statusSocket", &config.status_socket},
           {"statusSocketGroup", &config.status_socket_group},
           {"statusAddress", &config.status_address}}) {
    if (!root[key])
      continue;
    auto value = yaml::scalar(root[key], key);
    if (!value)
      return located(path, value.error());
    *target = *value;
  }
  config.kubeconfig = resolve(config.kubeconfig, path);
  config.kubelet_config_file = resolve(config.kubelet_config_file, path);
  return {};
}

Result<void> check_endpoints(const YAML::Node& root, const std::string& path, Config& config) {
  // The status API has no authentication beyond the socket's permissions: over TCP it is
  // offered on loopback only.
  if (!config.status_address.empty() && !config.status_address.starts_with("127.0.0.1:") &&
      !config.status_address.starts_with("[::1]:") &&
      !config.status_address.starts_with("localhost:")) {
    return located(path, error_at(root["statusAddress"], "statusAddress",
                                  "must be a loopback address (127.0.0.1:PORT, [::1]:PORT or "
                                  "localhost:PORT), not " +
                                      config.status_address));
  }
  if (auto address = net::parse_listen_address(config.metrics_address); !address) {
    return located(path,
                   error_at(root["metricsAddress"], "metricsAddress", address.error().message));
  } else if (address->port == 0) {
    return located(path, error_at(root["metricsAddress"], "metricsAddress",
                                  config.metrics_address + ": name the port Prometheus scrapes"));
  }
  if (config.node_name.empty())
    return located(path, error_at(root, "nodeName", "is empty and the host has no name"));
  // It goes into the API server's URLs and field selectors: a node's name by the API server's
  // rules, or nothing (kube/names.h).
  if (const auto problem = kube::dns_subdomain_problem(config.node_name); !problem.empty()) {
    return located(
        path, error_at(root["nodeName"] ? root["nodeName"] : root, "nodeName",
                       problem + (root["nodeName"] ? "" : " (from NODE_NAME or the host name)")));
  }
  if (!config.container_runtime_endpoint.starts_with("unix://")) {
    return located(path,
                   error_at(root["containerRuntimeEndpoint"], "containerRuntimeEndpoint",
                            "must be a unix:// socket, not " + config.container_runtime_endpoint));
  }
  return {};
}

Result<void> read_durations(const YAML::Node& root, const std::string& path, Config& config) {
  for (auto [key, target] : {std::pair{"monitoringInterval", &config.monitoring_interval},
                             std::pair{"imageMinimumGCAge", &config.image_minimum_age},
                             std::pair{"evictedPodMetricRetention", &config.evicted_pod_retention},
                             std::pair{"postEvictionWatch", &config.post_eviction_watch}}) {
    if (!root[key])
      continue;
    auto text_value = yaml::scalar(root[key], key);
    if (!text_value)
      return located(path, text_value.error());
    auto parsed = parse_go_duration(*text_value);
    if (!parsed)
      return located(path, error_at(root[key], key, parsed.error().message));
    if (parsed->count() < 0 ||
        (std::string_view(key) == "monitoringInterval" && parsed->count() == 0)) {
      return located(path, error_at(root[key], key, "must be positive, not " + *text_value));
    }
    *target = *parsed;
  }
  return {};
}

// A quantity of bytes per second, as "2Gi": Kubernetes' quantity syntax, not negative.
Result<void> read_growth_bound(const YAML::Node& root, const std::string& path, Config& config) {
  constexpr const char* kKey = "memoryGrowthBound";
  if (!root[kKey])
    return {};
  auto text_value = yaml::scalar(root[kKey], kKey);
  if (!text_value)
    return located(path, text_value.error());
  auto parsed = Quantity::parse(*text_value);
  if (!parsed)
    return located(path, error_at(root[kKey], kKey, parsed.error().message));
  if (parsed->sign() < 0)
    return located(path, error_at(root[kKey], kKey, "must not be negative, not " + *text_value));
  config.memory_growth_bound = parsed->value();
  return {};
}

Result<void> read_modes(const YAML::Node& root, const std::string& path, Config& config) {
  if (root["cgroupDriver"]) {
    const std::string driver = root["cgroupDriver"].Scalar();
    if (driver != "cgroupfs" && driver != "systemd") {
      return located(path, error_at(root["cgroupDriver"], "cgroupDriver",
                                    "must be cgroupfs or systemd, not " + driver));
    }
    config.cgroup_driver =
        driver == "systemd" ? cgroups::CgroupDriver::kSystemd : cgroups::CgroupDriver::kCgroupfs;
  }
  // The kubelet's name is "kubepods" with either driver; with systemd, operators see the unit
  // kubepods.slice, and that spelling means the same cgroup.
  if (config.cgroup_driver == cgroups::CgroupDriver::kSystemd &&
      config.kubepods.ends_with(".slice"))
    config.kubepods.resize(config.kubepods.size() - std::string_view(".slice").size());
  if (root["softEvictionMode"]) {
    const std::string mode = root["softEvictionMode"].Scalar();
    if (mode != "direct" && mode != "api") {
      return located(path, error_at(root["softEvictionMode"], "softEvictionMode",
                                    "must be direct or api, not " + mode));
    }
    if (mode == "api" && config.kubeconfig.empty()) {
      return located(path, error_at(root["softEvictionMode"], "softEvictionMode",
                                    "api needs kubeconfig: the Eviction API is the API server's"));
    }
    config.soft_eviction_mode = mode == "api" ? SoftEvictionMode::kApi : SoftEvictionMode::kDirect;
  }
  for (auto [key, target] :
       {std::pair{"dryRun", &config.dry_run}, std::pair{"nodeConditions", &config.node_conditions},
        std::pair{"pressureNotifications", &config.pressure_notifications},
        std::pair{"podMetrics", &config.pod_metrics}}) {
    if (!root[key])
      continue;
    auto flag = yaml::boolean(root[key], key);
    if (!flag)
      return located(path, flag.error());
    *target = *flag;
  }
  return {};
}

Result<void> read_log_level(const YAML::Node& root, const std::string& path, Config& config) {
  if (!root["logLevel"])
    return {};
  const std::string level = root["logLevel"].Scalar();
  static const std::array<std::pair<std::string_view, LogLevel>, 4> kLevels = {
      {{"debug", LogLevel::kDebug},
       {"info", LogLevel::kInfo},
       {"warning", LogLevel::kWarning},
       {"error", LogLevel::kError}}};
  const auto found =
      std::find_if(kLevels.begin(), kLevels.end(), [&](const auto& l) { return l.first == level; });
  if (found == kLevels.end()) {
    return located(path, error_at(root["logLevel"], "logLevel",
                                  "must be debug, info, warning or error, not " + level));
  }
  config.log_level = found->second;
  return {};
}

// The thresholds, inline or from the kubelet's own file (whose other fields are ignored).
Result<void> read_eviction(const YAML::Node& root, const std::string& path, Config& config) {
  if (root["eviction"] && !config.kubelet_config_file.empty()) {
    return located(path, error_at(root["eviction"], "eviction",
                                  "give the thresholds inline or kubeletConfigFile, not both"));
  }
  if (config.kubelet_config_file.empty()) {
    auto eviction = eviction_config_from_yaml(root["eviction"], "eviction", UnknownKeys::kRefuse);
    if (!eviction)
      return located(path, eviction.error());
    config.eviction = std::move(eviction).value();
    return {};
  }
  auto text = files::read_text_file(config.kubelet_config_file);
  if (!text) {
    return located(path, error_at(root["kubeletConfigFile"], "kubeletConfigFile",
                                  "cannot read " + text.error().message));
  }
  auto kubelet = yaml::load(*text);
  if (!kubelet)
    return located(config.kubelet_config_file, kubelet.error());
  auto eviction = eviction_config_from_yaml(*kubelet, "", UnknownKeys::kIgnore);
  if (!eviction)
    return located(config.kubelet_config_file, eviction.error());
  config.eviction = std::move(eviction).value();
  // The kubelet's cgroup driver decides where pod cgroups are; evictd's must be the same.
  if (const auto& driver = (*kubelet)["cgroupDriver"]; driver && driver.IsScalar()) {
    const std::string ours =
        config.cgroup_driver == cgroups::CgroupDriver::kSystemd ? "systemd" : "cgroupfs";
    if (driver.Scalar() != ours) {
      config.eviction.warnings.push_back("cgroupDriver is " + ours + " here but " +
                                         driver.Scalar() + " in the kubelet's " +
                                         config.kubelet_config_file +
                                         ": evictd looks for pods' cgroups where the kubelet does "
                                         "not make them; set cgroupDriver: " +
                                         driver.Scalar());
    }
  }
  return {};
}

// evictd's own signals, after the kubelet's thresholds: their allocatable thresholds follow
// enforceNodeAllocatable, and they join the kubelet's in one evaluator.
Result<void> read_pressure_signals(const YAML::Node& root, const std::string& path,
                                   Config& config) {
  const auto& enforced = config.eviction.enforce_node_allocatable;
  const bool enforce_pods = std::find(enforced.begin(), enforced.end(), "pods") != enforced.end();
  auto pressure =
      pressure_signals_from_yaml(root["pressureSignals"], "pressureSignals", enforce_pods);
  if (!pressure)
    return located(path, pressure.error());
  config.eviction.thresholds.insert(config.eviction.thresholds.end(), pressure->thresholds.begin(),
                                    pressure->thresholds.end());
  config.eviction.swap_aware_ranking = pressure->swap_aware_ranking;
  config.memory_pressure_window = pressure->memory_pressure_window;
  config.memory_pressure_some = pressure->memory_pressure_some;
  return {};
}

// A threshold's value as given; a binary quantity beyond 2^63-1 says that it was capped there, as
// Kubernetes caps it (apimachinery's ParseQuantity), since the number alone looks like an error.
std::string value_text(const ThresholdValue& value) {
  const bool capped =
      value.quantity && value.quantity->value() == std::numeric_limits<int64_t>::max();
  return value.text() + (capped ? " (capped at 2^63-1, as Kubernetes caps binary quantities)" : "");
}

// What evictionMaxPodGracePeriod means for a soft eviction (docs/decisions.md): a bound in seconds,
// or, negative, the pod's own terminationGracePeriodSeconds.
std::string max_grace_text(int64_t seconds) {
  if (seconds < 0)
    return "the pod's own terminationGracePeriodSeconds (" + std::to_string(seconds) + ")";
  return std::to_string(seconds) + " s";
}

// The files the kubeconfig names, each readable as evictd will read it.
Result<void> check_kubeconfig(const std::string& kubeconfig) {
  auto credentials = kube::load_kubeconfig(kubeconfig);
  if (!credentials)
    return credentials.error();
  for (const auto& [what, file] : {std::pair{"certificate-authority", credentials->ca_file},
                                   std::pair{"client-certificate", credentials->client_cert_file},
                                   std::pair{"client-key", credentials->client_key_file},
                                   std::pair{"tokenFile", credentials->token_file}}) {
    if (file.empty())
      continue;
    if (auto text = files::read_text_file(file); !text)
      return make_error(kubeconfig + ": " + what + ": " + text.error().message);
  }
  return {};
}

// What the file names outside itself — the kubeconfig and the files it names, the status socket's
// group — checked when the file is loaded, so that check-config refuses what run would, at the
// field's line. In-cluster credentials exist only in the pod, and are checked by run.
Result<void> check_references(const YAML::Node& root, const std::string& path,
                              const Config& config) {
  if (!config.kubeconfig.empty() && config.kubeconfig != "in-cluster") {
    if (auto checked = check_kubeconfig(config.kubeconfig); !checked)
      return located(path, error_at(root["kubeconfig"], "kubeconfig", checked.error().message));
  }
  if (!config.status_socket_group.empty()) {
    group entry{};
    group* found = nullptr;
    std::array<char, 16384> buffer{};
    const int error = getgrnam_r(config.status_socket_group.c_str(), &entry, buffer.data(),
                                 buffer.size(), &found);
    if (error != 0 || found == nullptr) {
      return located(path, error_at(root["statusSocketGroup"], "statusSocketGroup",
                                    "no group named \"" + config.status_socket_group + "\"" +
                                        (error != 0 ? std::string(": ") + std::strerror(error)
                                                    : std::string())));
    }
  }
  return {};
}

}  // namespace

namespace {

// The configuration from its YAML, loaded once by parse_config or load_config.
Result<Config> parse_root(YAML::Node root, const std::string& path) {
  Config config;
  config.node_name = host_name();
  if (!root || root.IsNull())
    root = YAML::Node(YAML::NodeType::Map);  // an empty file: every default
  if (!root.IsMap())
    return located(path, error_at(root, "", "the configuration must be a mapping"));
  try {
    if (auto checked = yaml::refuse_unknown_keys(root, "", kFields, "the fields are"); !checked)
      return located(path, checked.error());
    for (Step step : {&read_text_fields, &check_endpoints, &read_durations, &read_growth_bound,
                      &read_modes, &read_log_level, &read_eviction, &read_pressure_signals}) {
      if (auto read = step(root, path, config); !read)
        return read.error();
    }
    // Last, so that a field's own check (a signal given twice) speaks first.
    if (auto checked = yaml::refuse_duplicate_keys(root); !checked)
      return located(path, checked.error());
  } catch (const YAML::Exception& e) {
    return located(path, Error{e.msg, "", e.mark.line + 1});
  }
  return config;
}

}  // namespace

SamplingNeeds sampling_needs(const Config& config) {
  SamplingNeeds needs;
  for (const auto& threshold : config.eviction.thresholds) {
    if (threshold.signal == Signal::kMemoryPressure) {
      needs.memory_pressure_window = config.memory_pressure_window;
      needs.memory_pressure_some = config.memory_pressure_some;
    } else if (counts_swap(threshold.signal)) {
      needs.swap_signals = true;
    }
  }
  return needs;
}

Result<Config> parse_config(const std::string& text, const std::string& path) {
  auto root = yaml::load(text);
  if (!root)
    return located(path, root.error());
  return parse_root(*root, path);
}

Result<Config> load_config(const std::string& path) {
  auto text = files::read_text_file(path);
  if (!text)
    return make_error("cannot read the configuration " + text.error().message);
  auto root = yaml::load(*text);
  if (!root)
    return located(path, root.error());
  auto config = parse_root(*root, path);
  if (!config)
    return config;
  if (auto checked = check_references(*root, path, *config); !checked)
    return checked.error();
  return config;
}

std::string describe(const Config& c) {
  std::ostringstream out;
  out << "node " << c.node_name
      << "; API server: " << (c.kubeconfig.empty() ? "none (standalone)" : c.kubeconfig)
      << "; runtime " << c.container_runtime_endpoint << "; cgroups "
      << (c.cgroup_driver == cgroups::CgroupDriver::kSystemd ? "systemd" : "cgroupfs") << "/"
      << c.kubepods << "; every " << format_go_duration(c.monitoring_interval)
      << (c.pressure_notifications && c.memory_growth_bound > 0
              ? ", sooner near a memory threshold (paced for " +
                    Quantity::from_bytes(static_cast<uint64_t>(c.memory_growth_bound)).to_string() +
                    "/s)"
              : "")
      << "; soft evictions "
      << (c.soft_eviction_mode == SoftEvictionMode::kApi ? "through the Eviction API" : "direct")
      << "; evicted pods watched for "
      << (c.post_eviction_watch.count() == 0 ? std::string("no time (off)")
                                             : format_go_duration(c.post_eviction_watch))
      << (c.dry_run ? "; DRY RUN" : "") << "\nthresholds:";
  for (const auto& t : c.eviction.thresholds) {
    out << "\n  " << signal_name(t.signal) << (met_from_above(t.signal) ? " > " : " < ")
        << value_text(t.value)
        << (t.hard() ? " (hard)" : " (soft, grace " + format_go_duration(t.grace_period) + ")");
    if (t.min_reclaim)
      out << ", min-reclaim " << value_text(*t.min_reclaim);
    if (t.signal == Signal::kMemoryPressure) {
      out << ", tasks stalled on memory (" << (c.memory_pressure_some ? "some" : "full")
          << ") in the kubepods cgroup over " << format_go_duration(c.memory_pressure_window);
    }
    if (t.dry_run)
      out << "; dry run: decides and explains, never evicts";
  }
  if (c.eviction.swap_aware_ranking)
    out << "\nmemory rankings count swap (swapAwareRanking)";
  out << "\npressure transition period "
      << format_go_duration(c.eviction.pressure_transition_period) << "; max pod grace period "
      << max_grace_text(c.eviction.max_pod_grace_period_seconds) << "\nstate " << c.state_directory
      << "; metrics " << c.metrics_address << "; status socket " << c.status_socket;
  return out.str();
}

}  // namespace evictd::config
