// The /metrics endpoint over real TCP on loopback: what a scrape gets, what other requests get, and
// that a client that never sends its request does not hold the endpoint.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "daemon/metrics/http_server.h"

namespace evictd::metrics {
namespace {

int connect_to(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` and reads until the server closes the connection.
std::string exchange(uint16_t port, const std::string& request) {
  const int fd = connect_to(port);
  if (fd < 0)
    return "connect failed";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[4096];
  for (ssize_t got; (got = recv(fd, buffer, sizeof buffer, 0)) > 0;)
    response.append(buffer, static_cast<size_t>(got));
  close(fd);
  return response;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HttpServer::start("127.0.0.1:0", [this] {
      ++renders_;
      return std::string("# HELP up 1\nup 1\n");
    });
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(started).value();
    ASSERT_NE(server_->port(), 0);
  }
  int renders_ = 0;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, GetMetricsReturnsTheTextFormat) {
  const std::string response =
      exchange(server_->port(),
               "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
               "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
  EXPECT_NE(response.find("Content-Length: 17\r\n"), std::string::npos);
  EXPECT_NE(response.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(response.ends_with("\r\n\r\n# HELP up 1\nup 1\n")) << response;
  EXPECT_EQ(renders_, 1);
}

TEST_F(HttpServerTest, QueryStringsAndHeadAreServedAndHeadHasNoBody) {
  EXPECT_TRUE(exchange(server_->port(), "GET /metrics?x=1 HTTP/1.0\r\n\r\n").ends_with("up 1\n"));
  const std::string head = exchange(server_->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(head.find("Content-Length: 17\r\n"), std::string::npos);
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;
}

TEST_F(HttpServerTest, OtherPathsMethodsAndGarbageAreRefused) {
  EXPECT_TRUE(exchange(server_->port(), "GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
  const std::string post = exchange(server_->port(), "POST /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405 ")) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_TRUE(exchange(server_->port(), "hello\r\n\r\n").starts_with("HTTP/1.1 400 "));
  EXPECT_TRUE(exchange(server_->port(),
                       "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n")
                  .starts_with("HTTP/1.1 431 "));
  EXPECT_EQ(renders_, 0);
}

TEST_F(HttpServerTest, ASilentClientIsDroppedAndTheNextScrapeServed) {
  const int silent = connect_to(server_->port());
  ASSERT_GE(silent, 0);
  const auto started = std::chrono::steady_clock::now();
  const std::string response = exchange(server_->port(), "GET /metrics HTTP/1.1\r\n\r\n");
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(response.ends_with("up 1\n"));
  // Served after the silent client's 2 s, not never.
  EXPECT_LT(waited, std::chrono::seconds(5));
  close(silent);
}

TEST(HttpServerStartTest, BadAddressesAreNamedInTheError) {
  for (const std::string address : {"9851", "localhost", "[::1]9851", "1.2.3.4:http"}) {
    const auto started = HttpServer::start(address, [] { return std::string(); });
    ASSERT_FALSE(started) << address;
    EXPECT_NE(started.error().message.find("metricsAddress " + address), std::string::npos)
        << started.error().message;
  }
}

TEST(HttpServerStartTest, APortInUseIsReported) {
  auto first = HttpServer::start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(first);
  const std::string address = "127.0.0.1:" + std::to_string(first.value()->port());
  const auto second = HttpServer::start(address, [] { return std::string(); });
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("cannot listen: Address already in use"), std::string::npos)
      << second.error().message;
}

TEST(HttpServerStartTest, ListensOnIpv6Loopback) {
  auto started = HttpServer::start("[::1]:0", [] { return std::string("v6\n"); });
  ASSERT_TRUE(started) << started.error().message;
}

}  // namespace
}  // namespace evictd::metrics
