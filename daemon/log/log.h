// The daemon's log: one line per event, with key=value fields that stay machine-readable. To the
// journal with structured fields when systemd runs evictd, to stderr otherwise. Thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace evictd::log {

enum class Level { kDebug, kInfo, kWarning, kError };

using Fields = std::vector<std::pair<std::string, std::string>>;

// Chooses the sink (journal when stderr is the journal stream) and the least level written.
void init(Level level);
void set_level(Level level);
bool enabled(Level level);

void write(Level level, const std::string& message, const Fields& fields = {});
inline void debug(const std::string& message, const Fields& fields = {}) {
  write(Level::kDebug, message, fields);
}
inline void info(const std::string& message, const Fields& fields = {}) {
  write(Level::kInfo, message, fields);
}
inline void warning(const std::string& message, const Fields& fields = {}) {
  write(Level::kWarning, message, fields);
}
inline void error(const std::string& message, const Fields& fields = {}) {
  write(Level::kError, message, fields);
}

// The text form: `2026-11-22T18:40:00.123Z info message key=value key="two words"`.
std::string format_line(Level level, const std::string& message, const Fields& fields);

}  // namespace evictd::log
