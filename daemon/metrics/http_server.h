// The /metrics endpoint: a small HTTP/1.1 server in one thread that sleeps in poll() until a scrape
// arrives. It answers GET and HEAD of /metrics with the text exposition format and closes each
// connection after the response; everything else gets 404 or 405. One connection at a time: a
// scrape is a few milliseconds, and a client gets 2 s to send its request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "ranking/result.h"

namespace evictd::metrics {

// The answer to a request, decided from its request line alone, without a socket (and fuzzed:
// tests/fuzz/http_request_fuzz.cc).
struct Reply {
  std::string status;  // "200 OK", "404 Not Found", ...
  std::string body;    // an error's text; a 200's body is the rendered metrics
  bool metrics = false;
  bool head = false;  // headers only
  std::string extra_headers;
};
// `request`: the bytes up to the blank line that ends the headers.
Reply reply_to(std::string_view request);

class HttpServer {
 public:
  using Render = std::function<std::string()>;

  // Listens on `address` (net/listen_address.h: ":port", "IPv4:port", "[IPv6]:port",
  // "localhost:port"). Port 0 picks a free one (port()). The error names the address and the
  // reason.
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
