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

// Sends one entry: MESSAGE, PRIORITY (syslog levels), and `fields` with keys in the journal's
// upper-case form. Returns false when the journal refused it.
bool journal_send(int priority, const std::string& message,
                  const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace evictd::systemd
