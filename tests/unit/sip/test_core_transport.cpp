// SPDX-License-Identifier: GPL-3.0-or-later
// Real sockets on loopback: UDP and TCP over IPv4 and IPv6, several listen
// addresses, responses routed per Via, connection reuse, idle close, big
// requests moved to TCP, and TCP framing errors.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_core_util.hpp"

namespace msgw::sip {
namespace {

using namespace std::chrono_literals;

class Server : public Handler {
 public:
  void on_request(Stack& st, const ServerRequest& r) override {
    protos.push_back(r.source.proto);
    body_sizes.push_back(r.msg.body().size());
    st.respond(r.txn, 200);
  }
  std::vector<Proto> protos;
  std::vector<std::size_t> body_sizes;
};

class Client : public Handler {
 public:
  void on_request(Stack& st, const ServerRequest& r) override { st.respond(r.txn, 200); }
  void on_response(Stack&, TxnId, MessageRef resp, Dialog*) override { codes.push_back(resp->status_code); }
  void on_timeout(Stack&, TxnId) override { ++timeouts; }
  std::vector<int> codes;
  int timeouts = 0;
};

MessagePtr options_to(const Endpoint& dst, std::size_t body = 0) {
  osip_message_t* m = nullptr;
  osip_message_init(&m);
  osip_message_set_method(m, osip_strdup(body ? "INFO" : "OPTIONS"));
  osip_message_set_version(m, osip_strdup("SIP/2.0"));
  osip_uri_t* u = nullptr;
  osip_uri_init(&u);
  std::string ruri = "sip:srv@" + dst.host_str() + ":" + std::to_string(dst.port());
  osip_uri_parse(u, ruri.c_str());
  osip_message_set_uri(m, u);
  osip_message_set_from(m, ("<sip:cli@example.net>;tag=" + random_token(6)).c_str());
  osip_message_set_to(m, ("<" + ruri + ">").c_str());
  osip_message_set_call_id(m, random_token(10).c_str());
  osip_message_set_cseq(m, body ? "1 INFO" : "1 OPTIONS");
  if (body) {
    std::string b(body, 'x');
    osip_message_set_body(m, b.data(), b.size());
    osip_message_set_content_type(m, "application/octet-stream");
  }
  return MessagePtr(m);
}

void drive(std::vector<Stack*> stacks, std::chrono::milliseconds max, const std::function<bool()>& done) {
  auto end = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < end && !done()) {
    std::vector<pollfd> fds;
    for (auto* s : stacks) fds.push_back({s->fd(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), 5);
    for (auto* s : stacks) s->process(0);
  }
}

struct Pair {
  Server srv_app;
  Client cli_app;
  Stack srv;
  Stack cli;
  explicit Pair(StackConfig sc = {}, StackConfig cc = {}) : srv(sc, &srv_app), cli(cc, &cli_app) {}
};

// Compared and tested by address bytes (no inet_ntop per datagram): the
// answers must be those of the formatted strings they replaced.
TEST(CoreTransport, EndpointsComparedByAddressBytes) {
  const auto a = *Endpoint::from("192.0.2.1", 5060), a2 = *Endpoint::from("192.0.2.1", 5062);
  const auto b = *Endpoint::from("192.0.2.2", 5060);
  const auto v6 = *Endpoint::from("[2001:db8::1]", 5060), v6b = *Endpoint::from("2001:db8::1", 7000);
  const auto mapped = *Endpoint::from("::ffff:192.0.2.1", 5060);
  EXPECT_TRUE(a.same_host(a2));
  EXPECT_FALSE(a == a2);
  EXPECT_FALSE(a.same_host(b));
  EXPECT_TRUE(v6.same_host(v6b));
  EXPECT_FALSE(a.same_host(mapped)) << "another family is another host here";
  EXPECT_TRUE(a == *Endpoint::from("192.0.2.1", 5060));
  EXPECT_TRUE(Endpoint::from("0.0.0.0", 5060)->is_wildcard());
  EXPECT_TRUE(Endpoint::from("::", 5060)->is_wildcard());
  EXPECT_FALSE(a.is_wildcard());
  EXPECT_FALSE(v6.is_wildcard());
  EXPECT_FALSE(Endpoint{}.is_wildcard());
  const Endpoint moved = v6.with_port(5080);
  EXPECT_EQ(moved.str(), "[2001:db8::1]:5080");
  EXPECT_EQ(a.with_port(1).str(), "192.0.2.1:1");
  EXPECT_TRUE(moved.same_host(v6));
}

TEST(CoreTransport, UdpAndTcpOverIpv4AndIpv6) {
  Pair p;
  std::string err;
  auto u4 = p.srv.listen(Proto::Udp, "127.0.0.1", 0, &err);
  ASSERT_TRUE(u4) << err;
  auto t4 = p.srv.listen(Proto::Tcp, "127.0.0.1", 0, &err);
  ASSERT_TRUE(t4) << err;
  auto u6 = p.srv.listen(Proto::Udp, "::1", 0, &err);
  auto t6 = p.srv.listen(Proto::Tcp, "::1", 0, &err);
  ASSERT_TRUE(p.cli.listen(Proto::Udp, "127.0.0.1", 0, &err)) << err;
  ASSERT_TRUE(p.cli.listen(Proto::Tcp, "127.0.0.1", 0, &err)) << err;
  const bool v6 = u6 && t6 && p.cli.listen(Proto::Udp, "::1", 0) && p.cli.listen(Proto::Tcp, "::1", 0);

  std::vector<std::pair<Endpoint, Proto>> targets = {{*u4, Proto::Udp}, {*t4, Proto::Tcp}};
  if (v6) {
    targets.push_back({*u6, Proto::Udp});
    targets.push_back({*t6, Proto::Tcp});
  }
  for (auto& [dst, proto] : targets) {
    std::size_t before = p.cli_app.codes.size();
    ASSERT_NE(p.cli.send_request(options_to(dst), dst, proto), kNoTxn);
    drive({&p.srv, &p.cli}, 3s, [&] { return p.cli_app.codes.size() > before; });
    ASSERT_EQ(p.cli_app.codes.size(), before + 1) << dst.str() << " " << proto_name(proto);
    EXPECT_EQ(p.cli_app.codes.back(), 200);
    EXPECT_EQ(p.srv_app.protos.back(), proto);
  }
  if (!v6) GTEST_SKIP() << "no IPv6 loopback on this host: IPv4 part passed";
}

TEST(CoreTransport, SeveralListenAddresses) {
  Pair p;
  auto a = p.srv.listen(Proto::Udp, "127.0.0.1", 0);
  auto b = p.srv.listen(Proto::Udp, "127.0.0.2", 0);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(p.cli.listen(Proto::Udp, "127.0.0.1", 0));
  for (auto& dst : {*a, *b}) {
    std::size_t before = p.cli_app.codes.size();
    p.cli.send_request(options_to(dst), dst, Proto::Udp);
    drive({&p.srv, &p.cli}, 3s, [&] { return p.cli_app.codes.size() > before; });
    EXPECT_EQ(p.cli_app.codes.size(), before + 1) << dst.str();
  }
}

// A request goes out from (and its Via names) the listener on the address
// the route to its destination uses, not the first listener opened: a
// gateway's request to a carrier leaves from its trunk address.  On
// loopback the kernel's source for any 127/8 destination is 127.0.0.1.
TEST(CoreTransport, RequestLeavesFromTheRoutedListener) {
  struct Recorder : Handler {
    void on_request(Stack& st, const ServerRequest& r) override {
      peers.push_back(r.source.peer);
      st.respond(r.txn, 200);
    }
    std::vector<Endpoint> peers;
  } rec;
  Client cli_app;
  Stack srv({}, &rec);
  Stack cli({}, &cli_app);
  auto dst = srv.listen(Proto::Udp, "127.0.0.1", 0);
  auto other = cli.listen(Proto::Udp, "127.0.0.2", 0);  // opened first
  auto routed = cli.listen(Proto::Udp, "127.0.0.1", 0);
  ASSERT_TRUE(dst && other && routed);
  ASSERT_NE(cli.send_request(options_to(*dst), *dst, Proto::Udp), kNoTxn);
  drive({&srv, &cli}, 3s, [&] { return !cli_app.codes.empty(); });
  ASSERT_EQ(rec.peers.size(), 1u);
  EXPECT_EQ(rec.peers[0].str(), routed->str());
  ASSERT_EQ(cli_app.codes.size(), 1u);  // the response came back to that listener's Via
  EXPECT_EQ(cli_app.codes[0], 200);
}

TEST(CoreTransport, TcpConnectionReuseAndIdleClose) {
  StackConfig sc;
  sc.tcp_idle = 300ms;
  Pair p(sc, sc);
  auto t = p.srv.listen(Proto::Tcp, "127.0.0.1", 0);
  ASSERT_TRUE(t);
  ASSERT_TRUE(p.cli.listen(Proto::Tcp, "127.0.0.1", 0));
  for (int i = 0; i < 3; ++i) {
    std::size_t before = p.cli_app.codes.size();
    p.cli.send_request(options_to(*t), *t, Proto::Tcp);
    drive({&p.srv, &p.cli}, 3s, [&] { return p.cli_app.codes.size() > before; });
    ASSERT_EQ(p.cli_app.codes.size(), before + 1);
  }
  EXPECT_EQ(p.srv.stats().tcp_connections_accepted, 1u) << "connection not reused";
  EXPECT_EQ(p.cli.stats().tcp_connections_opened, 1u);
  EXPECT_EQ(p.srv.sockets()->connection_count(), 1u);
  drive({&p.srv, &p.cli}, 2s, [&] { return p.srv.sockets()->connection_count() == 0; });
  EXPECT_EQ(p.srv.sockets()->connection_count(), 0u);
  EXPECT_GE(p.srv.stats().tcp_connections_closed_idle + p.cli.stats().tcp_connections_closed_idle, 1u);
}

TEST(CoreTransport, LargeRequestGoesOverTcp) {
  Pair p;
  auto u = p.srv.listen(Proto::Udp, "127.0.0.1", 0);
  auto t = p.srv.listen(Proto::Tcp, "127.0.0.1", u->port());
  ASSERT_TRUE(u && t);
  ASSERT_TRUE(p.cli.listen(Proto::Udp, "127.0.0.1", 0));
  ASSERT_TRUE(p.cli.listen(Proto::Tcp, "127.0.0.1", 0));
  p.cli.send_request(options_to(*u, 3000), *u, Proto::Udp);
  drive({&p.srv, &p.cli}, 3s, [&] { return !p.cli_app.codes.empty(); });
  ASSERT_EQ(p.cli_app.codes, std::vector<int>{200});
  ASSERT_EQ(p.srv_app.protos.size(), 1u);
  EXPECT_EQ(p.srv_app.protos[0], Proto::Tcp);
  EXPECT_EQ(p.srv_app.body_sizes[0], 3000u);
}

// Responses follow the Via: rport makes the answer go to the source port
// even when the Via names another.
TEST(CoreTransport, ResponseRoutedPerViaWithRport) {
  Server app;
  Stack srv(StackConfig{}, &app);
  auto u = srv.listen(Proto::Udp, "127.0.0.1", 0);
  ASSERT_TRUE(u);
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in me{};
  me.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&me), sizeof me), 0);
  std::string msg =
      "OPTIONS sip:srv@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.9.9:5099;branch=z9hG4bK-rp1;rport\r\n"
      "From: <sip:a@b>;tag=1\r\nTo: <sip:srv@127.0.0.1>\r\nCall-ID: rp1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  ::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr*>(&u->addr), u->len);
  std::string got;
  auto end = std::chrono::steady_clock::now() + 3s;
  while (got.empty() && std::chrono::steady_clock::now() < end) {
    srv.process(5);
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) got.assign(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  ASSERT_FALSE(got.empty()) << "response not sent to the source port";
  EXPECT_EQ(got.rfind("SIP/2.0 200", 0), 0u);
  EXPECT_NE(got.find("received=127.0.0.1"), std::string::npos);
  EXPECT_NE(got.find("rport="), std::string::npos);
}

// TCP: negative Content-Length cannot be framed: 400 then close.
TEST(CoreTransport, TcpFramingErrorAnsweredAndClosed) {
  Server app;
  Stack srv(StackConfig{}, &app);
  auto t = srv.listen(Proto::Tcp, "127.0.0.1", 0);
  ASSERT_TRUE(t);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&t->addr), t->len), 0);
  std::string msg =
      "OPTIONS sip:srv@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-tf1\r\n"
      "From: <sip:a@b>;tag=1\r\nTo: <sip:srv@127.0.0.1>\r\nCall-ID: tf1\r\nCSeq: 1 OPTIONS\r\nContent-Length: -999\r\n\r\n";
  ASSERT_EQ(::send(fd, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
  std::string got;
  bool closed = false;
  auto end = std::chrono::steady_clock::now() + 3s;
  while (!closed && std::chrono::steady_clock::now() < end) {
    srv.process(5);
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    if (n == 0) closed = true;
  }
  ::close(fd);
  EXPECT_EQ(got.rfind("SIP/2.0 400 Invalid Content-Length", 0), 0u) << got;
  EXPECT_TRUE(closed);
  EXPECT_EQ(srv.stats().framing_errors, 1u);
  EXPECT_TRUE(app.protos.empty());
}

// Connections beyond the limit are refused, not queued.
TEST(CoreTransport, TcpConnectionLimit) {
  Server app;
  StackConfig c;
  c.limits.max_tcp_connections = 1;
  Stack srv(c, &app);
  auto t = srv.listen(Proto::Tcp, "127.0.0.1", 0);
  ASSERT_TRUE(t);
  int a = ::socket(AF_INET, SOCK_STREAM, 0), b = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(a, reinterpret_cast<const sockaddr*>(&t->addr), t->len), 0);
  for (int i = 0; i < 20 && srv.sockets()->connection_count() < 1; ++i) srv.process(5);
  ASSERT_EQ(::connect(b, reinterpret_cast<const sockaddr*>(&t->addr), t->len), 0);
  bool b_closed = false;
  for (int i = 0; i < 200 && !b_closed; ++i) {
    srv.process(5);
    char ch;
    b_closed = ::recv(b, &ch, 1, MSG_DONTWAIT) == 0;
  }
  EXPECT_TRUE(b_closed);
  EXPECT_EQ(srv.sockets()->connection_count(), 1u);
  EXPECT_EQ(srv.stats().tcp_connections_refused, 1u);
  ::close(a);
  ::close(b);
}

// Client transaction over UDP to nobody: ICMP or silence, the transaction
// ends with a timeout, never a hang.
TEST(CoreTransport, EventLoopExposesFdAndDeadline) {
  Client app;
  StackConfig c;
  c.timers.t1 = 20ms;
  Stack cli(c, &app);
  ASSERT_TRUE(cli.listen(Proto::Udp, "127.0.0.1", 0));
  EXPECT_GE(cli.fd(), 0);
  EXPECT_EQ(cli.next_timeout_ms(), -1);
  auto dst = *Endpoint::from("127.0.0.1", 9);  // discard port, nothing listens
  cli.send_request(options_to(dst), dst, Proto::Udp);
  int t = cli.next_timeout_ms();
  EXPECT_GE(t, 0);
  EXPECT_LE(t, 20);
  drive({&cli}, 3s, [&] { return app.timeouts > 0; });
  EXPECT_EQ(app.timeouts, 1);
}

}  // namespace
}  // namespace msgw::sip
