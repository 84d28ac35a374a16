// grpc.health.v1 on the status server: SERVING for "" and "evictd.v1.Status" while the loop runs.
// Check answers at once; Watch sends the status and then every change, until the client or the
// server goes.
#pragma once

#include <condition_variable>
#include <mutex>

#include "health.grpc.pb.h"

namespace evictd::status {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  void set_serving(bool serving);
  // Ends the Watch streams (shutdown).
  void close();

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool serving_ = false;
  bool closed_ = false;
};

}  // namespace evictd::status
