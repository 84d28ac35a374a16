#include "daemon/ledger/ledger.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "read_text.h"

namespace evictd::ledger {
namespace {

class LedgerTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "evictd-ledger-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static Record decided(const std::string& id, const std::string& pod) {
    Record r;
    r.eviction_id = id;
    r.step = Step::kDecided;
    r.time_unix_ms = 1000;
    r.namespace_name = "shop";
    r.pod_name = pod;
    r.pod_uid = "uid-" + pod;
    r.pod_generation = 2;
    r.signal = "memory.available";
    r.message = "The node was low on resource: memory. ";
    r.annotations = {{"starved_resource", "memory"}};
    r.grace_period_seconds = 1;
    r.hard = true;
    return r;
  }
  static Record step(const std::string& id, Step s, const std::string& detail = "") {
    Record r;
    r.eviction_id = id;
    r.step = s;
    r.time_unix_ms = 2000;
    r.detail = detail;
    return r;
  }

  std::string dir_;
};

TEST_F(LedgerTest, Crc32cCheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283U);
}

TEST_F(LedgerTest, AppendThenReplayRestoresEveryEvictionAndStep) {
  {
    auto ledger = Ledger::open(dir_);
    ASSERT_TRUE(ledger.ok()) << ledger.error().message;
    ASSERT_TRUE(ledger->append(decided("a", "web")).ok());
    ASSERT_TRUE(ledger->append(step("a", Step::kStatusWritten)).ok());
    ASSERT_TRUE(ledger->append(decided("b", "db")).ok());
    ASSERT_TRUE(ledger->append(step("a", Step::kStopped, "2 steps in 150ms")).ok());
  }
  auto ledger = Ledger::open(dir_);
  ASSERT_TRUE(ledger.ok());
  const ReplayReport& report = ledger->replayed();
  EXPECT_EQ(report.records, 4U);
  EXPECT_FALSE(report.torn_tail_dropped);
  ASSERT_EQ(report.evictions.size(), 2U);
  const EvictionState& a = report.evictions[0];
  EXPECT_EQ(a.decision.pod_name, "web");
  EXPECT_EQ(a.decision.annotations.at("starved_resource"), "memory");
  EXPECT_TRUE(a.decision.hard);
  EXPECT_TRUE(a.has(Step::kStatusWritten));
  EXPECT_TRUE(a.has(Step::kStopped));
  EXPECT_FALSE(a.has(Step::kEventWritten));  // pending: replay must write the event
  EXPECT_FALSE(a.finished());
  EXPECT_EQ(a.steps.back().detail, "2 steps in 150ms");
  EXPECT_TRUE(report.evictions[1].steps.empty());  // decided only: the status write is pending
}

TEST_F(LedgerTest, ATornLastRecordIsDroppedWithoutLosingTheEarlierOnes) {
  {
    auto ledger = Ledger::open(dir_);
    ASSERT_TRUE(ledger->append(decided("a", "web")).ok());
    ASSERT_TRUE(ledger->append(step("a", Step::kStatusWritten)).ok());
  }
  // A crash in the middle of the next write: half a frame on disk.
  const std::string torn = frame(step("a", Step::kStopped));
  std::ofstream(dir_ + "/ledger", std::ios::app | std::ios::binary)
      .write(torn.data(), static_cast<long>(torn.size() / 2));
  {
    auto ledger = Ledger::open(dir_);
    ASSERT_TRUE(ledger.ok());
    EXPECT_TRUE(ledger->replayed().torn_tail_dropped);
    EXPECT_EQ(ledger->replayed().records, 2U);
    ASSERT_TRUE(
        ledger->append(step("a", Step::kStopped)).ok());  // starts on a record boundary again
  }
  auto ledger = Ledger::open(dir_);
  EXPECT_FALSE(ledger->replayed().torn_tail_dropped);
  EXPECT_EQ(ledger->replayed().records, 3U);
  EXPECT_TRUE(ledger->replayed().evictions[0].has(Step::kStopped));
}

// Flips one byte of the ledger at `offset`.
void flip_byte(const std::string& path, size_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<long>(offset));
  const char byte = static_cast<char>(file.get());
  file.seekp(static_cast<long>(offset));
  file.put(static_cast<char>(byte ^ 0x20));
}

TEST_F(LedgerTest, ADamagedLastRecordIsDamageNotATornWrite) {
  {
    auto ledger = Ledger::open(dir_);
    ASSERT_TRUE(ledger->append(decided("a", "web")).ok());
  }
  flip_byte(dir_ + "/ledger", 20);  // a payload byte: the whole frame is there, its CRC fails
  auto report = replay_file(dir_ + "/ledger");
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->records, 0U);
  EXPECT_FALSE(report->torn_tail_dropped) << "a whole frame was written: not a crash mid-write";
  EXPECT_EQ(report->damaged_regions, 1U);
  EXPECT_EQ(report->damaged_bytes, frame(decided("a", "web")).size());
}

TEST_F(LedgerTest, DamageInTheMiddleCostsOnlyTheRecordItHit) {
  {
    auto ledger = Ledger::open(dir_);
    ASSERT_TRUE(ledger->append(decided("a", "web")).ok());
    ASSERT_TRUE(ledger->append(step("a", Step::kDone)).ok());
    ASSERT_TRUE(ledger->append(decided("b", "db")).ok());  // unfinished: must survive
    ASSERT_TRUE(ledger->append(step("b", Step::kStopped)).ok());
  }
  flip_byte(dir_ + "/ledger", 20);  // the first record, a's decision
  auto report = replay_file(dir_ + "/ledger");
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->records, 3U) << "all but the damaged one";
  EXPECT_EQ(report->damaged_regions, 1U);
  EXPECT_EQ(report->orphaned_steps, 1U) << "a's done step, without its decision";
  EXPECT_FALSE(report->torn_tail_dropped);
  ASSERT_EQ(report->evictions.size(), 1U);
  EXPECT_EQ(report->evictions[0].decision.pod_name, "db");
  EXPECT_TRUE(report->evictions[0].has(Step::kStopped));
  EXPECT_FALSE(report->evictions[0].finished()) << "the unfinished eviction is still there";
}

TEST_F(LedgerTest, OpeningADamagedLedgerKeepsItAsideAndRewritesWhatWasRecovered) {
  const std::string path = dir_ + "/ledger";
  {
    auto ledger = Ledger::open(dir_);
    ASSERT_TRUE(ledger->append(decided("a", "web")).ok());
    ASSERT_TRUE(ledger->append(decided("b", "db")).ok());
  }
  const std::string damaged = testing_util::read_text(path);
  flip_byte(path, 20);
  {
    auto ledger = Ledger::open(dir_);
    ASSERT_TRUE(ledger.ok()) << ledger.error().message;
    const auto& replayed = ledger->replayed();
    EXPECT_EQ(replayed.damaged_regions, 1U);
    ASSERT_FALSE(replayed.damaged_copy.empty());
    EXPECT_EQ(replayed.damaged_copy.rfind(path + ".damaged-", 0), 0U) << replayed.damaged_copy;
    EXPECT_EQ(testing_util::read_text(replayed.damaged_copy).size(), damaged.size())
        << "the evidence is kept whole";
    ASSERT_TRUE(ledger->append(step("b", Step::kDone)).ok());
  }
  auto again = Ledger::open(dir_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->replayed().damaged_regions, 0U) << "reported once: the ledger was rewritten";
  ASSERT_EQ(again->replayed().evictions.size(), 1U);
  EXPECT_TRUE(again->replayed().evictions[0].has(Step::kDone)) << "appends follow the rewrite";
}

TEST_F(LedgerTest, CompactionKeepsUnfinishedEvictionsAndTheNewestFinished) {
  auto ledger = Ledger::open(dir_);
  for (int i = 0; i < 5; ++i) {
    const std::string id = "done-" + std::to_string(i);
    ASSERT_TRUE(ledger->append(decided(id, "pod" + std::to_string(i))).ok());
    ASSERT_TRUE(ledger->append(step(id, Step::kDone)).ok());
  }
  ASSERT_TRUE(ledger->append(decided("open", "open-pod")).ok());
  auto before = replay_file(ledger->path());
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(ledger->compact(before->evictions, 2).ok());
  ASSERT_TRUE(ledger->append(step("open", Step::kStatusWritten)).ok());
  auto after = replay_file(ledger->path());
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->evictions.size(), 3U);
  EXPECT_EQ(after->evictions[0].decision.eviction_id, "done-3");
  EXPECT_EQ(after->evictions[1].decision.eviction_id, "done-4");
  EXPECT_EQ(after->evictions[2].decision.eviction_id, "open");
  EXPECT_TRUE(after->evictions[2].has(Step::kStatusWritten));
  EXPECT_FALSE(std::filesystem::exists(ledger->path() + ".compact"));
}

TEST_F(LedgerTest, AKillMidAppendLeavesAReplayableLedger) {
  const pid_t child = fork();
  if (child == 0) {
    auto ledger = Ledger::open(dir_);
    for (int i = 0;; ++i) {
      const std::string id = "e" + std::to_string(i);
      if (!ledger->append(decided(id, "p")).ok() || !ledger->append(step(id, Step::kDone)).ok())
        _exit(1);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  auto ledger = Ledger::open(dir_);
  ASSERT_TRUE(ledger.ok()) << ledger.error().message;
  const ReplayReport& report = ledger->replayed();
  EXPECT_GT(report.records, 2U);
  // Every eviction but possibly the last is complete: records are whole or not there at all.
  for (size_t i = 0; i + 1 < report.evictions.size(); ++i)
    EXPECT_TRUE(report.evictions[i].finished());
  EXPECT_TRUE(ledger->append(decided("after", "p")).ok());
}

}  // namespace
}  // namespace evictd::ledger
