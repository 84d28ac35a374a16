#include "systemd/journal.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace evictd::systemd {

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

bool journal_send(int priority, const std::string& message,
                  const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::string> items;
  items.reserve(fields.size() + 3);
  items.push_back("MESSAGE=" + message);
  items.push_back("PRIORITY=" + std::to_string(priority));
  items.push_back("SYSLOG_IDENTIFIER=evictd");
  for (const auto& [key, value] : fields) {
    // Journal field names are upper-case letters, digits and underscores.
    std::string name;
    for (char c : key)
      name +=
          std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
    items.push_back(name + "=" + value);
  }
  std::vector<iovec> vectors;
  vectors.reserve(items.size());
  for (auto& item : items)
    vectors.push_back(iovec{item.data(), item.size()});
  return sd_journal_sendv(vectors.data(), static_cast<int>(vectors.size())) == 0;
}

}  // namespace evictd::systemd
