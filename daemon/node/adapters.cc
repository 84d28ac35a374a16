#include "daemon/node/adapters.h"

#include "daemon/log/log.h"

namespace evictd::node {

Result<std::unique_ptr<KernelPressure>> KernelPressure::create(Nanos poll_interval,
                                                               const cgroups::Sampler& sampler,
                                                               bool notifications) {
  auto notifier = cgroups::PressureNotifier::create(poll_interval);
  if (!notifier)
    return make_error("the notification loop: " + notifier.error().message);
  auto pressure =
      std::unique_ptr<KernelPressure>(new KernelPressure(std::move(notifier).value(), sampler));
  if (!notifications) {
    log::info("pressure notifications off: polling every " + format_go_duration(poll_interval));
    return pressure;
  }
  for (const auto& line : pressure->watch_.start())
    log::info("pressure notification: " + line);
  return pressure;
}

cri::ReclaimReport CriReclaimer::reclaim(ReclaimAction action, Nanos now) {
  std::lock_guard lock(mutex_);
  return action == ReclaimAction::kDeleteUnusedImages ? reclaimer_.delete_unused_images(now)
                                                      : reclaimer_.delete_unused_containers();
}

void CriReclaimer::observe(Nanos now) {
  std::lock_guard lock(mutex_);
  reclaimer_.observe(now);
}

Result<std::optional<cri::RuntimePod>> CriPodRuntime::find_pod(const std::string& uid) {
  auto pods = cri::discover_pods(client_);
  if (!pods)
    return pods.error();
  for (auto& pod : *pods) {
    if (pod.uid == uid)
      return std::optional<cri::RuntimePod>(std::move(pod));
  }
  return std::optional<cri::RuntimePod>();
}

// A graceful stop needs the tasks thawed to handle SIGTERM, and on v1 not even SIGKILL ends a
// frozen task; a stop without grace on v2 kills them frozen, so the pod never grows again. Thawed
// after in every case: a task the stop missed must not stay frozen behind the kubelet's back.
cri::StopReport CriPodRuntime::stop_containers(const cri::RuntimePod& pod, int64_t grace_seconds,
                                               bool hard, const std::string& cgroup) {
  const bool stays_frozen = hard && tasks_.kills_frozen();
  if (!cgroup.empty() && !stays_frozen) {
    if (auto thawed = tasks_.thaw(cgroup); !thawed)
      log::warning("cannot thaw the pod before stopping it: " + thawed.error().message);
  }
  auto report = stopper_.stop_containers(pod, grace_seconds, hard);
  if (!cgroup.empty())
    (void)tasks_.thaw(cgroup);  // gone with the pod's tasks, usually
  return report;
}

// The cgroup first: reading it costs no runtime call, and while processes remain the answer is no.
bool CriPodRuntime::pod_gone(const std::string& uid, const std::string& cgroup) {
  if (!cgroup.empty() && !cgroups::pids_under(layout_.memory_hierarchy() + "/" + cgroup).empty())
    return false;
  auto listed = find_pod(uid);
  return listed && !*listed;
}

std::optional<Nanos> ServiceLifecycle::watchdog_interval() const {
  if (const auto interval = notifier_.watchdog_interval())
    return std::chrono::duration_cast<Nanos>(*interval);
  return std::nullopt;
}

void ServiceLifecycle::ready(const std::string& status) {
  notifier_.ready(status);
  if (status_server_ != nullptr)
    status_server_->set_serving(true);
}

void ServiceLifecycle::stopping() {
  notifier_.stopping();
  if (status_server_ != nullptr)
    status_server_->set_serving(false);
}

}  // namespace evictd::node
