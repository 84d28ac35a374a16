#include "daemon/files/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace evictd::files {
namespace {

std::string file_kind(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode))
    return "a device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

// Closes the descriptor whatever way the read ends.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0)
      close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<std::string> read_text_file(const std::string& path, size_t limit) {
  const auto fail = [&path](const std::string& reason) {
    return Result<std::string>(make_error(path + ": " + reason));
  };
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  Descriptor file(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (file.get() < 0)
    return fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat status {};
  if (fstat(file.get(), &status) != 0)
    return fail(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(status.st_mode))
    return fail("is " + file_kind(status.st_mode) + ", not a regular file");
  if (static_cast<size_t>(status.st_size) > limit)
    return fail("is larger than " + std::to_string(limit) + " bytes");
  // Sized from the file, one byte over so that growth shows; a kernel file reports size 0 and the
  // buffer doubles as it fills, up to one byte over the bound. Nothing is allocated up to the
  // bound.
  std::string text(std::max<size_t>(static_cast<size_t>(status.st_size) + 1, 4096), '\0');
  size_t filled = 0;
  while (true) {
    if (filled == text.size()) {
      if (filled > limit)
        break;
      text.resize(std::min(limit + 1, text.size() * 2));
    }
    const ssize_t got = read(file.get(), text.data() + filled, text.size() - filled);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return fail(std::string("cannot read: ") + std::strerror(errno));
    if (got == 0)
      break;
    filled += static_cast<size_t>(got);
  }
  // A file that grew while it was read (or a /proc-like file whose size says nothing).
  if (filled > limit)
    return fail("is larger than " + std::to_string(limit) + " bytes");
  text.resize(filled);
  return text;
}

}  // namespace evictd::files
