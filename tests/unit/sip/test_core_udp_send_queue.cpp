// SPDX-License-Identifier: GPL-3.0-or-later
// The UDP send batch (sip/src/udp_send_queue.hpp): order across sockets,
// resuming after a refused datagram, the bound, and through the socket
// transport and the stack: batched inside a pass, immediate outside it, and a
// datagram refused at flush time failing its transaction as a refused sendto
// did.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>

#include "test_core_util.hpp"
#include "udp_send_queue.hpp"

namespace msgw::sip {
namespace {

struct Wire {
  int fd;
  std::string bytes;
};

// sendmmsg stand-in: plays `script` (datagrams to accept per call, or
// -errno), then accepts everything.
struct FakeKernel {
  std::vector<Wire> wire;
  std::deque<int> script;
  std::size_t calls = 0;
  UdpSendQueue::SendFn fn() {
    return [this](int fd, mmsghdr* msgs, unsigned count) -> int {
      ++calls;
      int take = static_cast<int>(count);
      if (!script.empty()) {
        take = script.front();
        script.pop_front();
        if (take < 0) {
          errno = -take;
          return -1;
        }
        take = std::min(take, static_cast<int>(count));
      }
      for (int i = 0; i < take; ++i) {
        const iovec& v = *msgs[i].msg_hdr.msg_iov;
        wire.push_back({fd, std::string(static_cast<const char*>(v.iov_base), v.iov_len)});
        msgs[i].msg_len = static_cast<unsigned>(v.iov_len);
      }
      return take;
    };
  }
};

struct Failure {
  uint64_t tag;
  int error;
};

struct QueueRig {
  Stats stats;
  FakeKernel kernel;
  std::vector<Failure> failures;
  UdpSendQueue q{stats, [this](uint64_t tag, int e) { failures.push_back({tag, e}); }, kernel.fn()};
  Endpoint dst = *Endpoint::from("192.0.2.9", 5060);
  void push(int fd, const std::string& s, uint64_t tag = 0) { q.push(fd, dst, s, tag); }
};

TEST(CoreUdpSendQueue, OneCallPerSocketEachSocketInOrder) {
  QueueRig r;
  r.push(4, "a", 1);
  r.push(3, "b", 2);
  r.push(4, "c", 3);
  r.push(3, "d", 4);
  r.push(4, "e", 5);
  EXPECT_TRUE(r.kernel.wire.empty());  // nothing leaves before the flush
  EXPECT_EQ(r.q.flush(), 2u);           // one run per socket: 3{b,d} 4{a,c,e}
  ASSERT_EQ(r.kernel.wire.size(), 5u);
  const char* want[] = {"b", "d", "a", "c", "e"};
  const int fds[] = {3, 3, 4, 4, 4};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.kernel.wire[i].bytes, want[i]);
    EXPECT_EQ(r.kernel.wire[i].fd, fds[i]);
  }
  EXPECT_EQ(r.stats.tx_messages, 5u);
  EXPECT_EQ(r.stats.tx_errors, 0u);
  EXPECT_TRUE(r.q.empty());
  EXPECT_EQ(r.q.flush(), 0u);  // an empty queue makes no call
}

TEST(CoreUdpSendQueue, ARefusalAfterGroupingReportsItsOwnTag) {
  QueueRig r;
  r.push(4, "a", 1);
  r.push(3, "b", 2);
  r.push(4, "c", 3);
  r.kernel.script = {-ENOBUFS};  // socket 3's only datagram refused, then socket 4's leave
  r.q.flush();
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].tag, 2u);
  ASSERT_EQ(r.kernel.wire.size(), 2u);
  EXPECT_EQ(r.kernel.wire[0].bytes, "a");
  EXPECT_EQ(r.kernel.wire[1].bytes, "c");
}

TEST(CoreUdpSendQueue, PartialSendResumesAfterTheRefusedDatagram) {
  QueueRig r;
  for (int i = 1; i <= 5; ++i) r.push(3, "m" + std::to_string(i), static_cast<uint64_t>(i));
  r.kernel.script = {2, -ENOBUFS};  // two leave, the third is refused, then the rest
  EXPECT_EQ(r.q.flush(), 3u);
  ASSERT_EQ(r.kernel.wire.size(), 4u);
  EXPECT_EQ(r.kernel.wire[0].bytes, "m1");
  EXPECT_EQ(r.kernel.wire[1].bytes, "m2");
  EXPECT_EQ(r.kernel.wire[2].bytes, "m4");
  EXPECT_EQ(r.kernel.wire[3].bytes, "m5");
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].tag, 3u);
  EXPECT_EQ(r.failures[0].error, ENOBUFS);
  EXPECT_EQ(r.stats.tx_messages, 4u);
  EXPECT_EQ(r.stats.tx_errors, 1u);
}

TEST(CoreUdpSendQueue, EveryDatagramRefusedIsEachCountedAndReported) {
  QueueRig r;
  for (int i = 1; i <= 3; ++i) r.push(3, "x", static_cast<uint64_t>(i));
  r.kernel.script = {-EAGAIN, -EAGAIN, -EAGAIN};
  EXPECT_EQ(r.q.flush(), 3u);
  EXPECT_TRUE(r.kernel.wire.empty());
  ASSERT_EQ(r.failures.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.failures[i].tag, i + 1);
    EXPECT_EQ(r.failures[i].error, EAGAIN);
  }
  EXPECT_EQ(r.stats.tx_errors, 3u);
  EXPECT_EQ(r.stats.tx_messages, 0u);
  EXPECT_TRUE(r.q.empty());
}

TEST(CoreUdpSendQueue, FullQueueIsSentBeforeTheNextDatagram) {
  QueueRig r;
  for (std::size_t i = 0; i < UdpSendQueue::kCapacity; ++i) r.push(3, std::to_string(i));
  EXPECT_TRUE(r.kernel.wire.empty());
  EXPECT_EQ(r.q.size(), UdpSendQueue::kCapacity);
  r.push(3, "next");
  ASSERT_EQ(r.kernel.wire.size(), UdpSendQueue::kCapacity);
  EXPECT_EQ(r.kernel.calls, 1u);
  EXPECT_EQ(r.kernel.wire.back().bytes, std::to_string(UdpSendQueue::kCapacity - 1));
  EXPECT_EQ(r.q.size(), 1u);
  r.q.flush();
  EXPECT_EQ(r.kernel.wire.back().bytes, "next");
}

TEST(CoreUdpSendQueue, BytesSurviveTheArenaGrowing) {
  QueueRig r;
  r.push(3, "small");
  const std::string big(65000, 'b');  // past the arena's initial capacity
  r.push(3, big);
  r.push(3, "after");
  r.q.flush();
  ASSERT_EQ(r.kernel.wire.size(), 3u);
  EXPECT_EQ(r.kernel.wire[0].bytes, "small");
  EXPECT_EQ(r.kernel.wire[1].bytes, big);
  EXPECT_EQ(r.kernel.wire[2].bytes, "after");
}

// ---- the socket transport: queued inside a batch, immediate outside

int udp_receiver(Endpoint& bound) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t l = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
  bound = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&a), l);
  return fd;
}

std::vector<std::string> drain(int fd, int wait_ms) {
  std::vector<std::string> got;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, wait_ms) <= 0) return got;
  char buf[2048];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) >= 0;) got.emplace_back(buf, static_cast<std::size_t>(n));
  return got;
}

TEST(CoreUdpSendQueue, SocketTransportBatchesOnlyInsideABatch) {
  Limits limits;
  Stats stats;
  SocketTransport t(limits, stats, [](const Inbound&, std::string_view) {});
  ASSERT_TRUE(t.listen(Proto::Udp, "127.0.0.1", 0));
  Endpoint dst;
  int rx = udp_receiver(dst);
  using O = SocketTransport::SendOutcome;

  EXPECT_EQ(t.submit(Proto::Udp, dst, 0, "now", 0), O::Sent);
  EXPECT_EQ(drain(rx, 1000), std::vector<std::string>{"now"});
  EXPECT_EQ(stats.tx_messages, 0u);  // an immediate send is the caller's to count

  t.begin_batch();
  t.begin_batch();  // nested: only the outermost end sends
  EXPECT_EQ(t.submit(Proto::Udp, dst, 0, "one", 0), O::Queued);
  EXPECT_EQ(t.submit(Proto::Udp, dst, 0, "two", 0), O::Queued);
  t.end_batch();
  EXPECT_TRUE(drain(rx, 20).empty());
  t.end_batch();
  EXPECT_EQ(drain(rx, 1000), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(stats.tx_messages, 2u);  // queued ones are counted as they leave

  // A wait in process() sends what an enclosing batch holds first.
  t.begin_batch();
  EXPECT_EQ(t.submit(Proto::Udp, dst, 0, "before-wait", 0), O::Queued);
  t.process(1);
  EXPECT_EQ(drain(rx, 1000), std::vector<std::string>{"before-wait"});
  t.end_batch();
  ::close(rx);
}

// ---- the stack: a datagram refused when the pass's batch is flushed fails
// its transaction the way a refused sendto did (on_timeout, transaction gone).

class Sender : public Handler {
 public:
  explicit Sender(Endpoint to) : to_(to) {}
  void on_request(Stack& st, const ServerRequest& r) override {
    st.respond(r.txn, 200);
    sent = st.send_request(options(to_), to_);  // within the pass: batched
  }
  void on_timeout(Stack&, TxnId t) override { timed_out.push_back(t); }
  static MessagePtr options(const Endpoint& to) {
    osip_message_t* m = nullptr;
    osip_message_init(&m);
    osip_message_set_method(m, osip_strdup("OPTIONS"));
    osip_message_set_version(m, osip_strdup("SIP/2.0"));
    osip_uri_t* u = nullptr;
    osip_uri_init(&u);
    osip_uri_parse(u, ("sip:x@" + to.host_str() + ":" + std::to_string(to.port())).c_str());
    osip_message_set_uri(m, u);
    osip_message_set_from(m, ("<sip:a@example.net>;tag=" + random_token(6)).c_str());
    osip_message_set_to(m, "<sip:x@example.net>");
    osip_message_set_call_id(m, random_token(10).c_str());
    osip_message_set_cseq(m, "1 OPTIONS");
    return MessagePtr(m);
  }
  Endpoint to_;
  TxnId sent = kNoTxn;
  std::vector<TxnId> timed_out;
};

TEST(CoreUdpSendQueue, RefusedAtFlushFailsTheTransactionLikeARefusedSendto) {
  // Port 0 is refused by the kernel's UDP send (EINVAL), at once or at flush.
  const Endpoint refused = *Endpoint::from("127.0.0.1", 0);
  Sender app(refused);
  Stack st({}, &app);
  auto at = st.listen(Proto::Udp, "127.0.0.1", 0);
  ASSERT_TRUE(at);

  // Outside a pass: refused by sendto, failed at once.
  const TxnId direct = st.send_request(Sender::options(refused), refused);
  ASSERT_NE(direct, kNoTxn);
  ASSERT_EQ(app.timed_out, std::vector<TxnId>{direct});
  const uint64_t errors_direct = st.stats().tx_errors;
  EXPECT_GE(errors_direct, 1u);
  const std::size_t live = st.transaction_count();

  // Inside a pass: an OPTIONS from a raw socket makes the handler send.
  Endpoint me;
  int raw = udp_receiver(me);
  std::string req = "OPTIONS sip:x@" + at->str() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + me.str() +
                    ";branch=z9hG4bK" + random_token(10) + "\r\nFrom: <sip:p@example.net>;tag=1\r\n" +
                    "To: <sip:x@example.net>\r\nCall-ID: " + random_token(10) +
                    "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  ::sendto(raw, req.data(), req.size(), 0, reinterpret_cast<const sockaddr*>(&at->addr), at->len);
  for (int i = 0; i < 200 && app.sent == kNoTxn; ++i) st.process(5);
  ASSERT_NE(app.sent, kNoTxn);
  ASSERT_EQ(app.timed_out.size(), 2u);
  EXPECT_EQ(app.timed_out[1], app.sent);
  EXPECT_EQ(st.stats().tx_errors, 2 * errors_direct);  // counted as the direct failure was
  EXPECT_EQ(drain(raw, 1000).size(), 1u);              // the 200 in the same batch still left
  // Both failed client transactions are gone; the server one (200 sent) stays.
  EXPECT_EQ(st.transaction_count(), live + 1);
  ::close(raw);
}

}  // namespace
}  // namespace msgw::sip
