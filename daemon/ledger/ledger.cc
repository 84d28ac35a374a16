#include "daemon/ledger/ledger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

namespace evictd::ledger {
namespace {

using Json = nlohmann::json;

constexpr size_t kHeaderBytes = 8;
constexpr uint32_t kMaxRecordBytes = 1 << 20;  // a record is a few hundred bytes; more is damage

std::string errno_text() {
  return std::strerror(errno);
}

void put_u32(std::string& out, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint32_t get_u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

Json to_json(const Record& r) {
  Json j = {{"id", r.eviction_id}, {"step", step_name(r.step)}, {"time", r.time_unix_ms}};
  if (r.step == Step::kDecided) {
    j["namespace"] = r.namespace_name;
    j["pod"] = r.pod_name;
    j["uid"] = r.pod_uid;
    j["generation"] = r.pod_generation;
    j["signal"] = r.signal;
    j["message"] = r.message;
    j["annotations"] = r.annotations;
    j["grace"] = r.grace_period_seconds;
    j["hard"] = r.hard;
    j["disruptionTarget"] = r.disruption_target;
    if (r.eviction_api)
      j["evictionApi"] = true;
    j["node"] = r.node_name;
    if (!r.observed.empty())
      j["observed"] = r.observed;
    if (!r.threshold.empty())
      j["threshold"] = r.threshold;
    if (!r.cgroup.empty())
      j["cgroup"] = r.cgroup;
  }
  if (!r.detail.empty())
    j["detail"] = r.detail;
  return j;
}

std::optional<Record> from_json(const Json& j) {
  if (!j.is_object() || !j.contains("id") || !j.contains("step"))
    return std::nullopt;
  const auto step = parse_step(j["step"].get<std::string>());
  if (!step)
    return std::nullopt;
  Record r;
  r.eviction_id = j["id"].get<std::string>();
  r.step = *step;
  r.time_unix_ms = j.value("time", int64_t{0});
  r.namespace_name = j.value("namespace", "");
  r.pod_name = j.value("pod", "");
  r.pod_uid = j.value("uid", "");
  r.pod_generation = j.value("generation", int64_t{0});
  r.signal = j.value("signal", "");
  r.message = j.value("message", "");
  if (j.contains("annotations") && j["annotations"].is_object()) {
    r.annotations = j["annotations"].get<std::map<std::string, std::string>>();
  }
  r.grace_period_seconds = j.value("grace", int64_t{0});
  r.hard = j.value("hard", false);
  r.disruption_target = j.value("disruptionTarget", false);
  r.eviction_api = j.value("evictionApi", false);
  r.node_name = j.value("node", "");
  r.observed = j.value("observed", "");
  r.threshold = j.value("threshold", "");
  r.cgroup = j.value("cgroup", "");
  r.detail = j.value("detail", "");
  return r;
}

// The record framed at `offset` and the bytes its frame takes, when a whole, intact one starts
// there: its length in range, its payload a JSON object whose CRC-32C matches, a record in it.
std::optional<std::pair<Record, size_t>> record_at(const std::string& data, size_t offset) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (offset + kHeaderBytes > data.size())
    return std::nullopt;
  const uint32_t length = get_u32(bytes + offset);
  if (length == 0 || length > kMaxRecordBytes || length > data.size() - offset - kHeaderBytes)
    return std::nullopt;
  const char* payload = data.data() + offset + kHeaderBytes;
  if (payload[0] != '{' || crc32c(payload, length) != get_u32(bytes + offset + 4))
    return std::nullopt;
  std::optional<Record> record;
  try {
    record = from_json(Json::parse(payload, payload + length, nullptr, false));
  } catch (const Json::exception&) {
    return std::nullopt;  // a field of the wrong type: not a record evictd wrote
  }
  if (!record)
    return std::nullopt;
  return std::pair{std::move(*record), kHeaderBytes + length};
}

// Files a replayed record under its eviction; a step whose decision was lost is counted.
void take(Record record, ReplayReport& report, std::map<std::string, size_t>& index) {
  ++report.records;
  const auto found = index.find(record.eviction_id);
  if (record.step == Step::kDecided) {
    if (found == index.end()) {
      index[record.eviction_id] = report.evictions.size();
      report.evictions.push_back(EvictionState{std::move(record), {}});
    }
  } else if (found != index.end()) {
    report.evictions[found->second].steps.push_back(std::move(record));
  } else {
    ++report.orphaned_steps;
  }
}

Result<std::string> read_whole(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0)
    return make_error("ledger: fstat: " + errno_text());
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t read_total = 0;
  while (read_total < data.size()) {
    const ssize_t n = pread(fd, data.data() + read_total, data.size() - read_total,
                            static_cast<off_t>(read_total));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    read_total += static_cast<size_t>(n);
  }
  data.resize(read_total);
  return data;
}

// Whether bad bytes at `offset`, after the last intact record, are what a crash mid-write leaves:
// a frame cut short (its header, or fewer bytes than its length says) or never written (zeros). A
// whole frame whose CRC fails was written and damaged later.
bool torn_at(const std::string& data, size_t offset) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (offset + kHeaderBytes > data.size())
    return true;
  const uint32_t length = get_u32(bytes + offset);
  return length == 0 || length > kMaxRecordBytes || length > data.size() - offset - kHeaderBytes;
}

// Reads every intact record. Bytes that frame no record are skipped a byte at a time until the
// next intact one (the CRC makes a false start all but impossible): damage costs only the records
// it hit. Bad bytes after the last intact record are a torn tail when torn_at() says so.
Result<ReplayReport> replay_fd(int fd) {
  auto data = read_whole(fd);
  if (!data)
    return data.error();
  ReplayReport report;
  std::map<std::string, size_t> index;  // eviction id -> position in report.evictions
  size_t offset = 0;
  constexpr size_t kNone = std::string::npos;
  size_t bad_from = kNone;  // where the bad bytes before the next intact record began
  while (offset < data->size()) {
    auto framed = record_at(*data, offset);
    if (!framed) {
      if (bad_from == kNone)
        bad_from = offset;
      ++offset;
      continue;
    }
    if (bad_from != kNone) {
      report.damaged_bytes += offset - bad_from;
      ++report.damaged_regions;
      bad_from = kNone;
    }
    take(std::move(framed->first), report, index);
    offset += framed->second;
    report.valid_bytes = offset;
  }
  if (bad_from != kNone && torn_at(*data, bad_from)) {
    report.torn_tail_dropped = true;
  } else if (bad_from != kNone) {
    report.damaged_bytes += data->size() - bad_from;
    ++report.damaged_regions;
  }
  return report;
}

Result<void> write_all(int fd, const std::string& bytes) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return make_error("ledger: write: " + errno_text());
    written += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

namespace {

constexpr Step kAllSteps[] = {Step::kDecided,        Step::kFrozen,          Step::kKilled,
                              Step::kApiAccepted,    Step::kStatusWritten,   Step::kStatusSeen,
                              Step::kStopped,        Step::kSandboxStopped,  Step::kEventWritten,
                              Step::kDone,           Step::kFailed,          Step::kRestarted,
                              Step::kStatusRestored, Step::kDeleteRequested, Step::kWatched};

}  // namespace

std::string_view step_name(Step step) {
  switch (step) {
    case Step::kDecided:
      return "decided";
    case Step::kFrozen:
      return "frozen";
    case Step::kKilled:
      return "killed";
    case Step::kApiAccepted:
      return "api-accepted";
    case Step::kStatusWritten:
      return "status-written";
    case Step::kStatusSeen:
      return "status-seen";
    case Step::kStopped:
      return "stopped";
    case Step::kSandboxStopped:
      return "sandbox-stopped";
    case Step::kEventWritten:
      return "event-written";
    case Step::kDone:
      return "done";
    case Step::kFailed:
      return "failed";
    case Step::kRestarted:
      return "restarted";
    case Step::kStatusRestored:
      return "status-restored";
    case Step::kDeleteRequested:
      return "delete-requested";
    case Step::kWatched:
      return "watched";
  }
  return "";
}

std::optional<Step> parse_step(std::string_view name) {
  for (Step step : kAllSteps) {
    if (step_name(step) == name)
      return step;
  }
  return std::nullopt;
}

bool EvictionState::has(Step step) const {
  for (const auto& record : steps) {
    if (record.step == step)
      return true;
  }
  return false;
}

uint32_t crc32c(const char* data, size_t size) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t crc = i;
      for (int bit = 0; bit < 8; ++bit)
        crc = (crc >> 1) ^ (0x82F63B78U & (0U - (crc & 1U)));  // Castagnoli
      table[i] = crc;
    }
    return table;
  }();
  uint32_t crc = 0xFFFFFFFFU;
  for (size_t i = 0; i < size; ++i) {
    crc = kTable[(crc ^ static_cast<unsigned char>(data[i])) & 0xff] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFU;
}

std::string frame(const Record& record) {
  const std::string payload = to_json(record).dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(kHeaderBytes + payload.size());
  put_u32(out, static_cast<uint32_t>(payload.size()));
  put_u32(out, crc32c(payload.data(), payload.size()));
  out += payload;
  return out;
}

Result<ReplayReport> replay_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error("ledger: open " + path + ": " + errno_text());
  auto report = replay_fd(fd);
  ::close(fd);
  return report;
}

Result<Ledger> Ledger::open(const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error)
    return make_error("ledger: cannot create " + directory + ": " + error.message());
  Ledger ledger;
  ledger.directory_ = directory;
  ledger.path_ = directory + "/ledger";
  ledger.fd_ = ::open(ledger.path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (ledger.fd_ < 0)
    return make_error("ledger: open " + ledger.path_ + ": " + errno_text());
  auto report = replay_fd(ledger.fd_);
  if (!report)
    return report.error();
  ledger.replayed_ = std::move(report).value();
  if (ledger.replayed_.torn_tail_dropped) {
    // Drop the torn record so the next append starts on a record boundary.
    if (ftruncate(ledger.fd_, static_cast<off_t>(ledger.replayed_.valid_bytes)) != 0 ||
        fsync(ledger.fd_) != 0) {
      return make_error("ledger: cannot drop the torn tail of " + ledger.path_ + ": " +
                        errno_text());
    }
  }
  if (lseek(ledger.fd_, static_cast<off_t>(ledger.replayed_.valid_bytes), SEEK_SET) < 0) {
    return make_error("ledger: seek: " + errno_text());
  }
  if (ledger.replayed_.damaged_regions > 0) {
    if (auto kept = ledger.set_damaged_file_aside(); !kept)
      return kept.error();
  }
  return ledger;
}

Ledger::Ledger(Ledger&& other) noexcept
    : directory_(std::move(other.directory_)),
      path_(std::move(other.path_)),
      fd_(other.fd_),
      replayed_(std::move(other.replayed_)) {
  other.fd_ = -1;
}

Ledger& Ledger::operator=(Ledger&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    directory_ = std::move(other.directory_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    replayed_ = std::move(other.replayed_);
    other.fd_ = -1;
  }
  return *this;
}

Ledger::~Ledger() {
  if (fd_ >= 0)
    ::close(fd_);
}

Result<void> Ledger::append(const Record& record) {
  if (auto written = write_all(fd_, frame(record)); !written)
    return written;
  if (fdatasync(fd_) != 0)
    return make_error("ledger: fdatasync: " + errno_text());
  return {};
}

// The damaged file stays as evidence under another name (a hard link: no moment without a
// ledger), and the ledger is rewritten from what replay recovered, as compaction writes it.
Result<void> Ledger::set_damaged_file_aside() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::string copy =
      path_ + ".damaged-" +
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  if (::link(path_.c_str(), copy.c_str()) != 0)
    return make_error("ledger: cannot keep the damaged " + path_ + " as " + copy + ": " +
                      errno_text());
  replayed_.damaged_copy = copy;
  return compact(replayed_.evictions, replayed_.evictions.size());
}

Result<void> Ledger::compact(const std::vector<EvictionState>& evictions, size_t keep_finished) {
  size_t finished = 0;
  for (const auto& e : evictions)
    finished += e.finished() ? 1 : 0;
  std::string bytes;
  size_t skip = finished > keep_finished ? finished - keep_finished : 0;
  for (const auto& eviction : evictions) {
    if (eviction.finished() && skip > 0) {
      --skip;  // the oldest finished evictions go first
      continue;
    }
    bytes += frame(eviction.decision);
    for (const auto& step : eviction.steps)
      bytes += frame(step);
  }
  // Write aside, flush, rename over, flush the directory: the ledger is always either old or new.
  // The descriptor written aside is the ledger once renamed, so appends follow it with nothing
  // left to fail in between (a reopen that failed would leave them going to the unlinked file).
  const std::string temporary = path_ + ".compact";
  const int fd = ::open(temporary.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error("ledger: open " + temporary + ": " + errno_text());
  auto written = write_all(fd, bytes);
  if (!written || fsync(fd) != 0) {
    const std::string why = written ? errno_text() : written.error().message;
    ::close(fd);
    return make_error("ledger: cannot write " + temporary + ": " + why);
  }
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    return make_error("ledger: rename " + temporary + ": " + why);
  }
  ::close(fd_);
  fd_ = fd;
  const int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const bool dir_synced = dir >= 0 && fsync(dir) == 0;
  const std::string why = dir_synced ? "" : errno_text();
  if (dir >= 0)
    ::close(dir);
  if (!dir_synced)
    return make_error("ledger: the rename of " + path_ + " may not be on disk yet: " + why);
  return {};
}

}  // namespace evictd::ledger
