#include "systemd/journal.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "systemd/datagram.h"

namespace evictd::systemd {
namespace {

void append_field(std::string& entry, const std::string& name, const std::string& value) {
  if (value.find('\n') == std::string::npos) {
    entry += name;
    entry += '=';
    entry += value;
    entry += '\n';
    return;
  }
  // A value with a newline goes as NAME, newline, its length as 64-bit little-endian, the bytes.
  entry += name;
  entry += '\n';
  uint64_t size = value.size();
  for (int byte = 0; byte < 8; ++byte) {
    entry += static_cast<char>(size & 0xff);
    size >>= 8;
  }
  entry += value;
  entry += '\n';
}

}  // namespace

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr)
    return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2)
    return false;
  struct stat st {};
  if (fstat(2, &st) != 0)
    return false;
  return st.st_dev == device && st.st_ino == inode;
}

std::string journal_entry(int priority, const std::string& message,
                          const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string entry;
  append_field(entry, "MESSAGE", message);
  append_field(entry, "PRIORITY", std::to_string(priority));
  append_field(entry, "SYSLOG_IDENTIFIER", "evictd");
  for (const auto& [key, value] : fields) {
    // Journal field names are upper-case letters, digits and underscores, not starting with one.
    std::string name;
    for (char c : key)
      name +=
          std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
    if (name.empty() || name.front() == '_' || std::isdigit(static_cast<unsigned char>(name[0])))
      name = "F" + name;
    append_field(entry, name, value);
  }
  return entry;
}

bool journal_send(int priority, const std::string& message,
                  const std::vector<std::pair<std::string, std::string>>& fields,
                  const char* socket_path) {
  // One socket for the process (sendto on it is safe from every thread); created on first use.
  static const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  const auto journal = unix_address(socket_path);
  // Too large for a datagram (EMSGSIZE) or no journal: the caller writes the line to stderr,
  // which systemd also keeps.
  return journal && send_datagram(fd, *journal, journal_entry(priority, message, fields));
}

}  // namespace evictd::systemd
