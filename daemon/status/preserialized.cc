#include "daemon/status/preserialized.h"

#include "daemon/thread_name.h"

namespace evictd::status {

// One call of a raw method, from the request gRPC matched to it until its answer was sent. The
// queue owns it in between: its address is the tag.
struct PreserializedCalls::Call {
  explicit Call(PreserializedCalls::Method method) : method(method) {}
  PreserializedCalls::Method method;
  grpc::ServerContext context;
  grpc::ByteBuffer request;
  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder{&context};
  bool answered = false;
};

PreserializedCalls::PreserializedCalls(StatusService& service,
                                       std::unique_ptr<grpc::ServerCompletionQueue> queue,
                                       int threads)
    : service_(service), queue_(std::move(queue)), thread_count_(threads) {}

PreserializedCalls::~PreserializedCalls() {
  stop();
}

void PreserializedCalls::start() {
  // As many calls of each method waiting as threads, so that concurrent callers are matched at
  // once.
  for (int i = 0; i < thread_count_; ++i) {
    await(Method::kGetStatus);
    await(Method::kListPods);
  }
  for (int i = 0; i < thread_count_; ++i)
    threads_.emplace_back([this] { serve(); });
}

void PreserializedCalls::stop() {
  if (!queue_)
    return;
  {
    std::lock_guard lock(posting_mutex_);
    closed_ = true;
    queue_->Shutdown();
  }
  for (auto& thread : threads_)
    thread.join();
  threads_.clear();
  // Whatever the threads did not take (when none ran) is freed here.
  void* tag = nullptr;
  bool ok = false;
  while (queue_->Next(&tag, &ok))
    delete static_cast<Call*>(tag);
  queue_.reset();
}

void PreserializedCalls::await(Method method) {
  std::lock_guard lock(posting_mutex_);
  if (closed_)
    return;
  auto* call = new Call(method);
  if (call->method == Method::kGetStatus) {
    service_.RequestGetStatus(&call->context, &call->request, &call->responder, queue_.get(),
                              queue_.get(), call);
  } else {
    service_.RequestListPods(&call->context, &call->request, &call->responder, queue_.get(),
                             queue_.get(), call);
  }
}

void PreserializedCalls::serve() {
  name_this_thread("evictd-status");
  yield_to_the_loop();
  void* tag = nullptr;
  bool ok = false;
  while (queue_->Next(&tag, &ok)) {
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    // Its answer went out, or the server shut down before a caller came: done with it.
    if (call->answered || !ok)
      continue;
    await(call->method);  // the next caller of this method
    answer(*call);
    call.release();  // the queue hands it back once the answer is sent
  }
}

void PreserializedCalls::answer(Call& call) {
  grpc::ByteBuffer response;
  const grpc::Status status = call.method == Method::kGetStatus
                                  ? service_.get_status_bytes(&response)
                                  : service_.list_pods_bytes(call.request, &response);
  call.answered = true;
  if (status.ok())
    call.responder.Finish(response, status, &call);
  else
    call.responder.FinishWithError(status, &call);
}

}  // namespace evictd::status
