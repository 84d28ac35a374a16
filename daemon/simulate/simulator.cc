#include "daemon/simulate/simulator.h"

#include <algorithm>
#include <map>
#include <set>

namespace evictd::simulate {
namespace {

using Json = nlohmann::ordered_json;

Json seconds(Nanos duration) {
  if (duration.count() % 1'000'000'000 == 0)
    return duration.count() / 1'000'000'000;
  return static_cast<double>(duration.count()) / 1e9;
}

// Memory rankings compare bytes whatever their signal observes (memory.pressure: stalled time).
QuantityFormat ranking_format(const Ranking& ranking) {
  return ranking.kind == RankKind::kMemory ? QuantityFormat::kBinarySI
                                           : observation_format(ranking.signal);
}

std::string key_quantity(Int128 nano, QuantityFormat format) {
  return Quantity::from_nano(nano, format).to_string();
}

// The reclaim port of a simulated step: the observations the scenario says follow node-level
// reclaim.
class StepReclaimer : public NodeReclaimer {
 public:
  explicit StepReclaimer(const Step& step) : step_(step) {}
  std::optional<Observations> reclaim(Signal /*signal*/,
                                      std::span<const ReclaimAction> /*actions*/) override {
    return step_.reclaim.value_or(step_.signals);
  }

 private:
  const Step& step_;
};

Json threshold_json(const ThresholdState& state) {
  Json j;
  j["signal"] = signal_name(state.threshold.signal);
  j["value"] = state.threshold.value.text();
  j["quantity"] = state.quantity.to_string();
  j["hard"] = state.threshold.hard();
  j["gracePeriodSeconds"] = seconds(state.threshold.grace_period);
  if (state.threshold.min_reclaim)
    j["minReclaim"] = state.threshold.min_reclaim->text();
  const Signal signal = state.threshold.signal;
  if (met_from_above(signal)) {
    // A stall share: what stalled of which window, not amounts.
    j["quantity"] = amount_text(signal, state.quantity.value(), state.observation.capacity);
    j["stalled"] = amount_text(signal, state.observation.available, state.observation.capacity);
    j["window"] = format_go_duration(std::chrono::microseconds(state.observation.capacity));
  } else {
    const QuantityFormat format = observation_format(signal);
    j["available"] = Quantity::from_int(state.observation.available, format).to_string();
    j["capacity"] = Quantity::from_int(state.observation.capacity, format).to_string();
  }
  j["firstObservedAt"] = seconds(state.first_observed_at);
  if (state.threshold.dry_run)
    j["dryRun"] = true;
  return j;
}

void print_text(const Decision& decision, std::span<const ActivePod> pods, std::ostream& out) {
  out << "t=" << format_go_duration(decision.now);
  if (!decision.conditions.empty()) {
    out << "  conditions:";
    for (const auto condition : decision.conditions)
      out << " " << condition_name(condition);
  }
  out << "\n";
  for (const auto& state : decision.crossed) {
    const bool met = std::any_of(decision.met.begin(), decision.met.end(),
                                 [&](const ThresholdState& s) { return s.index == state.index; });
    const Signal signal = state.threshold.signal;
    const bool stall = met_from_above(signal);
    const int64_t capacity = state.observation.capacity;
    out << "  " << (met ? "met     " : "crossed ") << signal_name(signal)
        << (stall ? " > " + amount_text(signal, state.quantity.value(), capacity)
                  : " < " + state.quantity.to_string())
        << " (" << (state.threshold.hard() ? "hard" : "soft");
    if (!state.threshold.hard()) {
      out << ", grace " << format_go_duration(state.threshold.grace_period)
          << ", since t=" << format_go_duration(state.first_observed_at);
    }
    if (state.threshold.dry_run)
      out << ", dry run";
    if (stall) {
      out << "): stalled " << amount_text(signal, state.observation.available, capacity) << " of "
          << format_go_duration(std::chrono::microseconds(capacity)) << "\n";
    } else {
      out << "): available " << amount_text(signal, state.observation.available, capacity) << " of "
          << amount_text(signal, capacity, capacity) << "\n";
    }
  }
  for (const auto& note : decision.notes)
    out << "  - " << note << "\n";
  if (decision.ranking) {
    const Ranking& ranking = *decision.ranking;
    const QuantityFormat format = ranking_format(ranking);
    out << "  ranking for " << signal_name(ranking.signal) << ":\n";
    size_t position = 1;
    for (const size_t index : ranking.order) {
      const RankKeys& keys = ranking.keys[index];
      out << "    " << position++ << ". " << pods[index].pod->key();
      if (!keys.stats_found) {
        out << "  (no stats)";
      } else {
        if (ranking.kind != RankKind::kPids) {
          out << "  " << (keys.exceeds_requests ? "above requests" : "within requests");
        }
        out << "  priority " << keys.priority << "  usage " << key_quantity(keys.usage, format);
        if (ranking.counts_swap)
          out << " (swap " << key_quantity(keys.swap, format) << ")";
        if (ranking.kind != RankKind::kPids) {
          out << "  request " << key_quantity(keys.request, format) << "  usage-request "
              << key_quantity(keys.usage_above_request, format);
        }
      }
      if (keys.critical)
        out << "  [critical]";
      out << "\n";
    }
  }
  for (const auto& eviction : decision.evictions) {
    out << (eviction.dry_run ? "  WOULD EVICT (dry run) " : "  EVICT ")
        << pods[eviction.pod_index].pod->key() << " (grace " << eviction.grace_period_seconds
        << "s, " << eviction_cause_name(eviction.cause) << "): " << eviction.message << "\n";
  }
}

}  // namespace

Json decision_json(const Decision& decision, std::span<const ActivePod> pods) {
  Json j;
  j["at"] = seconds(decision.now);
  Json conditions = Json::array();
  for (const auto condition : decision.conditions)
    conditions.push_back(condition_name(condition));
  j["conditions"] = conditions;
  Json met = Json::array();
  for (const auto& state : decision.met)
    met.push_back(threshold_json(state));
  j["thresholdsMet"] = met;
  j["reclaimAttempted"] = decision.reclaim_attempted;
  Json evictions = Json::array();
  for (const auto& eviction : decision.evictions) {
    const Pod& pod = *pods[eviction.pod_index].pod;
    Json e;
    e["pod"] = pod.key();
    e["uid"] = pod.uid;
    e["signal"] = eviction.signal ? Json(signal_name(*eviction.signal)) : Json(nullptr);
    e["cause"] = eviction_cause_name(eviction.cause);
    e["gracePeriodSeconds"] = eviction.grace_period_seconds;
    e["message"] = eviction.message;
    Json annotations = Json::object();
    for (const auto& [key, value] : eviction.annotations)
      annotations[key] = value;
    e["annotations"] = annotations;
    e["disruptionTarget"] = eviction.disruption_target;
    if (eviction.dry_run)
      e["dryRun"] = true;
    evictions.push_back(e);
  }
  j["evictions"] = evictions;
  Json ranking = Json::array();
  Json candidates = Json::array();
  if (decision.ranking) {
    const QuantityFormat format = ranking_format(*decision.ranking);
    for (const size_t index : decision.ranking->order) {
      const RankKeys& keys = decision.ranking->keys[index];
      ranking.push_back(pods[index].pod->key());
      Json c;
      c["pod"] = pods[index].pod->key();
      c["statsFound"] = keys.stats_found;
      if (decision.ranking->kind != RankKind::kPids)
        c["exceedsRequests"] = keys.exceeds_requests;
      c["priority"] = keys.priority;
      c["usage"] = key_quantity(keys.usage, format);
      if (decision.ranking->counts_swap)
        c["swap"] = key_quantity(keys.swap, format);
      if (decision.ranking->kind != RankKind::kPids) {
        c["request"] = key_quantity(keys.request, format);
        c["usageAboveRequest"] = key_quantity(keys.usage_above_request, format);
      }
      c["qosClass"] = qos_class_name(pod_qos(*pods[index].pod));
      c["critical"] = keys.critical;
      candidates.push_back(c);
    }
  }
  j["ranking"] = ranking;
  j["reclaimSufficed"] = decision.reclaim_sufficed;
  Json actions = Json::array();
  for (const auto action : decision.reclaim_actions)
    actions.push_back(reclaim_action_name(action));
  j["reclaimActions"] = actions;
  j["signal"] = decision.to_reclaim ? Json(signal_name(decision.to_reclaim->threshold.signal))
                                    : Json(nullptr);
  j["candidates"] = candidates;
  j["notes"] = decision.notes;
  return j;
}

void run(const Scenario& scenario, OutputFormat format, std::ostream& out,
         std::ostream& diagnostics) {
  Evaluator evaluator(scenario.config, scenario.layout);
  for (const auto& warning : evaluator.warnings())
    diagnostics << "warning: " << warning << "\n";
  std::vector<Pod> pods = scenario.pods;
  std::set<std::string> evicted;
  for (const auto& step : scenario.steps) {
    for (const auto& key : step.remove_pods) {
      std::erase_if(pods, [&](const Pod& pod) { return pod.key() == key; });
      evicted.erase(key);
    }
    pods.insert(pods.end(), step.add_pods.begin(), step.add_pods.end());
    std::map<std::string, const PodStats*> stats;
    for (const auto& usage : step.usage)
      stats[usage.key] = &usage.stats;
    // An evicted pod stays in the set until removed, but the kubelet never ranks a terminated pod.
    std::vector<ActivePod> active;
    for (const auto& pod : pods) {
      if (evicted.contains(pod.key()))
        continue;
      const auto found = stats.find(pod.key());
      active.push_back(ActivePod{&pod, found != stats.end() ? found->second : nullptr});
    }
    StepReclaimer reclaimer(step);
    const Decision decision = evaluator.synchronize(step.signals, active, step.at, &reclaimer);
    if (format == OutputFormat::kJson) {
      // Names come from the scenario as bytes; invalid UTF-8 is printed as U+FFFD, never thrown.
      out << decision_json(decision, active).dump(-1, ' ', false, Json::error_handler_t::replace)
          << "\n";
    } else {
      print_text(decision, active, out);
    }
    for (const auto& eviction : decision.evictions) {
      if (!eviction.dry_run)  // a dry-run choice leaves the pod running
        evicted.insert(active[eviction.pod_index].pod->key());
    }
  }
}

}  // namespace evictd::simulate
