// The node's model, below both the loop that builds it and the status API that reads it: the pods
// the evaluator sees in one round — the pods the runtime reports (evictd never touches anything
// else), joined by UID with their cgroup usage and runtime stats, and with their specs from the API
// server's cache or, for a pod the API server never told us about (standalone mode, or a pod newer
// than the cache), a spec reconstructed from what the node itself knows.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/sampler.h"
#include "daemon/cri/runtime_pods.h"
#include "ranking/rank.h"

namespace evictd::model {

// What the runtime reported in its last successful round.
struct RuntimeSnapshot {
  std::vector<cri::RuntimePod> pods;
  std::map<std::string, std::vector<cri::ContainerRuntimeStats>> stats;  // by pod UID
  Nanos time{0};  // monotonic: when the runtime was asked (it knows nothing younger)
};

enum class SpecSource { kApiServer, kNode };

struct PodEntry {
  Pod pod;
  PodStats stats;
  size_t runtime_index = 0;  // into RuntimeSnapshot::pods
  SpecSource spec_source = SpecSource::kApiServer;
  std::optional<cgroups::QosTier> tier;  // from the cgroup path, when the pod has a cgroup
  std::string cgroup;
  // CPU, for the status API and metrics only (the kubelet does not evict for CPU), as of the last
  // full sample: cumulative, and in use between the last two.
  std::optional<uint64_t> cpu_usage_ns;
  std::optional<double> cpu_cores;
};

struct PodView {
  std::vector<PodEntry> entries;
  std::vector<ActivePod> active;  // one per entry, same order; points into `entries`
};

using SpecLookup = std::function<std::optional<Pod>(const std::string& uid)>;
// A container's memory limit in bytes, when its cgroup has one.
using LimitLookup = std::function<std::optional<int64_t>(const std::string& pod_cgroup,
                                                         const std::string& container_id)>;

// Builds the round's pods. `specs` may be empty (no API server).
PodView build_pod_view(const cgroups::NodeSample& sample, const RuntimeSnapshot& runtime,
                       const SpecLookup& specs, const LimitLookup& limits);

// A spec from what the node knows: name, namespace and UID from the runtime's labels, annotations
// from the sandbox (static and mirror pods stay critical), the QoS class from the cgroup tier,
// and for Guaranteed pods requests equal to the containers' memory limits. Priority and the
// requests of Burstable pods cannot be known here; they are left unset (docs/standalone.md).
Pod reconstruct_pod(const cri::RuntimePod& runtime, std::optional<cgroups::QosTier> tier,
                    const std::string& cgroup, const LimitLookup& limits);

}  // namespace evictd::model
