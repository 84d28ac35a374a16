#include "daemon/evictctl/format.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace evictd::evictctl {
namespace {

using google::protobuf::util::TimeUtil;

std::string yes_no(bool value) {
  return value ? "yes" : "no";
}

std::string qualified(const std::string& namespace_name, const std::string& name) {
  return namespace_name + "/" + name;
}

std::string duration_text(int64_t seconds) {
  if (seconds < 0)
    seconds = 0;
  char text[32];
  if (seconds < 60)
    std::snprintf(text, sizeof(text), "%llds", static_cast<long long>(seconds));
  else if (seconds < 3600)
    std::snprintf(text, sizeof(text), "%lldm%llds", static_cast<long long>(seconds / 60),
                  static_cast<long long>(seconds % 60));
  else if (seconds < 86400)
    std::snprintf(text, sizeof(text), "%lldh%lldm", static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds % 3600 / 60));
  else
    std::snprintf(text, sizeof(text), "%lldd%lldh", static_cast<long long>(seconds / 86400),
                  static_cast<long long>(seconds % 86400 / 3600));
  return text;
}

// The proto's own name without its prefix: EVENT_TYPE_PRESSURE_BEGUN -> PRESSURE-BEGUN.
std::string event_type_text(v1::EventType type) {
  std::string name = v1::EventType_Name(type);
  if (name.empty())
    return "UNKNOWN";
  name.erase(0, std::string_view("EVENT_TYPE_").size());
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

std::string mode_text(v1::Mode mode) {
  switch (mode) {
    case v1::MODE_NORMAL:
      return "normal";
    case v1::MODE_STANDALONE:
      return "standalone";
    case v1::MODE_DRY_RUN:
      return "dry-run";
    default:
      return "unknown";
  }
}

std::string usage_text(const v1::Usage& usage, bool bytes) {
  const std::string used = !usage.usage_known() ? "?"
                           : bytes              ? human_bytes(usage.usage())
                                                : std::to_string(usage.usage());
  if (!bytes)
    return used;
  // Memory in swap shows beside the working set, as "300Mi+700Mi swap".
  const std::string swapped =
      usage.swap_known() && usage.swap() > 0 ? "+" + human_bytes(usage.swap()) + " swap" : "";
  return used + swapped + "/" + (usage.request() == 0 ? "-" : human_bytes(usage.request()));
}

// CPU as kubectl top shows it: millicores.
std::string cores_text(double cores) {
  char text[32];
  std::snprintf(text, sizeof(text), "%lldm", std::llround(cores * 1000));
  return text;
}

std::string cpu_text(const v1::Cpu& cpu) {
  return cpu.cores_known() ? cores_text(cpu.cores()) : "?";
}

std::string pressure_line_text(const v1::PressureLine& line) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.2f%% %.2f%%", line.avg10(), line.avg60());
  return text;
}

// One resource's PSI: "some 0.12% 0.05%, full 0.00% 0.00%" (avg10, avg60), or "-" without it.
std::string pressure_text(bool present, const v1::Pressure& pressure) {
  if (!present || !pressure.has_some())
    return "-";
  std::string text = "some " + pressure_line_text(pressure.some());
  if (pressure.has_full())
    text += ", full " + pressure_line_text(pressure.full());
  return text;
}

void write_usage(const v1::NodeUsage& usage, std::ostream& out) {
  out << "CPU:           ";
  if (usage.cpu_known())
    out << cores_text(usage.cpu_cores()) << " of " << usage.cpus() << " CPUs in use\n";
  else
    out << "not known yet (a rate needs two readings)\n";
  out << "Pressure:      ";
  if (!usage.has_cpu_pressure() && !usage.has_memory_pressure() && !usage.has_io_pressure()) {
    out << "none reported (the kernel has no PSI)\n";
    return;
  }
  out << "cpu " << pressure_text(usage.has_cpu_pressure(), usage.cpu_pressure()) << "\n"
      << "               memory "
      << pressure_text(usage.has_memory_pressure(), usage.memory_pressure()) << "\n"
      << "               io " << pressure_text(usage.has_io_pressure(), usage.io_pressure())
      << " (stalled share of the last 10 s and 60 s)\n";
}

std::string keys_text(const v1::RankKeys& keys, const std::string& signal, bool counts_swap) {
  if (!keys.stats_found())
    return "no usage statistics";
  const bool pids = signal == "pid.available";
  const bool bytes = !pids && signal.find("inodes") == std::string::npos;
  const auto amount = [&](int64_t value) {
    return bytes ? human_bytes(value) : std::to_string(value);
  };
  if (pids)
    return "priority " + std::to_string(keys.priority()) + ", processes " + amount(keys.usage());
  // A ranking that counts swap shows both parts of the usage it compares.
  const std::string parts = counts_swap ? " (" + amount(keys.usage() - keys.swap()) +
                                              " working set + " + amount(keys.swap()) + " swap)"
                                        : "";
  return "usage " + amount(keys.usage()) + parts + ", request " + amount(keys.request()) + ", " +
         (keys.exceeds_requests() ? "exceeds" : "within") + " requests, usage above requests " +
         amount(keys.usage_above_request()) + ", priority " + std::to_string(keys.priority());
}

}  // namespace

std::string table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i)
    widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size())
        text += std::string(widths[i] - cells[i].size() + 2, ' ');
    }
    out += text + "\n";
  };
  line(header);
  for (const auto& row : rows)
    line(row);
  return out;
}

std::string human_bytes(int64_t bytes) {
  const char* units[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
  double value = static_cast<double>(bytes < 0 ? -bytes : bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0)
    std::snprintf(text, sizeof(text), "%s%lld", bytes < 0 ? "-" : "",
                  static_cast<long long>(bytes < 0 ? -bytes : bytes));
  else
    std::snprintf(text, sizeof(text), "%s%.1f%s", bytes < 0 ? "-" : "", value, units[unit]);
  return text;
}

std::string share_text(int64_t part, int64_t whole) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f%%",
                whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return text;
}

std::string human_quantity(int64_t value, const std::string& unit) {
  return unit == "bytes" ? human_bytes(value) : std::to_string(value);
}

std::string human_time(const google::protobuf::Timestamp& time) {
  const std::time_t seconds = time.seconds();
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(static_cast<unsigned>(time.nanos()) / 1'000'000 % 1000));
  return text;
}

std::string human_age(const google::protobuf::Timestamp& time,
                      std::chrono::system_clock::time_point now) {
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() -
      time.seconds();
  return duration_text(seconds);
}

std::string format_status(const v1::NodeStatus& status, std::chrono::system_clock::time_point now) {
  std::ostringstream out;
  out << "Node:          " << status.node_name() << " (" << mode_text(status.mode()) << ", evictd "
      << status.version() << ", up " << human_age(status.started_at(), now) << ")\n";
  const auto connection = [&](const char* label, const v1::Connection& c) {
    out << label;
    if (!c.configured()) {
      out << "not configured (standalone: specs rebuilt from the node)\n";
      return;
    }
    out << c.endpoint() << "  " << (c.connected() ? "connected" : "NOT CONNECTED") << " for "
        << human_age(c.since(), now) << "\n";
  };
  connection("Runtime:       ", status.runtime());
  connection("API server:    ", status.api_server());
  out << "Cgroups:       " << status.cgroups().version() << ", " << status.cgroups().driver()
      << " driver, " << status.cgroups().kubepods() << "\n";
  out << "Notifications: ";
  if (status.notifications().empty())
    out << "none (polling only)\n";
  for (int i = 0; i < status.notifications_size(); ++i)
    out << (i == 0 ? "" : "               ") << status.notifications(i).description() << "\n";
  for (const auto& error : status.notification_errors())
    out << "  fallback:    " << error << "\n";
  out << "Polling:       every " << status.polling_interval_ms() << " ms\n";
  for (const auto& warning : status.warnings())
    out << "Warning:       " << warning << "\n";
  char duration[32];
  std::snprintf(duration, sizeof(duration), "%.2f ms",
                static_cast<double>(status.last_sample_duration_us()) / 1000.0);
  out << "Last sample:   " << human_time(status.last_sample_at()) << " (" << duration << "), "
      << status.pods() << " pods\n";
  write_usage(status.usage(), out);
  out << "Conditions:    ";
  if (status.conditions().empty())
    out << "none\n";
  for (int i = 0; i < status.conditions_size(); ++i) {
    const auto& condition = status.conditions(i);
    out << (i == 0 ? "" : "               ") << condition.type() << " for "
        << human_age(condition.since(), now) << " (since " << human_time(condition.since())
        << ")\n";
  }
  out << "Evictions:     " << status.evictions_total() << " decided since start, "
      << status.evictions_in_flight() << " in flight, " << status.evictions_pending_writes()
      << " waiting for the API server\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& signal : status.signals()) {
    // memory.pressure reads as the share stalled "of" its window; the rest as amounts.
    const bool stall = signal.unit() == "microseconds stalled";
    const auto amount = [&](int64_t value) {
      return stall ? share_text(value, signal.capacity()) + " stalled"
                   : human_quantity(value, signal.unit());
    };
    const std::string available = amount(signal.available());
    const std::string capacity = stall ? duration_text(signal.capacity() / 1'000'000) + " window"
                                       : human_quantity(signal.capacity(), signal.unit());
    if (signal.thresholds().empty())
      rows.push_back({signal.signal(), available, capacity, "-", "-", "-"});
    for (const auto& threshold : signal.thresholds()) {
      const std::string kind =
          (threshold.hard() ? "hard" : "soft, grace " + threshold.grace_period()) +
          (threshold.dry_run() ? ", dry run" : "");
      const std::string margin = stall ? share_text(threshold.margin(), signal.capacity())
                                       : human_quantity(threshold.margin(), signal.unit());
      rows.push_back({signal.signal(), available, capacity,
                      (stall ? "> " : "") + threshold.value() + " (" + kind + ")", margin,
                      threshold.met() ? "MET" : "no"});
    }
  }
  out << table({"SIGNAL", "AVAILABLE", "CAPACITY", "THRESHOLD", "MARGIN", "MET"}, rows);
  return out.str();
}

std::string format_pods(const v1::ListPodsResponse& pods) {
  std::vector<std::string> header = {"NAMESPACE", "NAME",   "QOS",     "PRIORITY", "CRITICAL",
                                     "CPU",       "MEMORY", "STORAGE", "PIDS"};
  for (const auto& signal : pods.signals())
    header.push_back("RANK " + signal);
  std::vector<std::vector<std::string>> rows;
  for (const auto& pod : pods.pods()) {
    std::vector<std::string> row = {pod.namespace_(),
                                    pod.name(),
                                    pod.qos_class(),
                                    std::to_string(pod.priority()),
                                    yes_no(pod.critical()),
                                    cpu_text(pod.cpu()),
                                    usage_text(pod.memory(), true),
                                    usage_text(pod.ephemeral_storage(), true),
                                    usage_text(pod.processes(), false)};
    for (const int32_t rank : pod.ranks())
      row.push_back(std::to_string(rank) + "/" + std::to_string(pods.pods_size()));
    rows.push_back(std::move(row));
  }
  return table(header, rows) +
         "(cpu in use, millicores; memory and storage usage/request; rank 1 is evicted first)\n";
}

std::string format_explain(const v1::ExplainResponse& explanation) {
  std::ostringstream out;
  if (explanation.running()) {
    const auto& pod = explanation.pod();
    out << "Pod " << qualified(pod.namespace_(), pod.name()) << " (" << pod.qos_class()
        << ", priority " << pod.priority() << (pod.critical() ? ", critical" : "") << ", spec from "
        << (pod.spec_source() == "api" ? "the API server" : "the node") << "): running\n";
    out << "  cpu " << cpu_text(pod.cpu()) << " in use; memory " << usage_text(pod.memory(), true)
        << ", storage " << usage_text(pod.ephemeral_storage(), true) << " (usage/request); "
        << "processes " << usage_text(pod.processes(), false) << "\n";
  } else if (!explanation.evictions().empty()) {
    const auto& last = explanation.evictions(0);
    out << "Pod " << qualified(last.namespace_(), last.name()) << ": not running on this node\n";
  }
  for (const auto& note : explanation.notes())
    out << "  note: " << note << "\n";
  for (const auto& rank : explanation.ranks()) {
    out << "\n" << rank.signal() << ": rank " << rank.rank() << " of " << rank.of();
    if (rank.threshold_met())
      out << " (threshold met" << (rank.next() ? "; this pod is evicted next)" : ")");
    else if (rank.next())
      out << " (first to go if its threshold is met)";
    out << "\n  keys: " << keys_text(rank.keys(), rank.signal(), rank.counts_swap()) << "\n";
    if (rank.has_before()) {
      const auto& before = rank.before();
      out << "  after " << qualified(before.namespace_(), before.name()) << " ("
          << keys_text(before.keys(), rank.signal(), rank.counts_swap())
          << "): that pod goes first because " << before.reason() << " [" << before.deciding_key()
          << "]\n";
    } else {
      out << "  first in line\n";
    }
    if (rank.has_after()) {
      const auto& after = rank.after();
      out << "  before " << qualified(after.namespace_(), after.name()) << " ("
          << keys_text(after.keys(), rank.signal(), rank.counts_swap())
          << "): this pod goes first because " << after.reason() << " [" << after.deciding_key()
          << "]\n";
    }
  }
  for (const auto& eviction : explanation.evictions()) {
    out << "\nEvicted " << human_time(eviction.decided_at()) << " for " << eviction.signal() << " ("
        << eviction.state() << ")\n";
    out << "  message: " << eviction.message() << "\n";
    if (!eviction.observed().empty())
      out << "  observed available " << eviction.observed() << ", threshold "
          << eviction.threshold() << "\n";
    out << "  grace period " << eviction.grace_period_seconds() << "s"
        << (eviction.hard() ? " (hard threshold)" : "")
        << (eviction.eviction_api() ? ", through the Eviction API" : "") << "\n";
    for (const auto& step : eviction.steps()) {
      out << "  " << human_time(step.time()) << "  " << step.step();
      if (!step.detail().empty())
        out << ": " << step.detail();
      out << "\n";
    }
  }
  return out.str();
}

std::string format_evictions(const v1::ListEvictionsResponse& evictions) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& eviction : evictions.evictions()) {
    std::string message = eviction.message();
    if (message.size() > 72)
      message = message.substr(0, 69) + "...";
    rows.push_back({human_time(eviction.decided_at()),
                    qualified(eviction.namespace_(), eviction.name()), eviction.signal(),
                    eviction.state(), std::to_string(eviction.grace_period_seconds()) + "s",
                    message});
  }
  return table({"DECIDED", "POD", "SIGNAL", "STATE", "GRACE", "MESSAGE"}, rows);
}

std::string format_event(const v1::Event& event) {
  std::string line = human_time(event.time()) + "  " + event_type_text(event.type());
  if (!event.condition().empty())
    line += "  " + event.condition();
  if (!event.name().empty())
    line += "  " + qualified(event.namespace_(), event.name());
  if (!event.signal().empty() && event.type() != v1::EVENT_TYPE_THRESHOLD_MET &&
      event.type() != v1::EVENT_TYPE_THRESHOLD_CLEARED)
    line += "  signal=" + event.signal();
  if (!event.step().empty() && event.type() != v1::EVENT_TYPE_EVICTION_DECIDED)
    line += "  step=" + event.step();
  if (!event.detail().empty())
    line += "  " + event.detail();
  return line;
}

std::optional<std::chrono::system_clock::time_point> parse_since(
    const std::string& text, std::chrono::system_clock::time_point now) {
  if (text.empty())
    return std::nullopt;
  google::protobuf::Timestamp absolute;
  if (TimeUtil::FromString(text, &absolute)) {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(TimeUtil::TimestampToNanoseconds(absolute))));
  }
  int64_t amount = 0;
  const char* begin = text.data();
  const char* end = begin + text.size() - 1;
  const auto [parsed, error] = std::from_chars(begin, end, amount);
  if (error != std::errc() || parsed != end || amount < 0)
    return std::nullopt;
  int64_t seconds = 0;
  switch (text.back()) {
    case 's':
      seconds = amount;
      break;
    case 'm':
      seconds = amount * 60;
      break;
    case 'h':
      seconds = amount * 3600;
      break;
    case 'd':
      seconds = amount * 86400;
      break;
    default:
      return std::nullopt;
  }
  return now - std::chrono::seconds(seconds);
}

}  // namespace evictd::evictctl
