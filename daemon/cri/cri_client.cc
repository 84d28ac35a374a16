#include "daemon/cri/cri_client.h"

namespace evictd::cri {
namespace {

std::string code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    default:
      return "code " + std::to_string(static_cast<int>(code));
  }
}

std::shared_ptr<grpc::Channel> make_channel(const CriConfig& config) {
  grpc::ChannelArguments args;
  // The runtime may restart under us: reconnect quickly, and never wait long between attempts.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(config.max_reconnect_backoff.count() / 1'000'000));
  args.SetMaxReceiveMessageSize(16 * 1024 * 1024);  // the kubelet's limit for CRI replies
  return grpc::CreateCustomChannel(config.endpoint, grpc::InsecureChannelCredentials(), args);
}

// One unary call: the request, the deadline, and the reply or an error with the gRPC code.
template <typename Stub, typename Request, typename Response>
Result<Response> invoke(const char* method, Stub& stub,
                        grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&, Response*),
                        const Request& request, std::unique_ptr<grpc::ClientContext> context) {
  Response response;
  const grpc::Status status = (stub.*rpc)(context.get(), request, &response);
  if (!status.ok())
    return call_error(method, status);
  return response;
}

// For calls whose reply carries nothing: success or the error.
template <typename Response>
Result<void> done(Result<Response> result) {
  if (!result)
    return result.error();
  return {};
}

}  // namespace

Error call_error(const char* method, const grpc::Status& status) {
  Error error;
  error.message =
      std::string(method) + ": " + code_name(status.error_code()) + ": " + status.error_message();
  error.code = status.error_code();
  return error;
}

CriClient::CriClient(CriConfig config) : CriClient(config, make_channel(config)) {}

CriClient::CriClient(CriConfig config, std::shared_ptr<grpc::Channel> channel)
    : config_(std::move(config)),
      channel_(std::move(channel)),
      runtime_(runtime::v1::RuntimeService::NewStub(channel_)),
      images_(runtime::v1::ImageService::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> CriClient::context(std::optional<Nanos> timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::duration_cast<std::chrono::system_clock::duration>(
                            timeout.value_or(config_.call_timeout)));
  return context;
}

Result<RuntimeVersion> CriClient::version() {
  runtime::v1::VersionRequest request;
  request.set_version("v1");
  auto response =
      invoke("Version", *runtime_, &runtime::v1::RuntimeService::Stub::Version, request, context());
  if (!response)
    return response.error();
  return RuntimeVersion{response->runtime_name(), response->runtime_version(),
                        response->runtime_api_version()};
}

Result<std::vector<runtime::v1::PodSandbox>> CriClient::list_pod_sandboxes(bool ready_only) {
  runtime::v1::ListPodSandboxRequest request;
  if (ready_only)
    request.mutable_filter()->mutable_state()->set_state(runtime::v1::SANDBOX_READY);
  auto response = invoke("ListPodSandbox", *runtime_,
                         &runtime::v1::RuntimeService::Stub::ListPodSandbox, request, context());
  if (!response)
    return response.error();
  return std::vector<runtime::v1::PodSandbox>(response->items().begin(), response->items().end());
}

Result<std::vector<runtime::v1::Container>> CriClient::list_containers() {
  auto response =
      invoke("ListContainers", *runtime_, &runtime::v1::RuntimeService::Stub::ListContainers,
             runtime::v1::ListContainersRequest{}, context());
  if (!response)
    return response.error();
  return std::vector<runtime::v1::Container>(response->containers().begin(),
                                             response->containers().end());
}

Result<std::vector<runtime::v1::ContainerStats>> CriClient::list_container_stats() {
  auto response = invoke("ListContainerStats", *runtime_,
                         &runtime::v1::RuntimeService::Stub::ListContainerStats,
                         runtime::v1::ListContainerStatsRequest{}, context());
  if (!response)
    return response.error();
  return std::vector<runtime::v1::ContainerStats>(response->stats().begin(),
                                                  response->stats().end());
}

Result<std::vector<runtime::v1::PodSandboxStats>> CriClient::list_pod_sandbox_stats() {
  auto response = invoke("ListPodSandboxStats", *runtime_,
                         &runtime::v1::RuntimeService::Stub::ListPodSandboxStats,
                         runtime::v1::ListPodSandboxStatsRequest{}, context());
  if (!response)
    return response.error();
  return std::vector<runtime::v1::PodSandboxStats>(response->stats().begin(),
                                                   response->stats().end());
}

Result<runtime::v1::ImageFsInfoResponse> CriClient::image_fs_info() {
  return invoke("ImageFsInfo", *images_, &runtime::v1::ImageService::Stub::ImageFsInfo,
                runtime::v1::ImageFsInfoRequest{}, context());
}

Result<std::vector<runtime::v1::Image>> CriClient::list_images() {
  auto response = invoke("ListImages", *images_, &runtime::v1::ImageService::Stub::ListImages,
                         runtime::v1::ListImagesRequest{}, context());
  if (!response)
    return response.error();
  return std::vector<runtime::v1::Image>(response->images().begin(), response->images().end());
}

Result<void> CriClient::stop_container(const std::string& id, int64_t grace_seconds,
                                       Nanos timeout) {
  runtime::v1::StopContainerRequest request;
  request.set_container_id(id);
  request.set_timeout(grace_seconds);
  return done(invoke("StopContainer", *runtime_, &runtime::v1::RuntimeService::Stub::StopContainer,
                     request, context(timeout)));
}

Result<void> CriClient::stop_pod_sandbox(const std::string& id, Nanos timeout) {
  runtime::v1::StopPodSandboxRequest request;
  request.set_pod_sandbox_id(id);
  return done(invoke("StopPodSandbox", *runtime_,
                     &runtime::v1::RuntimeService::Stub::StopPodSandbox, request,
                     context(timeout)));
}

Result<void> CriClient::remove_container(const std::string& id) {
  runtime::v1::RemoveContainerRequest request;
  request.set_container_id(id);
  return done(invoke("RemoveContainer", *runtime_,
                     &runtime::v1::RuntimeService::Stub::RemoveContainer, request, context()));
}

Result<void> CriClient::remove_pod_sandbox(const std::string& id) {
  runtime::v1::RemovePodSandboxRequest request;
  request.set_pod_sandbox_id(id);
  return done(invoke("RemovePodSandbox", *runtime_,
                     &runtime::v1::RuntimeService::Stub::RemovePodSandbox, request, context()));
}

Result<void> CriClient::remove_image(const std::string& image) {
  runtime::v1::RemoveImageRequest request;
  request.mutable_image()->set_image(image);
  return done(invoke("RemoveImage", *images_, &runtime::v1::ImageService::Stub::RemoveImage,
                     request, context()));
}

}  // namespace evictd::cri
