#include "daemon/status/server.h"

#include <grp.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace evictd::status {
namespace {

Result<gid_t> group_id(const std::string& name) {
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  const int error = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (error != 0 || found == nullptr) {
    return make_error("statusSocketGroup: group \"" + name + "\" " +
                      (error != 0 ? std::string(std::strerror(error)) : "does not exist"));
  }
  return found->gr_gid;
}

// Whether a process accepts connections on the socket at `path`: a live server (another evictd,
// or anything else) whose socket must not be taken from it. Refused means stale.
bool socket_is_served(const std::string& path) {
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0)
    return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
  const bool served =
      connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0 ||
      (errno != ECONNREFUSED && errno != ENOENT);
  close(probe);
  return served;
}

// Makes room for the socket: its directory (created 0750 when missing, with the group so that its
// members can reach the socket) and no stale socket of an earlier run in the way.
Result<void> prepare_socket_path(const std::string& path, std::optional<gid_t> gid) {
  const std::filesystem::path socket(path);
  const auto directory = socket.parent_path();
  std::error_code error;
  if (!directory.empty() && !std::filesystem::exists(directory, error)) {
    std::filesystem::create_directories(directory, error);
    if (error)
      return make_error("statusSocket: cannot create " + directory.string() + ": " +
                        error.message());
    if (chmod(directory.c_str(), 0750) != 0)
      return make_error("statusSocket: cannot make " + directory.string() +
                        " 0750: " + std::strerror(errno));
    if (gid && chown(directory.c_str(), static_cast<uid_t>(-1), *gid) != 0)
      return make_error("statusSocket: cannot give " + directory.string() +
                        " to its group: " + std::strerror(errno));
  }
  struct stat status {};
  // A directory made for the socket but closed to others (systemd's RuntimeDirectory, root:root
  // 0750): the socket's group must be able to pass through it to reach the socket.
  if (gid && !directory.empty() && stat(directory.c_str(), &status) == 0 &&
      status.st_uid == geteuid() && status.st_gid != *gid && (status.st_mode & S_IXOTH) == 0 &&
      directory != "/" && directory != "/run" && directory != "/var/run" && directory != "/tmp") {
    if (chown(directory.c_str(), static_cast<uid_t>(-1), *gid) != 0 ||
        chmod(directory.c_str(), (status.st_mode & 07777) | S_IXGRP) != 0)
      return make_error("statusSocket: cannot open " + directory.string() +
                        " to its group: " + std::strerror(errno));
  }
  if (lstat(path.c_str(), &status) == 0) {
    if (!S_ISSOCK(status.st_mode))
      return make_error("statusSocket: " + path + " exists and is not a socket");
    if (socket_is_served(path))
      return make_error("statusSocket: " + path +
                        " is served by another process (another evictd?); it is not taken over");
    // A stale socket, left by an evictd that ended without removing it.
    if (unlink(path.c_str()) != 0)
      return make_error("statusSocket: cannot remove the stale socket " + path + ": " +
                        std::strerror(errno));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<StatusServer>> StatusServer::start(const ServerConfig& config,
                                                          StatusService& service,
                                                          EventHub& events) {
  std::optional<gid_t> gid;
  if (!config.socket_group.empty()) {
    auto found = group_id(config.socket_group);
    if (!found)
      return found.error();
    gid = *found;
  }
  if (!config.socket_path.empty()) {
    if (auto prepared = prepare_socket_path(config.socket_path, gid); !prepared)
      return prepared.error();
  }
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto server = std::unique_ptr<StatusServer>(new StatusServer());
  server->events_ = &events;
  server->socket_path_ = config.socket_path;
  grpc::ServerBuilder builder;
  grpc::ResourceQuota quota("evictd-status");
  quota.SetMaxThreads(config.max_threads);
  builder.SetResourceQuota(quota);
  // One poller at rest: the API costs an idle node nothing but a blocked thread.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 4);
  if (!config.socket_path.empty())
    builder.AddListeningPort("unix:" + config.socket_path, grpc::InsecureServerCredentials());
  if (!config.tcp_address.empty()) {
    builder.AddListeningPort(config.tcp_address, grpc::InsecureServerCredentials(),
                             &server->tcp_port_);
  }
  builder.RegisterService(&service);
  builder.RegisterService(&server->health_);
  auto queue = builder.AddCompletionQueue();
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    return make_error(
        "status API: cannot listen on " +
        (config.socket_path.empty() ? std::string() : "unix:" + config.socket_path + " ") +
        config.tcp_address);
  }
  if (!config.socket_path.empty()) {
    // gRPC creates the socket under the process umask; connecting needs write access, so until
    // this chmod only the owner could connect.
    if (chmod(config.socket_path.c_str(), 0660) != 0 ||
        (gid && chown(config.socket_path.c_str(), static_cast<uid_t>(-1), *gid) != 0)) {
      const std::string why = std::strerror(errno);
      server->stop();
      return make_error("statusSocket: cannot set the mode and group of " + config.socket_path +
                        ": " + why);
    }
  }
  server->preserialized_ =
      std::make_unique<PreserializedCalls>(service, std::move(queue), config.preserialized_threads);
  server->preserialized_->start();
  server->set_serving(false);
  return server;
}

StatusServer::~StatusServer() {
  stop();
}

void StatusServer::set_serving(bool serving) {
  health_.set_serving(serving);
}

void StatusServer::stop() {
  if (!server_)
    return;
  set_serving(false);
  health_.close();
  events_->close();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  if (preserialized_)
    preserialized_->stop();
  server_.reset();
  // Best effort on the way out: a socket left behind is replaced at the next start.
  if (!socket_path_.empty()) [[maybe_unused]]
    const int removed = unlink(socket_path_.c_str());
}

}  // namespace evictd::status
