// A kubelet for the end-to-end tests (never shipped), beside the test API server: what the node's
// kubelet does with its pods when someone else stops one, reduced to the code paths that decide
// whether an eviction by evictd holds. Each behaviour names the kubelet source it follows
// (kubernetes/kubernetes, read at 1.29-1.31; ../shared/notes/kubelet-coexistence.md):
//
// - Pod manager: LIST + WATCH of the node's pods. A change to the status alone is a RECONCILE:
//   stored, no sync (pkg/kubelet/config/config.go checkAndUpdatePod, kubelet.go
//   HandlePodReconcile). A new pod, or a deletionTimestamp, is acted on at once (ADD; UPDATE via
//   needGracefulDelete).
// - Pods are created through the real containerd as the kubelet creates them: the pod cgroup, a
//   sandbox and containers with the kubelet's labels and cgroup parent (the harness).
// - PLEG: the runtime is relisted every second; a container that died is an event that syncs its
//   pod at once (pkg/kubelet/pleg/generic.go relist, kubelet.go syncLoopIteration plegCh).
// - SyncPod with the pod manager's copy: an API phase that is terminal is adopted, and the pod is
//   terminated — its containers and sandbox stopped — and never restarted
//   (kubelet_pods.go generateAPIPodStatus "API phase was terminal", pod_workers.go
//   SyncTerminatingPod). Otherwise dead containers are restarted per restartPolicy, a stopped
//   sandbox is rebuilt (unless restartPolicy Never and the containers ran), the second restart
//   and later ones after a doubling back-off from 10 s (kuberuntime/kuberuntime_manager.go
//   computePodActions and doBackOff, container/helpers.go ShouldContainerBeRestarted).
// - Periodic resync of every pod (`resync`; the kubelet's workers requeue at syncFrequency) and
//   the status manager's batch at the same period (status/status_manager.go syncBatch).
// - Status writes as the status manager makes them: a strategic merge patch of pods/status from
//   the status it last wrote to the one it generated (util/pod PatchPodStatus); a field it no
//   longer has is sent as null.
// - A pod being deleted is killed with its grace period and, once terminated, deleted with grace
//   0 (status_manager.go canBeDeleted / the final delete).
//
// Race windows that evictd must close, each switchable:
// - A (always on, as in the kubelet): a container that dies before the pod manager holds the
//   Failed phase is restarted. `watch_lag` delays the pod manager's copy to force it.
// - B: the status batch finds its cached status (Running) differing from the pod manager's copy
//   (Failed) before any sync adopted it, and writes Running back. Switched on, the batch runs the
//   moment such a difference arrives (the unlucky tick).
// - C: the first sync after an external terminal phase keeps reason and message only when the
//   phase equals the cached one — so it writes them away (null), and a later sync copies them back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "e2e/containerd_harness.h"

namespace evictd::kube {
class ApiClient;
}

namespace evictd::testing_util {

struct StandInOptions {
  std::string node;
  std::string kubeconfig;
  std::chrono::milliseconds relist{1000};  // generic PLEG's relistPeriod
  std::chrono::milliseconds resync{10'000};
  std::chrono::milliseconds watch_lag{0};  // window A forced
  bool window_b = false;
  bool window_c = false;
};

// What the stand-in did to one pod, for the tests' assertions.
struct StandInPodRecord {
  int sandboxes = 0;           // made (1 for a pod never rebuilt)
  int container_restarts = 0;  // containers started again in a sandbox
  bool terminated = false;     // adopted a terminal phase or a deletion and stopped the pod
  bool deleted = false;        // the final delete was sent
  std::vector<std::string> status_writes;  // the patches it sent
};

class KubeletStandIn {
 public:
  KubeletStandIn(ContainerdHarness& harness, StandInOptions options);
  ~KubeletStandIn();
  KubeletStandIn(const KubeletStandIn&) = delete;
  KubeletStandIn& operator=(const KubeletStandIn&) = delete;

  // Lists, then watches and runs the sync loop in threads of its own. Empty on success.
  std::string start();
  void stop();

  // By pod UID.
  StandInPodRecord record(const std::string& uid) const;
  // Every restart (container or sandbox) of any pod since start, and what happened, in order.
  int restarts() const;
  std::vector<std::string> journal() const;
  // The harness's view of a pod it created (its cgroup and sandbox), for processes_in().
  TestPod test_pod(const std::string& uid) const;

 private:
  struct Pod;
  void watch_loop();
  void sync_loop();
  bool list();
  void apply_event(const std::string& type, const std::string& object_text);
  void relist();
  void sync(Pod& pod, const char* why);
  void create(Pod& pod);
  void terminate(Pod& pod, const char* why);
  void restart_dead(Pod& pod);
  void write_status(Pod& pod, bool reconcile);
  void note(const std::string& line);

  ContainerdHarness& harness_;
  StandInOptions options_;
  std::unique_ptr<kube::ApiClient> client_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::unique_ptr<Pod>> pods_;  // by UID
  std::vector<std::string> dirty_;                    // UIDs to sync now
  std::vector<std::string> journal_;
  std::string resource_version_;
  std::atomic<bool> stopping_{false};
  std::thread watcher_;
  std::thread syncer_;
};

}  // namespace evictd::testing_util
