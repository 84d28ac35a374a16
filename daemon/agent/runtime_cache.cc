#include "daemon/agent/runtime_cache.h"

#include <algorithm>

#include "daemon/log/log.h"
#include "daemon/metrics/metrics.h"
#include "daemon/thread_name.h"

namespace evictd::agent {

RuntimeCache::RuntimeCache(cri::CriClient& client, Nanos interval, metrics::Metrics* metrics,
                           Clock& clock, std::function<void(Nanos)> on_refresh)
    : client_(client),
      interval_(interval),
      metrics_(metrics),
      clock_(clock),
      on_refresh_(std::move(on_refresh)),
      snapshot_(std::make_shared<RuntimeSnapshot>()) {}

RuntimeCache::~RuntimeCache() {
  stop();
}

void RuntimeCache::start() {
  refresh(true);
  thread_ = std::thread([this] { run(); });
}

void RuntimeCache::stop() {
  stopping_ = true;
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void RuntimeCache::refresh_soon() {
  std::lock_guard lock(mutex_);
  soon_ = true;
  wake_.notify_all();
}

void RuntimeCache::expect(std::vector<std::string> uids) {
  std::lock_guard lock(mutex_);
  expected_ = std::move(uids);
  expect_until_ = clock_.monotonic() + std::chrono::seconds(10);
  soon_ = true;
  wake_.notify_all();
}

void RuntimeCache::set_interval(Nanos interval) {
  if (interval_.exchange(interval) != interval)
    wake_.notify_all();
}

Nanos RuntimeCache::age(Nanos now) const {
  std::lock_guard lock(mutex_);
  return now - snapshot_->time;
}

std::shared_ptr<const RuntimeSnapshot> RuntimeCache::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

bool RuntimeCache::refresh(bool with_stats) {
  std::lock_guard refreshing(refresh_mutex_);
  // The list knows the runtime as of when it was asked: a sandbox that became ready while the
  // runtime answered (or computed the stats) may be missing from it.
  const Nanos asked_at = clock_.monotonic();
  auto pods = cri::discover_pods(client_);
  using StatsByPod = std::map<std::string, std::vector<cri::ContainerRuntimeStats>>;
  Result<StatsByPod> stats = StatsByPod{};
  if (!pods)
    stats = pods.error();
  else if (with_stats)
    stats = cri::container_stats_by_pod(client_);
  if (!pods || !stats) {
    if (metrics_ != nullptr)
      metrics_->runtime_error();
    // Logged on the transition only; the last snapshot stays in use meanwhile.
    if (connected_.exchange(false) || !ever_refreshed_) {
      log::warning("container runtime unavailable; acting on its last known pods: " +
                   (pods ? stats.error().message : pods.error().message));
      ever_refreshed_ = true;
    }
    return false;
  }
  auto snapshot = std::make_shared<RuntimeSnapshot>();
  snapshot->pods = std::move(*pods);
  if (with_stats) {
    snapshot->stats = std::move(stats).value();
  } else {
    std::lock_guard lock(mutex_);
    snapshot->stats = snapshot_->stats;  // the stats stay those of the last full refresh
  }
  snapshot->time = asked_at;
  {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(snapshot);
  }
  if (!connected_.exchange(true) && ever_refreshed_)
    log::info("container runtime connection restored");
  ever_refreshed_ = true;
  if (on_refresh_)
    on_refresh_(clock_.monotonic());
  return true;
}

void RuntimeCache::run() {
  name_this_thread("evictd-runtime");
  while (!stopping_) {
    {
      std::unique_lock lock(mutex_);
      const bool expecting = !expected_.empty() && clock_.monotonic() < expect_until_;
      if (!expecting)
        expected_.clear();
      wake_.wait_for(lock, expecting ? Nanos(std::chrono::milliseconds(200)) : interval_.load(),
                     [this] { return stopping_ || soon_; });
      soon_ = false;
    }
    if (stopping_)
      return;
    bool expecting = false;
    {
      std::lock_guard lock(mutex_);
      expecting = !expected_.empty();
    }
    // Waiting for a new pod's sandbox: the listing only (milliseconds); the stats (containerd
    // computes them on request, hundreds of milliseconds) wait for the regular refresh.
    refresh(!expecting);
    std::lock_guard lock(mutex_);
    std::erase_if(expected_, [this](const std::string& uid) {
      return std::any_of(snapshot_->pods.begin(), snapshot_->pods.end(),
                         [&](const cri::RuntimePod& pod) { return pod.uid == uid; });
    });
  }
}

}  // namespace evictd::agent
