#include "daemon/cri/runtime_pods.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

namespace evictd::cri {
namespace {

constexpr int64_t kMinimumGracePeriodSeconds = 2;  // the kubelet's floor for graceful stops

std::string label(const google::protobuf::Map<std::string, std::string>& labels, const char* key) {
  const auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

Nanos since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now() - start);
}

// A stop step's outcome: NOT_FOUND means the thing is already gone, which is what a stop wants.
void record(StopStep& step, const Result<void>& result,
            std::chrono::steady_clock::time_point started) {
  step.duration = since(started);
  step.ok = result.ok() || result.error().code == kNotFound;
  if (!result.ok())
    step.detail = result.error().code == kNotFound ? "already gone" : result.error().message;
}

// Whether an image is the one a container runs: by ID, tag or digest.
bool image_matches(const runtime::v1::Image& image, const std::string& reference) {
  if (reference.empty())
    return false;
  if (image.id() == reference)
    return true;
  for (const auto& tag : image.repo_tags()) {
    if (tag == reference)
      return true;
  }
  for (const auto& digest : image.repo_digests()) {
    if (digest == reference)
      return true;
  }
  return false;
}

Result<std::set<std::string>> used_image_ids(CriClient& client,
                                             const std::vector<runtime::v1::Image>& images) {
  auto containers = client.list_containers();
  if (!containers)
    return containers.error();
  std::set<std::string> used;
  for (const auto& container : *containers) {
    for (const auto& image : images) {
      if (image_matches(image, container.image_ref()) ||
          image_matches(image, container.image_id()) ||
          image_matches(image, container.image().image())) {
        used.insert(image.id());
      }
    }
  }
  return used;
}

}  // namespace

Result<std::vector<RuntimePod>> discover_pods(CriClient& client) {
  auto sandboxes = client.list_pod_sandboxes(true);
  if (!sandboxes)
    return sandboxes.error();
  auto containers = client.list_containers();
  if (!containers)
    return containers.error();
  std::vector<RuntimePod> pods;
  pods.reserve(sandboxes->size());
  for (const auto& sandbox : *sandboxes) {
    RuntimePod pod;
    pod.sandbox_id = sandbox.id();
    pod.uid = label(sandbox.labels(), kPodUidLabel);
    if (pod.uid.empty())
      pod.uid = sandbox.metadata().uid();
    pod.name = label(sandbox.labels(), kPodNameLabel);
    if (pod.name.empty())
      pod.name = sandbox.metadata().name();
    pod.namespace_name = label(sandbox.labels(), kPodNamespaceLabel);
    if (pod.namespace_name.empty())
      pod.namespace_name = sandbox.metadata().namespace_();
    pod.labels.insert(sandbox.labels().begin(), sandbox.labels().end());
    pod.annotations.insert(sandbox.annotations().begin(), sandbox.annotations().end());
    for (const auto& container : *containers) {
      if (container.pod_sandbox_id() != sandbox.id())
        continue;
      RuntimeContainer c;
      c.id = container.id();
      c.name = label(container.labels(), kContainerNameLabel);
      if (c.name.empty())
        c.name = container.metadata().name();
      c.state = container.state();
      c.image = container.image().image();
      c.image_ref = container.image_ref();
      pod.containers.push_back(std::move(c));
    }
    pods.push_back(std::move(pod));
  }
  return pods;
}

Result<std::map<std::string, std::vector<ContainerRuntimeStats>>> container_stats_by_pod(
    CriClient& client) {
  auto stats = client.list_container_stats();
  if (!stats)
    return stats.error();
  std::map<std::string, std::vector<ContainerRuntimeStats>> by_pod;
  for (const auto& s : *stats) {
    ContainerRuntimeStats c;
    c.id = s.attributes().id();
    c.name = label(s.attributes().labels(), kContainerNameLabel);
    if (c.name.empty())
      c.name = s.attributes().metadata().name();
    if (s.has_memory() && s.memory().has_working_set_bytes()) {
      c.working_set_bytes = s.memory().working_set_bytes().value();
    }
    if (s.has_writable_layer()) {
      if (s.writable_layer().has_used_bytes())
        c.rootfs_used_bytes = s.writable_layer().used_bytes().value();
      if (s.writable_layer().has_inodes_used()) {
        c.rootfs_inodes_used = s.writable_layer().inodes_used().value();
      }
      c.rootfs_mountpoint = s.writable_layer().fs_id().mountpoint();
    }
    by_pod[label(s.attributes().labels(), kPodUidLabel)].push_back(std::move(c));
  }
  return by_pod;
}

Result<RuntimeFilesystems> discover_filesystems(CriClient& client, const std::string& nodefs_path) {
  auto info = client.image_fs_info();
  if (!info)
    return info.error();
  RuntimeFilesystems result;
  if (info->image_filesystems_size() > 0)
    result.imagefs_mountpoint = info->image_filesystems(0).fs_id().mountpoint();
  if (info->container_filesystems_size() > 0)
    result.containerfs_mountpoint = info->container_filesystems(0).fs_id().mountpoint();
  auto device = [](const std::string& path) -> std::optional<dev_t> {
    struct stat st {};
    if (path.empty() || ::stat(path.c_str(), &st) != 0)
      return std::nullopt;
    return st.st_dev;
  };
  const auto nodefs = device(nodefs_path);
  const auto imagefs = device(result.imagefs_mountpoint);
  const auto containerfs = device(result.containerfs_mountpoint);
  if (!nodefs || !imagefs) {
    return make_error("cannot stat nodefs " + nodefs_path + " or imagefs " +
                      result.imagefs_mountpoint);
  }
  if (*imagefs == *nodefs) {
    result.layout = FilesystemLayout::kShared;
  } else if (containerfs && *containerfs == *nodefs) {
    result.layout = FilesystemLayout::kSplit;
  } else {
    result.layout = FilesystemLayout::kDedicatedImageFs;
  }
  return result;
}

PodStopper::PodStopper(CriClient& client, bool dry_run, Nanos margin)
    : client_(client), dry_run_(dry_run), margin_(margin) {}

StopReport PodStopper::stop(const RuntimePod& pod, int64_t grace_seconds, bool hard) {
  StopReport report = stop_containers(pod, grace_seconds, hard);
  StopReport sandbox = stop_sandbox(pod);
  report.steps.insert(report.steps.end(), sandbox.steps.begin(), sandbox.steps.end());
  report.stopped = report.stopped && sandbox.stopped;
  report.duration += sandbox.duration;
  return report;
}

StopReport PodStopper::stop_containers(const RuntimePod& pod, int64_t grace_seconds, bool hard) {
  const auto started = std::chrono::steady_clock::now();
  StopReport report;
  const int64_t timeout = hard ? 0 : std::max(grace_seconds, kMinimumGracePeriodSeconds);
  const Nanos deadline = std::chrono::seconds(timeout) + margin_;
  std::vector<const RuntimeContainer*> running;
  for (const auto& container : pod.containers) {
    if (still_running(container))
      running.push_back(&container);
  }
  report.steps.resize(running.size());
  std::vector<std::thread> workers;
  for (size_t i = 0; i < running.size(); ++i) {
    workers.emplace_back([&, i] {
      StopStep& step = report.steps[i];
      step.what = "StopContainer " + running[i]->name + " (" + running[i]->id.substr(0, 12) + ")";
      const auto step_started = std::chrono::steady_clock::now();
      if (dry_run_) {
        step.ok = true;
        step.detail = "dry-run";
        return;
      }
      record(step, client_.stop_container(running[i]->id, timeout, deadline), step_started);
    });
  }
  for (auto& worker : workers)
    worker.join();
  report.stopped = std::all_of(report.steps.begin(), report.steps.end(),
                               [](const StopStep& step) { return step.ok; });
  report.duration = since(started);
  return report;
}

StopReport PodStopper::stop_sandbox(const RuntimePod& pod) {
  const auto started = std::chrono::steady_clock::now();
  StopReport report;
  StopStep sandbox;
  sandbox.what = "StopPodSandbox";
  if (dry_run_) {
    sandbox.ok = true;
    sandbox.detail = "dry-run";
  } else {
    record(sandbox, client_.stop_pod_sandbox(pod.sandbox_id, margin_), started);
  }
  report.stopped = sandbox.ok;
  report.steps.push_back(std::move(sandbox));
  report.duration = since(started);
  return report;
}

NodeResourceReclaimer::NodeResourceReclaimer(CriClient& client, bool dry_run, Nanos min_image_age,
                                             std::vector<std::string> pinned)
    : client_(client),
      dry_run_(dry_run),
      min_image_age_(min_image_age),
      pinned_(std::move(pinned)) {}

void NodeResourceReclaimer::observe(Nanos now) {
  auto images = client_.list_images();
  if (!images)
    return;
  auto used = used_image_ids(client_, *images);
  if (!used)
    return;
  std::map<std::string, Nanos> unused;
  for (const auto& image : *images) {
    if (used->contains(image.id()))
      continue;
    const auto previous = unused_since_.find(image.id());
    unused[image.id()] = previous != unused_since_.end() ? previous->second : now;
  }
  unused_since_ = std::move(unused);
}

ReclaimReport NodeResourceReclaimer::delete_unused_images(Nanos now) {
  ReclaimReport report;
  observe(now);
  auto images = client_.list_images();
  if (!images) {
    report.errors.push_back(images.error().message);
    return report;
  }
  struct Candidate {
    const runtime::v1::Image* image;
    Nanos unused_since;
  };
  std::vector<Candidate> candidates;
  for (const auto& image : *images) {
    const auto since_it = unused_since_.find(image.id());
    const bool pinned =
        image.pinned() || std::any_of(pinned_.begin(), pinned_.end(), [&](const std::string& tag) {
          return image_matches(image, tag);
        });
    if (since_it == unused_since_.end() || pinned)
      continue;
    if (now - since_it->second < min_image_age_)
      continue;
    candidates.push_back({&image, since_it->second});
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.unused_since < b.unused_since; });
  for (const auto& candidate : candidates) {
    if (!dry_run_) {
      auto removed = client_.remove_image(candidate.image->id());
      if (!removed && removed.error().code != kNotFound) {
        report.errors.push_back(removed.error().message);
        continue;
      }
    }
    report.bytes_freed += candidate.image->size();
    report.removed.push_back(candidate.image->repo_tags().empty() ? candidate.image->id()
                                                                  : candidate.image->repo_tags(0));
    unused_since_.erase(candidate.image->id());
  }
  return report;
}

ReclaimReport NodeResourceReclaimer::delete_unused_containers() {
  ReclaimReport report;
  auto sandboxes = client_.list_pod_sandboxes(true);
  auto containers = client_.list_containers();
  if (!sandboxes || !containers) {
    report.errors.push_back(!sandboxes ? sandboxes.error().message : containers.error().message);
    return report;
  }
  std::set<std::string> ready;
  for (const auto& sandbox : *sandboxes)
    ready.insert(sandbox.id());
  for (const auto& container : *containers) {
    if (container.state() != runtime::v1::CONTAINER_EXITED ||
        ready.contains(container.pod_sandbox_id())) {
      continue;
    }
    if (!dry_run_) {
      auto removed = client_.remove_container(container.id());
      if (!removed && removed.error().code != kNotFound) {
        report.errors.push_back(removed.error().message);
        continue;
      }
    }
    report.removed.push_back(container.id());
  }
  return report;
}

}  // namespace evictd::cri
