// A client of a container runtime's CRI (runtime.v1) over gRPC: what evictd needs to find pods,
// read their stats, free node-level resources and stop pods. Every call has a deadline; failures
// come back as errors carrying the gRPC status code, never as exceptions; a runtime that restarts
// is reconnected to by the channel with bounded backoff.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ranking/duration.h"
#include "ranking/result.h"
#include "runtime_v1.grpc.pb.h"

namespace evictd::cri {

struct CriConfig {
  std::string endpoint = "unix:///run/containerd/containerd.sock";
  Nanos call_timeout = std::chrono::seconds(2);
  Nanos max_reconnect_backoff = std::chrono::seconds(5);
};

struct RuntimeVersion {
  std::string runtime_name;
  std::string runtime_version;
  std::string runtime_api_version;
};

// gRPC status codes evictd tells apart.
inline constexpr int kNotFound = grpc::StatusCode::NOT_FOUND;
inline constexpr int kUnavailable = grpc::StatusCode::UNAVAILABLE;
inline constexpr int kDeadlineExceeded = grpc::StatusCode::DEADLINE_EXCEEDED;

class CriClient {
 public:
  explicit CriClient(CriConfig config);
  // For tests: a client over an existing channel (an in-process fake runtime).
  CriClient(CriConfig config, std::shared_ptr<grpc::Channel> channel);

  const CriConfig& config() const { return config_; }

  Result<RuntimeVersion> version();
  Result<std::vector<runtime::v1::PodSandbox>> list_pod_sandboxes(bool ready_only);
  Result<std::vector<runtime::v1::Container>> list_containers();
  Result<std::vector<runtime::v1::ContainerStats>> list_container_stats();
  Result<std::vector<runtime::v1::PodSandboxStats>> list_pod_sandbox_stats();
  Result<runtime::v1::ImageFsInfoResponse> image_fs_info();
  Result<std::vector<runtime::v1::Image>> list_images();

  // Mutating calls. `timeout` bounds the call (StopContainer needs the grace period plus a margin).
  Result<void> stop_container(const std::string& id, int64_t grace_seconds, Nanos timeout);
  Result<void> stop_pod_sandbox(const std::string& id, Nanos timeout);
  Result<void> remove_container(const std::string& id);
  Result<void> remove_pod_sandbox(const std::string& id);
  Result<void> remove_image(const std::string& image);

  runtime::v1::RuntimeService::Stub& runtime() { return *runtime_; }
  runtime::v1::ImageService::Stub& images() { return *images_; }
  // A context whose deadline is the configured call timeout (or `timeout`).
  std::unique_ptr<grpc::ClientContext> context(std::optional<Nanos> timeout = std::nullopt) const;

 private:
  CriConfig config_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<runtime::v1::ImageService::Stub> images_;
};

// "ListContainers: UNAVAILABLE: connection refused" as an Error with the gRPC code.
Error call_error(const char* method, const grpc::Status& status);

}  // namespace evictd::cri
