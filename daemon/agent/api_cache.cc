#include "daemon/agent/api_cache.h"

#include "daemon/log/log.h"
#include "daemon/metrics/metrics.h"
#include "daemon/thread_name.h"

namespace evictd::agent {
namespace {
constexpr std::chrono::seconds kWatchTimeout{300};
constexpr std::chrono::seconds kRetryMax{10};
}  // namespace

ApiCache::ApiCache(kube::ApiClient& client, std::string node_name, metrics::Metrics* metrics,
                   std::function<void()> on_restored)
    : source_(client, std::move(node_name)),
      metrics_(metrics),
      on_restored_(std::move(on_restored)) {}

ApiCache::~ApiCache() {
  stop();
}

void ApiCache::start() {
  list();
  thread_ = std::thread([this] { run(); });
}

void ApiCache::stop() {
  stopping_ = true;
  wake_.notify_all();
  // The owner cancels the client's streams first, so a quiet watch ends within a second.
  if (thread_.joinable())
    thread_.join();
}

void ApiCache::set_connected(bool connected, const std::string& why) {
  const bool was = connected_.exchange(connected);
  if (connected && (!was || !reported_)) {
    log::info(reported_ ? "API server connection restored" : "API server connected",
              {{"pods", std::to_string(source_.pods().size())}});
    if (reported_ && on_restored_)
      on_restored_();
  } else if (!connected && (was || !reported_)) {
    if (metrics_ != nullptr)
      metrics_->api_error();
    log::warning("API server unavailable; using the last known pod specs: " + why);
  }
  reported_ = true;
}

bool ApiCache::list() {
  auto listed = source_.list();
  if (!listed) {
    set_connected(false, listed.error().message);
    return false;
  }
  synced_ = true;
  set_connected(true, "");
  return true;
}

void ApiCache::run() {
  name_this_thread("evictd-api");
  auto backoff = std::chrono::milliseconds(500);
  bool need_list = !synced_;
  while (!stopping_) {
    if (need_list) {
      if (!list()) {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, backoff, [this] { return stopping_.load(); });
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kRetryMax);
        continue;
      }
      backoff = std::chrono::milliseconds(500);
      need_list = false;
    }
    auto watched = source_.watch(kWatchTimeout);
    if (stopping_)
      return;
    if (!watched) {
      set_connected(false, watched.error().message);
      need_list = true;
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, backoff, [this] { return stopping_.load(); });
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, kRetryMax);
      continue;
    }
    set_connected(true, "");
  }
}

std::optional<ObservedStatus> ApiCache::observed(const std::string& uid) const {
  const auto pod = source_.find(uid);
  if (!pod)
    return std::nullopt;
  return ObservedStatus{.phase = pod->phase,
                        .reason = pod->status_reason,
                        .message = pod->status_message,
                        .deleting = pod->deleting};
}

}  // namespace evictd::agent
