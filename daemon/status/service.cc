#include "daemon/status/service.h"

#include <google/protobuf/util/time_util.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace evictd::status {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

constexpr int32_t kDefaultPageSize = 100;
constexpr int32_t kMaxPageSize = 1000;

void set_time(WallTime time, Timestamp* out) {
  *out = TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
}

WallTime from_unix_ms(int64_t ms) {
  return WallTime(std::chrono::milliseconds(ms));
}

int64_t units(Int128 nano) {
  return static_cast<int64_t>(nano / Quantity::kNanoPerUnit);
}

std::string_view unit_of(Signal signal) {
  if (met_from_above(signal))
    return "microseconds stalled";
  switch (signal_resource(signal)) {
    case Resource::kMemory:
    case Resource::kEphemeralStorage:
      return "bytes";
    case Resource::kInodes:
      return "inodes";
    case Resource::kPids:
      return "processes";
  }
  return "";
}

v1::Mode mode_proto(Mode mode) {
  switch (mode) {
    case Mode::kNormal:
      return v1::MODE_NORMAL;
    case Mode::kStandalone:
      return v1::MODE_STANDALONE;
    case Mode::kDryRun:
      return v1::MODE_DRY_RUN;
  }
  return v1::MODE_UNSPECIFIED;
}

// The hub's events are the proto's, in the same order after its UNSPECIFIED.
v1::EventType event_type_proto(EventType type) {
  static_assert(static_cast<int>(EventType::kGap) + 1 == v1::EVENT_TYPE_GAP);
  static_assert(static_cast<int>(EventType::kApiRestored) + 1 == v1::EVENT_TYPE_API_RESTORED);
  static_assert(v1::EventType_MAX == v1::EVENT_TYPE_API_RESTORED);
  return static_cast<v1::EventType>(static_cast<int>(type) + 1);
}

std::string_view spec_source_name(model::SpecSource source) {
  return source == model::SpecSource::kApiServer ? "api" : "node";
}

// The signals ranked by default: those with a threshold, each once, in the kubelet's order.
std::vector<Signal> ranked_signals(const std::vector<Threshold>& thresholds) {
  std::set<Signal> seen;
  for (const auto& threshold : thresholds)
    seen.insert(threshold.signal);
  return {seen.begin(), seen.end()};
}

void fill_pod(const model::PodEntry& entry, const ActivePod& active, v1::PodInfo* out) {
  const Pod& pod = entry.pod;
  out->set_namespace_(pod.namespace_name);
  out->set_name(pod.name);
  out->set_uid(pod.uid);
  out->set_qos_class(std::string(qos_class_name(pod_qos(pod))));
  out->set_priority(pod_priority(pod));
  out->set_critical(is_critical_pod(pod));
  out->set_spec_source(std::string(spec_source_name(entry.spec_source)));
  const PodStats* stats = active.stats;
  const auto set = [](v1::Usage* usage_out, int64_t request, std::optional<uint64_t> usage) {
    usage_out->set_request(request);
    usage_out->set_usage_known(usage.has_value());
    usage_out->set_usage(static_cast<int64_t>(usage.value_or(0)));
  };
  set(out->mutable_memory(), pod_request(pod, kResourceMemory).value(),
      stats ? stats->memory_working_set_bytes : std::nullopt);
  if (stats && stats->memory_swap_bytes) {
    out->mutable_memory()->set_swap_known(true);
    out->mutable_memory()->set_swap(static_cast<int64_t>(*stats->memory_swap_bytes));
  }
  set(out->mutable_ephemeral_storage(), pod_request(pod, kResourceEphemeralStorage).value(),
      stats ? stats->ephemeral_storage_used_bytes : std::nullopt);
  set(out->mutable_processes(), 0, stats ? stats->process_count : std::nullopt);
  auto* cpu = out->mutable_cpu();
  cpu->set_cores_known(entry.cpu_cores.has_value());
  cpu->set_cores(entry.cpu_cores.value_or(0));
  cpu->set_usage_seconds(static_cast<double>(entry.cpu_usage_ns.value_or(0)) / 1e9);
}

void fill_pressure(const cgroups::Psi& psi, v1::Pressure* out) {
  const auto line = [](const cgroups::PsiLine& in, v1::PressureLine* line_out) {
    line_out->set_avg10(in.avg10);
    line_out->set_avg60(in.avg60);
    line_out->set_avg300(in.avg300);
    line_out->set_total_us(in.total_us);
  };
  if (psi.some)
    line(*psi.some, out->mutable_some());
  if (psi.full)
    line(*psi.full, out->mutable_full());
}

void fill_usage(const NodeUsage& usage, v1::NodeUsage* out) {
  out->set_cpu_known(usage.cpu_cores.has_value());
  out->set_cpu_cores(usage.cpu_cores.value_or(0));
  out->set_cpu_seconds(usage.cpu_seconds.value_or(0));
  out->set_cpus(usage.cpus);
  if (usage.cpu_pressure.some)
    fill_pressure(usage.cpu_pressure, out->mutable_cpu_pressure());
  if (usage.memory_pressure.some)
    fill_pressure(usage.memory_pressure, out->mutable_memory_pressure());
  if (usage.io_pressure.some)
    fill_pressure(usage.io_pressure, out->mutable_io_pressure());
  set_time(usage.read_at, out->mutable_read_at());
}

void fill_keys(const RankKeys& keys, v1::RankKeys* out) {
  out->set_stats_found(keys.stats_found);
  out->set_exceeds_requests(keys.exceeds_requests);
  out->set_priority(keys.priority);
  out->set_usage(units(keys.usage));
  out->set_request(units(keys.request));
  out->set_usage_above_request(units(keys.usage_above_request));
  out->set_swap(units(keys.swap));
}

// Why `first` is evicted before `second`, in words.
std::string order_reason(const Ranking& ranking, const KeyComparison& comparison,
                         const RankKeys& first, const RankKeys& second) {
  const RankKind kind = ranking.kind;
  // Memory usage counted with swap reads as bytes whatever the signal measures.
  const QuantityFormat format =
      kind == RankKind::kMemory ? QuantityFormat::kBinarySI : observation_format(ranking.signal);
  const auto number = [format](Int128 nano) {
    return Quantity::from_int(units(nano), format).to_string();
  };
  const std::string usage_kind = ranking.counts_swap ? " (working set + swap)" : "";
  switch (comparison.key) {
    case RankKey::kStats:
      return "no usage statistics were found for it, and such a pod goes first";
    case RankKey::kExceedsRequests:
      return "it uses more than it requests" + usage_kind + " (" + number(first.usage) + " > " +
             number(first.request) + ") and the other does not (" + number(second.usage) +
             " <= " + number(second.request) + ")";
    case RankKey::kPriority:
      return "its priority is lower (" + std::to_string(first.priority) + " < " +
             std::to_string(second.priority) + ")";
    case RankKey::kUsageAboveRequest:
      return "its usage above its requests is larger" + usage_kind + " (" +
             number(first.usage_above_request) + " > " + number(second.usage_above_request) + ")";
    case RankKey::kProcesses:
      return "it runs more processes (" + number(first.usage) + " > " + number(second.usage) + ")";
    case RankKey::kTie:
      return std::string("they tie on every key") +
             (kind == RankKind::kPids ? " (priority, processes)"
                                      : " (exceeds requests, priority, usage above requests)") +
             "; the runtime's listing order stands";
  }
  return "";
}

void fill_neighbour(const model::PodEntry& entry, const RankKeys& keys,
                    const KeyComparison& comparison, std::string reason, v1::Neighbour* out) {
  out->set_namespace_(entry.pod.namespace_name);
  out->set_name(entry.pod.name);
  fill_keys(keys, out->mutable_keys());
  out->set_deciding_key(std::string(rank_key_name(comparison.key)));
  out->set_reason(std::move(reason));
}

std::string state_name(const EvictionView& eviction) {
  if (eviction.state.has(ledger::Step::kFailed))
    return "failed";
  if (eviction.state.has(ledger::Step::kDone))
    return "done";
  if (eviction.pending_writes)
    return "pending-writes";
  return "in-flight";
}

// Newest first; the id breaks ties so the order (and the page tokens) are total.
bool newer(const EvictionView& a, const EvictionView& b) {
  if (a.state.decision.time_unix_ms != b.state.decision.time_unix_ms)
    return a.state.decision.time_unix_ms > b.state.decision.time_unix_ms;
  return a.state.decision.eviction_id > b.state.decision.eviction_id;
}

std::string page_token(const EvictionView& last) {
  return std::to_string(last.state.decision.time_unix_ms) + ":" + last.state.decision.eviction_id;
}

std::optional<EvictionView> parse_page_token(const std::string& token) {
  const auto colon = token.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == token.size())
    return std::nullopt;
  EvictionView view;
  const char* begin = token.data();
  const auto [end, error] = std::from_chars(begin, begin + colon, view.state.decision.time_unix_ms);
  if (error != std::errc() || end != begin + colon)
    return std::nullopt;
  view.state.decision.eviction_id = token.substr(colon + 1);
  return view;
}

// Where the pod ranks for `signal`, against its neighbours, and whether it is the next to go.
void explain_rank(const StatusSnapshot& snapshot, const PodRankings& ranked, Signal signal,
                  size_t index, v1::RankExplanation* out) {
  const model::PodView& view = *snapshot.pods;
  const auto& thresholds = *snapshot.thresholds;
  const Ranking& ranking = ranked.rankings[signal_index(signal)];
  const auto& order = ranking.order;
  const int32_t rank = ranked.rank_of[signal_index(signal)][index];
  out->set_signal(std::string(signal_name(signal)));
  out->set_rank(rank);
  out->set_of(static_cast<int32_t>(order.size()));
  out->set_counts_swap(ranking.counts_swap);
  fill_keys(ranking.keys[index], out->mutable_keys());
  const size_t position = static_cast<size_t>(rank - 1);
  // A neighbour, and why the first of the two goes before the second.
  const auto neighbour = [&](size_t other, size_t first, size_t second, v1::Neighbour* into) {
    const auto comparison =
        compare_rank_keys(ranking.kind, ranking.keys[first], ranking.keys[second]);
    fill_neighbour(view.entries[other], ranking.keys[other], comparison,
                   order_reason(ranking, comparison, ranking.keys[first], ranking.keys[second]),
                   into);
  };
  if (position > 0) {
    const size_t before = order[position - 1];
    neighbour(before, before, index, out->mutable_before());
  }
  if (position + 1 < order.size()) {
    const size_t after = order[position + 1];
    neighbour(after, index, after, out->mutable_after());
  }
  bool met = false;
  for (size_t i : snapshot.met)
    met |= i < thresholds.size() && thresholds[i].signal == signal;
  out->set_threshold_met(met);
  // The next eviction for this signal is its first pod that is not critical.
  const auto next = std::find_if(order.begin(), order.end(), [&](size_t candidate) {
    return !ranking.keys[candidate].critical;
  });
  out->set_next(next != order.end() && *next == index);
}

}  // namespace

void yield_to_the_loop() {
  thread_local bool lowered = false;
  if (lowered)
    return;
  lowered = true;
  // Lowering one's own priority needs no privilege; should it fail, the query is answered at the
  // loop's priority, which costs the loop some CPU but nothing else.
  [[maybe_unused]] const int niced =
      setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
}

void to_proto(const Event& event, const std::string& epoch, v1::Event* out) {
  out->set_epoch(epoch);
  out->set_sequence(event.sequence);
  set_time(event.time, out->mutable_time());
  out->set_type(event_type_proto(event.type));
  out->set_condition(event.condition);
  out->set_signal(event.signal);
  out->set_namespace_(event.namespace_name);
  out->set_name(event.pod_name);
  out->set_uid(event.pod_uid);
  out->set_eviction_id(event.eviction_id);
  out->set_step(event.step);
  out->set_detail(event.detail);
}

void to_proto(const EvictionView& eviction, v1::EvictionRecord* out) {
  const ledger::Record& d = eviction.state.decision;
  out->set_eviction_id(d.eviction_id);
  out->set_namespace_(d.namespace_name);
  out->set_name(d.pod_name);
  out->set_uid(d.pod_uid);
  out->set_signal(d.signal);
  out->set_message(d.message);
  for (const auto& [key, value] : d.annotations)
    (*out->mutable_annotations())[key] = value;
  out->set_grace_period_seconds(d.grace_period_seconds);
  out->set_hard(d.hard);
  set_time(from_unix_ms(d.time_unix_ms), out->mutable_decided_at());
  out->set_observed(d.observed);
  out->set_threshold(d.threshold);
  out->set_eviction_api(d.eviction_api);
  const auto add_step = [&](const ledger::Record& record) {
    auto* step = out->add_steps();
    step->set_step(std::string(ledger::step_name(record.step)));
    set_time(from_unix_ms(record.time_unix_ms), step->mutable_time());
    step->set_detail(record.detail);
  };
  add_step(d);
  for (const auto& step : eviction.state.steps)
    add_step(step);
  out->set_state(state_name(eviction));
}

StatusService::StatusService(const SnapshotBox& snapshots, HistorySource history, EventHub& events,
                             ServiceOptions options)
    : snapshots_(snapshots), history_(std::move(history)), events_(events), options_(options) {}

std::shared_ptr<const StatusSnapshot> StatusService::snapshot_or_unavailable(
    grpc::Status* status) const {
  auto snapshot = snapshots_.current();
  if (!snapshot)
    *status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "evictd has not sampled the node yet");
  return snapshot;
}

std::shared_ptr<const PodRankings> StatusService::rankings(const StatusSnapshot& snapshot) {
  std::lock_guard lock(rankings_mutex_);
  if (rankings_ && rankings_->pods == snapshot.pods &&
      rankings_->swap_aware_ranking == snapshot.swap_aware_ranking)
    return rankings_;
  auto fresh = std::make_shared<PodRankings>();
  fresh->pods = snapshot.pods;
  fresh->swap_aware_ranking = snapshot.swap_aware_ranking;
  if (snapshot.pods) {
    for (Signal signal : kAllSignals) {
      fresh->rankings.push_back(rank_pods(signal, snapshot.info->filesystems, snapshot.pods->active,
                                          snapshot.swap_aware_ranking));
      const Ranking& ranking = fresh->rankings.back();
      std::vector<int32_t> rank_of(ranking.order.size());
      for (size_t position = 0; position < ranking.order.size(); ++position)
        rank_of[ranking.order[position]] = static_cast<int32_t>(position + 1);
      fresh->rank_of.push_back(std::move(rank_of));
    }
  }
  rankings_ = fresh;
  return fresh;
}

grpc::Status StatusService::get_status_bytes(grpc::ByteBuffer* response_bytes) {
  grpc::Status status;
  const auto snapshot = snapshot_or_unavailable(&status);
  if (!snapshot)
    return status;
  std::lock_guard lock(status_mutex_);
  if (status_snapshot_ != snapshot) {
    v1::NodeStatus response;
    fill_status(*snapshot, &response);
    status_answer_ = grpc::Slice(response.SerializeAsString());
    status_snapshot_ = snapshot;
  }
  grpc::Slice shared = status_answer_;
  *response_bytes = grpc::ByteBuffer(&shared, 1);
  return grpc::Status::OK;
}

void StatusService::fill_status(const StatusSnapshot& snapshot, v1::NodeStatus* response) {
  const DaemonInfo& info = *snapshot.info;
  response->set_node_name(info.node_name);
  response->set_mode(mode_proto(info.mode));
  response->set_version(info.version);
  response->set_epoch(info.epoch);
  set_time(info.started_at, response->mutable_started_at());
  auto* runtime = response->mutable_runtime();
  runtime->set_endpoint(info.runtime_endpoint);
  runtime->set_configured(true);
  runtime->set_connected(snapshot.runtime.connected);
  set_time(snapshot.runtime.since, runtime->mutable_since());
  auto* api = response->mutable_api_server();
  api->set_endpoint(info.api_server);
  api->set_configured(!info.api_server.empty());
  api->set_connected(snapshot.api.connected);
  set_time(snapshot.api.since, api->mutable_since());
  auto* cgroups = response->mutable_cgroups();
  cgroups->set_version(info.cgroup_version);
  cgroups->set_driver(info.cgroup_driver);
  cgroups->set_kubepods(info.kubepods);
  if (snapshot.notifications) {
    for (const auto& line : *snapshot.notifications)
      response->add_notifications()->set_description(line);
  }
  if (snapshot.notification_errors) {
    for (const auto& line : *snapshot.notification_errors)
      response->add_notification_errors(line);
  }
  if (snapshot.warnings) {
    for (const auto& line : *snapshot.warnings)
      response->add_warnings(line);
  }
  response->set_polling_interval_ms(
      std::chrono::duration_cast<std::chrono::milliseconds>(info.polling_interval).count());
  const auto& thresholds = *snapshot.thresholds;
  for (Signal signal : kAllSignals) {
    const auto& observation = snapshot.observations.get(signal);
    if (!observation)
      continue;
    auto* out = response->add_signals();
    out->set_signal(std::string(signal_name(signal)));
    out->set_available(observation->available);
    out->set_capacity(observation->capacity);
    out->set_unit(std::string(unit_of(signal)));
    const Nanos age =
        observation->time ? snapshot.sampled_monotonic - *observation->time : Nanos{0};
    set_time(snapshot.sampled_at - std::chrono::duration_cast<WallTime::duration>(age),
             out->mutable_observed_at());
    const Quantity capacity = Quantity::from_int(observation->capacity, observation_format(signal));
    for (size_t i = 0; i < thresholds.size(); ++i) {
      const Threshold& threshold = thresholds[i];
      if (threshold.signal != signal)
        continue;
      auto* t = out->add_thresholds();
      t->set_value(threshold.value.text());
      t->set_hard(threshold.hard());
      t->set_grace_period(format_go_duration(threshold.grace_period));
      const int64_t value = threshold.value.resolve(capacity).value();
      t->set_threshold(value);
      t->set_met(std::find(snapshot.met.begin(), snapshot.met.end(), i) != snapshot.met.end());
      t->set_margin(met_from_above(signal) ? value - observation->available
                                           : observation->available - value);
      if (threshold.min_reclaim)
        t->set_min_reclaim(threshold.min_reclaim->text());
      t->set_dry_run(threshold.dry_run);
    }
  }
  for (const auto& condition : snapshot.conditions) {
    auto* out = response->add_conditions();
    out->set_type(std::string(condition_name(condition.condition)));
    set_time(condition.since, out->mutable_since());
  }
  set_time(snapshot.sampled_at, response->mutable_last_sample_at());
  response->set_last_sample_duration_us(
      std::chrono::duration_cast<std::chrono::microseconds>(snapshot.sample_duration).count());
  fill_usage(snapshot.usage, response->mutable_usage());
  response->set_pods(snapshot.pods ? static_cast<int32_t>(snapshot.pods->entries.size()) : 0);
  response->set_evictions_in_flight(snapshot.evictions_in_flight);
  response->set_evictions_pending_writes(snapshot.evictions_pending_writes);
  response->set_evictions_total(snapshot.evictions_total);
}

grpc::Status StatusService::list_pods_bytes(const grpc::ByteBuffer& request_bytes,
                                            grpc::ByteBuffer* response_bytes) {
  v1::ListPodsRequest request;
  grpc::ByteBuffer bytes = request_bytes;  // shares the slices; deserializing consumes it
  if (!grpc::SerializationTraits<v1::ListPodsRequest>::Deserialize(&bytes, &request).ok())
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not a ListPodsRequest");
  grpc::Status status;
  const auto snapshot = snapshot_or_unavailable(&status);
  if (!snapshot)
    return status;
  {
    std::lock_guard lock(list_pods_mutex_);
    if (list_pods_cache_.pods != snapshot->pods ||
        list_pods_cache_.thresholds != snapshot->thresholds) {
      list_pods_cache_ = ListPodsCache{snapshot->pods, snapshot->thresholds, {}};
    }
    const auto cached = list_pods_cache_.by_signal.find(request.signal());
    if (cached != list_pods_cache_.by_signal.end()) {
      grpc::Slice shared = cached->second;
      *response_bytes = grpc::ByteBuffer(&shared, 1);
      return grpc::Status::OK;
    }
  }
  v1::ListPodsResponse response;
  status = list_pods(*snapshot, request, &response);
  if (status.ok()) {
    grpc::Slice slice(response.SerializeAsString());
    {
      std::lock_guard lock(list_pods_mutex_);
      if (list_pods_cache_.pods == snapshot->pods &&
          list_pods_cache_.thresholds == snapshot->thresholds)
        list_pods_cache_.by_signal.emplace(request.signal(), slice);
    }
    *response_bytes = grpc::ByteBuffer(&slice, 1);
  }
  return status;
}

grpc::Status StatusService::list_pods(const StatusSnapshot& snapshot,
                                      const v1::ListPodsRequest& request,
                                      v1::ListPodsResponse* response) {
  std::vector<Signal> signals;
  if (!request.signal().empty()) {
    const auto signal = parse_signal(request.signal());
    if (!signal) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "signal: unknown eviction signal \"" + request.signal() + "\"");
    }
    signals.push_back(*signal);
  } else {
    signals = ranked_signals(*snapshot.thresholds);
  }
  const auto ranked = rankings(snapshot);
  set_time(snapshot.pods_at, response->mutable_sampled_at());
  for (Signal signal : signals)
    response->add_signals(std::string(signal_name(signal)));
  if (!snapshot.pods)
    return grpc::Status::OK;
  const model::PodView& view = *snapshot.pods;
  std::vector<size_t> order;
  if (!request.signal().empty()) {
    order = ranked->rankings[signal_index(signals.front())].order;
  } else {
    order.resize(view.entries.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const Pod& x = view.entries[a].pod;
      const Pod& y = view.entries[b].pod;
      return std::tie(x.namespace_name, x.name) < std::tie(y.namespace_name, y.name);
    });
  }
  response->mutable_pods()->Reserve(static_cast<int>(order.size()));
  for (size_t index : order) {
    auto* pod = response->add_pods();
    fill_pod(view.entries[index], view.active[index], pod);
    for (Signal signal : signals)
      pod->add_ranks(ranked->rank_of[signal_index(signal)][index]);
  }
  return grpc::Status::OK;
}

grpc::Status StatusService::Explain(grpc::ServerContext*, const v1::ExplainRequest* request,
                                    v1::ExplainResponse* response) {
  yield_to_the_loop();
  if (request->namespace_().empty() || request->name().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "namespace and name: both are required");
  }
  grpc::Status status;
  const auto snapshot = snapshot_or_unavailable(&status);
  if (!snapshot)
    return status;
  std::vector<EvictionView> evictions;
  for (auto& eviction : history_ ? history_() : std::vector<EvictionView>{}) {
    if (eviction.state.decision.namespace_name == request->namespace_() &&
        eviction.state.decision.pod_name == request->name())
      evictions.push_back(std::move(eviction));
  }
  std::sort(evictions.begin(), evictions.end(), newer);
  for (const auto& eviction : evictions)
    to_proto(eviction, response->add_evictions());

  std::optional<size_t> found;
  if (snapshot->pods) {
    const auto& entries = snapshot->pods->entries;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].pod.namespace_name == request->namespace_() &&
          entries[i].pod.name == request->name()) {
        found = i;
        break;
      }
    }
  }
  if (!found) {
    if (evictions.empty()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "pod " + request->namespace_() + "/" + request->name() +
                              " is not on this node and evictd has no eviction of it");
    }
    response->add_notes("the pod is no longer running on this node");
    return grpc::Status::OK;
  }
  const model::PodView& view = *snapshot->pods;
  const size_t index = *found;
  response->set_running(true);
  fill_pod(view.entries[index], view.active[index], response->mutable_pod());
  const Pod& pod = view.entries[index].pod;
  if (is_critical_pod(pod))
    response->add_notes("critical pod: evictd never evicts it, whatever its rank");
  if (view.entries[index].spec_source == model::SpecSource::kNode) {
    response->add_notes(
        "spec rebuilt from the node (the API server did not provide it): priority and the "
        "requests of a Burstable pod are unknown and count as 0");
  }
  if (!view.active[index].stats)
    response->add_notes("no usage statistics found for it: it ranks first for every signal");

  const auto ranked = rankings(*snapshot);
  for (Signal signal : ranked_signals(*snapshot->thresholds))
    explain_rank(*snapshot, *ranked, signal, index, response->add_ranks());
  return grpc::Status::OK;
}

grpc::Status StatusService::ListEvictions(grpc::ServerContext*,
                                          const v1::ListEvictionsRequest* request,
                                          v1::ListEvictionsResponse* response) {
  yield_to_the_loop();
  if (request->page_size() < 0)
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_size: must not be negative");
  if (request->page_size() > kMaxPageSize) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "page_size: at most " + std::to_string(kMaxPageSize) + ", not " +
                            std::to_string(request->page_size()));
  }
  const int32_t page_size = request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  std::optional<EvictionView> after;
  if (!request->page_token().empty()) {
    after = parse_page_token(request->page_token());
    if (!after) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_token: not a token this server returned");
    }
  }
  const int64_t since_ms =
      request->has_since() ? TimeUtil::TimestampToMilliseconds(request->since()) : INT64_MIN;
  auto evictions = history_ ? history_() : std::vector<EvictionView>{};
  std::erase_if(evictions, [&](const EvictionView& eviction) {
    return eviction.state.decision.time_unix_ms < since_ms || (after && !newer(*after, eviction));
  });
  std::sort(evictions.begin(), evictions.end(), newer);
  const size_t count = std::min(evictions.size(), static_cast<size_t>(page_size));
  for (size_t i = 0; i < count; ++i)
    to_proto(evictions[i], response->add_evictions());
  if (count < evictions.size())
    response->set_next_page_token(page_token(evictions[count - 1]));
  return grpc::Status::OK;
}

grpc::Status StatusService::Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                                  grpc::ServerWriter<v1::Event>* writer) {
  yield_to_the_loop();
  grpc::Status status;
  const auto snapshot = snapshot_or_unavailable(&status);
  if (!snapshot)
    return status;
  const std::string& epoch = snapshot->info->epoch;
  // A new client gets new events; one resuming in this run gets what it missed; one from an
  // earlier run gets a gap and then everything this run still holds.
  bool restarted = false;
  uint64_t after = events_.last_sequence();
  if (!request->epoch().empty()) {
    restarted = request->epoch() != epoch;
    after = restarted ? 0 : request->after_sequence();
  }
  auto stream = events_.open(after, [context] { context->TryCancel(); });
  if (!stream) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "too many Watch streams open; try again later");
  }
  writer->SendInitialMetadata();
  const auto write_gap = [&](uint64_t before, const std::string& why) {
    v1::Event gap;
    gap.set_epoch(epoch);
    gap.set_sequence(before);
    set_time(std::chrono::system_clock::now(), gap.mutable_time());
    gap.set_type(v1::EVENT_TYPE_GAP);
    gap.set_detail(why);
    return writer->Write(gap);
  };
  bool first = true;
  while (!context->IsCancelled() && !stream->cancelled()) {
    bool gap = false;
    const auto events = stream->next(options_.watch_poll, &gap);
    if (events.empty())
      continue;
    if ((restarted && first) || gap) {
      const std::string why = restarted && first
                                  ? "evictd restarted since the resume point"
                                  : "events after the resume point are no longer held";
      if (!write_gap(events.front().sequence, why))
        break;
    }
    first = false;
    v1::Event out;
    for (const auto& event : events) {
      to_proto(event, epoch, &out);
      if (!writer->Write(out))
        return grpc::Status::OK;  // the client went away
    }
  }
  if (stream->cancelled()) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "the client did not keep up with the events and was dropped");
  }
  return grpc::Status::OK;
}

}  // namespace evictd::status
