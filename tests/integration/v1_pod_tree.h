// A kubelet-style kubepods/burstable/pod<uid>/<container> tree on the REAL cgroup v1 memory, pids,
// cpuacct and freezer hierarchies, under a kubepods name of the caller's, for the tests and
// benchmarks that sample and arm thresholds on real cgroups; and the kubelet's default hard
// threshold they use.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "cgroups/layout.h"
#include "cgroups/sampler.h"
#include "ranking/threshold.h"

namespace evictd::testing_util {

class V1PodTree {
 public:
  static constexpr const char* kUid = "5e0b4b5e-9c1f-4c47-8d3b-2f3a4b5c6d7e";
  static constexpr const char* kContainer =
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

  // Makes the tree in the three hierarchies; error() names the first directory that could not be
  // made (what was made is removed all the same).
  V1PodTree(const cgroups::CgroupLayout& layout, std::string kubepods)
      : layout_(layout), kubepods_(std::move(kubepods)) {
    const std::string pod = kubepods_ + "/burstable/pod" + kUid;
    relative_ = {kubepods_, kubepods_ + "/burstable", pod, pod + "/" + kContainer};
    for (const auto& root : roots()) {
      for (const auto& dir : relative_) {
        const std::string path = root + "/" + dir;
        if (::mkdir(path.c_str(), 0755) != 0) {
          error_ = path + ": " + std::strerror(errno);
          return;
        }
        made_.push_back(path);
      }
    }
  }
  ~V1PodTree() { remove(); }
  V1PodTree(const V1PodTree&) = delete;
  V1PodTree& operator=(const V1PodTree&) = delete;

  const std::string& error() const { return error_; }
  const std::string& kubepods() const { return kubepods_; }
  std::string pod_dir(const std::string& root) const { return root + "/" + relative_[2]; }
  const std::string& pod() const { return relative_[2]; }
  std::string container_dir(const std::string& root) const { return root + "/" + relative_.back(); }
  // The container's cgroup.procs in each hierarchy: where a child process joins the pod.
  std::vector<std::string> container_procs() const {
    std::vector<std::string> procs;
    for (const auto& root : roots())
      procs.push_back(container_dir(root) + "/cgroup.procs");
    return procs;
  }
  // The sampler over this tree.
  cgroups::SamplerConfig sampler_config() const {
    cgroups::SamplerConfig config;
    config.kubepods = kubepods_;
    config.nodefs_path = "/";
    return config;
  }

  // Removes the tree deepest first (its processes must be gone); "path: reason" for each directory
  // that stays.
  std::vector<std::string> remove() {
    std::vector<std::string> left;
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
      if (::rmdir(it->c_str()) != 0)
        left.push_back(*it + ": " + std::strerror(errno));
    }
    made_.clear();
    return left;
  }

 private:
  std::vector<std::string> roots() const {
    std::vector<std::string> roots = {layout_.memory_root, layout_.pids_root, layout_.cpuacct_root};
    if (!layout_.freezer_root.empty())
      roots.push_back(layout_.freezer_root);  // where an eviction freezes or kills the pod
    return roots;
  }

  cgroups::CgroupLayout layout_;
  std::string kubepods_;
  std::vector<std::string> relative_;
  std::vector<std::string> made_;
  std::string error_;
};

// The eviction settings of the kubelet's default hard threshold, memory.available<100Mi, and what
// it derives (allocatableMemory.available<100Mi).
inline Result<EvictionConfig> hard_memory_100mi_config() {
  EvictionSettings settings;
  settings.eviction_hard = EvictionSettings::SignalMap{{"memory.available", "100Mi"}};
  return build_eviction_config(settings);
}

// Those thresholds; empty if they could not be built.
inline std::vector<Threshold> hard_memory_100mi() {
  auto config = hard_memory_100mi_config();
  return config.ok() ? config->thresholds : std::vector<Threshold>{};
}

}  // namespace evictd::testing_util
