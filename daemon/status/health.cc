#include "daemon/status/health.h"

#include <chrono>
#include <string>

namespace evictd::status {
namespace {

using grpc::health::v1::HealthCheckResponse;

bool known(const std::string& service) {
  return service.empty() || service == "evictd.v1.Status";
}

}  // namespace

void HealthService::set_serving(bool serving) {
  std::lock_guard lock(mutex_);
  serving_ = serving;
  changed_.notify_all();
}

void HealthService::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

grpc::Status HealthService::Check(grpc::ServerContext*,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  if (!known(request->service()))
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service " + request->service());
  std::lock_guard lock(mutex_);
  response->set_status(serving_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  std::unique_lock lock(mutex_);
  int sent = -1;
  while (!closed_ && !context->IsCancelled()) {
    const int now = !known(request->service()) ? HealthCheckResponse::SERVICE_UNKNOWN
                    : serving_                 ? HealthCheckResponse::SERVING
                                               : HealthCheckResponse::NOT_SERVING;
    if (now != sent) {
      HealthCheckResponse response;
      response.set_status(static_cast<HealthCheckResponse::ServingStatus>(now));
      lock.unlock();
      if (!writer->Write(response))
        return grpc::Status::OK;
      lock.lock();
      sent = now;
    }
    // Woken by a change; the timeout notices a client that went away.
    changed_.wait_for(lock, std::chrono::seconds(1));
  }
  return grpc::Status::OK;
}

}  // namespace evictd::status
