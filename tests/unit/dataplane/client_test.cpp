// SPDX-License-Identifier: GPL-3.0-or-later
// Shared-memory protocol without EAL: what control/ relies on.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "msgw/dataplane/client.hpp"

using namespace msgw::dataplane;

namespace {

std::string unique_instance(const char* tag) {
  return std::string("ut-") + tag + "-" + std::to_string(getpid());
}

struct SegmentGuard {
  std::string name;
  ~SegmentGuard() { shm_unlink(segment_name(name).c_str()); }
};

LegSpec leg(uint32_t ip, uint16_t port) {
  LegSpec l{};
  l.local_ip = ip;
  l.local_port = port;
  l.codec = uint8_t(CodecId::Pcmu);
  l.payload_type = 0;
  l.dtmf_pt = 101;
  l.ptime_ms = 20;
  return l;
}

// The pid of a child that exited and was reaped: it names no process now.
pid_t reaped_pid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  if (child < 0 || waitpid(child, nullptr, 0) != child) return -1;
  return child;
}

}  // namespace

TEST(DataplaneSegment, LayoutIsDeterministicAndAligned) {
  const SegmentLayout a = compute_layout(65536);
  const SegmentLayout b = compute_layout(65536);
  EXPECT_EQ(a.total_size, b.total_size);
  EXPECT_EQ(a.cmd_ring_offset % 4096, 0u);
  EXPECT_EQ(a.evt_ring_offset % 4096, 0u);
  EXPECT_EQ(a.stats_offset % 4096, 0u);
  EXPECT_GE(a.total_size, a.stats_offset + 65536ull * 2 * sizeof(FlowStats));
  EXPECT_GT(a.evt_ring_offset, a.cmd_ring_offset + kCommandRingSlots * kRingElemSize);
}

TEST(DataplaneSegment, AttachFailsClearlyWhenMissing) {
  std::string err;
  auto c = Client::attach(unique_instance("missing"), err);
  EXPECT_FALSE(c.has_value());
  EXPECT_NE(err.find("is msgw-dataplane running"), std::string::npos) << err;
}

TEST(DataplaneSegment, AttachRefusesForeignMagicAndOtherLayout) {
  SegmentGuard g{unique_instance("magic")};
  std::string err;
  {
    auto seg = Segment::create(g.name, 16, 2, 1, err);
    ASSERT_TRUE(seg.has_value()) << err;
    seg->mark_up();
    seg->header()->layout_version = kLayoutVersion + 1;
  }
  auto c = Client::attach(g.name, err);
  EXPECT_FALSE(c.has_value());
  EXPECT_NE(err.find("layout version"), std::string::npos) << err;

  int fd = shm_open(segment_name(g.name).c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0);
  uint64_t bogus = 0x1234;
  ASSERT_EQ(pwrite(fd, &bogus, sizeof bogus, 0), ssize_t(sizeof bogus));
  close(fd);
  c = Client::attach(g.name, err);
  EXPECT_FALSE(c.has_value());
  EXPECT_NE(err.find("foreign magic"), std::string::npos) << err;
}

TEST(DataplaneSegment, CommandsAndEventsCrossTheRings) {
  SegmentGuard g{unique_instance("rings")};
  std::string err;
  auto seg = Segment::create(g.name, 64, 2, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  auto cl = Client::attach(g.name, err);
  ASSERT_TRUE(cl.has_value()) << err;
  // Not up yet: sends are refused rather than lost in rings being rebuilt.
  EXPECT_FALSE(cl->add_flow(1, leg(0x0a000001, 10000), leg(0x0a000001, 10002)).has_value());
  seg->mark_up();
  EXPECT_TRUE(cl->dataplane_up());
  auto rid = cl->add_flow(1, leg(0x0a000001, 10000), leg(0x0a000001, 10002));
  ASSERT_TRUE(rid.has_value());
  Command cmds[4];
  ASSERT_EQ(seg->take_commands(cmds, 4), 1u);
  EXPECT_EQ(cmds[0].type, uint16_t(CommandType::flow_add));
  EXPECT_EQ(cmds[0].version, kMessageVersion);
  EXPECT_EQ(cmds[0].request_id, *rid);
  EXPECT_EQ(cmds[0].flow_id, 1u);
  EXPECT_EQ(cmds[0].legs[1].local_port, 10002);

  // An unrelated event arrives before the ack: wait_ack keeps it.
  Event other{};
  other.version = kMessageVersion;
  other.type = uint16_t(EventType::dtmf);
  other.flow_id = 1;
  other.u.dtmf.event = 5;
  ASSERT_TRUE(seg->post_event(other));
  Event ack{};
  ack.version = kMessageVersion;
  ack.type = uint16_t(EventType::ack);
  ack.request_id = *rid;
  ack.status = int32_t(Status::duplicate_address);
  ASSERT_TRUE(seg->post_event(ack));
  auto st = cl->wait_ack(*rid, std::chrono::milliseconds(500));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, Status::duplicate_address);
  auto ev = cl->poll_event();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->type, uint16_t(EventType::dtmf));
  EXPECT_EQ(ev->u.dtmf.event, 5);
  EXPECT_FALSE(cl->poll_event().has_value());
  EXPECT_FALSE(cl->wait_ack(999, std::chrono::milliseconds(5)).has_value());
}

TEST(DataplaneSegment, CommandRingFullIsReportedNotBlocking) {
  SegmentGuard g{unique_instance("full")};
  std::string err;
  auto seg = Segment::create(g.name, 8, 1, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  seg->mark_up();
  auto cl = Client::attach(g.name, err);
  ASSERT_TRUE(cl.has_value()) << err;
  unsigned sent = 0;
  while (cl->delete_flow(0).has_value()) ++sent;
  // rte_ring of N slots holds N-1 elements.
  EXPECT_EQ(sent, kCommandRingSlots - 1);
}

TEST(DataplaneSegment, EventRingOverflowIsCounted) {
  SegmentGuard g{unique_instance("evfull")};
  std::string err;
  auto seg = Segment::create(g.name, 8, 1, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  Event e{};
  e.type = uint16_t(EventType::stats);
  for (unsigned i = 0; i < kEventRingSlots - 1; ++i) ASSERT_TRUE(seg->post_event(e));
  EXPECT_FALSE(seg->post_event(e));
  EXPECT_EQ(seg->header()->events_dropped, 1u);
}

TEST(DataplaneSegment, RestartBumpsGenerationAndClientSeesIt) {
  SegmentGuard g{unique_instance("gen")};
  std::string err;
  uint64_t first = 0;
  std::optional<Client> cl;
  {
    auto seg = Segment::create(g.name, 16, 1, 1, err);
    ASSERT_TRUE(seg.has_value()) << err;
    seg->mark_up();
    first = seg->generation();
    cl = Client::attach(g.name, err);
    ASSERT_TRUE(cl.has_value()) << err;
    EXPECT_FALSE(cl->generation_changed());
    seg->mark_down();
    EXPECT_TRUE(cl->generation_changed());  // down counts as "re-program later"
    EXPECT_FALSE(cl->delete_flow(1).has_value());
  }
  auto seg2 = Segment::create(g.name, 16, 1, 1, err);
  ASSERT_TRUE(seg2.has_value()) << err;
  seg2->mark_up();
  EXPECT_EQ(seg2->generation(), first + 1);
  EXPECT_TRUE(cl->generation_changed());
  EXPECT_FALSE(cl->delete_flow(1).has_value());  // stale client refuses to send
  auto cl2 = Client::attach(g.name, err);
  ASSERT_TRUE(cl2.has_value()) << err;
  EXPECT_EQ(cl2->attached_generation(), first + 1);
  EXPECT_TRUE(cl2->delete_flow(1).has_value());
}

// A dataplane killed outright (crash, SIGKILL) never marks its segment down:
// a client must not take the stale "up" for a live dataplane and feed
// commands into a ring nobody reads; the next dataplane then takes over.
TEST(DataplaneSegment, DeadOwnerIsNotUp) {
  SegmentGuard g{unique_instance("dead")};
  std::string err;
  auto seg = Segment::create(g.name, 16, 1, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  seg->mark_up();
  const pid_t child = reaped_pid();
  ASSERT_GT(child, 0);
  seg->header()->pid = uint32_t(child);
  auto cl = Client::attach(g.name, err);
  ASSERT_TRUE(cl.has_value()) << err;
  EXPECT_FALSE(cl->dataplane_up());
  EXPECT_TRUE(cl->generation_changed());
  EXPECT_FALSE(cl->delete_flow(1).has_value());
  auto next = Segment::create(g.name, 16, 1, 1, err);
  ASSERT_TRUE(next.has_value()) << err;
  next->mark_up();
  EXPECT_EQ(next->generation(), cl->attached_generation() + 1);
  auto cl2 = Client::attach(g.name, err);
  ASSERT_TRUE(cl2.has_value()) << err;
  EXPECT_TRUE(cl2->dataplane_up());
}

// Liveness is re-checked at most every 10 ms (a kill(2) per command was
// msgw-control's cost): an owner that dies after the attach is noticed
// within that, never taken for up for good.
TEST(DataplaneSegment, AnOwnerThatDiesAfterTheAttachIsNoticed) {
  SegmentGuard g{unique_instance("dies")};
  std::string err;
  auto seg = Segment::create(g.name, 16, 1, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  seg->mark_up();
  auto cl = Client::attach(g.name, err);
  ASSERT_TRUE(cl.has_value()) << err;
  ASSERT_TRUE(cl->dataplane_up());
  const pid_t child = reaped_pid();
  ASSERT_GT(child, 0);
  seg->header()->pid = uint32_t(child);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (cl->dataplane_up() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_FALSE(cl->dataplane_up());
  EXPECT_TRUE(cl->generation_changed());
  EXPECT_FALSE(cl->delete_flow(1).has_value());
}

TEST(DataplaneSegment, RefusesToTakeOverALiveOwner) {
  SegmentGuard g{unique_instance("owner")};
  std::string err;
  auto seg = Segment::create(g.name, 16, 1, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  seg->mark_up();
  // Pretend another live process (our parent) owns it.
  seg->header()->pid = uint32_t(getppid());
  auto again = Segment::create(g.name, 16, 1, 1, err);
  EXPECT_FALSE(again.has_value());
  EXPECT_NE(err.find("owned by running dataplane"), std::string::npos) << err;
}

TEST(DataplaneSegment, StatsAreReadLockFreeWhileWritten) {
  SegmentGuard g{unique_instance("stats")};
  std::string err;
  auto seg = Segment::create(g.name, 4, 1, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  seg->mark_up();
  auto cl = Client::attach(g.name, err);
  ASSERT_TRUE(cl.has_value()) << err;
  FlowStats* s = &seg->stats()[3 * 2 + 1];
  std::thread writer([s] {
    for (uint64_t i = 1; i <= 200000; ++i) __atomic_store_n(&s->packets, i, __ATOMIC_RELAXED);
  });
  uint64_t last = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = cl->read_stats(3, 1).packets;
    EXPECT_GE(v, last);  // single writer, monotonic
    last = v;
  }
  writer.join();
  EXPECT_EQ(cl->read_stats(3, 1).packets, 200000u);
  EXPECT_EQ(cl->read_stats(4, 0).packets, 0u);  // out of range reads as zero
}

// The workers' and ports' counters the main lcore publishes reach the
// client as written, and none read as "not published yet".
TEST(DataplaneSegment, PublishedCountersReachTheClient) {
  SegmentGuard g{unique_instance("counters")};
  std::string err;
  auto seg = Segment::create(g.name, 4, 2, 2, err);
  ASSERT_TRUE(seg.has_value()) << err;
  seg->mark_up();
  auto cl = Client::attach(g.name, err);
  ASSERT_TRUE(cl.has_value()) << err;
  EXPECT_EQ(cl->n_workers(), 2u);
  PublishedCounters got{};
  EXPECT_FALSE(cl->read_counters(got));  // created zeroed: nothing published
  PublishedCounters& p = *seg->counters();
  p.workers[1].counters.rx = 1234;
  p.workers[1].counters.busy_cycles = 99;
  p.workers[1].counters.dropped[size_t(Drop::rtp_bleed)] = 7;
  p.workers[1].transcoded_sessions = 3;
  p.ports[1].rx_missed = 5;
  p.ports[1].to_kernel = 6;
  p.publications = 1;
  p.published_ns = 42;
  ASSERT_TRUE(cl->read_counters(got));
  EXPECT_EQ(got.workers[1].counters.rx, 1234u);
  EXPECT_EQ(got.workers[1].counters.busy_cycles, 99u);
  EXPECT_EQ(got.workers[1].counters.dropped[size_t(Drop::rtp_bleed)], 7u);
  EXPECT_EQ(got.workers[1].transcoded_sessions, 3u);
  EXPECT_EQ(got.workers[0].counters.rx, 0u);
  EXPECT_EQ(got.ports[1].rx_missed, 5u);
  EXPECT_EQ(got.ports[1].to_kernel, 6u);
  // The area is past the per-leg stats, page-aligned, inside the segment.
  const SegmentLayout l = compute_layout(4);
  EXPECT_GE(l.counters_offset, l.stats_offset + 4ull * 2 * sizeof(FlowStats));
  EXPECT_EQ(l.counters_offset % 4096, 0u);
  EXPECT_GE(l.total_size, l.counters_offset + sizeof(PublishedCounters));
}

namespace {
volatile sig_atomic_t g_doorbells = 0;
void count_doorbell(int) { g_doorbells = g_doorbells + 1; }

// Attaches with this test process named as the dataplane would be (the
// client rings only a process it can see as msgw-dataplane).
std::optional<Client> attach_as(const std::string& instance, const char* comm, std::string& err) {
  char old[32] = {};
  prctl(PR_GET_NAME, old);
  prctl(PR_SET_NAME, comm);
  auto c = Client::attach(instance, err);
  prctl(PR_SET_NAME, old);
  return c;
}
}  // namespace

TEST(DataplaneSegment, DoorbellRingsOnlyANappingDataplane) {
  SegmentGuard g{unique_instance("bell")};
  std::string err;
  auto seg = Segment::create(g.name, 64, 2, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  const int sig = SIGRTMIN + 7;
  struct sigaction sa {}, old {};
  sa.sa_handler = count_doorbell;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(sig, &sa, &old), 0);
  seg->header()->doorbell_signal = uint32_t(sig);
  seg->mark_up();
  auto cl = attach_as(g.name, "msgw-dataplane", err);
  ASSERT_TRUE(cl.has_value()) << err;
  Command cmds[8];

  g_doorbells = 0;
  ASSERT_TRUE(cl->delete_flow(1).has_value());  // awake: no signal
  EXPECT_EQ(g_doorbells, 0);
  seg->header()->main_napping = 1;
  ASSERT_TRUE(cl->delete_flow(2).has_value());  // napping: rung once per command
  EXPECT_EQ(g_doorbells, 1);
  seg->header()->doorbell_signal = 0;           // a dataplane without the handler
  ASSERT_TRUE(cl->delete_flow(3).has_value());
  EXPECT_EQ(g_doorbells, 1);
  EXPECT_EQ(seg->take_commands(cmds, 8), 3u);   // every command went in regardless

  // A process that is not msgw-dataplane (another pid namespace, a stale
  // pid) is never signalled.
  seg->header()->doorbell_signal = uint32_t(sig);
  auto stranger = attach_as(g.name, "not-the-dp", err);
  ASSERT_TRUE(stranger.has_value()) << err;
  ASSERT_TRUE(stranger->delete_flow(4).has_value());
  EXPECT_EQ(g_doorbells, 1);
  sigaction(sig, &old, nullptr);
}

// SIP through the segment (protocol.hpp, SipDatagram): the consumer's
// handshake with the workers, as both sides see it.
namespace {
volatile sig_atomic_t g_sip_wakes = 0;
void count_sip_wake(int) { g_sip_wakes = g_sip_wakes + 1; }

SipDatagram sip_datagram(const char* text) {
  SipDatagram d{};
  d.local_ip = 0x0a000001;
  d.local_port = 5060;
  d.remote_ip = 0x0a000010;
  d.remote_port = 5062;
  d.length = uint16_t(std::strlen(text));
  std::memcpy(d.data, text, d.length);
  return d;
}
}  // namespace

TEST(DataplaneSegment, SipConsumerAttachesAndDetaches) {
  SegmentGuard g{unique_instance("sipc")};
  std::string err;
  auto seg = Segment::create(g.name, 16, 1, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  auto cl = Client::attach(g.name, err);
  ASSERT_TRUE(cl.has_value()) << err;
  EXPECT_FALSE(seg->sip_consumer_attached());  // a new segment has none: SIP takes the TAP
  EXPECT_FALSE(cl->attach_sip_consumer(SIGRTMIN + 8));  // not up yet
  seg->mark_up();
  EXPECT_FALSE(cl->attach_sip_consumer(0));
  ASSERT_TRUE(cl->attach_sip_consumer(SIGRTMIN + 8));
  EXPECT_TRUE(seg->sip_consumer_attached());
  EXPECT_TRUE(cl->sip_consumer_is_me());
  EXPECT_EQ(seg->header()->sip_consumer_pid, uint32_t(getpid()));
  EXPECT_EQ(seg->header()->sip_consumer_signal, uint32_t(SIGRTMIN + 8));

  // Both rings carry datagrams whole.
  const SipDatagram in = sip_datagram("OPTIONS sip:x SIP/2.0\r\n\r\n");
  ASSERT_TRUE(seg->post_sip(in));
  SipDatagram got[4];
  ASSERT_EQ(cl->take_sip(got, 4), 1u);
  EXPECT_EQ(std::memcmp(&got[0], &in, sizeof in), 0);
  const SipDatagram out = sip_datagram("SIP/2.0 200 OK\r\n\r\n");
  ASSERT_TRUE(cl->send_sip(out));
  ASSERT_EQ(seg->take_sip_out(got, 4), 1u);
  EXPECT_EQ(std::memcmp(&got[0], &out, sizeof out), 0);
  EXPECT_EQ(seg->take_sip_out(got, 4), 0u);

  // Another process's attachment is not ours to clear.
  seg->header()->sip_consumer_pid = uint32_t(getppid());
  cl->detach_sip_consumer();
  EXPECT_TRUE(seg->sip_consumer_attached());
  EXPECT_FALSE(cl->sip_consumer_is_me());
  seg->header()->sip_consumer_pid = uint32_t(getpid());
  cl->detach_sip_consumer();
  EXPECT_FALSE(seg->sip_consumer_attached());
  // A restarted dataplane's segment starts without one.
  ASSERT_TRUE(cl->attach_sip_consumer(SIGRTMIN + 8));
  seg.reset();
  auto again = Segment::create(g.name, 16, 1, 1, err);
  ASSERT_TRUE(again.has_value()) << err;
  EXPECT_FALSE(again->sip_consumer_attached());
}

TEST(DataplaneSegment, SipConsumerIsSignalledOncePerNapAndNeverMissesADatagram) {
  SegmentGuard g{unique_instance("sipnap")};
  std::string err;
  auto seg = Segment::create(g.name, 16, 1, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  seg->mark_up();
  auto cl = Client::attach(g.name, err);
  ASSERT_TRUE(cl.has_value()) << err;
  const int sig = SIGRTMIN + 8;
  struct sigaction sa {}, old {};
  sa.sa_handler = count_sip_wake;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(sig, &sa, &old), 0);
  ASSERT_TRUE(cl->attach_sip_consumer(sig));
  g_sip_wakes = 0;

  // Awake: a post sends no signal.
  ASSERT_TRUE(seg->post_sip(sip_datagram("a")));
  seg->wake_sip_consumer();
  EXPECT_EQ(g_sip_wakes, 0);
  // Not napping while the ring holds something: the flag is left clear.
  EXPECT_FALSE(cl->sip_nap_begin());
  EXPECT_EQ(seg->header()->sip_consumer_napping, 0u);
  SipDatagram got[4];
  EXPECT_EQ(cl->take_sip(got, 4), 1u);
  // Napping on an empty ring: the first wake signals and clears the flag,
  // the next ones do not signal again.
  ASSERT_TRUE(cl->sip_nap_begin());
  EXPECT_EQ(seg->header()->sip_consumer_napping, 1u);
  ASSERT_TRUE(seg->post_sip(sip_datagram("b")));
  seg->wake_sip_consumer();
  EXPECT_EQ(g_sip_wakes, 1);
  EXPECT_EQ(seg->header()->sip_consumer_napping, 0u);
  seg->wake_sip_consumer();
  EXPECT_EQ(g_sip_wakes, 1);
  cl->sip_nap_end();
  EXPECT_EQ(cl->take_sip(got, 4), 1u);
  // A nap ended by other means leaves the flag clear: no stray signal.
  ASSERT_TRUE(cl->sip_nap_begin());
  cl->sip_nap_end();
  ASSERT_TRUE(seg->post_sip(sip_datagram("c")));
  seg->wake_sip_consumer();
  EXPECT_EQ(g_sip_wakes, 1);
  // No consumer (it detached while flagged napping): nothing is signalled.
  EXPECT_EQ(cl->take_sip(got, 4), 1u);
  ASSERT_TRUE(cl->sip_nap_begin());
  cl->detach_sip_consumer();
  ASSERT_TRUE(seg->post_sip(sip_datagram("d")));
  seg->wake_sip_consumer();
  EXPECT_EQ(g_sip_wakes, 1);
  sigaction(sig, &old, nullptr);
}

TEST(DataplaneSegment, ADeadSipConsumerIsClearedAndALiveOneKept) {
  SegmentGuard g{unique_instance("sipdead")};
  std::string err;
  auto seg = Segment::create(g.name, 16, 1, 1, err);
  ASSERT_TRUE(seg.has_value()) << err;
  EXPECT_FALSE(seg->check_sip_consumer());  // none: nothing to clear
  seg->header()->sip_consumer_pid = uint32_t(getpid());
  EXPECT_FALSE(seg->check_sip_consumer());
  EXPECT_TRUE(seg->sip_consumer_attached());
  const pid_t child = reaped_pid();
  ASSERT_GT(child, 0);
  seg->header()->sip_consumer_pid = uint32_t(child);
  EXPECT_TRUE(seg->check_sip_consumer());
  EXPECT_FALSE(seg->sip_consumer_attached());
  EXPECT_FALSE(seg->check_sip_consumer());
}
