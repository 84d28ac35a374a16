// The pods of this node as the API server knows them, kept current by LIST + WATCH in a thread of
// its own (a watch blocks for minutes). When the API server is away, the last cache stays in use
// and the loss and return are logged once each; `on_restored` lets pending writes go at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "daemon/agent/ports.h"
#include "daemon/kube/pod_source.h"

namespace evictd::metrics {
class Metrics;
}

namespace evictd::agent {

class ApiCache final : public PodSpecs, public PodStatusView {
 public:
  ApiCache(kube::ApiClient& client, std::string node_name, metrics::Metrics* metrics,
           std::function<void()> on_restored);
  ~ApiCache() override;

  // Lists once (so the first round has specs when the API server answers), then watches in a
  // thread.
  void start();
  void stop();

  std::optional<Pod> find(const std::string& uid) const override { return source_.find(uid); }
  bool connected() const override { return connected_; }
  std::optional<ObservedStatus> observed(const std::string& uid) const override;
  bool synced() const { return synced_; }

 private:
  bool list();
  void run();
  void set_connected(bool connected, const std::string& why);

  kube::PodSource source_;
  metrics::Metrics* metrics_;
  std::function<void()> on_restored_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> synced_{false};
  bool reported_ = false;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace evictd::agent
