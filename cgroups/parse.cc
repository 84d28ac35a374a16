#include "cgroups/parse.h"

#include <array>
#include <charconv>
#include <cstdlib>
#include <initializer_list>

namespace evictd::cgroups {
namespace {

// Splits `text` into lines and calls fn(line) for each (without the newline).
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    const size_t end = text.find('\n');
    fn(text.substr(0, end));
    if (end == std::string_view::npos)
      break;
    text.remove_prefix(end + 1);
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> to_uint(std::string_view s) {
  s = trim(s);
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (error != std::errc() || end != s.data() + s.size() || s.empty())
    return std::nullopt;
  return value;
}

// Splits "key value" on the first space.
bool split_key_value(std::string_view line, std::string_view& key, std::string_view& value) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos)
    return false;
  key = line.substr(0, space);
  value = line.substr(space + 1);
  return true;
}

std::optional<double> to_double(std::string_view s) {
  // PSI averages are "12.34"; from_chars for double is in libstdc++ 11+.
  double value = 0;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (error != std::errc() || end != s.data() + s.size() || s.empty())
    return std::nullopt;
  return value;
}

std::optional<PsiLine> parse_psi_fields(std::string_view rest) {
  PsiLine line;
  int seen = 0;
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    const std::string_view field = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos)
      return std::nullopt;
    const std::string_view key = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    if (key == "total") {
      const auto total = to_uint(value);
      if (!total)
        return std::nullopt;
      line.total_us = *total;
      seen |= 8;
      continue;
    }
    const auto average = to_double(value);
    if (!average)
      return std::nullopt;
    if (key == "avg10") {
      line.avg10 = *average;
      seen |= 1;
    } else if (key == "avg60") {
      line.avg60 = *average;
      seen |= 2;
    } else if (key == "avg300") {
      line.avg300 = *average;
      seen |= 4;
    }
  }
  if (seen != 15)
    return std::nullopt;
  return line;
}

std::string unescape_octal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string_view digits = s.substr(i + 1, 3);
      bool octal = digits.size() == 3;
      for (char c : digits)
        octal = octal && c >= '0' && c <= '7';
      if (octal) {
        out.push_back(
            static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool is_v1_controller(std::string_view name) {
  static constexpr std::string_view kControllers[] = {
      "blkio",  "cpu",  "cpuacct", "cpuset",   "devices",    "freezer", "hugetlb",
      "memory", "misc", "net_cls", "net_prio", "perf_event", "pids",    "rdma",
  };
  for (const auto controller : kControllers) {
    if (controller == name)
      return true;
  }
  return false;
}

// The space-separated fields of a line, up to N of them, without allocating (sampled every second).
template <size_t N>
struct Fields {
  std::array<std::string_view, N> items;
  size_t count = 0;

  explicit Fields(std::string_view line) {
    while (!line.empty() && count < N) {
      const size_t start = line.find_first_not_of(' ');
      if (start == std::string_view::npos)
        break;
      line.remove_prefix(start);
      const size_t end = line.find(' ');
      items[count++] = line.substr(0, end);
      if (end == std::string_view::npos)
        break;
      line.remove_prefix(end);
    }
  }
  size_t size() const { return count; }
  std::string_view operator[](size_t i) const { return items[i]; }
};

// Flat-keyed files ("key value" lines: memory.stat, cpu.stat, memory.events): stores the value of
// each wanted key; a garbled value leaves its field missing.
struct KeyedField {
  std::string_view key;
  std::optional<uint64_t>* target;
};
void parse_keyed(std::string_view text, std::initializer_list<KeyedField> fields) {
  for_each_line(text, [&](std::string_view line) {
    std::string_view key;
    std::string_view value;
    if (!split_key_value(line, key, value))
      return;
    for (const KeyedField& field : fields) {
      if (field.key == key)
        *field.target = to_uint(value);
    }
  });
}

}  // namespace

MemoryStat parse_memory_stat(std::string_view text) {
  MemoryStat stat;
  parse_keyed(text, {{"inactive_file", &stat.inactive_file},
                     {"total_inactive_file", &stat.total_inactive_file},
                     {"rss", &stat.rss},
                     {"total_rss", &stat.total_rss},
                     {"anon", &stat.anon},
                     {"file", &stat.file}});
  return stat;
}

Psi parse_psi(std::string_view text) {
  Psi psi;
  for_each_line(text, [&](std::string_view line) {
    std::string_view kind;
    std::string_view rest;
    if (!split_key_value(trim(line), kind, rest))
      return;
    if (kind == "some")
      psi.some = parse_psi_fields(rest);
    if (kind == "full")
      psi.full = parse_psi_fields(rest);
  });
  return psi;
}

// A zone's watermarks are the lines "min N", "low N" and "high N" after its "pages free" line; the
// per-CPU pagesets below them spell "high:" with a colon, and are not watermarks.
std::optional<ZoneWatermarks> parse_zoneinfo(std::string_view text) {
  ZoneWatermarks sum;
  bool found = false;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    const size_t space = line.find(' ');
    if (space == std::string_view::npos)
      return;
    const std::string_view key = line.substr(0, space);
    uint64_t* target = key == "min"    ? &sum.min_pages
                       : key == "low"  ? &sum.low_pages
                       : key == "high" ? &sum.high_pages
                                       : nullptr;
    if (target == nullptr)
      return;
    if (const auto pages = to_uint(trim(line.substr(space + 1)))) {
      *target += *pages;
      found = true;
    }
  });
  return found ? std::optional<ZoneWatermarks>(sum) : std::nullopt;
}

MemInfo parse_meminfo(std::string_view text) {
  MemInfo info;
  for_each_line(text, [&](std::string_view line) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      return;
    const std::string_view key = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    uint64_t multiplier = 1;
    if (value.ends_with(" kB")) {
      value.remove_suffix(3);
      multiplier = 1024;
    }
    std::optional<uint64_t>* target = nullptr;
    if (key == "MemTotal")
      target = &info.mem_total;
    if (key == "MemFree")
      target = &info.mem_free;
    if (key == "MemAvailable")
      target = &info.mem_available;
    if (key == "Inactive(file)")
      target = &info.inactive_file;
    if (key == "SwapTotal")
      target = &info.swap_total;
    if (key == "SwapFree")
      target = &info.swap_free;
    if (target == nullptr)
      return;
    const auto number = to_uint(value);
    if (number && *number <= UINT64_MAX / multiplier) {
      *target = *number * multiplier;
    } else {
      target->reset();
    }
  });
  return info;
}

std::optional<int64_t> parse_loadavg_tasks(std::string_view text) {
  const Fields<6> fields(trim(text.substr(0, text.find('\n'))));
  if (fields.size() < 5)
    return std::nullopt;
  const size_t slash = fields[3].find('/');
  if (slash == std::string_view::npos || fields[3].find('/', slash + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const auto total = to_uint(fields[3].substr(slash + 1));
  if (!total || *total > static_cast<uint64_t>(INT64_MAX))
    return std::nullopt;
  return static_cast<int64_t>(*total);
}

std::optional<uint64_t> parse_uint(std::string_view text, bool* unlimited) {
  const std::string_view value = trim(text.substr(0, text.find('\n')));
  if (unlimited != nullptr)
    *unlimited = value == "max";
  return to_uint(value);
}

std::optional<uint64_t> parse_cpu_stat_usage_us(std::string_view text) {
  std::optional<uint64_t> usage;
  parse_keyed(text, {{"usage_usec", &usage}});
  return usage;
}

std::optional<CpuTimes> parse_proc_stat_cpu(std::string_view text) {
  const Fields<12> fields(text.substr(0, text.find('\n')));
  if (fields.size() < 5 || fields[0] != "cpu")
    return std::nullopt;
  CpuTimes times;
  for (size_t i = 1; i < fields.size() && i <= 8;
       ++i) {  // user nice system idle iowait irq softirq steal
    const auto value = to_uint(fields[i]);
    // A total past 2^64 ticks is no kernel's: refused rather than wrapped below the busy part.
    if (!value || __builtin_add_overflow(times.total, *value, &times.total))
      return std::nullopt;
    if (i != 4 && i != 5)
      times.busy += *value;  // a part of total, so it cannot overflow either
  }
  for (size_t at = text.find("\ncpu"); at != std::string_view::npos;
       at = text.find("\ncpu", at + 1)) {
    if (at + 4 < text.size() && text[at + 4] >= '0' && text[at + 4] <= '9')
      ++times.cpus;
  }
  return times;
}

MemoryEvents parse_memory_events(std::string_view text) {
  MemoryEvents events;
  parse_keyed(text, {{"high", &events.high},
                     {"max", &events.max},
                     {"oom", &events.oom},
                     {"oom_kill", &events.oom_kill}});
  return events;
}

std::vector<CgroupMount> parse_mountinfo(std::string_view text) {
  std::vector<CgroupMount> mounts;
  for_each_line(text, [&](std::string_view line) {
    const Fields<64> fields(line);
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    size_t separator = 6;
    while (separator < fields.size() && fields[separator] != "-")
      ++separator;
    if (fields.size() < 7 || separator + 2 >= fields.size())
      return;
    const std::string_view fstype = fields[separator + 1];
    if (fstype != "cgroup" && fstype != "cgroup2")
      return;
    CgroupMount mount;
    mount.mount_point = unescape_octal(fields[4]);
    mount.v2 = fstype == "cgroup2";
    if (!mount.v2 && separator + 3 < fields.size()) {
      std::string_view options = fields[separator + 3];
      while (!options.empty()) {
        const size_t comma = options.find(',');
        const std::string_view option = options.substr(0, comma);
        if (is_v1_controller(option))
          mount.controllers.emplace_back(option);
        if (comma == std::string_view::npos)
          break;
        options.remove_prefix(comma + 1);
      }
    }
    mounts.push_back(std::move(mount));
  });
  return mounts;
}

}  // namespace evictd::cgroups
