// Writes the node's pressure conditions to the API server (nodeConditions: true, for nodes where
// evictd replaces the kubelet's eviction) from a thread of its own, so that a slow API server never
// holds up the loop; only changes are written, and a failed write is tried again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "daemon/agent/ports.h"
#include "daemon/kube/eviction_writer.h"

namespace evictd::agent {

class ConditionPublisher final : public ConditionSink {
 public:
  ConditionPublisher(kube::ApiClient& client, std::string node_name);
  ~ConditionPublisher() override;

  void start();
  void stop();
  void publish(bool memory, bool disk, bool pid) override;

 private:
  void run();

  kube::NodeConditionWriter writer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::array<bool, 3> wanted_{};
  std::optional<std::array<bool, 3>> written_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace evictd::agent
