// SPDX-License-Identifier: GPL-3.0-or-later
// DataplaneSipPath on a real segment (its rings need no EAL): the test plays
// the dataplane's workers (Segment::post_sip, wake_sip_consumer,
// take_sip_out) and restarts.  Checks the consumer handshake (set at attach
// and again after a restart, cleared at the end), datagrams both ways with
// their addresses converted, the nap and its signal, and the kernel
// fallback while the dataplane is away.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "msgw/control/dataplane_sip_path.hpp"
#include "msgw/control/media.hpp"
#include "msgw/dataplane/client.hpp"

namespace {

using namespace msgw;
namespace dp = msgw::dataplane;
using control::DataplaneMedia;
using control::DataplaneSipPath;

struct SegmentGuard {
  std::string name;
  ~SegmentGuard() { shm_unlink(dp::segment_name(name).c_str()); }
};

sip::Endpoint ep(const char* ip, uint16_t port) { return *sip::Endpoint::from(ip, port); }

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

struct Got {
  sip::Endpoint local, peer;
  std::string bytes;
  int64_t age_us;
};

class DataplaneSipPathTest : public ::testing::Test {
 protected:
  static int signal_no() { return SIGRTMIN + 8; }
  void SetUp() override {
    // As main() does: blocked, so only the path's signalfd takes it.
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, signal_no());
    ASSERT_EQ(sigprocmask(SIG_BLOCK, &s, nullptr), 0);
    guard.name = "ut-sip-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
                 std::to_string(getpid());
    std::string err;
    seg = dp::Segment::create(guard.name, 64, 2, 1, err);
    ASSERT_TRUE(seg) << err;
    seg->mark_up();
    media.emplace(guard.name, 500, [this] { return clock_now; });
    path.emplace(*media, signal_no(), [this] { return now_ns; });
    ASSERT_TRUE(path->ok());
  }
  void TearDown() override {
    path.reset();
    media.reset();
  }
  bool poll_media() {
    bool restarted = false;
    media->poll(&restarted);
    return restarted;
  }
  uint32_t consumer_pid() const { return __atomic_load_n(&seg->header()->sip_consumer_pid, __ATOMIC_ACQUIRE); }
  dp::SipDatagram datagram(std::string_view bytes, uint64_t time_ns) {
    dp::SipDatagram d{};
    d.local_ip = 0x0a000001;  // 10.0.0.1
    d.local_port = 5060;
    d.remote_ip = 0xc0000207;  // 192.0.2.7
    d.remote_port = 5070;
    d.port = 1;
    d.length = uint16_t(bytes.size());
    d.time_ns = time_ns;
    std::memcpy(d.data, bytes.data(), bytes.size());
    return d;
  }
  std::vector<Got> receive(std::size_t max = 32) {
    std::vector<Got> out;
    path->receive([&](const sip::Endpoint& l, const sip::Endpoint& p, std::string_view b,
                      int64_t age) { out.push_back({l, p, std::string(b), age}); },
                  max);
    return out;
  }
  std::vector<dp::SipDatagram> sent() {
    std::vector<dp::SipDatagram> out(8);
    out.resize(seg->take_sip_out(out.data(), 8));
    return out;
  }

  SegmentGuard guard;
  std::optional<dp::Segment> seg;
  std::optional<DataplaneMedia> media;
  std::optional<DataplaneSipPath> path;
  uint64_t now_ns = 5'000'000'000ull;
  std::chrono::steady_clock::time_point clock_now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
};

TEST_F(DataplaneSipPathTest, KernelUntilAttachedThenTheConsumer) {
  EXPECT_EQ(consumer_pid(), 0u);
  EXPECT_FALSE(path->send(ep("10.0.0.1", 5060), ep("192.0.2.7", 5070), "not yet"))
      << "not attached: the kernel's socket";
  ASSERT_TRUE(seg->post_sip(datagram("early", 0)));
  EXPECT_TRUE(receive().empty()) << "not the consumer yet: nothing taken";
  EXPECT_TRUE(path->nap_begin()) << "nothing to wait for in the segment: free to block";
  path->nap_end();

  EXPECT_FALSE(poll_media());
  EXPECT_EQ(consumer_pid(), uint32_t(getpid()));
  EXPECT_EQ(__atomic_load_n(&seg->header()->sip_consumer_signal, __ATOMIC_RELAXED), uint32_t(signal_no()));
  EXPECT_NE(media->sip_client(), nullptr);
  EXPECT_EQ(path->max_datagram(), dp::kSipDatagramMax);
}

TEST_F(DataplaneSipPathTest, DatagramsBothWaysWithAddressesConverted) {
  poll_media();
  ASSERT_TRUE(seg->post_sip(datagram("INVITE sip:a@10.0.0.1 SIP/2.0\r\n", now_ns - 1'500'000)));
  ASSERT_TRUE(seg->post_sip(datagram("no time", 0)));
  now_ns += 250'000;
  auto got = receive();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].local, ep("10.0.0.1", 5060));
  EXPECT_EQ(got[0].peer, ep("192.0.2.7", 5070));
  EXPECT_EQ(got[0].bytes, "INVITE sip:a@10.0.0.1 SIP/2.0\r\n");
  EXPECT_EQ(got[0].age_us, 1750) << "from the worker's CLOCK_MONOTONIC stamp to the hand-over";
  EXPECT_EQ(got[1].age_us, -1) << "no stamp: unknown, not zero";
  EXPECT_TRUE(receive().empty());

  ASSERT_TRUE(path->send(ep("10.0.0.1", 5060), ep("198.51.100.4", 5080), "SIP/2.0 200 OK\r\n"));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].local_ip, 0x0a000001u);
  EXPECT_EQ(out[0].local_port, 5060);
  EXPECT_EQ(out[0].remote_ip, 0xc6336404u);  // 198.51.100.4
  EXPECT_EQ(out[0].remote_port, 5080);
  EXPECT_EQ(out[0].time_ns, 0u);
  EXPECT_EQ(std::string(out[0].data, out[0].length), "SIP/2.0 200 OK\r\n");

  // What the ring cannot carry is refused (the stack sends it through the kernel).
  EXPECT_FALSE(path->send(ep("10.0.0.1", 5060), ep("198.51.100.4", 5080), std::string(dp::kSipDatagramMax + 1, 'x')));
  EXPECT_FALSE(path->send(ep("::1", 5060), ep("::1", 5080), "v6"));
  EXPECT_TRUE(path->send(ep("10.0.0.1", 5060), ep("198.51.100.4", 5080), std::string(dp::kSipDatagramMax, 'x')));
  EXPECT_EQ(sent().size(), 1u);
}

TEST_F(DataplaneSipPathTest, ReceiveTakesAtMostABatch) {
  poll_media();
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(seg->post_sip(datagram(std::to_string(i), 0)));
  EXPECT_EQ(receive(100).size(), DataplaneSipPath::kBatch);
  EXPECT_EQ(receive(3).size(), 3u);
  auto rest = receive(100);
  ASSERT_EQ(rest.size(), 40u - DataplaneSipPath::kBatch - 3u);
  EXPECT_EQ(rest.back().bytes, "39");
}

TEST_F(DataplaneSipPathTest, FullRingRefusesSoTheKernelSends) {
  poll_media();
  unsigned n = 0;
  while (path->send(ep("10.0.0.1", 5060), ep("192.0.2.7", 5070), "fill") && n < dp::kSipOutSlots + 1) ++n;
  EXPECT_LT(n, dp::kSipOutSlots + 1) << "a full ring refuses";
  EXPECT_GT(n, 0u);
}

TEST_F(DataplaneSipPathTest, NapSignalWakesAndIsCleared) {
  poll_media();
  ASSERT_TRUE(path->nap_begin());
  EXPECT_EQ(__atomic_load_n(&seg->header()->sip_consumer_napping, __ATOMIC_RELAXED), 1u);
  EXPECT_FALSE(readable(path->wake_fd()));
  // A worker's burst: post, then wake the napping consumer.
  ASSERT_TRUE(seg->post_sip(datagram("wake up", 0)));
  seg->wake_sip_consumer();
  EXPECT_TRUE(readable(path->wake_fd())) << "the signal reached the signalfd";
  path->nap_end();
  path->clear_wake();
  EXPECT_FALSE(readable(path->wake_fd()));
  // Not napping now: the next burst sends no signal.
  ASSERT_TRUE(seg->post_sip(datagram("again", 0)));
  seg->wake_sip_consumer();
  EXPECT_FALSE(readable(path->wake_fd()));
  // Datagrams waiting: do not block (and the flag is not left set).
  EXPECT_FALSE(path->nap_begin());
  EXPECT_EQ(__atomic_load_n(&seg->header()->sip_consumer_napping, __ATOMIC_RELAXED), 0u);
  path->nap_end();
  EXPECT_EQ(receive().size(), 2u);
}

TEST_F(DataplaneSipPathTest, RestartMakesItTheConsumerAgain) {
  poll_media();
  ASSERT_EQ(consumer_pid(), uint32_t(getpid()));
  std::string err;
  seg = dp::Segment::create(guard.name, 64, 2, 1, err);  // the dataplane restarted
  ASSERT_TRUE(seg) << err;
  EXPECT_EQ(consumer_pid(), 0u) << "a new segment has no consumer";
  // Starting: the kernel's socket until re-attached.
  EXPECT_FALSE(path->send(ep("10.0.0.1", 5060), ep("192.0.2.7", 5070), "while it starts"));
  seg->mark_up();
  EXPECT_FALSE(path->send(ep("10.0.0.1", 5060), ep("192.0.2.7", 5070), "before the poll re-attaches"))
      << "a new generation: not until the restart is reported";
  EXPECT_TRUE(poll_media()) << "the restart is reported (flows programmed again)";
  EXPECT_EQ(consumer_pid(), uint32_t(getpid()));
  EXPECT_TRUE(path->send(ep("10.0.0.1", 5060), ep("192.0.2.7", 5070), "after"));
  EXPECT_EQ(sent().size(), 1u);
}

TEST_F(DataplaneSipPathTest, DataplaneDownMeansTheKernel) {
  poll_media();
  seg->mark_down();
  EXPECT_FALSE(path->send(ep("10.0.0.1", 5060), ep("192.0.2.7", 5070), "down")) << "even before the next poll";
  poll_media();
  EXPECT_EQ(media->sip_client(), nullptr);
  EXPECT_TRUE(receive().empty());
  EXPECT_TRUE(path->nap_begin());
  path->nap_end();
}

TEST_F(DataplaneSipPathTest, AnotherConsumerTakingOverSendsItBackToTheKernel) {
  poll_media();
  ASSERT_NE(media->sip_client(), nullptr);
  __atomic_store_n(&seg->header()->sip_consumer_pid, uint32_t(getpid()) + 1, __ATOMIC_RELEASE);
  clock_now += std::chrono::milliseconds(500);
  poll_media();
  EXPECT_NE(media->sip_client(), nullptr) << "looked at once a second, not every pass";
  clock_now += std::chrono::milliseconds(600);
  poll_media();
  EXPECT_EQ(media->sip_client(), nullptr);
  EXPECT_FALSE(path->send(ep("10.0.0.1", 5060), ep("192.0.2.7", 5070), "kernel"));
  EXPECT_EQ(consumer_pid(), uint32_t(getpid()) + 1) << "not taken back: the other one keeps it";
}

TEST_F(DataplaneSipPathTest, DestroyingThePathStopsBeingTheConsumer) {
  poll_media();
  ASSERT_EQ(consumer_pid(), uint32_t(getpid()));
  path.reset();
  EXPECT_EQ(consumer_pid(), 0u);
  EXPECT_EQ(media->sip_client(), nullptr);
  poll_media();
  EXPECT_EQ(consumer_pid(), 0u) << "not taken again at the next poll";
}

TEST_F(DataplaneSipPathTest, TheMediaAloneTakesAndLetsGo) {
  path.reset();  // this test's DataplaneMedia stands alone
  ASSERT_EQ(consumer_pid(), 0u);
  {
    DataplaneMedia solo(guard.name, 500);
    bool restarted = false;
    solo.poll(&restarted);
    EXPECT_EQ(consumer_pid(), 0u) << "no consumer asked for: SIP stays on the TAP";
    solo.set_sip_consumer(signal_no());
    EXPECT_EQ(consumer_pid(), uint32_t(getpid())) << "already attached: taken at once";
    EXPECT_NE(solo.sip_client(), nullptr);
  }
  EXPECT_EQ(consumer_pid(), 0u) << "a clean stop gives SIP back to the TAP";
}

}  // namespace
