#include "daemon/agent/transitions.h"

#include <algorithm>

namespace evictd::agent {
namespace {

template <typename T>
bool contains(const std::vector<T>& values, const T& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

status::Event condition_event(status::EventType type, NodeCondition condition) {
  status::Event event;
  event.type = type;
  event.condition = std::string(condition_name(condition));
  return event;
}

}  // namespace

std::string threshold_label(const Threshold& threshold) {
  return threshold.statement() + (threshold.hard() ? "(hard)" : "(soft)") +
         (threshold.dry_run ? "(dry run)" : "");
}

Transitions ReportedState::update(const Decision& decision, status::WallTime now,
                                  cgroups::WakeCause cause) {
  Transitions out;
  update_conditions(decision, now, out);
  update_crossed(decision, cause, out);
  return out;
}

void ReportedState::update_conditions(const Decision& decision, status::WallTime now,
                                      Transitions& out) {
  if (decision.conditions == conditions_)
    return;
  for (auto condition : decision.conditions) {
    if (since_.emplace(condition, now).second)
      out.events.push_back(condition_event(status::EventType::kPressureBegun, condition));
  }
  for (auto it = since_.begin(); it != since_.end();) {
    if (contains(decision.conditions, it->first)) {
      ++it;
      continue;
    }
    out.events.push_back(condition_event(status::EventType::kPressureEnded, it->first));
    it = since_.erase(it);
  }
  std::string names;
  for (auto condition : decision.conditions)
    names += (names.empty() ? "" : ",") + std::string(condition_name(condition));
  out.lines.push_back(LogLine{log::Level::kInfo,
                              names.empty() ? "node pressure ended" : "node pressure: " + names,
                              {{"conditions", names}}});
  conditions_ = decision.conditions;
}

void ReportedState::update_crossed(const Decision& decision, cgroups::WakeCause cause,
                                   Transitions& out) {
  std::vector<std::string> crossed;
  for (const auto& state : decision.crossed)
    crossed.push_back(threshold_label(state.threshold));
  if (crossed == crossed_)
    return;
  const std::string woken_by(cgroups::wake_cause_name(cause));
  for (size_t i = 0; i < crossed.size(); ++i) {
    if (contains(crossed_, crossed[i]))
      continue;
    const auto& state = decision.crossed[i];
    out.lines.push_back(
        LogLine{log::Level::kInfo, "threshold met: " + crossed[i], {{"cause", woken_by}}});
    status::Event event;
    event.type = status::EventType::kThresholdMet;
    event.signal = std::string(signal_name(state.threshold.signal));
    const Signal signal = state.threshold.signal;
    event.detail = crossed[i] + (met_from_above(signal) ? ", stalled " : ", available ") +
                   amount_text(signal, state.observation.available, state.observation.capacity) +
                   " (woken by " + woken_by + ")";
    out.events.push_back(std::move(event));
  }
  for (const auto& label : crossed_) {
    if (contains(crossed, label))
      continue;
    status::Event event;
    event.type = status::EventType::kThresholdCleared;
    event.signal = label.substr(0, label.find_first_of("<>"));
    event.detail = label;
    out.events.push_back(std::move(event));
  }
  crossed_ = std::move(crossed);
}

}  // namespace evictd::agent
