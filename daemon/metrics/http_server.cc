#include "daemon/metrics/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "daemon/net/listen_address.h"
#include "daemon/thread_name.h"

namespace evictd::metrics {
namespace {

constexpr int kRequestTimeoutMs = 2000;
constexpr size_t kMaxRequestBytes = 16 * 1024;
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Writes all of `data`; false when the peer is gone or too slow.
bool send_all(int connection, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t sent = send(connection, data, size, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data += sent;
    size -= static_cast<size_t>(sent);
  }
  return true;
}

void respond(int connection, const std::string& status, const std::string& body, bool head,
             const std::string& extra_headers = "") {
  std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: " +
                         (status.starts_with("200") ? kContentType : "text/plain; charset=utf-8") +
                         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                         extra_headers + "Connection: close\r\n\r\n";
  if (!head)
    response += body;
  send_all(connection, response.data(), response.size());
}

using Deadline = std::chrono::steady_clock::time_point;

// Waits until `connection` has something to read (or its peer closed); false at the deadline.
bool readable_before(int connection, Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
  pollfd fd{connection, POLLIN, 0};
  return left > 0 && poll(&fd, 1, static_cast<int>(left)) > 0;
}

// Closing with unread request bytes makes the kernel reset the connection, and a reset can reach
// the client before it has read our response. So: no more writes, read what is left until the
// client closes (as it does after "Connection: close"), for at most a short while.
void close_gently(int connection) {
  // A client already gone makes this fail, which changes nothing of what follows.
  [[maybe_unused]] const int shut = shutdown(connection, SHUT_WR);
  const Deadline deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  char buffer[4096];
  while (readable_before(connection, deadline)) {
    const ssize_t got = recv(connection, buffer, sizeof buffer, MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
      break;  // the client closed, or the connection is gone
  }
  close(connection);
}

}  // namespace

Reply reply_to(std::string_view request) {
  const std::string_view line = request.substr(0, request.find("\r\n"));
  const auto first_space = line.find(' ');
  const auto second_space =
      first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos || line.substr(second_space + 1, 5) != "HTTP/")
    return Reply{"400 Bad Request", "bad request line\n", false, false, ""};
  const std::string_view method = line.substr(0, first_space);
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  target = target.substr(0, target.find('?'));
  const bool head = method == "HEAD";
  if (method != "GET" && !head) {
    return Reply{"405 Method Not Allowed", "only GET and HEAD\n", false, false,
                 "Allow: GET, HEAD\r\n"};
  }
  if (target != "/metrics")
    return Reply{"404 Not Found", "evictd serves /metrics\n", false, head, ""};
  return Reply{"200 OK", "", true, head, ""};
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& address, Render render) {
  const auto parts = net::parse_listen_address(address);
  if (!parts)
    return make_error("metricsAddress " + parts.error().message);
  const std::string service = std::to_string(parts->port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int error = getaddrinfo(parts->host.empty() ? nullptr : parts->host.c_str(),
                                    service.c_str(), &hints, &found);
      error != 0) {
    return make_error("metricsAddress " + address + ": " + gai_strerror(error));
  }
  std::string why = "no address";
  int listener = -1;
  for (addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    listener = socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                      candidate->ai_protocol);
    if (listener < 0) {
      why = std::strerror(errno);
      continue;
    }
    const int on = 1;
    // A restarted evictd takes its port back at once, though connections of the last run linger.
    if (setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0 &&
        bind(listener, candidate->ai_addr, candidate->ai_addrlen) == 0 && listen(listener, 16) == 0)
      break;
    why = std::strerror(errno);
    close(listener);
    listener = -1;
  }
  freeaddrinfo(found);
  if (listener < 0)
    return make_error("metricsAddress " + address + ": cannot listen: " + why);
  sockaddr_storage bound{};
  socklen_t bound_size = sizeof bound;
  getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &bound_size);
  const uint16_t port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    close(listener);
    return make_error("metricsAddress " + address + ": eventfd: " + std::strerror(errno));
  }
  return std::unique_ptr<HttpServer>(new HttpServer(listener, wake, port, std::move(render)));
}

HttpServer::HttpServer(int listener, int wake, uint16_t port, Render render)
    : listener_(listener), wake_(wake), port_(port), render_(std::move(render)) {
  thread_ = std::thread([this] { run(); });
}

HttpServer::~HttpServer() {
  const uint64_t one = 1;
  if (write(wake_, &one, sizeof one) < 0) {
    // The eventfd cannot be full with one write; nothing else to do.
  }
  thread_.join();
  close(listener_);
  close(wake_);
}

void HttpServer::run() {
  name_this_thread("evictd-metrics");
  for (;;) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {wake_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    if (fds[1].revents != 0)
      return;
    const int connection = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0)
      continue;  // gone before we took it, or out of descriptors for a moment
    // A client that stops reading must not hold the endpoint for longer than this.
    const timeval send_timeout{5, 0};
    if (setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout) == 0)
      serve(connection);
    close_gently(connection);
  }
}

void HttpServer::serve(int connection) {
  // The request line and headers, until the blank line; a body is never expected.
  std::string request;
  const Deadline deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestTimeoutMs);
  while (request.find("\r\n\r\n") == std::string::npos) {
    if (!readable_before(connection, deadline))
      return;
    char buffer[4096];
    const ssize_t got = recv(connection, buffer, sizeof buffer, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (got <= 0)
      return;
    request.append(buffer, static_cast<size_t>(got));
    if (request.size() > kMaxRequestBytes) {
      respond(connection, "431 Request Header Fields Too Large", "request too large\n", false);
      return;
    }
  }
  const Reply reply = reply_to(request);
  respond(connection, reply.status, reply.metrics ? render_() : reply.body, reply.head,
          reply.extra_headers);
}

}  // namespace evictd::metrics
