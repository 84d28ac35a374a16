// The /metrics endpoint: a small HTTP/1.1 server in one thread that sleeps in poll() until a scrape
// arrives. It answers GET and HEAD of /metrics with the text exposition format and closes each
// connection after the response; everything else gets 404 or 405. One connection at a time: a
// scrape is a few milliseconds, and a client gets 2 s to send its request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "ranking/result.h"

namespace evictd::metrics {

class HttpServer {
 public:
  using Render = std::function<std::string()>;

  // Listens on `address`: "host:port" (IPv4 or a name), "[v6]:port", or ":port" (every address).
  // Port 0 picks a free one (port()). The error names the address and the reason.
  static Result<std::unique_ptr<HttpServer>> start(const std::string& address, Render render);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }

 private:
  HttpServer(int listener, int wake, uint16_t port, Render render);
  void run();
  void serve(int connection);

  int listener_ = -1;
  int wake_ = -1;  // eventfd: the destructor's "stop"
  uint16_t port_ = 0;
  Render render_;
  std::thread thread_;
};

}  // namespace evictd::metrics
