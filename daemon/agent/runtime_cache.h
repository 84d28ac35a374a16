// The runtime's view of the node, refreshed beside the loop (CRI calls take milliseconds, and the
// runtime may hang): which pods it runs, with their containers and stats. The loop reads the last
// snapshot; the connection's loss and return are logged once each and counted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "daemon/agent/ports.h"
#include "daemon/cri/cri_client.h"

namespace evictd::metrics {
class Metrics;
}

namespace evictd::agent {

using model::RuntimeSnapshot;

class RuntimeCache final : public RuntimeView {
 public:
  RuntimeCache(cri::CriClient& client, Nanos interval, metrics::Metrics* metrics, Clock& clock,
               std::function<void(Nanos now)> on_refresh = {});
  ~RuntimeCache() override;

  // Refreshes once now (so the first round has pods), then keeps refreshing in a thread.
  void start();
  void stop();
  // Asks for a refresh as soon as possible (after an eviction, say).
  void refresh_soon() override;
  void set_interval(Nanos interval) override;
  // Refreshes every 200 ms until these pod UIDs are listed (at most 10 s): pods whose cgroups
  // exist before their sandboxes are ready.
  void expect(std::vector<std::string> uids) override;
  Nanos age(Nanos now) const override;

  std::shared_ptr<const RuntimeSnapshot> snapshot() const override;
  bool connected() const override { return connected_; }
  // Refreshes the pods now, in the caller's thread (the loop, when cgroups show pods the snapshot
  // lacks under pressure): the listing only, a few milliseconds; the stats follow in the thread.
  void refresh_now() override { refresh(false); }
  // The same with the stats (disk usage), for disk signals.
  void refresh_now_with_stats() override { refresh(true); }

 private:
  bool refresh(bool with_stats);
  void run();

  cri::CriClient& client_;
  std::atomic<Nanos> interval_;
  metrics::Metrics* metrics_;
  Clock& clock_;
  std::function<void(Nanos)> on_refresh_;
  std::mutex refresh_mutex_;  // one refresh at a time
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool soon_ = false;
  std::vector<std::string> expected_;
  Nanos expect_until_{0};
  std::shared_ptr<const RuntimeSnapshot> snapshot_;
  std::atomic<bool> connected_{false};
  bool ever_refreshed_ = false;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace evictd::agent
