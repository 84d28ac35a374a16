// The status API's endpoints: a unix socket (mode 0660, the configured group; the directory it is
// created in is 0750) and, when asked for, a loopback TCP listener; with grpc.health.v1 (serving
// while the loop runs) and server reflection beside evictd.v1.Status.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "daemon/status/event_hub.h"
#include "daemon/status/health.h"
#include "daemon/status/preserialized.h"
#include "daemon/status/service.h"
#include "ranking/result.h"

namespace evictd::status {

struct ServerConfig {
  std::string socket_path;        // empty: no unix socket
  std::string socket_group;       // empty: the daemon's own group
  std::string tcp_address;        // empty: no TCP listener; else host:port on loopback
  int max_threads = 32;           // bounds what many clients can cost the node
  int preserialized_threads = 2;  // answer GetStatus and ListPods (PreserializedCalls)
};

class StatusServer {
 public:
  static Result<std::unique_ptr<StatusServer>> start(const ServerConfig& config,
                                                     StatusService& service, EventHub& events);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // grpc.health.v1: SERVING for "" and "evictd.v1.Status" while the loop runs.
  void set_serving(bool serving);
  // Ends the Watch streams and stops accepting calls; waits briefly for the unary ones.
  void stop();
  int tcp_port() const { return tcp_port_; }

 private:
  StatusServer() = default;
  HealthService health_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<PreserializedCalls> preserialized_;  // after server_: stopped after its Shutdown
  EventHub* events_ = nullptr;
  std::string socket_path_;
  int tcp_port_ = 0;
};

}  // namespace evictd::status
