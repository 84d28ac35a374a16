#include "e2e/kubelet_stand_in.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "daemon/kube/api_client.h"
#include "daemon/kube/kubeconfig.h"
#include "ranking/quantity.h"

namespace evictd::testing_util {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

bool terminal(const std::string& phase) {
  return phase == "Failed" || phase == "Succeeded";
}

std::string text_at(const Json& object, std::initializer_list<const char*> path) {
  const Json* at = &object;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key))
      return "";
    at = &(*at)[key];
  }
  return at->is_string() ? at->get<std::string>() : "";
}

// The containers the harness runs for a pod's spec: memhog's arguments are the container's args
// (MiB, term|ignore-term, and a rate in MiB/s for a leak).
std::vector<TestContainer> containers_of(const Json& spec) {
  std::vector<TestContainer> out;
  for (const auto& container : spec.value("containers", Json::array())) {
    TestContainer c;
    c.name = container.value("name", "app");
    const auto args = container.value("args", Json::array());
    if (args.size() > 0)
      c.mib = std::stoi(args[0].get<std::string>());
    if (args.size() > 1)
      c.ignore_term = args[1] == "ignore-term";
    if (args.size() > 2)
      c.rate_mib_s = std::stoi(args[2].get<std::string>());
    const std::string limit = text_at(container, {"resources", "limits", "memory"});
    if (auto parsed = Quantity::parse(limit); !limit.empty() && parsed)
      c.memory_limit = parsed->value();
    out.push_back(c);
  }
  return out;
}

std::string tier_of(const Json& pod) {
  const std::string qos = text_at(pod, {"status", "qosClass"});
  return qos == "Burstable" ? "burstable" : qos == "BestEffort" ? "besteffort" : "";
}

// The kubelet's restart back-off for a container: none before its first restart, then 10 s
// doubling to 5 min (kuberuntime_manager.go doBackOff, kubelet.go
// backOffPeriod/MaxContainerBackOff).
std::chrono::seconds backoff(int restarts) {
  if (restarts == 0)
    return std::chrono::seconds(0);
  return std::chrono::seconds(std::min(300, 10 << std::min(restarts - 1, 5)));
}

}  // namespace

struct KubeletStandIn::Pod {
  Json api;  // the pod manager's copy
  TestPod test;
  std::vector<TestContainer> specs;
  std::string restart_policy = "Always";
  bool created = false;
  bool gone = false;                     // its object was deleted
  std::string cached_phase = "Pending";  // the status manager's last generated phase
  bool synced_since_status_change = true;
  bool window_b_fired = false;
  std::map<std::string, int> container_states;  // container id -> CRI state at the last relist
  std::map<std::string, Clock::time_point> not_before;  // container name -> end of back-off
  StandInPodRecord record;
};

KubeletStandIn::KubeletStandIn(ContainerdHarness& harness, StandInOptions options)
    : harness_(harness), options_(std::move(options)) {}

KubeletStandIn::~KubeletStandIn() {
  stop();
}

std::string KubeletStandIn::start() {
  auto credentials = kube::load_kubeconfig(options_.kubeconfig);
  if (!credentials)
    return "kubeconfig: " + credentials.error().message;
  client_ = std::make_unique<kube::ApiClient>(kube::ApiClientConfig{.credentials = *credentials});
  if (!list())
    return "cannot list the node's pods";
  watcher_ = std::thread([this] { watch_loop(); });
  syncer_ = std::thread([this] { sync_loop(); });
  return "";
}

void KubeletStandIn::stop() {
  stopping_ = true;
  wake_.notify_all();
  if (client_)
    client_->cancel();
  if (watcher_.joinable())
    watcher_.join();
  if (syncer_.joinable())
    syncer_.join();
}

StandInPodRecord KubeletStandIn::record(const std::string& uid) const {
  std::lock_guard lock(mutex_);
  const auto it = pods_.find(uid);
  return it == pods_.end() ? StandInPodRecord{} : it->second->record;
}

int KubeletStandIn::restarts() const {
  std::lock_guard lock(mutex_);
  int total = 0;
  for (const auto& [uid, pod] : pods_)
    total += pod->record.container_restarts + std::max(0, pod->record.sandboxes - 1);
  return total;
}

std::vector<std::string> KubeletStandIn::journal() const {
  std::lock_guard lock(mutex_);
  return journal_;
}

TestPod KubeletStandIn::test_pod(const std::string& uid) const {
  std::lock_guard lock(mutex_);
  const auto it = pods_.find(uid);
  return it == pods_.end() ? TestPod{} : it->second->test;
}

void KubeletStandIn::note(const std::string& line) {
  journal_.push_back(line);  // under mutex_
}

bool KubeletStandIn::list() {
  auto response = client_->call("list pods", "GET",
                                "/api/v1/pods?fieldSelector=spec.nodeName%3D" + options_.node);
  if (!response)
    return false;
  const Json list = Json::parse(response->body, nullptr, false);
  if (list.is_discarded())
    return false;
  std::lock_guard lock(mutex_);
  resource_version_ = text_at(list, {"metadata", "resourceVersion"});
  for (const auto& item : list.value("items", Json::array()))
    apply_event("ADDED", item.dump());
  return true;
}

void KubeletStandIn::watch_loop() {
  while (!stopping_) {
    std::string version;
    {
      std::lock_guard lock(mutex_);
      version = resource_version_;
    }
    (void)client_->stream(
        "watch pods",
        "/api/v1/pods?watch=true&allowWatchBookmarks=true&fieldSelector=spec.nodeName%3D" +
            options_.node + "&resourceVersion=" + version,
        [this](std::string_view line) {
          const Json event = Json::parse(line, nullptr, false);
          if (event.is_discarded() || !event.contains("object"))
            return !stopping_;
          const std::string type = event.value("type", "");
          const Json& object = event["object"];
          if (options_.watch_lag.count() > 0 && type != "BOOKMARK")
            std::this_thread::sleep_for(options_.watch_lag);  // a pod manager that lags
          std::lock_guard lock(mutex_);
          if (const auto rv = text_at(object, {"metadata", "resourceVersion"}); !rv.empty())
            resource_version_ = rv;
          if (type != "BOOKMARK")
            apply_event(type, object.dump());
          wake_.notify_all();
          return !stopping_;
        },
        std::chrono::seconds(30));
    if (!stopping_)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// pkg/kubelet/config/config.go checkAndUpdatePod: ADD and a deletion are acted on at once; a change
// of the status alone is a RECONCILE, stored for the pod's next sync. Under mutex_.
void KubeletStandIn::apply_event(const std::string& type, const std::string& object_text) {
  const Json object = Json::parse(object_text);
  const std::string uid = text_at(object, {"metadata", "uid"});
  auto it = pods_.find(uid);
  if (type == "DELETED") {
    // kubelet.go HandlePodRemoves: the pod is killed at once.
    if (it != pods_.end() && !it->second->gone) {
      it->second->api = object;
      it->second->gone = true;
      note(it->second->test.name + ": the pod object was deleted: killing it");
      dirty_.push_back(uid);
    }
    return;
  }
  if (it == pods_.end()) {
    auto pod = std::make_unique<Pod>();
    pod->api = object;
    pod->specs = containers_of(object["spec"]);
    pod->restart_policy = object["spec"].value("restartPolicy", "Always");
    pod->test.name = text_at(object, {"metadata", "name"});
    pod->test.namespace_name = text_at(object, {"metadata", "namespace"});
    pod->test.uid = uid;
    pod->test.tier = tier_of(object);
    for (const auto& [key, value] : object["metadata"].value("annotations", Json::object()).items())
      pod->test.annotations[key] = value.get<std::string>();
    pods_[uid] = std::move(pod);
    if (!terminal(text_at(object, {"status", "phase"})))
      dirty_.push_back(uid);
    return;
  }
  Pod& pod = *it->second;
  const bool deletion = !text_at(object, {"metadata", "deletionTimestamp"}).empty() &&
                        text_at(pod.api, {"metadata", "deletionTimestamp"}).empty();
  const bool status_changed = object["status"] != pod.api["status"];
  pod.api = object;
  if (deletion) {
    note(pod.test.name + ": deletion seen (an UPDATE): syncing now");
    dirty_.push_back(uid);
    return;
  }
  if (!status_changed)
    return;
  // A RECONCILE. Window B: the status batch falls before any sync adopted the new status, finds
  // its cached status differing and writes it back.
  const std::string phase = text_at(object, {"status", "phase"});
  if (options_.window_b && terminal(phase) && !terminal(pod.cached_phase) && !pod.window_b_fired &&
      pod.created) {
    pod.window_b_fired = true;
    note(pod.test.name + ": window B: the status batch writes its cached phase " +
         pod.cached_phase + " over " + phase);
    write_status(pod, true);
  }
}

void KubeletStandIn::sync_loop() {
  auto next_relist = Clock::now() + options_.relist;
  auto next_resync = Clock::now() + options_.resync;
  while (!stopping_) {
    std::vector<std::pair<std::string, const char*>> due;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(50));
      if (stopping_)
        return;
      for (const auto& uid : dirty_)
        due.emplace_back(uid, "an update");
      dirty_.clear();
      if (Clock::now() >= next_resync) {
        next_resync += options_.resync;
        for (const auto& [uid, pod] : pods_)
          due.emplace_back(uid, "the periodic resync");
      }
    }
    if (Clock::now() >= next_relist) {
      next_relist += options_.relist;
      relist();
      std::lock_guard lock(mutex_);
      for (const auto& uid : dirty_)
        due.emplace_back(uid, "a PLEG event");
      dirty_.clear();
    }
    for (const auto& [uid, why] : due) {
      std::lock_guard lock(mutex_);
      if (auto it = pods_.find(uid); it != pods_.end())
        sync(*it->second, why);
    }
  }
}

// pkg/kubelet/pleg/generic.go relist: a container that was running and is not now is a
// ContainerDied event; a sandbox that stopped too.
void KubeletStandIn::relist() {
  auto containers = harness_.client().list_containers();
  if (!containers)
    return;
  std::lock_guard lock(mutex_);
  for (const auto& container : *containers) {
    const auto labels = container.labels();
    const auto uid_label = labels.find("io.kubernetes.pod.uid");
    if (uid_label == labels.end())
      continue;
    const auto it = pods_.find(uid_label->second);
    if (it == pods_.end())
      continue;
    Pod& pod = *it->second;
    int& last = pod.container_states[container.id()];
    if (last == runtime::v1::CONTAINER_RUNNING && container.state() != last) {
      note(pod.test.name + ": PLEG: container " + container.id().substr(0, 12) + " died");
      dirty_.push_back(pod.test.uid);
    }
    last = container.state();
  }
}

// kubelet.go SyncPod with the pod manager's copy. Under mutex_.
void KubeletStandIn::sync(Pod& pod, const char* why) {
  if (pod.record.deleted)
    return;
  if (pod.gone) {
    if (!pod.record.terminated)
      terminate(pod, "its object was deleted");
    pod.record.deleted = true;
    return;
  }
  if (!text_at(pod.api, {"metadata", "deletionTimestamp"}).empty()) {
    if (!pod.record.terminated)
      terminate(pod, "the pod is being deleted");
    // status_manager.go: a terminated pod being deleted is deleted for good (grace 0).
    const Json options = {{"apiVersion", "v1"},
                          {"kind", "DeleteOptions"},
                          {"gracePeriodSeconds", 0},
                          {"preconditions", {{"uid", pod.test.uid}}}};
    auto deleted =
        client_->call("delete pods", "DELETE",
                      "/api/v1/namespaces/" + pod.test.namespace_name + "/pods/" + pod.test.name,
                      options.dump(), "application/json", {404, 409});
    pod.record.deleted = deleted.ok();
    note(pod.test.name + ": the final delete " + (deleted.ok() ? "sent" : "failed"));
    return;
  }
  const std::string api_phase = text_at(pod.api, {"status", "phase"});
  if (terminal(api_phase)) {
    if (!pod.record.terminated) {
      note(pod.test.name + ": sync (" + why + "): API phase was terminal, updating phase to match");
      terminate(pod, "its phase is terminal");
    }
    write_status(pod, false);
    return;
  }
  if (pod.record.terminated)
    return;
  if (!pod.created)
    create(pod);
  else
    restart_dead(pod);
  write_status(pod, false);
}

void KubeletStandIn::create(Pod& pod) {
  pod.created = true;
  pod.test.attempt = static_cast<uint32_t>(pod.record.sandboxes);
  pod.test.container_ids.clear();
  const std::string error = harness_.create_pod(pod.test, pod.specs);
  ++pod.record.sandboxes;
  note(pod.test.name + ": sandbox " + std::to_string(pod.record.sandboxes) +
       (error.empty() ? " created" : " failed: " + error));
  for (const auto& id : pod.test.container_ids)
    pod.container_states[id] = runtime::v1::CONTAINER_RUNNING;
}

// pod_workers.go SyncTerminatingPod: every container, then the sandbox.
void KubeletStandIn::terminate(Pod& pod, const char* why) {
  pod.record.terminated = true;
  auto sandboxes = harness_.client().list_pod_sandboxes(false);
  auto containers = harness_.client().list_containers();
  int64_t grace = 0;
  if (const Json& seconds = pod.api["metadata"].value("deletionGracePeriodSeconds", Json());
      seconds.is_number())
    grace = seconds.get<int64_t>();
  if (containers) {
    for (const auto& container : *containers) {
      if (container.labels().count("io.kubernetes.pod.uid") &&
          container.labels().at("io.kubernetes.pod.uid") == pod.test.uid &&
          container.state() == runtime::v1::CONTAINER_RUNNING)
        (void)harness_.client().stop_container(container.id(), grace, std::chrono::seconds(60));
    }
  }
  if (sandboxes) {
    for (const auto& sandbox : *sandboxes) {
      if (sandbox.metadata().uid() == pod.test.uid && sandbox.state() == runtime::v1::SANDBOX_READY)
        (void)harness_.client().stop_pod_sandbox(sandbox.id(), std::chrono::seconds(30));
    }
  }
  note(pod.test.name + ": terminated (" + why + ")");
}

// kuberuntime_manager.go computePodActions: a stopped sandbox is rebuilt (unless restartPolicy
// Never and the containers ran); in a ready one, dead containers start again per restartPolicy
// after their back-off.
void KubeletStandIn::restart_dead(Pod& pod) {
  auto sandboxes = harness_.client().list_pod_sandboxes(true);
  if (!sandboxes)
    return;
  const bool ready = std::any_of(sandboxes->begin(), sandboxes->end(), [&](const auto& sandbox) {
    return sandbox.id() == pod.test.sandbox_id;
  });
  if (!ready) {
    if (pod.restart_policy == "Never")
      return;
    note(pod.test.name + ": the sandbox is not ready: a new one");
    create(pod);
    return;
  }
  auto containers = harness_.client().list_containers();
  if (!containers)
    return;
  for (size_t i = 0; i < pod.specs.size(); ++i) {
    const auto& spec = pod.specs[i];
    const runtime::v1::Container* latest = nullptr;
    for (const auto& container : *containers) {
      if (container.pod_sandbox_id() == pod.test.sandbox_id &&
          container.metadata().name() == spec.name &&
          (latest == nullptr || container.created_at() > latest->created_at()))
        latest = &container;
    }
    if (latest == nullptr || latest->state() != runtime::v1::CONTAINER_EXITED)
      continue;
    bool restart = pod.restart_policy == "Always";
    if (pod.restart_policy == "OnFailure") {
      runtime::v1::ContainerStatusRequest request;
      request.set_container_id(latest->id());
      runtime::v1::ContainerStatusResponse response;
      auto status = harness_.client().runtime().ContainerStatus(
          harness_.client().context(std::chrono::seconds(10)).get(), request, &response);
      restart = status.ok() && response.status().exit_code() != 0;
    }
    if (!restart || Clock::now() < pod.not_before[spec.name])
      continue;
    const int restarts = pod.record.container_restarts;
    const std::string error =
        harness_.start_container(pod.test, spec, latest->metadata().attempt() + 1);
    pod.not_before[spec.name] = Clock::now() + backoff(restarts + 1);
    note(pod.test.name + ": container " + spec.name + " restarted (restartPolicy " +
         pod.restart_policy + ")" + (error.empty() ? "" : ": " + error));
    // A start the runtime refused (its sandbox stopped meanwhile) ran nothing: not a restart.
    if (!error.empty())
      continue;
    ++pod.record.container_restarts;
    if (!pod.test.container_ids.empty())
      pod.container_states[pod.test.container_ids.back()] = runtime::v1::CONTAINER_RUNNING;
  }
}

// generateAPIPodStatus and the status manager's patch from the API's status to the new one (a
// field the new one lacks goes as null). `reconcile`: the batch writing its cached status (B).
void KubeletStandIn::write_status(Pod& pod, bool reconcile) {
  const Json& api_status = pod.api["status"];
  const std::string api_phase = text_at(pod.api, {"status", "phase"});
  Json status = Json::object();
  if (reconcile) {
    status["phase"] = pod.cached_phase;
  } else if (pod.record.terminated && terminal(api_phase)) {
    status["phase"] = api_phase;
    // generateAPIPodStatus keeps reason and message only when the phase equals the cached one.
    if (!options_.window_c || pod.cached_phase == api_phase) {
      for (const char* key : {"reason", "message"}) {
        if (api_status.contains(key))
          status[key] = api_status[key];
      }
    } else {
      note(pod.test.name + ": window C: the first sync after the external " + api_phase +
           " writes reason and message away");
    }
    pod.cached_phase = api_phase;
  } else {
    status["phase"] = pod.created ? "Running" : "Pending";
    pod.cached_phase = status["phase"];
  }
  Json patch = Json::object();
  for (const char* key : {"phase", "reason", "message"}) {
    const bool has_new = status.contains(key);
    const bool has_old = api_status.contains(key);
    if (has_new && (!has_old || api_status[key] != status[key]))
      patch[key] = status[key];
    else if (!has_new && has_old)
      patch[key] = nullptr;
  }
  if (patch.empty())
    return;
  const std::string body = Json{{"status", patch}}.dump();
  auto written = client_->call(
      "patch pods/status", "PATCH",
      "/api/v1/namespaces/" + pod.test.namespace_name + "/pods/" + pod.test.name + "/status", body,
      "application/strategic-merge-patch+json", {404});
  pod.record.status_writes.push_back(body);
  note(pod.test.name + ": status " + body + (written ? "" : " failed"));
}

}  // namespace evictd::testing_util
