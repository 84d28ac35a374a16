// The status API on a real unix socket in this process: every call against a snapshot and history
// built here, Watch resume and gaps, a client that does not read dropped without holding up the
// publisher, the stream limit, health and reflection, and the socket's permissions against an
// unprivileged user.
#include <google/protobuf/util/time_util.h>
#include <grp.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "daemon/evictctl/format.h"
#include "daemon/status/server.h"
#include "daemon/status/service.h"
#include "tests/unit/builders.h"

namespace evictd::status {
namespace {

using namespace evictd::testing_util;

constexpr int32_t kSystemCritical = 2'000'000'000;

struct Fixture {
  std::string directory;
  std::string socket;
  SnapshotBox snapshots;
  std::vector<EvictionView> history;
  std::mutex history_mutex;
  std::unique_ptr<EventHub> events;
  std::unique_ptr<StatusService> service;
  std::unique_ptr<StatusServer> server;
  std::shared_ptr<DaemonInfo> info;

  explicit Fixture(size_t ring = 4096, size_t streams = 16, std::string group = "",
                   bool run_directory_exists = false) {
    char pattern[] = "/tmp/evictd-status-XXXXXX";
    directory = mkdtemp(pattern);
    chmod(directory.c_str(), 0755);
    socket = directory + "/run/evictd.sock";
    if (run_directory_exists)  // as systemd's RuntimeDirectory=evictd leaves it: root:root 0750
      mkdir((directory + "/run").c_str(), 0750);
    events = std::make_unique<EventHub>(ring, streams);
    service = std::make_unique<StatusService>(
        snapshots,
        [this] {
          std::lock_guard lock(history_mutex);
          return history;
        },
        *events, ServiceOptions{.watch_poll = std::chrono::milliseconds(50)});
    auto started = StatusServer::start(
        ServerConfig{.socket_path = socket, .socket_group = group, .tcp_address = ""}, *service,
        *events);
    if (!started)
      ADD_FAILURE() << started.error().message;
    else
      server = std::move(started).value();
    publish_node();
  }
  ~Fixture() {
    if (server)
      server->stop();
    std::filesystem::remove_all(directory);
  }

  // Three pods under memory pressure: one above its requests, one within, one critical.
  void publish_node() {
    info = std::make_shared<DaemonInfo>();
    info->node_name = "node-1";
    info->mode = Mode::kStandalone;
    info->version = "test";
    info->epoch = "epoch-1";
    info->started_at = std::chrono::system_clock::now() - std::chrono::minutes(5);
    info->cgroup_version = "v1";
    info->cgroup_driver = "cgroupfs";
    info->kubepods = "kubepods";
    info->runtime_endpoint = "unix:///run/containerd/containerd.sock";
    auto view = std::make_shared<model::PodView>();
    const auto add = [&](Pod pod, PodStats stats) {
      model::PodEntry entry;
      entry.pod = std::move(pod);
      entry.stats = std::move(stats);
      view->entries.push_back(std::move(entry));
    };
    add(pod("hog", {container("c", {{"memory", q("100Mi")}})}), memory_stats("500Mi"));
    view->entries.back().cpu_cores = 1.25;
    view->entries.back().cpu_usage_ns = 90'500'000'000;
    add(pod("web", {container("c", {{"memory", q("300Mi")}})}), memory_stats("200Mi"));
    add(pod("dns", {container("c", {{"memory", q("10Mi")}})}, kSystemCritical, "kube-system"),
        memory_stats("900Mi"));
    for (const auto& entry : view->entries)
      view->active.push_back({&entry.pod, &entry.stats});
    auto snapshot = std::make_shared<StatusSnapshot>();
    snapshot->info = info;
    Threshold threshold;
    threshold.signal = Signal::kMemoryAvailable;
    threshold.value.quantity = q("100Mi");
    snapshot->thresholds = std::make_shared<std::vector<Threshold>>(std::vector{threshold});
    snapshot->notifications = std::make_shared<std::vector<std::string>>(
        std::vector<std::string>{"memcg threshold memory.available#0 at 924Mi"});
    snapshot->notification_errors = std::make_shared<std::vector<std::string>>();
    snapshot->warnings = std::make_shared<std::vector<std::string>>(
        std::vector<std::string>{"memory.available < 100Mi (hard) is at or under the kernel's "
                                 "free-memory watermarks on this node"});
    snapshot->runtime = {true, info->started_at};
    snapshot->observations.set(Signal::kMemoryAvailable,
                               SignalObservation{80 << 20, 1 << 30, Nanos{1000}});
    snapshot->sampled_monotonic = Nanos{1000};
    snapshot->sampled_at = std::chrono::system_clock::now();
    snapshot->sample_duration = std::chrono::microseconds(250);
    snapshot->usage.cpu_cores = 2.5;
    snapshot->usage.cpu_seconds = 1234.5;
    snapshot->usage.cpus = 8;
    snapshot->usage.memory_pressure.some = cgroups::PsiLine{12.5, 3.25, 0.5, 7'000'000};
    snapshot->usage.memory_pressure.full = cgroups::PsiLine{6.0, 1.5, 0.25, 3'000'000};
    snapshot->usage.cpu_pressure.some = cgroups::PsiLine{1.0, 0.5, 0.1, 1'000};
    snapshot->usage.read_at = snapshot->sampled_at;
    snapshot->conditions.push_back({NodeCondition::kMemoryPressure, snapshot->sampled_at});
    snapshot->met = {0};
    snapshot->pods = view;
    snapshot->pods_at = snapshot->sampled_at;
    snapshot->evictions_total = 1;
    snapshots.publish(snapshot);
  }

  std::unique_ptr<v1::Status::Stub> stub() const {
    return v1::Status::NewStub(
        grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  }
};

EvictionView eviction(const std::string& id, const std::string& name, int64_t time_ms,
                      bool done = true) {
  EvictionView view;
  view.state.decision.eviction_id = id;
  view.state.decision.namespace_name = "default";
  view.state.decision.pod_name = name;
  view.state.decision.pod_uid = "uid-" + id;
  view.state.decision.signal = "memory.available";
  view.state.decision.message = "The node was low on resource: memory.";
  view.state.decision.time_unix_ms = time_ms;
  view.state.decision.observed = "80Mi";
  view.state.decision.threshold = "100Mi (100Mi)";
  if (done) {
    ledger::Record step;
    step.eviction_id = id;
    step.step = ledger::Step::kStopped;
    step.time_unix_ms = time_ms + 120;
    step.detail = "stopped in 120 ms";
    view.state.steps.push_back(step);
    step.step = ledger::Step::kDone;
    step.time_unix_ms = time_ms + 300;
    step.detail.clear();
    view.state.steps.push_back(step);
  }
  view.in_flight = !done;
  return view;
}

TEST(StatusServiceTest, GetStatusReportsSignalsThresholdsConditionsAndTheSocketIs0660) {
  Fixture fixture;
  struct stat status {};
  ASSERT_EQ(stat(fixture.socket.c_str(), &status), 0);
  EXPECT_TRUE(S_ISSOCK(status.st_mode));
  EXPECT_EQ(status.st_mode & 0777, 0660u);
  ASSERT_EQ(stat((fixture.directory + "/run").c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0750u);

  grpc::ClientContext context;
  v1::NodeStatus node;
  ASSERT_TRUE(fixture.stub()->GetStatus(&context, {}, &node).ok());
  EXPECT_EQ(node.node_name(), "node-1");
  EXPECT_EQ(node.mode(), v1::MODE_STANDALONE);
  EXPECT_EQ(node.epoch(), "epoch-1");
  EXPECT_TRUE(node.runtime().connected());
  EXPECT_FALSE(node.api_server().configured());
  EXPECT_EQ(node.cgroups().version(), "v1");
  ASSERT_EQ(node.notifications_size(), 1);
  ASSERT_EQ(node.signals_size(), 1);
  const auto& memory = node.signals(0);
  EXPECT_EQ(memory.signal(), "memory.available");
  EXPECT_EQ(memory.available(), 80 << 20);
  EXPECT_EQ(memory.capacity(), 1 << 30);
  ASSERT_EQ(memory.thresholds_size(), 1);
  EXPECT_TRUE(memory.thresholds(0).hard());
  EXPECT_TRUE(memory.thresholds(0).met());
  EXPECT_EQ(memory.thresholds(0).threshold(), 100 << 20);
  EXPECT_EQ(memory.thresholds(0).margin(), -(20 << 20));
  ASSERT_EQ(node.conditions_size(), 1);
  EXPECT_EQ(node.conditions(0).type(), "MemoryPressure");
  EXPECT_EQ(node.last_sample_duration_us(), 250);
  EXPECT_EQ(node.pods(), 3);
  const auto& usage = node.usage();
  EXPECT_TRUE(usage.cpu_known());
  EXPECT_DOUBLE_EQ(usage.cpu_cores(), 2.5);
  EXPECT_DOUBLE_EQ(usage.cpu_seconds(), 1234.5);
  EXPECT_EQ(usage.cpus(), 8);
  ASSERT_TRUE(usage.has_memory_pressure());
  EXPECT_DOUBLE_EQ(usage.memory_pressure().some().avg10(), 12.5);
  EXPECT_EQ(usage.memory_pressure().full().total_us(), 3'000'000U);
  EXPECT_TRUE(usage.has_cpu_pressure());
  EXPECT_FALSE(usage.cpu_pressure().has_full());
  EXPECT_FALSE(usage.has_io_pressure()) << "none read: absent, not zero";

  const std::string text = evictctl::format_status(node, std::chrono::system_clock::now());
  EXPECT_NE(text.find("CPU:           2500m of 8 CPUs in use"), std::string::npos) << text;
  EXPECT_NE(text.find("memory some 12.50% 3.25%, full 6.00% 1.50%"), std::string::npos) << text;
  EXPECT_NE(text.find("io - (stalled"), std::string::npos) << text;
  EXPECT_NE(text.find("memory.available"), std::string::npos) << text;
  EXPECT_NE(text.find("MET"), std::string::npos) << text;
  EXPECT_NE(text.find("-20.0Mi"), std::string::npos) << text;
  EXPECT_NE(text.find("MemoryPressure for"), std::string::npos) << text;
  EXPECT_NE(text.find("not configured (standalone"), std::string::npos) << text;
  ASSERT_EQ(node.warnings_size(), 1);
  EXPECT_NE(text.find("Warning:       memory.available < 100Mi (hard) is at or under"),
            std::string::npos)
      << text;
}

TEST(StatusServiceTest, ListPodsRanksAsTheKubeletDoesAndRefusesAnUnknownSignal) {
  Fixture fixture;
  grpc::ClientContext context;
  v1::ListPodsRequest request;
  request.set_signal("memory.available");
  v1::ListPodsResponse pods;
  ASSERT_TRUE(fixture.stub()->ListPods(&context, request, &pods).ok());
  ASSERT_EQ(pods.pods_size(), 3);
  // Above requests first; the critical pod exceeds its requests too but its priority is higher.
  EXPECT_EQ(pods.pods(0).name(), "hog");
  EXPECT_EQ(pods.pods(1).name(), "dns");
  EXPECT_TRUE(pods.pods(1).critical());
  EXPECT_EQ(pods.pods(2).name(), "web");
  EXPECT_EQ(pods.pods(0).qos_class(), "Burstable");
  ASSERT_EQ(pods.signals_size(), 1);
  EXPECT_EQ(pods.pods(0).ranks(0), 1);
  EXPECT_EQ(pods.pods(0).memory().usage(), 500 << 20);
  EXPECT_EQ(pods.pods(0).memory().request(), 100 << 20);
  EXPECT_FALSE(pods.pods(0).processes().usage_known());
  EXPECT_TRUE(pods.pods(0).cpu().cores_known());
  EXPECT_DOUBLE_EQ(pods.pods(0).cpu().cores(), 1.25);
  EXPECT_DOUBLE_EQ(pods.pods(0).cpu().usage_seconds(), 90.5);
  EXPECT_FALSE(pods.pods(2).cpu().cores_known());
  const std::string text = evictctl::format_pods(pods);
  EXPECT_NE(text.find("  CPU  "), std::string::npos) << text;
  EXPECT_NE(text.find("1250m"), std::string::npos) << text;
  EXPECT_NE(text.find("RANK memory.available"), std::string::npos) << text;
  EXPECT_NE(text.find("500.0Mi/100.0Mi"), std::string::npos) << text;

  grpc::ClientContext all_context;
  v1::ListPodsResponse all;
  ASSERT_TRUE(fixture.stub()->ListPods(&all_context, {}, &all).ok());
  ASSERT_EQ(all.pods_size(), 3);
  EXPECT_EQ(all.pods(0).namespace_(), "default");  // by namespace and name without a signal
  EXPECT_EQ(all.pods(2).name(), "dns");
  EXPECT_EQ(all.pods(2).ranks(0), 2);

  grpc::ClientContext bad_context;
  request.set_signal("memory.free");
  const auto status = fixture.stub()->ListPods(&bad_context, request, &pods);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("memory.free"), std::string::npos);
}

TEST(StatusServiceTest, ExplainNamesTheDecidingKeyAgainstTheNeighbours) {
  Fixture fixture;
  v1::ExplainRequest request;
  request.set_namespace_("default");
  request.set_name("hog");
  v1::ExplainResponse hog;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(fixture.stub()->Explain(&context, request, &hog).ok());
  }
  ASSERT_TRUE(hog.running());
  ASSERT_EQ(hog.ranks_size(), 1);
  EXPECT_EQ(hog.ranks(0).rank(), 1);
  EXPECT_TRUE(hog.ranks(0).threshold_met());
  EXPECT_TRUE(hog.ranks(0).next());
  EXPECT_FALSE(hog.ranks(0).has_before());
  EXPECT_EQ(hog.ranks(0).after().name(), "dns");
  EXPECT_EQ(hog.ranks(0).after().deciding_key(), "priority");
  EXPECT_EQ(hog.ranks(0).keys().usage_above_request(), 400 << 20);

  request.set_name("web");
  v1::ExplainResponse web;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(fixture.stub()->Explain(&context, request, &web).ok());
  }
  EXPECT_EQ(web.ranks(0).rank(), 3);
  EXPECT_FALSE(web.ranks(0).next());
  EXPECT_EQ(web.ranks(0).before().name(), "dns");
  EXPECT_EQ(web.ranks(0).before().deciding_key(), "exceedsRequests");
  const std::string text = evictctl::format_explain(web);
  EXPECT_NE(text.find("rank 3 of 3"), std::string::npos) << text;
  EXPECT_NE(text.find("it uses more than it requests"), std::string::npos) << text;

  // The critical pod ranks, but is said never to be evicted; the next one is the hog.
  request.set_namespace_("kube-system");
  request.set_name("dns");
  v1::ExplainResponse dns;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(fixture.stub()->Explain(&context, request, &dns).ok());
  }
  EXPECT_FALSE(dns.ranks(0).next());
  ASSERT_GE(dns.notes_size(), 1);
  EXPECT_NE(dns.notes(0).find("critical"), std::string::npos);

  request.set_namespace_("default");
  request.set_name("nowhere");
  grpc::ClientContext missing_context;
  v1::ExplainResponse missing;
  EXPECT_EQ(fixture.stub()->Explain(&missing_context, request, &missing).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// evictd's own signals: a stall share beside the kubelet's amounts, pods' swap, and a ranking that
// counts swap showing both parts.
TEST(StatusServiceTest, SwapAndStallsShowBesideTheKubeletsSignals) {
  Fixture fixture;
  auto snapshot = std::make_shared<StatusSnapshot>(*fixture.snapshots.current());
  auto view = std::make_shared<model::PodView>();
  view->entries = snapshot->pods->entries;
  view->entries[1].stats.memory_swap_bytes = uint64_t{900} << 20;  // web: 200Mi + 900Mi in swap
  for (const auto& entry : view->entries)
    view->active.push_back({&entry.pod, &entry.stats});
  Threshold stall;
  stall.signal = Signal::kMemoryPressure;
  stall.value.percentage = 0.2F;
  auto thresholds = *snapshot->thresholds;
  thresholds.push_back(stall);
  snapshot->thresholds = std::make_shared<std::vector<Threshold>>(thresholds);
  snapshot->observations.set(Signal::kMemoryPressure,
                             SignalObservation{3'000'000, 10'000'000, Nanos{1000}});
  snapshot->met = {0, 1};
  snapshot->pods = view;
  fixture.snapshots.publish(snapshot);

  v1::NodeStatus status;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(fixture.stub()->GetStatus(&context, v1::GetStatusRequest{}, &status).ok());
  }
  const v1::SignalStatus* pressure = nullptr;
  for (const auto& signal : status.signals())
    pressure = signal.signal() == "memory.pressure" ? &signal : pressure;
  ASSERT_NE(pressure, nullptr);
  EXPECT_EQ(pressure->unit(), "microseconds stalled");
  ASSERT_EQ(pressure->thresholds_size(), 1);
  EXPECT_EQ(pressure->thresholds(0).threshold(), 2'000'000);
  EXPECT_EQ(pressure->thresholds(0).margin(), -1'000'000) << "negative when met, as the others";
  EXPECT_TRUE(pressure->thresholds(0).met());
  const std::string status_text = evictctl::format_status(status, std::chrono::system_clock::now());
  EXPECT_NE(status_text.find("30.0% stalled"), std::string::npos) << status_text;
  EXPECT_NE(status_text.find("> 20% (hard)"), std::string::npos) << status_text;

  v1::ExplainRequest request;
  request.set_namespace_("default");
  request.set_name("web");
  v1::ExplainResponse web;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(fixture.stub()->Explain(&context, request, &web).ok());
  }
  ASSERT_EQ(web.ranks_size(), 2);
  EXPECT_EQ(web.ranks(0).signal(), "memory.available");
  EXPECT_EQ(web.ranks(0).rank(), 3) << "the kubelet's ranking ignores swap";
  EXPECT_FALSE(web.ranks(0).counts_swap());
  EXPECT_EQ(web.ranks(1).signal(), "memory.pressure");
  EXPECT_EQ(web.ranks(1).rank(), 1) << "800Mi above its request, counting swap";
  EXPECT_TRUE(web.ranks(1).counts_swap());
  EXPECT_EQ(web.ranks(1).keys().swap(), int64_t{900} << 20);
  const std::string text = evictctl::format_explain(web);
  EXPECT_NE(text.find("working set + "), std::string::npos) << text;
  EXPECT_NE(text.find("(working set + swap)"), std::string::npos) << text;

  v1::ListPodsResponse pods;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(fixture.stub()->ListPods(&context, v1::ListPodsRequest{}, &pods).ok());
  }
  bool shown = false;
  for (const auto& pod : pods.pods())
    shown |= pod.name() == "web" && pod.memory().swap_known() && pod.memory().swap() == 900 << 20;
  EXPECT_TRUE(shown);
  EXPECT_NE(evictctl::format_pods(pods).find(" swap/"), std::string::npos)
      << evictctl::format_pods(pods);
}

TEST(StatusServiceTest, ExplainAnEvictedPodShowsTheFullRecord) {
  Fixture fixture;
  fixture.history.push_back(eviction("e1", "gone", 1'700'000'000'000));
  v1::ExplainRequest request;
  request.set_namespace_("default");
  request.set_name("gone");
  grpc::ClientContext context;
  v1::ExplainResponse gone;
  ASSERT_TRUE(fixture.stub()->Explain(&context, request, &gone).ok());
  EXPECT_FALSE(gone.running());
  ASSERT_EQ(gone.evictions_size(), 1);
  const auto& record = gone.evictions(0);
  EXPECT_EQ(record.state(), "done");
  EXPECT_EQ(record.signal(), "memory.available");
  EXPECT_EQ(record.observed(), "80Mi");
  ASSERT_EQ(record.steps_size(), 3);
  EXPECT_EQ(record.steps(0).step(), "decided");
  EXPECT_EQ(record.steps(1).step(), "stopped");
  EXPECT_EQ(record.steps(1).detail(), "stopped in 120 ms");
  EXPECT_EQ(record.steps(2).step(), "done");
  const std::string text = evictctl::format_explain(gone);
  EXPECT_NE(text.find("not running on this node"), std::string::npos) << text;
  EXPECT_NE(text.find("observed available 80Mi"), std::string::npos) << text;
}

TEST(StatusServiceTest, ListEvictionsPagesNewestFirstAndFiltersByTime) {
  Fixture fixture;
  for (int i = 0; i < 5; ++i)
    fixture.history.push_back(eviction("e" + std::to_string(i), "pod" + std::to_string(i),
                                       1'700'000'000'000 + i * 1000, i != 4));
  std::vector<std::string> seen;
  v1::ListEvictionsRequest request;
  request.set_page_size(2);
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::ListEvictionsResponse page;
    ASSERT_TRUE(fixture.stub()->ListEvictions(&context, request, &page).ok());
    for (const auto& record : page.evictions())
      seen.push_back(record.name());
    request.set_page_token(page.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"pod4", "pod3", "pod2", "pod1", "pod0"}));

  request.Clear();
  *request.mutable_since() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(1'700'000'000'000 + 3000);
  grpc::ClientContext since_context;
  v1::ListEvictionsResponse recent;
  ASSERT_TRUE(fixture.stub()->ListEvictions(&since_context, request, &recent).ok());
  ASSERT_EQ(recent.evictions_size(), 2);
  EXPECT_EQ(recent.evictions(0).state(), "in-flight");
  EXPECT_TRUE(recent.next_page_token().empty());

  request.Clear();
  request.set_page_token("garbage");
  grpc::ClientContext bad_context;
  EXPECT_EQ(fixture.stub()->ListEvictions(&bad_context, request, &recent).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  request.Clear();
  request.set_page_size(5000);
  grpc::ClientContext big_context;
  const auto big = fixture.stub()->ListEvictions(&big_context, request, &recent);
  EXPECT_EQ(big.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(big.error_message(), "page_size: at most 1000, not 5000");
}

// Reads events until `count` arrived or the stream ended.
std::vector<v1::Event> read_events(grpc::ClientReader<v1::Event>& reader, size_t count) {
  std::vector<v1::Event> out;
  v1::Event event;
  while (out.size() < count && reader.Read(&event))
    out.push_back(event);
  return out;
}

Event pressure(EventType type) {
  Event event;
  event.type = type;
  event.condition = "MemoryPressure";
  return event;
}

TEST(StatusServiceTest, WatchStreamsEventsAndResumesWithoutGaps) {
  Fixture fixture;
  fixture.events->publish(pressure(EventType::kPressureBegun));  // before the client: not sent
  auto stub = fixture.stub();
  uint64_t last = 0;
  {
    grpc::ClientContext context;
    auto reader = stub->Watch(&context, {});
    reader->WaitForInitialMetadata();
    fixture.events->publish(pressure(EventType::kPressureEnded));
    Event decided;
    decided.type = EventType::kEvictionDecided;
    decided.pod_name = "hog";
    fixture.events->publish(decided);
    const auto events = read_events(*reader, 2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].type(), v1::EVENT_TYPE_PRESSURE_ENDED);
    EXPECT_EQ(events[0].sequence(), 2u);
    EXPECT_EQ(events[0].epoch(), "epoch-1");
    EXPECT_EQ(events[1].type(), v1::EVENT_TYPE_EVICTION_DECIDED);
    EXPECT_EQ(events[1].name(), "hog");
    last = events[1].sequence();
    context.TryCancel();
  }
  // Missed while disconnected, then resumed from the last sequence seen.
  fixture.events->publish(pressure(EventType::kPressureBegun));
  fixture.events->publish(pressure(EventType::kPressureEnded));
  {
    grpc::ClientContext context;
    v1::WatchRequest request;
    request.set_epoch("epoch-1");
    request.set_after_sequence(last);
    auto reader = stub->Watch(&context, request);
    const auto events = read_events(*reader, 2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].sequence(), last + 1);
    EXPECT_EQ(events[0].type(), v1::EVENT_TYPE_PRESSURE_BEGUN);
    EXPECT_EQ(events[1].sequence(), last + 2);
    context.TryCancel();
  }
  // A resume point from an earlier run of the daemon: a gap, then all this run holds.
  {
    grpc::ClientContext context;
    v1::WatchRequest request;
    request.set_epoch("epoch-0");
    request.set_after_sequence(99);
    auto reader = stub->Watch(&context, request);
    const auto events = read_events(*reader, 2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].type(), v1::EVENT_TYPE_GAP);
    EXPECT_NE(events[0].detail().find("restarted"), std::string::npos);
    EXPECT_EQ(events[1].sequence(), 1u);
    context.TryCancel();
  }
}

TEST(StatusServiceTest, WatchResumePointBeyondTheLastEventStartsFromNow) {
  Fixture fixture;
  fixture.events->publish(pressure(EventType::kPressureBegun));
  grpc::ClientContext context;
  v1::WatchRequest request;
  request.set_epoch("epoch-1");
  request.set_after_sequence(1000);  // a sequence this run never reached
  auto reader = fixture.stub()->Watch(&context, request);
  reader->WaitForInitialMetadata();
  fixture.events->publish(pressure(EventType::kPressureEnded));
  const auto events = read_events(*reader, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence(), 2u);
  context.TryCancel();
}

TEST(StatusServiceTest, WatchResumePointOlderThanTheRingGetsAGap) {
  Fixture fixture(/*ring=*/4);
  for (int i = 0; i < 10; ++i)
    fixture.events->publish(pressure(EventType::kPressureBegun));
  grpc::ClientContext context;
  v1::WatchRequest request;
  request.set_epoch("epoch-1");
  request.set_after_sequence(2);
  auto reader = fixture.stub()->Watch(&context, request);
  const auto events = read_events(*reader, 5);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].type(), v1::EVENT_TYPE_GAP);
  EXPECT_EQ(events[1].sequence(), 7u);  // the oldest the ring holds
  EXPECT_EQ(events[4].sequence(), 10u);
  context.TryCancel();
}

TEST(StatusServiceTest, AClientThatDoesNotReadIsDroppedAndOthersGoOn) {
  Fixture fixture(/*ring=*/16);
  auto stub = fixture.stub();
  grpc::ClientContext slow_context;
  auto slow = stub->Watch(&slow_context, {});
  slow->WaitForInitialMetadata();
  grpc::ClientContext good_context;
  auto good = stub->Watch(&good_context, {});
  good->WaitForInitialMetadata();
  // Large events fill the slow client's transport window; its writer blocks, the ring moves on,
  // and the hub cancels it. Publishing never waits for either client.
  std::atomic<size_t> received{0};
  std::thread reader([&] {
    v1::Event event;
    while (good->Read(&event))
      ++received;
  });
  const size_t published = 400;
  for (size_t i = 0; i < published; ++i) {
    Event big = pressure(EventType::kPressureBegun);
    big.detail = std::string(64 * 1024, 'x');
    fixture.events->publish(big);
    // The good reader keeps up; give it the chance the slow one does not take.
    for (int wait = 0; wait < 5000 && received + 8 < i; ++wait)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int wait = 0; wait < 500 && fixture.events->dropped_streams() == 0; ++wait)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(fixture.events->dropped_streams(), 1u);
  // The slow client finds its stream ended once it reads again.
  v1::Event event;
  while (slow->Read(&event)) {
  }
  const auto status = slow->Finish();
  EXPECT_FALSE(status.ok());
  for (int wait = 0; wait < 500 && received < published; ++wait)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(received.load(), published);
  good_context.TryCancel();
  reader.join();
}

TEST(StatusServiceTest, StreamsBeyondTheLimitAreRefused) {
  Fixture fixture(/*ring=*/16, /*streams=*/2);
  auto stub = fixture.stub();
  grpc::ClientContext first_context, second_context, third_context;
  auto first = stub->Watch(&first_context, {});
  first->WaitForInitialMetadata();
  auto second = stub->Watch(&second_context, {});
  second->WaitForInitialMetadata();
  auto third = stub->Watch(&third_context, {});
  v1::Event event;
  EXPECT_FALSE(third->Read(&event));
  EXPECT_EQ(third->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  first_context.TryCancel();
  second_context.TryCancel();
}

// grpc.health.v1.Health/Check with an empty request, without its generated code: the response's
// field 1 (status) is SERVING = 1, NOT_SERVING = 2.
int health(const std::string& socket) {
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  std::mutex mutex;
  std::condition_variable done;
  bool finished = false;
  grpc::Status status;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status result) {
                   std::lock_guard lock(mutex);
                   status = result;
                   finished = true;
                   done.notify_all();
                 });
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return finished; });
  if (!status.ok())
    return -1;
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const auto& slice : slices)
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : 0;
}

TEST(StatusServiceTest, HealthFollowsTheLoopAndReflectionListsTheService) {
  Fixture fixture;
  EXPECT_EQ(health(fixture.socket), 2);  // NOT_SERVING until the loop is ready
  fixture.server->set_serving(true);
  EXPECT_EQ(health(fixture.socket), 1);

  // grpc.reflection.v1alpha: a request with list_services (field 7) = "".
  auto channel = grpc::CreateChannel("unix:" + fixture.socket, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  void* tag = nullptr;
  bool ok = false;
  const auto step = [&](void* expected) {
    EXPECT_TRUE(queue.Next(&tag, &ok));
    EXPECT_EQ(tag, expected);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(reinterpret_cast<void*>(1)));
  const char list_services[] = {0x3a, 0x00};
  grpc::Slice slice(list_services, sizeof(list_services));
  call->Write(grpc::ByteBuffer(&slice, 1), reinterpret_cast<void*>(2));
  ASSERT_TRUE(step(reinterpret_cast<void*>(2)));
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(reinterpret_cast<void*>(3)));
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const auto& part : slices)
    bytes.append(reinterpret_cast<const char*>(part.begin()), part.size());
  EXPECT_NE(bytes.find("evictd.v1.Status"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
  call->WritesDone(reinterpret_cast<void*>(4));
  step(reinterpret_cast<void*>(4));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(reinterpret_cast<void*>(5));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// connect(2) to the socket as another user: whether the kernel lets them in.
int connect_as(const std::string& socket, uid_t uid, gid_t gid) {
  const pid_t child = fork();
  if (child == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
      _exit(10);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0)
      _exit(0);
    _exit(errno == EACCES ? 13 : 11);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(StatusServiceTest, OnlyTheSocketsGroupMayConnect) {
  ASSERT_EQ(geteuid(), 0u) << "needs root to act as other users (CI runs as root)";
  Fixture fixture(4096, 16, "nogroup");
  struct stat status {};
  ASSERT_EQ(stat(fixture.socket.c_str(), &status), 0);
  const gid_t nogroup = status.st_gid;
  EXPECT_NE(nogroup, 0u);
  EXPECT_EQ(connect_as(fixture.socket, 65534, nogroup), 0);  // nobody, in the socket's group
  EXPECT_EQ(connect_as(fixture.socket, 65534, 4242), 13);    // nobody, another group: EACCES

  Fixture no_group;
  EXPECT_EQ(connect_as(no_group.socket, 65534, 65534), 13);  // root's group only
  EXPECT_EQ(connect_as(no_group.socket, 0, 0), 0);

  // A runtime directory made by systemd beforehand is opened to the group, not to others.
  Fixture runtime_directory(4096, 16, "nogroup", true);
  EXPECT_EQ(connect_as(runtime_directory.socket, 65534, nogroup), 0);
  EXPECT_EQ(connect_as(runtime_directory.socket, 65534, 4242), 13);
}

TEST(StatusServiceTest, AnUnknownGroupIsRefusedByName) {
  char pattern[] = "/tmp/evictd-status-XXXXXX";
  const std::string directory = mkdtemp(pattern);
  SnapshotBox snapshots;
  EventHub events;
  StatusService service(snapshots, {}, events);
  auto server = StatusServer::start(ServerConfig{.socket_path = directory + "/s.sock",
                                                 .socket_group = "no-such-group-x",
                                                 .tcp_address = ""},
                                    service, events);
  ASSERT_FALSE(server);
  EXPECT_NE(server.error().message.find("statusSocketGroup"), std::string::npos);
  EXPECT_NE(server.error().message.find("no-such-group-x"), std::string::npos);
  std::filesystem::remove_all(directory);
}

TEST(StatusServiceTest, NothingToServeBeforeTheFirstSample) {
  char pattern[] = "/tmp/evictd-status-XXXXXX";
  const std::string directory = mkdtemp(pattern);
  SnapshotBox snapshots;
  EventHub events;
  StatusService service(snapshots, {}, events);
  auto server = StatusServer::start(
      ServerConfig{.socket_path = directory + "/s.sock", .socket_group = "", .tcp_address = ""},
      service, events);
  ASSERT_TRUE(server);
  auto stub = v1::Status::NewStub(
      grpc::CreateChannel("unix:" + directory + "/s.sock", grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::NodeStatus node;
  // Our service's answer (nothing sampled yet), not a transport failure.
  const auto status = stub->GetStatus(&context, {}, &node);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("has not sampled"), std::string::npos)
      << status.error_message();
  (*server)->stop();
  EXPECT_FALSE(std::filesystem::exists(directory + "/s.sock"));
  std::filesystem::remove_all(directory);
}

TEST(StatusServiceTest, AnOptionalLoopbackTcpListenerServesTheSameApi) {
  SnapshotBox snapshots;
  EventHub events;
  StatusService service(snapshots, {}, events);
  auto server = StatusServer::start(
      ServerConfig{.socket_path = "", .socket_group = "", .tcp_address = "127.0.0.1:0"}, service,
      events);
  ASSERT_TRUE(server) << server.error().message;
  ASSERT_GT((*server)->tcp_port(), 0);
  auto stub = v1::Status::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*server)->tcp_port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::NodeStatus node;
  EXPECT_EQ(stub->GetStatus(&context, {}, &node).error_code(), grpc::StatusCode::UNAVAILABLE);
  (*server)->stop();
}

TEST(EvictctlFormatTest, SinceAcceptsDurationsAndRfc3339) {
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  EXPECT_EQ(evictctl::parse_since("30m", now), now - std::chrono::minutes(30));
  EXPECT_EQ(evictctl::parse_since("2d", now), now - std::chrono::hours(48));
  EXPECT_EQ(evictctl::parse_since("2023-11-14T22:13:20Z", now), now);
  EXPECT_FALSE(evictctl::parse_since("soon", now));
  EXPECT_FALSE(evictctl::parse_since("10x", now));
  EXPECT_EQ(evictctl::human_bytes(1536), "1.5Ki");

  v1::Event event;
  event.set_type(v1::EVENT_TYPE_EVICTION_FINISHED);
  event.set_namespace_("e2e");
  event.set_name("hog");
  event.set_step("done");
  const std::string line = evictctl::format_event(event);
  EXPECT_NE(line.find("EVICTION-FINISHED  e2e/hog  step=done"), std::string::npos) << line;
  event.set_type(v1::EVENT_TYPE_PRESSURE_BEGUN);
  EXPECT_NE(evictctl::format_event(event).find("PRESSURE-BEGUN"), std::string::npos);
  event.set_type(static_cast<v1::EventType>(99));  // from a newer daemon
  EXPECT_NE(evictctl::format_event(event).find("UNKNOWN"), std::string::npos);
  EXPECT_EQ(evictctl::table({"A", "BB"}, {{"xyz", "1"}}), "A    BB\nxyz  1\n");
}

}  // namespace
}  // namespace evictd::status
