// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "msgw/mgmt/server.hpp"

using msgw::mgmt::Server;

namespace {

int connect_to(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, path.c_str());
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

std::string read_line(int fd) {
  std::string s;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') s.push_back(c);
  return s;
}

struct Fixture : ::testing::Test {
  std::string path = "/tmp/msgw-mgmt-test-" + std::to_string(getpid()) + ".sock";
  std::set<int> fds;
  std::set<int> writers;  // fds the loop would watch for writing
  Server server{path, [](const nlohmann::json& r) -> nlohmann::json {
    if (r["cmd"] == "show") return {{"ok", true}, {"data", {{"what", r.value("what", "")}}}};
    if (r["cmd"] == "boom") throw std::runtime_error("handler failed");
    if (r["cmd"] == "big") return {{"ok", true}, {"data", std::string(4 * 1024 * 1024, 'x')}};
    return {{"ok", false}, {"error", "unknown command"}};
  }};
  void SetUp() override {
    server.on_client_change = [this](int fd, Server::Watch w) {
      if (w != Server::Watch::none) fds.insert(fd); else fds.erase(fd);
      if (w == Server::Watch::read_write) writers.insert(fd); else writers.erase(fd);
    };
  }
  int client() {
    int fd = connect_to(path);
    server.on_listen_ready();
    return fd;
  }
  void pump() {
    auto copy = fds;
    for (int fd : copy) server.on_client_ready(fd);
  }
};

TEST_F(Fixture, OneJsonLinePerRequestAndAnswer) {
  int c = client();
  ASSERT_EQ(fds.size(), 1u);
  std::string req = "{\"cmd\":\"show\",\"what\":\"calls\"}\n{\"cmd\":\"nope\"}\n";
  ASSERT_EQ(write(c, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  pump();
  EXPECT_EQ(read_line(c), R"({"data":{"what":"calls"},"ok":true})");
  EXPECT_EQ(read_line(c), R"({"error":"unknown command","ok":false})");
  EXPECT_EQ(server.requests(), 2u);
  close(c);
  pump();
  EXPECT_EQ(fds.size(), 0u);
}

TEST_F(Fixture, SplitRequestsAreReassembled) {
  int c = client();
  ASSERT_EQ(write(c, "{\"cmd\":", 7), 7);
  pump();
  ASSERT_EQ(write(c, "\"show\"}\n", 8), 8);
  pump();
  EXPECT_EQ(read_line(c), R"({"data":{"what":""},"ok":true})");
  close(c);
}

TEST_F(Fixture, GarbageGetsAnErrorAndTheConnectionClosed) {
  int c = client();
  ASSERT_EQ(write(c, "not json\n", 9), 9);
  pump();
  EXPECT_EQ(read_line(c), R"({"error":"request is not a JSON object with a \"cmd\"","ok":false})");
  EXPECT_EQ(server.bad_requests(), 1u);
  EXPECT_EQ(fds.size(), 0u);
  close(c);
}

TEST_F(Fixture, HandlerExceptionBecomesAnErrorAnswer) {
  int c = client();
  ASSERT_EQ(write(c, "{\"cmd\":\"boom\"}\n", 15), 15);
  pump();
  EXPECT_EQ(read_line(c), R"({"error":"internal error: handler failed","ok":false})");
  close(c);
}

TEST_F(Fixture, OverlongRequestIsRefused) {
  int c = client();
  std::string big(msgw::mgmt::kMaxRequestBytes + 10, 'x');
  size_t off = 0;
  while (off < big.size()) {
    ssize_t n = send(c, big.data() + off, big.size() - off, MSG_DONTWAIT);
    if (n > 0) off += static_cast<size_t>(n);
    pump();
    if (fds.empty()) break;
  }
  EXPECT_EQ(read_line(c), R"({"error":"request too long","ok":false})");
  EXPECT_TRUE(fds.empty());
  close(c);
}

TEST_F(Fixture, AnAnswerLargerThanTheSocketTakesIsSentAsTheClientReads) {
  int c = client();
  ASSERT_EQ(write(c, "{\"cmd\":\"big\"}\n", 14), 14);
  pump();
  // The socket could not take 4 MiB at once: the loop is asked to watch for writing.
  ASSERT_EQ(writers.count(*fds.begin()), 1u);
  std::string got;
  char buf[65536];
  while (got.find('\n') == std::string::npos) {
    ssize_t n = recv(c, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) got.append(buf, size_t(n));
    pump();  // as epoll would report the fd writable
  }
  EXPECT_EQ(got.size(), 4u * 1024 * 1024 + std::string(R"({"data":"","ok":true})").size() + 1);
  EXPECT_TRUE(writers.empty());
  EXPECT_EQ(fds.size(), 1u);
  close(c);
}

}  // namespace
