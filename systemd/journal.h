// Structured logging to the journal when systemd runs evictd: each line carries PRIORITY and the
// fields operators filter on (POD, NAMESPACE, SIGNAL, ...), so `journalctl -u evictd POD=web-1`
// finds every line about one pod.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace evictd::systemd {

// Whether stderr is the journal stream systemd set up for us (JOURNAL_STREAM names its device and
// inode), in which case structured entries are worth sending instead of text.
bool stderr_is_journal();

// One entry in the journal's native protocol: MESSAGE, PRIORITY (syslog levels),
// SYSLOG_IDENTIFIER, and `fields` with keys in the journal's upper-case form; NAME=value lines, or
// for a value with a newline NAME, a newline, its length (64-bit little-endian) and the bytes.
std::string journal_entry(int priority, const std::string& message,
                          const std::vector<std::pair<std::string, std::string>>& fields);

inline constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

// Sends one entry as a datagram to journald's socket. Returns false when it was not taken (no
// journal, or an entry too large for one datagram).
bool journal_send(int priority, const std::string& message,
                  const std::vector<std::pair<std::string, std::string>>& fields,
                  const char* socket_path = kJournalSocket);

}  // namespace evictd::systemd
