#include "daemon/agent/condition_publisher.h"

#include "daemon/log/log.h"
#include "daemon/thread_name.h"

namespace evictd::agent {

ConditionPublisher::ConditionPublisher(kube::ApiClient& client, std::string node_name)
    : writer_(client, std::move(node_name)) {}

ConditionPublisher::~ConditionPublisher() {
  stop();
}

void ConditionPublisher::start() {
  thread_ = std::thread([this] { run(); });
}

void ConditionPublisher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void ConditionPublisher::publish(bool memory, bool disk, bool pid) {
  std::lock_guard lock(mutex_);
  const std::array<bool, 3> wanted{memory, disk, pid};
  if (wanted == wanted_ && written_ == wanted)
    return;
  wanted_ = wanted;
  wake_.notify_all();
}

void ConditionPublisher::run() {
  name_this_thread("evictd-node");
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (written_ == wanted_) {
      wake_.wait(lock);
      continue;
    }
    const auto wanted = wanted_;
    lock.unlock();
    auto updated = writer_.update(wanted[0], wanted[1], wanted[2], kube::rfc3339_now());
    lock.lock();
    if (updated) {
      written_ = wanted;
    } else {
      log::warning("node conditions not written: " + updated.error().message);
      wake_.wait_for(lock, std::chrono::seconds(5));
    }
  }
}

}  // namespace evictd::agent
