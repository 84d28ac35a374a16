#include "daemon/status/event_hub.h"

#include <algorithm>

namespace evictd::status {

EventHub::EventHub(size_t capacity, size_t max_streams)
    : capacity_(std::max<size_t>(capacity, 1)), max_streams_(max_streams) {}

void EventHub::publish(Event event) {
  std::lock_guard lock(mutex_);
  event.sequence = next_sequence_++;
  if (event.time == WallTime{})
    event.time = std::chrono::system_clock::now();
  ring_.push_back(std::move(event));
  if (ring_.size() > capacity_)
    ring_.pop_front();
  // A reader whose next event has just left the ring can no longer be served without a gap: it is
  // not reading (its writes are blocked), so it is cancelled instead of holding anything up.
  const uint64_t oldest = ring_.front().sequence;
  for (Stream* stream : streams_) {
    if (!stream->cancelled_ && stream->cursor_ + 1 < oldest) {
      stream->cancelled_ = true;
      ++dropped_streams_;
      if (stream->cancel_)
        stream->cancel_();
    }
  }
  arrived_.notify_all();
}

uint64_t EventHub::last_sequence() const {
  std::lock_guard lock(mutex_);
  return next_sequence_ - 1;
}

std::unique_ptr<EventHub::Stream> EventHub::open(uint64_t after, std::function<void()> cancel) {
  std::lock_guard lock(mutex_);
  if (streams_.size() >= max_streams_ || closed_)
    return nullptr;
  auto stream = std::unique_ptr<Stream>(new Stream(this, std::move(cancel)));
  // A resume point newer than anything published (a client of an earlier run that guessed): the
  // reader starts from now.
  stream->cursor_ = std::min(after, next_sequence_ - 1);
  // One already behind the ring starts at its oldest event, told of the gap.
  if (!ring_.empty() && stream->cursor_ + 1 < ring_.front().sequence) {
    stream->cursor_ = ring_.front().sequence - 1;
    stream->gap_ = true;
  }
  streams_.push_back(stream.get());
  return stream;
}

void EventHub::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  arrived_.notify_all();
}

size_t EventHub::streams() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

uint64_t EventHub::dropped_streams() const {
  std::lock_guard lock(mutex_);
  return dropped_streams_;
}

EventHub::Stream::Stream(EventHub* hub, std::function<void()> cancel)
    : hub_(hub), cancel_(std::move(cancel)) {}

EventHub::Stream::~Stream() {
  std::lock_guard lock(hub_->mutex_);
  std::erase(hub_->streams_, this);
}

bool EventHub::Stream::cancelled() const {
  std::lock_guard lock(hub_->mutex_);
  return cancelled_;
}

std::vector<Event> EventHub::Stream::next(std::chrono::milliseconds wait, bool* gap) {
  std::unique_lock lock(hub_->mutex_);
  const auto available = [&] {
    return hub_->closed_ || cancelled_ || hub_->next_sequence_ - 1 > cursor_;
  };
  hub_->arrived_.wait_for(lock, wait, available);
  std::vector<Event> out;
  if (hub_->closed_ || cancelled_ || hub_->ring_.empty())
    return out;
  const uint64_t oldest = hub_->ring_.front().sequence;
  *gap = gap_ || cursor_ + 1 < oldest;
  gap_ = false;
  const size_t first = cursor_ + 1 < oldest ? 0 : static_cast<size_t>(cursor_ + 1 - oldest);
  for (size_t i = first; i < hub_->ring_.size(); ++i)
    out.push_back(hub_->ring_[i]);
  if (!out.empty())
    cursor_ = out.back().sequence;
  return out;
}

}  // namespace evictd::status
