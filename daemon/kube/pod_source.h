// The pods of this node from the API server: LIST with fieldSelector spec.nodeName, then WATCH from
// the list's resourceVersion with bookmarks; a 410 Gone (or a watch cut off) relists. The cache
// feeds the decision core's pod model.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/kube/api_client.h"
#include "ranking/pod.h"

namespace evictd::kube {

class PodSource {
 public:
  PodSource(ApiClient& client, std::string node_name);

  // Replaces the cache with a fresh LIST; returns the list's resourceVersion.
  Result<std::string> list();
  // Watches from the last resourceVersion until the stream ends or `timeout`; relists on 410.
  // Events are applied as they arrive. Returns the number of events applied.
  Result<size_t> watch(Nanos timeout);

  std::vector<Pod> pods() const;
  std::optional<Pod> find(const std::string& uid) const;
  std::string resource_version() const;
  size_t relists() const { return relists_; }

 private:
  bool apply(const std::string& type, const nlohmann::json& object);

  ApiClient& client_;
  std::string node_name_;
  mutable std::mutex mutex_;
  std::map<std::string, Pod> by_uid_;
  std::string resource_version_;
  size_t relists_ = 0;
};

}  // namespace evictd::kube
