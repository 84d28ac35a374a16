// Pods as the container runtime reports them, joined by pod UID from the kubelet's labels, with
// their runtime stats; stopping a pod; and node-level reclaim of unused containers and images.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "daemon/cri/cri_client.h"
#include "ranking/threshold.h"

namespace evictd::cri {

// The labels the kubelet puts on sandboxes and containers.
inline constexpr const char* kPodNameLabel = "io.kubernetes.pod.name";
inline constexpr const char* kPodNamespaceLabel = "io.kubernetes.pod.namespace";
inline constexpr const char* kPodUidLabel = "io.kubernetes.pod.uid";
inline constexpr const char* kContainerNameLabel = "io.kubernetes.container.name";

struct RuntimeContainer {
  std::string id;
  std::string name;
  runtime::v1::ContainerState state = runtime::v1::CONTAINER_UNKNOWN;
  std::string image;      // as requested
  std::string image_ref;  // the image ID it runs
};

// A container the runtime still runs, or has made and may start: what a stop must stop.
inline bool still_running(const RuntimeContainer& container) {
  return container.state == runtime::v1::CONTAINER_RUNNING ||
         container.state == runtime::v1::CONTAINER_CREATED;
}

struct RuntimePod {
  std::string sandbox_id;
  std::string uid;
  std::string name;
  std::string namespace_name;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<RuntimeContainer> containers;
};

// Ready sandboxes with their containers. Pods without the kubelet's UID label fall back to the
// sandbox metadata's UID; sandboxes that are not ready are not pods evictd may touch.
Result<std::vector<RuntimePod>> discover_pods(CriClient& client);

struct ContainerRuntimeStats {
  std::string id;
  std::string name;
  std::optional<uint64_t> working_set_bytes;
  std::optional<uint64_t> rootfs_used_bytes;
  std::optional<uint64_t> rootfs_inodes_used;
  std::string rootfs_mountpoint;
};
// Container stats by pod UID.
Result<std::map<std::string, std::vector<ContainerRuntimeStats>>> container_stats_by_pod(
    CriClient& client);

struct RuntimeFilesystems {
  std::string imagefs_mountpoint;
  std::string
      containerfs_mountpoint;  // empty when the runtime reports none (containers on imagefs)
  FilesystemLayout layout = FilesystemLayout::kShared;
};
// The filesystem layout from ImageFsInfo, as the kubelet derives it: imagefs on nodefs's device is
// one shared filesystem; otherwise a dedicated imagefs, split when the writable layers
// (containerfs) are on nodefs's device while images are not.
Result<RuntimeFilesystems> discover_filesystems(CriClient& client, const std::string& nodefs_path);

struct StopStep {
  std::string what;  // "StopContainer app (abc123)", "StopPodSandbox"
  Nanos duration{0};
  bool ok = false;
  std::string detail;  // the error, "already gone", or "dry-run"
};

struct StopReport {
  bool stopped = false;
  std::vector<StopStep> steps;
  Nanos duration{0};
};

class PodStopper {
 public:
  PodStopper(CriClient& client, bool dry_run, Nanos margin = std::chrono::seconds(10));

  // Stops every running container in parallel with the grace period (at least the kubelet's 2 s
  // unless `hard`, then no grace at all), then the sandbox. NOT_FOUND counts as done, so a retry
  // after a partial failure is safe.
  StopReport stop(const RuntimePod& pod, int64_t grace_seconds, bool hard);
  // The two halves: the app containers (in parallel, with the grace period as above), and the
  // sandbox. Beside a kubelet the second is the kubelet's, once it holds the pod's Failed status.
  StopReport stop_containers(const RuntimePod& pod, int64_t grace_seconds, bool hard);
  StopReport stop_sandbox(const RuntimePod& pod);

 private:
  CriClient& client_;
  bool dry_run_;
  Nanos margin_;
};

struct ReclaimReport {
  uint64_t bytes_freed = 0;
  std::vector<std::string> removed;
  std::vector<std::string> errors;
};

// Node-level reclaim as the kubelet's image and container GC do it for eviction.
class NodeResourceReclaimer {
 public:
  // `pinned` images (the pod sandbox image, by tag) are never removed, even by runtimes that do not
  // report Image.pinned.
  NodeResourceReclaimer(CriClient& client, bool dry_run, Nanos min_image_age,
                        std::vector<std::string> pinned = {});

  // Records when each image was first seen unused (call on every round; reclaim orders by it).
  void observe(Nanos now);
  // Removes images no container uses, not pinned, unused for at least the minimum age, the least
  // recently used first.
  ReclaimReport delete_unused_images(Nanos now);
  // Removes exited containers whose sandbox is gone or no longer ready.
  ReclaimReport delete_unused_containers();

 private:
  CriClient& client_;
  bool dry_run_;
  Nanos min_image_age_;
  std::vector<std::string> pinned_;
  std::map<std::string, Nanos> unused_since_;  // image ID -> first seen unused
};

}  // namespace evictd::cri
