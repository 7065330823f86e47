// SPDX-License-Identifier: GPL-3.0-or-later
// SocketTransport with a DatagramPath (datagram_path.hpp): datagrams from
// the path reach the stack as from the right UDP listener, counted as a
// kernel-received one is; sends take the path only where it can carry them
// (else the kernel's socket, as before); the wake fd and the nap handshake
// reach the owner.  A fake path on one side, real loopback sockets on the
// other.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "msgw/sip/datagram_path.hpp"
#include "msgw/sip/stack.hpp"

namespace msgw::sip {
namespace {

class FakePath final : public DatagramPath {
 public:
  struct Datagram {
    Endpoint local, peer;
    std::string bytes;
    int64_t age_us = -1;
  };
  FakePath() : efd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~FakePath() override { close(efd_); }

  bool send(const Endpoint& local, const Endpoint& dst, std::string_view bytes) override {
    ++send_calls;
    if (!accept) return false;
    sent.push_back({local, dst, std::string(bytes), -1});
    if (on_send) on_send();
    return true;
  }
  std::size_t receive(const OnDatagram& on, std::size_t max) override {
    receive_max.push_back(max);
    std::size_t n = 0;
    while (n < max && !pending.empty()) {
      Datagram d = std::move(pending.front());
      pending.pop_front();
      on(d.local, d.peer, d.bytes, d.age_us);
      ++n;
    }
    return n;
  }
  int wake_fd() const override { return efd_; }
  void clear_wake() override {
    ++wakes_cleared;
    uint64_t v;
    while (read(efd_, &v, sizeof v) > 0) {
    }
  }
  bool nap_begin() override {
    ++nap_begins;
    napping = pending.empty();
    return napping;
  }
  void nap_end() override {
    ++nap_ends;
    napping = false;
  }
  std::size_t max_datagram() const override { return max; }

  void wake() {
    const uint64_t one = 1;
    ASSERT_EQ(write(efd_, &one, sizeof one), ssize_t(sizeof one));
  }

  std::deque<Datagram> pending;
  std::vector<Datagram> sent;
  std::vector<std::size_t> receive_max;
  std::function<void()> on_send;
  bool accept = true;
  std::size_t max = 1472;
  int send_calls = 0, nap_begins = 0, nap_ends = 0, wakes_cleared = 0;
  bool napping = false;

 private:
  int efd_;
};

Endpoint ep(const char* ip, uint16_t port) { return *Endpoint::from(ip, port); }

bool readable(int fd, int timeout_ms = 0) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// A plain UDP socket on loopback: a peer that sees what the kernel path sent.
struct Peer {
  int fd = -1;
  Endpoint addr;
  // Not the listeners' own address: the path never carries a datagram to
  // the host itself.
  explicit Peer(const char* ip = "127.0.0.3") {
    auto any = ep(ip, 0);
    fd = ::socket(any.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&any.addr), any.len), 0);
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl);
    addr = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sl);
  }
  ~Peer() { close(fd); }
  // The next datagram, waiting up to a second (loopback delivers at once).
  std::optional<std::string> next(int timeout_ms = 1000) {
    if (!readable(fd, timeout_ms)) return std::nullopt;
    char buf[65536];
    const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    return std::string(buf, std::size_t(n));
  }
  void send_to(const Endpoint& dst, std::string_view bytes) {
    ASSERT_EQ(::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&dst.addr), dst.len),
              ssize_t(bytes.size()));
  }
};

struct Received {
  Inbound in;
  std::string bytes;
};

struct TransportRig {
  Limits limits;
  Stats stats;
  std::vector<Received> got;
  SocketTransport t{limits, stats, [this](const Inbound& in, std::string_view b) { got.push_back({in, std::string(b)}); }};
  FakePath path;
  // Every destination is reached from 127.0.0.1, the listeners' address
  // (on loopback the kernel says so too; a test peer elsewhere needs it).
  TransportRig() {
    t.set_datagram_path(&path);
    t.set_route_probe([](const Endpoint&) { return ep("127.0.0.1", 0); });
  }
  ~TransportRig() { t.set_datagram_path(nullptr); }
  // The listener id a datagram through the kernel to `listener` reports.
  uint64_t kernel_socket_of(const Endpoint& listener, Peer& from) {
    got.clear();
    from.send_to(listener, "probe");
    for (int i = 0; i < 100 && got.empty(); ++i) t.process(10);
    EXPECT_EQ(got.size(), 1u);
    const uint64_t id = got.empty() ? 0 : got[0].in.socket;
    got.clear();
    return id;
  }
};

// ---------------------------------------------------------------- receive

TEST(CoreDatagramPath, DatagramsReachTheListenerTheirAddressNames) {
  TransportRig r;
  const auto exact = *r.t.listen(Proto::Udp, "127.0.0.1", 0);
  const auto wild = *r.t.listen(Proto::Udp, "0.0.0.0", 0);
  ASSERT_TRUE(r.t.listen(Proto::Tcp, "127.0.0.1", exact.port()));  // not a UDP listener: never chosen
  Peer peer;
  const uint64_t exact_id = r.kernel_socket_of(exact, peer);
  const uint64_t wild_id = r.kernel_socket_of(ep("127.0.0.1", wild.port()), peer);
  ASSERT_NE(exact_id, 0u);
  ASSERT_NE(wild_id, 0u);
  ASSERT_NE(exact_id, wild_id);

  const Endpoint from = ep("192.0.2.7", 5070);
  r.path.pending.push_back({exact, from, "to the exact one", 1500});
  r.path.pending.push_back({ep("198.51.100.1", wild.port()), from, "to the wildcard's port", 0});
  r.path.pending.push_back({ep("127.0.0.1", 9), from, "to a port with no listener", 7});
  r.path.pending.push_back({ep("127.0.0.2", exact.port()), from, "other address, no wildcard on the port", 7});
  r.t.process(0);

  ASSERT_EQ(r.got.size(), 2u);
  const Inbound& a = r.got[0].in;
  EXPECT_EQ(a.proto, Proto::Udp);
  EXPECT_EQ(a.socket, exact_id);
  EXPECT_EQ(a.local, exact);
  EXPECT_EQ(a.peer, from);
  EXPECT_EQ(a.queue_age_us, 1500);
  EXPECT_FALSE(a.framing_error);
  EXPECT_EQ(r.got[0].bytes, "to the exact one");
  const Inbound& b = r.got[1].in;
  EXPECT_EQ(b.socket, wild_id);
  EXPECT_EQ(b.local, wild) << "the listener's address, as a datagram from its socket reports";
  EXPECT_EQ(b.queue_age_us, 0);
  EXPECT_EQ(r.stats.segment_rx_datagrams, 2u);
  EXPECT_EQ(r.stats.segment_rx_no_listener, 2u);
  EXPECT_TRUE(r.path.pending.empty());
}

TEST(CoreDatagramPath, DrainedInBatchesSoTheRestOfTheLoopGetsATurn) {
  TransportRig r;
  const auto exact = *r.t.listen(Proto::Udp, "127.0.0.1", 0);
  for (int i = 0; i < 100; ++i) r.path.pending.push_back({exact, ep("192.0.2.7", 5070), std::to_string(i), -1});
  r.t.process(0);
  EXPECT_EQ(r.got.size(), 64u);
  for (std::size_t m : r.path.receive_max) EXPECT_EQ(m, 32u);
  EXPECT_FALSE(r.t.prepare_wait()) << "datagrams still waiting: the owner must not block";
  r.t.after_wait();
  r.t.process(0);
  EXPECT_EQ(r.got.size(), 100u);
  EXPECT_EQ(r.got.back().bytes, "99");
  EXPECT_EQ(r.got.back().in.queue_age_us, -1);
}

// The stack counts a datagram from the path as one from a socket: rx
// counters, the queue age its overload shedding watches, and its answer
// goes back the same way, counted as sent.
TEST(CoreDatagramPath, StackCountsPathDatagramsAsKernelOnes) {
  struct App : Handler {
    void on_request(Stack& st, const ServerRequest& r) override {
      sources.push_back(r.source);
      st.respond(r.txn, 200);
    }
    std::vector<Inbound> sources;
  } app;
  Stack st(StackConfig{}, &app);
  FakePath path;
  st.set_datagram_path(&path);
  st.set_route_probe([](const Endpoint&) { return ep("127.0.0.1", 0); });
  const auto local = *st.listen(Proto::Udp, "127.0.0.1", 0);
  const Endpoint peer = ep("192.0.2.9", 5060);
  const std::string options =
      "OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKpath1\r\n"
      "Max-Forwards: 70\r\n"
      "From: <sip:a@192.0.2.9>;tag=1\r\n"
      "To: <sip:gw@127.0.0.1>\r\n"
      "Call-ID: path-1@192.0.2.9\r\n"
      "CSeq: 1 OPTIONS\r\n"
      "Content-Length: 0\r\n\r\n";
  path.pending.push_back({local, peer, options, 2500});
  st.process(0);
  ASSERT_EQ(app.sources.size(), 1u);
  EXPECT_EQ(app.sources[0].local, local);
  EXPECT_EQ(app.sources[0].queue_age_us, 2500);
  EXPECT_EQ(st.stats().rx_messages, 1u);
  EXPECT_EQ(st.stats().rx_requests, 1u);
  EXPECT_EQ(st.stats().rx_bytes, options.size());
  EXPECT_EQ(st.stats().rx_queue_age_last_us, 2500u);
  ASSERT_EQ(path.sent.size(), 1u);
  EXPECT_EQ(path.sent[0].local, local);
  EXPECT_EQ(path.sent[0].peer, peer);
  EXPECT_EQ(path.sent[0].bytes.rfind("SIP/2.0 200", 0), 0u) << path.sent[0].bytes;
  EXPECT_EQ(st.stats().tx_messages, 1u);
  EXPECT_EQ(st.stats().tx_errors, 0u);
  EXPECT_EQ(st.stats().segment_tx_datagrams, 1u);
  EXPECT_EQ(st.stats().segment_rx_datagrams, 1u);
  st.set_datagram_path(nullptr);
}

// ---------------------------------------------------------------- send

TEST(CoreDatagramPath, SendTakesThePathOnlyWhereItCanCarryIt) {
  TransportRig r;
  const auto exact = *r.t.listen(Proto::Udp, "127.0.0.1", 0);
  const auto wild = *r.t.listen(Proto::Udp, "0.0.0.0", 0);
  Peer peer;
  const uint64_t exact_id = r.kernel_socket_of(exact, peer);
  const uint64_t wild_id = r.kernel_socket_of(ep("127.0.0.1", wild.port()), peer);
  using Out = SocketTransport::SendOutcome;

  // IPv4 from a specific address, small enough: the path.
  EXPECT_EQ(r.t.submit(Proto::Udp, peer.addr, exact_id, "via the path", 0), Out::Sent);
  ASSERT_EQ(r.path.sent.size(), 1u);
  EXPECT_EQ(r.path.sent[0].local, exact);
  EXPECT_EQ(r.path.sent[0].peer, peer.addr);
  EXPECT_EQ(r.path.sent[0].bytes, "via the path");
  EXPECT_EQ(r.stats.segment_tx_datagrams, 1u);
  EXPECT_FALSE(peer.next(0)) << "not through the kernel as well";

  // Larger than the path carries: the kernel.
  r.path.max = 10;
  EXPECT_EQ(r.t.submit(Proto::Udp, peer.addr, exact_id, "eleven byte", 0), Out::Sent);
  EXPECT_EQ(peer.next(), "eleven byte");
  EXPECT_EQ(r.path.max_datagram(), 10u);
  r.path.max = 1472;
  // Exactly max_datagram(): the path.
  r.path.max = 11;
  EXPECT_EQ(r.t.submit(Proto::Udp, peer.addr, exact_id, "eleven byte", 0), Out::Sent);
  EXPECT_EQ(r.path.sent.size(), 2u);
  r.path.max = 1472;

  // A wildcard listener: the kernel picks the source address.
  EXPECT_EQ(r.t.submit(Proto::Udp, peer.addr, wild_id, "from the wildcard", 0), Out::Sent);
  EXPECT_EQ(peer.next(), "from the wildcard");

  // The path refuses (full, dataplane down): the kernel, counted.
  r.path.accept = false;
  EXPECT_EQ(r.t.submit(Proto::Udp, peer.addr, exact_id, "refused", 0), Out::Sent);
  EXPECT_EQ(peer.next(), "refused");
  EXPECT_EQ(r.stats.segment_tx_fallbacks, 1u);
  r.path.accept = true;

  EXPECT_EQ(r.path.sent.size(), 2u);
  EXPECT_EQ(r.stats.segment_tx_datagrams, 2u);
  EXPECT_EQ(r.stats.segment_tx_fallbacks, 1u);
  EXPECT_EQ(r.path.send_calls, 3) << "offered only what it can carry";
}

// Only peers the host's routes reach from the listener's own address go
// through the path: not the host itself (a local tool's request came in
// through the kernel), and not a network behind another interface.
TEST(CoreDatagramPath, PeersNotRoutedThroughTheListenersPortStayOnTheKernel) {
  TransportRig r;
  const auto exact = *r.t.listen(Proto::Udp, "127.0.0.1", 0);
  Peer self("127.0.0.1");  // the listener's own address
  Peer elsewhere;          // 127.0.0.3
  const uint64_t id = r.kernel_socket_of(exact, elsewhere);
  using Out = SocketTransport::SendOutcome;
  EXPECT_EQ(r.t.submit(Proto::Udp, self.addr, id, "to myself", 0), Out::Sent);
  EXPECT_EQ(self.next(), "to myself");
  // Routed from another address of the host (another interface's network).
  r.t.set_route_probe([](const Endpoint&) { return ep("127.0.0.9", 0); });
  EXPECT_EQ(r.t.submit(Proto::Udp, elsewhere.addr, id, "other interface", 0), Out::Sent);
  EXPECT_EQ(elsewhere.next(), "other interface");
  // No route at all: the kernel says what becomes of it.
  r.t.set_route_probe([](const Endpoint&) { return std::optional<Endpoint>(); });
  EXPECT_EQ(r.t.submit(Proto::Udp, elsewhere.addr, id, "no route", 0), Out::Sent);
  EXPECT_EQ(elsewhere.next(), "no route");
  // A local destination: the route's source is the destination itself.
  r.t.set_route_probe([](const Endpoint& d) { return ep(d.ip().c_str(), 0); });
  EXPECT_EQ(r.t.submit(Proto::Udp, elsewhere.addr, id, "local address", 0), Out::Sent);
  EXPECT_EQ(elsewhere.next(), "local address");
  EXPECT_TRUE(r.path.sent.empty());
  EXPECT_EQ(r.path.send_calls, 0);
  EXPECT_EQ(r.stats.segment_tx_fallbacks, 0u) << "not refused by the path: never offered";
  // Routed from the listener's address: the path.
  r.t.set_route_probe([](const Endpoint&) { return ep("127.0.0.1", 0); });
  EXPECT_EQ(r.t.submit(Proto::Udp, elsewhere.addr, id, "through the port", 0), Out::Sent);
  EXPECT_EQ(r.path.sent.size(), 1u);
}

TEST(CoreDatagramPath, Ipv6AndTcpStayOnTheKernel) {
  TransportRig r;
  ASSERT_TRUE(r.t.listen(Proto::Udp, "127.0.0.1", 0));
  // TCP: to a listening socket on loopback.
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto any = ep("127.0.0.1", 0);
  ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&any.addr), any.len), 0);
  ASSERT_EQ(::listen(l, 4), 0);
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  getsockname(l, reinterpret_cast<sockaddr*>(&ss), &sl);
  const Endpoint tcp_dst = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sl);
  EXPECT_EQ(r.t.submit(Proto::Tcp, tcp_dst, 0, "over tcp", 0), SocketTransport::SendOutcome::Sent);
  EXPECT_EQ(r.path.send_calls, 0);
  EXPECT_EQ(r.t.connection_count(), 1u);
  close(l);

  auto v6 = r.t.listen(Proto::Udp, "::1", 0);
  if (!v6) GTEST_SKIP() << "no IPv6 loopback on this host: the TCP part passed";
  Peer peer6("::1");
  EXPECT_EQ(r.t.submit(Proto::Udp, peer6.addr, 0, "over ipv6", 0), SocketTransport::SendOutcome::Sent);
  EXPECT_EQ(peer6.next(), "over ipv6");
  EXPECT_EQ(r.path.send_calls, 0);
  EXPECT_EQ(r.stats.segment_tx_datagrams, 0u);
}

// A datagram queued for the kernel in a send batch leaves before a later
// one to the same peer goes through the path; one to another peer stays
// queued (the batch is not flushed for nothing).
TEST(CoreDatagramPath, PathSendDoesNotOvertakeAQueuedDatagramToTheSamePeer) {
  TransportRig r;
  const auto exact = *r.t.listen(Proto::Udp, "127.0.0.1", 0);
  Peer peer, other;
  const uint64_t id = r.kernel_socket_of(exact, peer);
  r.t.begin_batch();
  r.path.accept = false;
  EXPECT_EQ(r.t.submit(Proto::Udp, other.addr, id, "to the other, queued", 0), SocketTransport::SendOutcome::Queued);
  EXPECT_EQ(r.t.submit(Proto::Udp, peer.addr, id, "first, queued", 0), SocketTransport::SendOutcome::Queued);
  r.path.accept = true;
  std::optional<std::string> at_path_send;
  r.path.on_send = [&] { at_path_send = peer.next(0); };
  EXPECT_EQ(r.t.submit(Proto::Udp, peer.addr, id, "second, via the path", 0), SocketTransport::SendOutcome::Sent);
  EXPECT_EQ(at_path_send, "first, queued") << "the queued datagram left before the path's";
  r.path.on_send = nullptr;
  r.t.end_batch();
  EXPECT_EQ(other.next(), "to the other, queued");
  EXPECT_EQ(r.stats.tx_messages, 2u) << "the queued datagrams, counted as they left";

  // Nothing queued to this peer: no flush, the other peer's datagram waits for the batch's end.
  r.t.begin_batch();
  r.path.accept = false;
  EXPECT_EQ(r.t.submit(Proto::Udp, other.addr, id, "other, queued again", 0), SocketTransport::SendOutcome::Queued);
  r.path.accept = true;
  bool other_had_one = true;
  r.path.on_send = [&] { other_had_one = readable(other.fd, 0); };
  EXPECT_EQ(r.t.submit(Proto::Udp, peer.addr, id, "via the path", 0), SocketTransport::SendOutcome::Sent);
  EXPECT_FALSE(other_had_one);
  r.t.end_batch();
  EXPECT_EQ(other.next(), "other, queued again");
}

// ---------------------------------------------------------------- waking

TEST(CoreDatagramPath, WakeFdMakesTheTransportReadableAndIsCleared) {
  TransportRig r;
  ASSERT_TRUE(r.t.listen(Proto::Udp, "127.0.0.1", 0));
  EXPECT_FALSE(readable(r.t.fd()));
  r.path.wake();
  EXPECT_TRUE(readable(r.t.fd())) << "the owner's wait on fd() ends";
  r.t.process(0);
  EXPECT_EQ(r.path.wakes_cleared, 1);
  EXPECT_FALSE(readable(r.t.fd()));
  r.t.set_datagram_path(nullptr);
  r.path.wake();
  EXPECT_FALSE(readable(r.t.fd())) << "an unset path's fd is no longer watched";
}

TEST(CoreDatagramPath, NapHandshakeReachesThePath) {
  struct App : Handler {
    void on_request(Stack&, const ServerRequest&) override {}
  } app;
  Stack st(StackConfig{}, &app);
  EXPECT_TRUE(st.prepare_wait()) << "no path: always free to block";
  st.after_wait();
  FakePath path;
  st.set_datagram_path(&path);
  const auto local = *st.listen(Proto::Udp, "127.0.0.1", 0);
  EXPECT_TRUE(st.prepare_wait());
  EXPECT_TRUE(path.napping);
  st.after_wait();
  EXPECT_FALSE(path.napping);
  path.pending.push_back({local, ep("192.0.2.1", 5060), "x", -1});
  EXPECT_FALSE(st.prepare_wait()) << "a datagram waits: do not block";
  st.after_wait();
  EXPECT_EQ(path.nap_begins, 2);
  EXPECT_EQ(path.nap_ends, 2);
  // The transport's own wait does the same: a long timeout with a datagram
  // waiting does not block (it would hang this test for the timeout).
  SocketTransport* sockets = st.sockets();
  ASSERT_NE(sockets, nullptr);
  sockets->process(60'000);
  EXPECT_TRUE(path.pending.empty());
  EXPECT_EQ(path.nap_begins, 3);
  EXPECT_EQ(path.nap_ends, 3);
  st.set_datagram_path(nullptr);
}

}  // namespace
}  // namespace msgw::sip
