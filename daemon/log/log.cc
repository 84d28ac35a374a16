#include "daemon/log/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "systemd/journal.h"

namespace evictd::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<bool> g_journal{false};
std::mutex g_mutex;

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

int syslog_priority(Level level) {
  switch (level) {
    case Level::kDebug:
      return 7;
    case Level::kInfo:
      return 6;
    case Level::kWarning:
      return 4;
    case Level::kError:
      return 3;
  }
  return 6;
}

bool needs_quotes(const std::string& value) {
  if (value.empty())
    return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\\')
      return true;
  }
  return false;
}

void append_value(std::string& line, const std::string& value) {
  if (!needs_quotes(value)) {
    line += value;
    return;
  }
  line += '"';
  for (char c : value) {
    if (c == '"' || c == '\\')
      line += '\\';
    if (c == '\n') {
      line += "\\n";
      continue;
    }
    line += c;
  }
  line += '"';
}

}  // namespace

void init(Level level) {
  g_level = level;
  g_journal = systemd::stderr_is_journal();
}

void set_level(Level level) {
  g_level = level;
}

bool enabled(Level level) {
  return level >= g_level.load();
}

std::string format_line(Level level, const std::string& message, const Fields& fields) {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = ms / 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[96];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  std::string line = stamp;
  line += ' ';
  line += level_name(level);
  line += ' ';
  line += message;
  for (const auto& [key, value] : fields) {
    line += ' ';
    line += key;
    line += '=';
    append_value(line, value);
  }
  return line;
}

void write(Level level, const std::string& message, const Fields& fields) {
  if (!enabled(level))
    return;
  if (g_journal.load() && systemd::journal_send(syslog_priority(level), message, fields))
    return;
  const std::string line = format_line(level, message, fields) + "\n";
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace evictd::log
