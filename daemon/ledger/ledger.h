// The eviction ledger: an append-only file in the state directory with one record per step of each
// eviction, flushed to disk (fdatasync) before the step is taken, so that nothing evictd did or
// meant to do is lost. Replayed at start to finish interrupted evictions and pending API writes;
// compacted atomically; a torn last record (a crash mid-write) is detected by its length and
// CRC-32C and dropped without losing the records before it; damage in the middle is skipped to the
// next intact record, so it costs only the records it hit.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ranking/result.h"

namespace evictd::ledger {

// The steps of one eviction, in the order they are taken.
enum class Step {
  kDecided,         // the decision, with everything needed to finish it
  kFrozen,          // the pod's cgroup is frozen: its usage no longer grows
  kKilled,          // the runtime did not answer: the pod's tasks were killed through its cgroup
  kApiAccepted,     // the Eviction API accepted it: the API server deletes the pod gracefully
  kStatusWritten,   // the pod's status (Evicted + DisruptionTarget) is in the API server
  kStatusSeen,      // ... and back on evictd's own watch, so the kubelet's watch has it too
  kStopped,         // the runtime stopped the pod's containers (beside a kubelet) or the pod
  kSandboxStopped,  // evictd stopped the sandbox the kubelet had not stopped in time
  kEventWritten,    // the Evicted event is in the API server
  kDone,            // finished (the pod is gone)
  kFailed,          // given up on, with the reason
  // After kDone, while evictd watches the evicted pod for the kubelet's resync periods:
  kRestarted,        // the pod ran again and was stopped again
  kStatusRestored,   // its Failed/Evicted status had been changed and was written again
  kDeleteRequested,  // escalated: the pod object is deleted gracefully
  kWatched,          // the watch is over, with what it saw
};
std::string_view step_name(Step step);
std::optional<Step> parse_step(std::string_view name);

struct Record {
  std::string eviction_id;  // unique per eviction
  Step step = Step::kDecided;
  int64_t time_unix_ms = 0;
  // Written with kDecided (and kept by compaction): what the eviction is.
  std::string namespace_name;
  std::string pod_name;
  std::string pod_uid;
  int64_t pod_generation = 0;
  std::string signal;  // or the local-storage cause
  std::string message;
  std::map<std::string, std::string> annotations;
  int64_t grace_period_seconds = 0;
  bool hard = false;
  bool disruption_target = false;  // the status gets the DisruptionTarget condition
  // Through the Eviction API (softEvictionMode api): the API server checks the pod's disruption
  // budget and deletes it; evictd writes no status of its own.
  bool eviction_api = false;
  std::string node_name;
  std::string observed;   // the signal's available quantity at the decision (empty: not a signal)
  std::string threshold;  // the threshold acted on
  // The pod's cgroup, relative to the memory hierarchy (empty: unknown): after a crash, replay
  // thaws a pod it may have frozen before stopping it.
  std::string cgroup;
  std::string detail;  // a step's outcome or error
};

// The state of one eviction after replay: its decision and the steps done so far.
struct EvictionState {
  Record decision;
  std::vector<Record> steps;  // after kDecided
  bool has(Step step) const;
  bool finished() const { return has(Step::kDone) || has(Step::kFailed); }
};

struct ReplayReport {
  std::vector<EvictionState> evictions;  // in the order they were decided
  size_t records = 0;
  bool torn_tail_dropped = false;  // bad bytes after the last intact record (a crash mid-write)
  uint64_t valid_bytes = 0;        // up to the end of the last intact record
  // Bad bytes between intact records (damage, not a crash): skipped, the records around kept.
  uint64_t damaged_bytes = 0;
  size_t damaged_regions = 0;
  size_t orphaned_steps = 0;  // steps whose eviction's decision was lost to damage
  // Where Ledger::open kept the damaged file before rewriting the ledger ("" when none).
  std::string damaged_copy;
};

class Ledger {
 public:
  // Opens (creating) <directory>/ledger, replays it, truncates a torn tail, and keeps it open for
  // appends. A damaged ledger is kept as ledger.damaged-<unix ms> and rewritten from the records
  // replayed, so that the damage is reported once and the evidence stays.
  static Result<Ledger> open(const std::string& directory);
  Ledger(Ledger&& other) noexcept;
  Ledger& operator=(Ledger&& other) noexcept;
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;
  ~Ledger();

  const ReplayReport& replayed() const { return replayed_; }
  // Appends and flushes one record; returns only when it is on disk.
  Result<void> append(const Record& record);
  // Rewrites the file keeping every unfinished eviction and the last `keep_finished` finished ones.
  Result<void> compact(const std::vector<EvictionState>& evictions, size_t keep_finished);
  const std::string& path() const { return path_; }

 private:
  Ledger() = default;
  Result<void> set_damaged_file_aside();
  std::string directory_;
  std::string path_;
  int fd_ = -1;
  ReplayReport replayed_;
};

// Replays a ledger file without opening it for writing (for tests and `evictctl`).
Result<ReplayReport> replay_file(const std::string& path);

// The framing: little-endian u32 payload length, u32 CRC-32C of the payload, the payload (JSON).
std::string frame(const Record& record);
uint32_t crc32c(const char* data, size_t size);

}  // namespace evictd::ledger
