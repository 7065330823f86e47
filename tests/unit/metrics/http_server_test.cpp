// SPDX-License-Identifier: GPL-3.0-or-later
// GET /metrics on MHD's external epoll mode, driven as msgw-control drives
// it: this thread is the client and runs the server's run() on readiness.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "msgw/metrics/exposition.hpp"
#include "msgw/metrics/http_server.hpp"

using msgw::metrics::HttpServer;

namespace {

constexpr uint32_t kLoopback = 0x7f000001;

// Sends `request` and returns everything the server sent until it closed
// the connection (or 3 s passed), running the server in between.
std::string round_trip(HttpServer& s, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(kLoopback);
  sa.sin_port = htons(s.port());
  connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);  // EINPROGRESS: completes below
  size_t sent = 0;
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p[2] = {{s.fd(), POLLIN, 0}, {fd, short(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0}};
    poll(p, 2, 10);
    s.run();
    if (sent < request.size()) {
      ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += size_t(n);
    }
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) got.append(buf, size_t(n));
    else if (n == 0) break;  // the server closed: HTTP/1.0, one request
  }
  close(fd);
  return got;
}

struct Server : ::testing::Test {
  int renders = 0;
  std::unique_ptr<HttpServer> s;
  void SetUp() override {
    std::string err;
    s = HttpServer::start(kLoopback, 0, [this] {
      ++renders;
      return std::string("# HELP msgw_up up\n# TYPE msgw_up gauge\nmsgw_up 1\n");
    }, &err);
    ASSERT_TRUE(s) << err;
    ASSERT_NE(s->port(), 0);
    ASSERT_GE(s->fd(), 0);
  }
};

TEST_F(Server, GetMetricsIsRenderedWithThePrometheusContentType) {
  std::string r = round_trip(*s, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: " + std::string(msgw::metrics::kContentType)), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\n# HELP msgw_up up\n"), std::string::npos) << r;
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(s->stats().ok, 1u);
  // A query string is not part of the path.
  r = round_trip(*s, "GET /metrics?name=x HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_EQ(s->stats().ok, 2u);
}

TEST_F(Server, OtherPathIs404AndOtherMethod405WithAllow) {
  std::string r = round_trip(*s, "GET /other HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 404", 0), 0u) << r;
  r = round_trip(*s, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u) << r;
  EXPECT_NE(r.find("Allow: GET"), std::string::npos) << r;
  r = round_trip(*s, "DELETE / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u) << r;
  EXPECT_EQ(renders, 0);
  EXPECT_EQ(s->stats().not_found, 1u);
  EXPECT_EQ(s->stats().method_not_allowed, 2u);
}

TEST_F(Server, GarbageIsRefusedWithoutRenderingAndTheServerServesOn) {
  for (std::string bad : {std::string("\x01\x02\x03 nonsense\r\n\r\n"), std::string("GET\r\n\r\n"),
                          std::string("GET /metrics HTTP/9.9 extra\r\n\r\n"),
                          std::string("GET /metrics HTTP/1.0\r\nbroken header line\r\n\r\n"),
                          std::string(70000, 'A')}) {
    std::string r = round_trip(*s, bad);
    EXPECT_TRUE(r.empty() || r.rfind("HTTP/1.", 0) == 0) << r;
  }
  EXPECT_EQ(renders, 0);
  std::string r = round_trip(*s, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
}

TEST(ServerStart, AnAddressInUseIsAClearError) {
  std::string err;
  auto a = HttpServer::start(kLoopback, 0, [] { return std::string(); }, &err);
  ASSERT_TRUE(a) << err;
  auto b = HttpServer::start(kLoopback, a->port(), [] { return std::string(); }, &err);
  EXPECT_FALSE(b);
  EXPECT_NE(err.find("127.0.0.1:" + std::to_string(a->port())), std::string::npos) << err;
}

}  // namespace
