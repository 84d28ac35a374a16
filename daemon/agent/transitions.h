// What changed since the last round, as events for the status API's Watch and lines for the log:
// node conditions begun and ended, thresholds met and cleared. Only changes are reported, never
// the same state every round.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cgroups/notifier.h"
#include "daemon/log/log.h"
#include "daemon/status/event_hub.h"
#include "ranking/evaluator.h"

namespace evictd::agent {

struct LogLine {
  log::Level level = log::Level::kInfo;
  std::string message;
  log::Fields fields;
};

struct Transitions {
  std::vector<status::Event> events;
  std::vector<LogLine> lines;
};

// "memory.available<100Mi(hard)": a threshold as the log and the events name it.
std::string threshold_label(const Threshold& threshold);

class ReportedState {
 public:
  // The changes `decision` brings, now noted as reported; `cause` is what woke the round.
  Transitions update(const Decision& decision, status::WallTime now, cgroups::WakeCause cause);

  // Whether a condition holds or a threshold is met, as last reported.
  bool under_pressure() const { return !conditions_.empty() || !crossed_.empty(); }
  // Since when each condition holds.
  const std::map<NodeCondition, status::WallTime>& condition_since() const { return since_; }

 private:
  void update_conditions(const Decision& decision, status::WallTime now, Transitions& out);
  void update_crossed(const Decision& decision, cgroups::WakeCause cause, Transitions& out);

  std::vector<NodeCondition> conditions_;
  std::map<NodeCondition, status::WallTime> since_;
  std::vector<std::string> crossed_;  // threshold labels met in the last round
};

}  // namespace evictd::agent
