// The events a Watch stream carries, in a bounded ring with sequence numbers: publishing never
// blocks on a reader (the loop and the executor publish), a reader resumes after any sequence the
// ring still holds, and a stream that falls a whole ring behind — a client not reading — is
// cancelled rather than waited for.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/status/snapshot.h"

namespace evictd::status {

enum class EventType {
  kGap,
  kPressureBegun,
  kPressureEnded,
  kThresholdMet,
  kThresholdCleared,
  kEvictionDecided,
  kEvictionStep,
  kEvictionFinished,
  kRuntimeLost,
  kRuntimeRestored,
  kApiLost,
  kApiRestored,
};

struct Event {
  uint64_t sequence = 0;
  WallTime time;
  EventType type = EventType::kGap;
  std::string condition;
  std::string signal;
  std::string namespace_name;
  std::string pod_name;
  std::string pod_uid;
  std::string eviction_id;
  std::string step;
  std::string detail;
};

class EventHub {
 public:
  explicit EventHub(size_t capacity = 4096, size_t max_streams = 16);

  // Stamps the sequence and time (when unset) and stores the event.
  void publish(Event event);
  uint64_t last_sequence() const;

  // A reader's registration: `cancel` is called (under the hub's lock, so it must only signal)
  // when the reader falls more than a ring behind; the stream is then ended by its own thread.
  class Stream {
   public:
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    // The events after the last one handed out (at first: after the resume point given to open),
    // waiting up to `wait` for one; sets `*gap` when some were dropped from the ring before this
    // reader got them. Returns empty on timeout, when cancelled or when the hub closes.
    std::vector<Event> next(std::chrono::milliseconds wait, bool* gap);
    bool cancelled() const;

   private:
    friend class EventHub;
    Stream(EventHub* hub, std::function<void()> cancel);
    EventHub* hub_;
    std::function<void()> cancel_;
    uint64_t cursor_ = 0;  // last sequence handed out
    bool cancelled_ = false;
    bool gap_ = false;  // the resume point was older than the ring
  };

  // Null when max_streams readers are already registered.
  std::unique_ptr<Stream> open(uint64_t after, std::function<void()> cancel);
  // Wakes every reader for shutdown.
  void close();
  size_t streams() const;
  uint64_t dropped_streams() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Event> ring_;
  size_t capacity_;
  size_t max_streams_;
  uint64_t next_sequence_ = 1;
  std::vector<Stream*> streams_;
  uint64_t dropped_streams_ = 0;
  bool closed_ = false;
};

}  // namespace evictd::status
