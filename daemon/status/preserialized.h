// GetStatus and ListPods answered with bytes serialized once per snapshot: gRPC's public raw-method
// API (the generated WithRawMethod_ classes) on a completion queue of the status server, driven by
// a few threads of our own. Each call then costs gRPC's own work and a reference count on a shared
// slice, not a build and serialization of up to ~60 KB; the other methods stay on the synchronous
// server.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/status/service.h"

namespace evictd::status {

class PreserializedCalls {
 public:
  // `queue` comes from the ServerBuilder that registered `service`; call start() once the server
  // is built.
  PreserializedCalls(StatusService& service, std::unique_ptr<grpc::ServerCompletionQueue> queue,
                     int threads);
  ~PreserializedCalls();
  PreserializedCalls(const PreserializedCalls&) = delete;
  PreserializedCalls& operator=(const PreserializedCalls&) = delete;

  void start();
  // After the server's Shutdown: drains the queue and joins the threads.
  void stop();

 private:
  enum class Method { kGetStatus, kListPods };
  struct Call;
  void await(Method method);
  void serve();
  void answer(Call& call);

  StatusService& service_;
  std::unique_ptr<grpc::ServerCompletionQueue> queue_;
  int thread_count_;
  std::vector<std::thread> threads_;
  // Requests are posted under this lock and never once stop() began: gRPC must not be handed a
  // request for a queue that is shutting down.
  std::mutex posting_mutex_;
  bool closed_ = false;
};

}  // namespace evictd::status
