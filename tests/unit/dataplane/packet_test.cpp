// process_burst(): relay, latching and bleed protection, continuity, RTCP,
// DTMF events, exception path, hand-off and every bad-packet class.
#include <sys/mman.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "msgw/dataplane/control_loop.hpp"
#include "msgw/dataplane/packet.hpp"
#include "test_support.hpp"

using namespace msgw::dataplane;
using dptest::Frame;
using dptest::rd16;
using dptest::rd32;

namespace {

constexpr uint32_t kGwA = 0x0a000001;      // 10.0.0.1 access port address
constexpr uint32_t kPhone = 0x0a000010;    // 10.0.0.16
constexpr uint32_t kGwB = 0xc0a80101;      // 192.168.1.1 trunk port address
constexpr uint32_t kCarrier = 0xc0a80114;  // 192.168.1.20
constexpr uint32_t kRouter = 0xc0a801fe;   // trunk next hop
constexpr uint32_t kFar = 0x08080808;      // off-link carrier media

struct Rig {
  std::string instance;
  std::optional<Segment> seg;
  std::optional<FlowTable> ft;
  std::optional<FlowCache> cache;
  std::optional<NeighbourTable> nt;
  PortInfo ports[2];
  WorkerContext ctx;
  BurstOutput out;
  rte_ring* resolve = nullptr;
  uint64_t tsc = 1'000'000;
  uint64_t ns = 1'000'000'000;
  static int& count() {
    static int n = 0;
    return n;
  }
  Rig() {
    const int id = ++count();
    instance = "ut-pkt-" + std::to_string(getpid()) + "-" + std::to_string(id);
    std::string err;
    seg = Segment::create(instance, 16, 2, 2, err);
    ft.emplace("ut_pkt_ft" + std::to_string(id), 16, 2, 1, nullptr, SOCKET_ID_ANY);
    nt.emplace("ut_pkt_nt" + std::to_string(id), 64, SOCKET_ID_ANY);
    resolve = rte_ring_create_elem(("ut_res" + std::to_string(id)).c_str(), 8, 64, SOCKET_ID_ANY,
                                   RING_F_SC_DEQ);
    ports[0].mac = {{0x02, 0, 0, 0, 0, 0x0a}};
    ports[0].ip = kGwA;
    ports[0].netmask = 0xffffff00;
    ports[1].mac = {{0x02, 0, 0, 0, 0, 0x0b}};
    ports[1].ip = kGwB;
    ports[1].netmask = 0xffffff00;
    ports[1].next_hop = kRouter;
    nt->learn(0, kPhone, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x10}});
    nt->learn(1, kCarrier, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x14}});
    nt->learn(1, kRouter, rte_ether_addr{{0x02, 0, 0, 0, 0, 0xfe}});
    ctx.worker_id = 0;
    ctx.n_ports = 2;
    ctx.ports = ports;
    ctx.flows = &*ft;
    cache.emplace(ft->leg_capacity(), SOCKET_ID_ANY);
    ctx.flow_cache = &*cache;  // as a worker has it
    ctx.neighbours = &*nt;
    ctx.stats = seg->stats();
    ctx.events = &*seg;
    ctx.resolve = resolve;
    ctx.latch_packets = 3;
    ctx.tsc_hz = 8'000'000;  // 1000 ticks per RTP tick
  }
  ~Rig() {
    rte_ring_free(resolve);
    shm_unlink(segment_name(instance).c_str());
  }
  // phone leg (latching) on port 0, carrier leg on port 1.
  static void specs(LegSpec l[2], uint32_t flow, uint32_t phone_ip, uint16_t phone_port,
                    uint32_t carrier_ip, uint8_t leg1_pt, bool phone_hold) {
    l[0] = {};
    l[1] = {};
    l[0].port = 0;
    l[0].local_ip = kGwA;
    l[0].local_port = uint16_t(20000 + 2 * flow);
    l[0].remote_ip = phone_ip;
    l[0].remote_port = phone_port;
    l[0].codec = uint8_t(CodecId::Pcmu);
    l[0].payload_type = 0;
    l[0].dtmf_pt = 101;
    l[0].ptime_ms = 20;
    l[0].flags = uint8_t(kLegLatch | (phone_hold ? kLegHold : 0));
    l[1].port = 1;
    l[1].local_ip = kGwB;
    l[1].local_port = uint16_t(30000 + 2 * flow);
    l[1].remote_ip = carrier_ip;
    l[1].remote_port = 5000;
    l[1].codec = uint8_t(CodecId::Pcmu);
    l[1].payload_type = leg1_pt;
    l[1].dtmf_pt = 96;
    l[1].ptime_ms = 20;
  }
  Status add(uint32_t flow, uint32_t phone_ip = 0, uint16_t phone_port = 0,
             uint32_t carrier_ip = kCarrier, uint8_t leg1_pt = 0) {
    LegSpec l[2];
    specs(l, flow, phone_ip, phone_port, carrier_ip, leg1_pt, false);
    return ft->add(flow, l);
  }
  // Phone leg PCMU, carrier leg PCMA (PT 8): a transcoded session, whose
  // RTCP the dataplane terminates and replaces with its own SR per leg.
  Status add_transcoded(uint32_t flow) {
    LegSpec l[2];
    specs(l, flow, kPhone, 4000, kCarrier, 8, false);
    l[1].codec = uint8_t(CodecId::Pcma);
    return ft->add(flow, l);
  }
  // Re-programs flow (as add() built it) with kLegHold on the phone leg or not.
  Status set_phone_hold(uint32_t flow, bool hold) {
    LegSpec l[2];
    specs(l, flow, 0, 0, kCarrier, 0, hold);
    return ft->modify(flow, l);
  }
  // Runs one frame through port rx_port; returns the frame sent (empty if none).
  std::vector<uint8_t> run(uint16_t rx_port, const std::vector<uint8_t>& bytes,
                           uint16_t* tx_port = nullptr, bool handed_off = false) {
    rte_mbuf* m = dptest::mbuf(bytes);
    EXPECT_NE(m, nullptr);
    out.clear();
    tsc += 160'000;  // 20 ms in the test's TSC
    ns += 20'000'000;
    process_burst(ctx, rx_port, &m, 1, handed_off, tsc, ns, out);
    std::vector<uint8_t> r;
    sent.clear();
    for (uint16_t p = 0; p < kMaxPorts; ++p) {
      for (uint16_t i = 0; i < out.n_tx[p]; ++i) {
        r = dptest::data(out.tx[p][i]);
        sent.push_back(r);
        if (tx_port) *tx_port = p;
        rte_pktmbuf_free(out.tx[p][i]);
      }
      for (uint16_t i = 0; i < out.n_exception[p]; ++i) rte_pktmbuf_free(out.exception[p][i]);
    }
    for (uint16_t w = 0; w < kMaxWorkers; ++w)
      for (uint16_t i = 0; i < out.n_handoff[w]; ++i) rte_pktmbuf_free(out.handoff[w][i]);
    return r;
  }
  // Every frame the last run() sent (run() returns only the last one).
  std::vector<std::vector<uint8_t>> sent;
  // The RTCP SR among them (UDP payload from offset 42), or empty.
  std::vector<uint8_t> sender_report() const {
    for (const auto& f : sent)
      if (f.size() >= 42 + 28 && (rd16(f, 36) & 1) != 0 && f[43] == 200) return f;
    return {};
  }
  uint64_t dropped(Drop d) const { return ctx.counters.dropped[size_t(d)]; }
  std::vector<Event> events() {
    std::vector<Event> v;
    Event e;
    while (rte_ring_sc_dequeue_elem(seg->event_ring(), &e, sizeof e) == 0) v.push_back(e);
    return v;
  }
};

Frame from_phone(uint32_t flow, uint16_t sport = 4000, uint32_t src = kPhone) {
  Frame f;
  f.src_ip = src;
  f.dst_ip = kGwA;
  f.sport = sport;
  f.dport = uint16_t(20000 + 2 * flow);
  return f;
}

Frame from_carrier(uint32_t flow) {
  Frame f;
  f.src_ip = kCarrier;
  f.dst_ip = kGwB;
  f.sport = 5000;
  f.dport = uint16_t(30000 + 2 * flow);
  return f;
}

}  // namespace

TEST(DataplanePacket, RelaysConfiguredLegsWithRewrittenAddressesAndValidChecksums) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(1, kPhone, 4000), Status::ok);
  Frame f = from_phone(1);
  f.payload = dptest::rtp(0, 100, 16000, 0xabcdef01);
  uint16_t port = 99;
  auto o = r.run(0, f.bytes(), &port);
  ASSERT_EQ(o.size(), 14u + 20 + 8 + 12 + 160);
  EXPECT_EQ(port, 1);
  const uint8_t carrier_mac[6] = {0x02, 0, 0, 0, 0, 0x14};
  const uint8_t gw_b_mac[6] = {0x02, 0, 0, 0, 0, 0x0b};
  EXPECT_EQ(0, memcmp(&o[0], carrier_mac, 6));
  EXPECT_EQ(0, memcmp(&o[6], gw_b_mac, 6));
  EXPECT_EQ(rd32(o, 26), kGwB);
  EXPECT_EQ(rd32(o, 30), kCarrier);
  EXPECT_EQ(rd16(o, 34), 30002);
  EXPECT_EQ(rd16(o, 36), 5000);
  EXPECT_TRUE(dptest::checksums_ok(o));
  EXPECT_EQ(o[43] & 0x7f, 0);
  EXPECT_EQ(rd16(o, 44), 100);
  EXPECT_EQ(rd32(o, 46), 16000u);
  EXPECT_EQ(rd32(o, 50), 0xabcdef01u);
  EXPECT_EQ(0, memcmp(&o[54], &f.payload[12], 160));
  // And back: carrier -> phone, payload type mapped 0 -> 0, to the phone.
  Frame g = from_carrier(1);
  g.payload = dptest::rtp(0, 7, 800, 0x11112222);
  o = r.run(1, g.bytes(), &port);
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(port, 0);
  EXPECT_EQ(rd32(o, 26), kGwA);
  EXPECT_EQ(rd32(o, 30), kPhone);
  EXPECT_EQ(rd16(o, 34), 20002);
  EXPECT_EQ(rd16(o, 36), 4000);
  EXPECT_TRUE(dptest::checksums_ok(o));
  EXPECT_EQ(r.ctx.counters.relayed, 2u);
  const FlowStats& s = r.seg->stats()[1 * 2 + 0];
  EXPECT_EQ(s.packets, 1u);
  EXPECT_EQ(s.bytes, 172u);
  EXPECT_EQ(r.seg->stats()[1 * 2 + 1].sent, 1u);
}

// Our checksum sum must be DPDK's, for every length (odd tails) and every
// alignment of the buffer.
TEST(DataplanePacket, RawChecksumEqualsDpdksForAnyLengthAndAlignment) {
  std::vector<uint8_t> buf(1600 + 8);
  uint32_t x = 12345;
  for (auto& b : buf) {
    x = x * 1103515245u + 12345u;
    b = uint8_t(x >> 16);
  }
  for (uint32_t off = 0; off < 8; ++off)
    for (uint32_t len = 0; len <= 1600; ++len)
      ASSERT_EQ(raw_cksum(&buf[off], len), rte_raw_cksum(&buf[off], len))
          << "offset " << off << " length " << len;
  // All ones: every 64-bit add carries.
  std::vector<uint8_t> ones(1600, 0xff);
  for (uint32_t len = 0; len <= 1600; ++len)
    ASSERT_EQ(raw_cksum(ones.data(), len), rte_raw_cksum(ones.data(), len)) << "length " << len;
  // The pseudo header, as rte_ipv4_phdr_cksum() sums it.
  for (int i = 0; i < 1000; ++i) {
    rte_ipv4_hdr ip{};
    x = x * 1103515245u + 12345u;
    ip.src_addr = x;
    x = x * 1103515245u + 12345u;
    ip.dst_addr = x;
    ip.version_ihl = 0x45;
    ip.next_proto_id = IPPROTO_UDP;
    const uint16_t l4 = uint16_t(8 + i);
    ip.total_length = rte_cpu_to_be_16(uint16_t(20 + l4));
    ASSERT_EQ(udp_pseudo_header_cksum(reinterpret_cast<const uint8_t*>(&ip), l4),
              rte_ipv4_phdr_cksum(&ip, 0));
  }
  // Where the sum carries out of every word, or is zero.
  for (uint32_t a : {0u, 1u, 0xffffu, 0xffff0000u, 0xffffffffu})
    for (uint32_t b : {0u, 0x00ff00ffu, 0xffffffffu})
      for (uint8_t proto : {uint8_t(0), uint8_t(17), uint8_t(255)})
        for (uint16_t l4 : {uint16_t(0), uint16_t(8), uint16_t(0xffff)}) {
          rte_ipv4_hdr ip{};
          ip.src_addr = a;
          ip.dst_addr = b;
          ip.next_proto_id = proto;
          ip.version_ihl = 0x45;
          ip.total_length = rte_cpu_to_be_16(uint16_t(20 + l4));
          ASSERT_EQ(udp_pseudo_header_cksum(reinterpret_cast<const uint8_t*>(&ip), l4),
                    rte_ipv4_phdr_cksum(&ip, 0))
              << std::hex << a << " " << b << " " << int(proto) << " " << l4;
        }
}

// Relayed packets get their checksums updated (RFC 1624) rather than
// recomputed: every output must carry exactly what a full computation gives
// (0 and 0xffff being the same ones'-complement zero), whatever the fields
// that changed and whatever the payload's length and bytes.
TEST(DataplanePacket, IncrementallyUpdatedChecksumsEqualAFullRecomputation) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(1, kPhone, 4000), Status::ok);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  auto same = [](uint16_t a, uint16_t b) {
    return a == b || ((a == 0 || a == 0xffff) && (b == 0 || b == 0xffff));
  };
  for (int i = 0; i < 2000; ++i) {
    Frame f = from_phone(1);
    f.ttl = uint8_t(1 + next() % 255);
    // Mostly one stream (continuity), sometimes a new SSRC (re-based, marker).
    const uint32_t ssrc = i % 97 == 0 ? uint32_t(next()) : 0x01020304u;
    f.payload = dptest::rtp(uint8_t(next() % 2 ? 0 : 13), uint16_t(next()), uint32_t(next()),
                            ssrc, size_t(next() % 200), next() % 2 == 0);
    for (size_t k = 12; k < f.payload.size(); ++k) f.payload[k] = uint8_t(next());
    auto o = r.run(0, f.bytes());
    ASSERT_FALSE(o.empty()) << "packet " << i;
    ASSERT_TRUE(dptest::checksums_ok(o)) << "packet " << i;
    const uint16_t ip_ck = rd16(o, 24), udp_ck = rd16(o, 40);
    EXPECT_NE(udp_ck, 0) << "packet " << i;
    std::vector<uint8_t> z = o;
    z[24] = z[25] = 0;
    const uint16_t full_ip = dptest::inet_checksum(&z[14], 20);
    z[40] = z[41] = 0;
    const size_t ulen = rd16(z, 38);
    uint32_t sum = dptest::inet_sum(&z[26], 8) + 17 + uint32_t(ulen);
    const uint16_t full_udp = dptest::inet_checksum(&z[34], ulen, sum);
    EXPECT_TRUE(same(ip_ck, full_ip)) << "packet " << i << ": " << ip_ck << " vs " << full_ip;
    EXPECT_TRUE(same(udp_ck, full_udp)) << "packet " << i << ": " << udp_ck << " vs " << full_udp;
  }
  EXPECT_EQ(r.ctx.counters.relayed, 2000u);
}

TEST(DataplanePacket, DatagramWithoutUdpChecksumLeavesWithOne) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(1, kPhone, 4000), Status::ok);
  Frame f = from_phone(1);
  f.udp_cksum = false;
  f.payload = dptest::rtp(0, 1, 160, 0x55);
  auto o = r.run(0, f.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_NE(rd16(o, 40), 0);
  EXPECT_TRUE(dptest::checksums_ok(o));
}

// A relay does not launder a corrupt datagram: the steady stream's UDP
// checksum is updated incrementally, so a wrong one leaves exactly as wrong
// (the far end's stack discards it), and one packet in 16 of it (seq % 16 ==
// 0) is checked and dropped here.  Whatever could change state is always
// checked: a latch candidate, DTMF, a transcoded leg.
TEST(DataplanePacket, SteadyRelayedStreamKeepsAWrongUdpChecksumWrongAndSamplesIt) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(1, kPhone, 4000), Status::ok);
  auto corrupt = [](Frame f) {
    auto b = f.bytes();
    b.back() ^= 1;  // payload changed after the checksum was computed
    return b;
  };
  Frame f = from_phone(1);
  f.payload = dptest::rtp(0, 1, 160, 0x5151);
  ASSERT_FALSE(r.run(0, f.bytes()).empty());
  f.payload = dptest::rtp(0, 2, 320, 0x5151);
  auto o = r.run(0, corrupt(f));
  ASSERT_FALSE(o.empty()) << "steady packet relayed";
  EXPECT_FALSE(dptest::checksums_ok(o));
  o.back() ^= 1;
  EXPECT_TRUE(dptest::checksums_ok(o)) << "the error, and only it, carried through";
  EXPECT_EQ(r.dropped(Drop::bad_udp_checksum), 0u);
  f.payload = dptest::rtp(0, 16, 16 * 160, 0x5151);
  EXPECT_TRUE(r.run(0, corrupt(f)).empty()) << "the sampled packet is checked";
  EXPECT_EQ(r.dropped(Drop::bad_udp_checksum), 1u);
  f.payload = dptest::rtp(0, 17, 17 * 160, 0x5151);
  EXPECT_FALSE(r.run(0, f.bytes()).empty());
  // A new SSRC, another source, DTMF: checked every time.
  f.payload = dptest::rtp(0, 18, 18 * 160, 0x7777);
  EXPECT_TRUE(r.run(0, corrupt(f)).empty());
  Frame other = from_phone(1, 4002);
  other.payload = dptest::rtp(0, 19, 19 * 160, 0x5151);
  EXPECT_TRUE(r.run(0, corrupt(other)).empty());
  f.payload = dptest::rtp(101, 20, 20 * 160, 0x5151);
  EXPECT_TRUE(r.run(0, corrupt(f)).empty());
  EXPECT_EQ(r.dropped(Drop::bad_udp_checksum), 4u);
  EXPECT_EQ(r.dropped(Drop::rtp_bleed), 0u) << "a corrupt candidate never counts towards a latch";
  // Transcoded: the payload is decoded, so every packet is checked.
  ASSERT_EQ(r.add_transcoded(2), Status::ok);
  Frame t = from_phone(2);
  t.payload = dptest::rtp(0, 1, 160, 0x6161);
  r.run(0, t.bytes());
  t.payload = dptest::rtp(0, 2, 320, 0x6161);
  r.run(0, corrupt(t));
  EXPECT_EQ(r.dropped(Drop::bad_udp_checksum), 5u);
}

// The steady stream's short path must be invisible: a script of everything
// a call's media does (latching, the steady stream with its sampled checksum
// checks, reordering, wrap, a corrupt datagram, a new SSRC, DTMF, comfort
// noise, a bleed attempt, hold and resume, a changed next hop, VLAN, CSRCs,
// padding, RTCP) gives the same frames, counters, statistics and events
// with the short path as without it, and most steady packets take it.
TEST(DataplanePacket, SteadyShortPathRelaysExactlyAsTheGeneralPath) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig fast, slow;
  slow.ctx.steady_fast_path = false;
  for (Rig* r : {&fast, &slow}) {
    ASSERT_EQ(r->add(1), Status::ok);                // phone latched from its packets
    ASSERT_EQ(r->add(2, kPhone, 4000), Status::ok);  // phone signalled
  }
  size_t step = 0;
  auto both = [&](uint16_t rx_port, const std::vector<uint8_t>& b) {
    ++step;
    const auto a = fast.run(rx_port, b);
    const auto c = slow.run(rx_port, b);
    EXPECT_EQ(a, c) << "frame " << step;
  };
  auto corrupt = [](std::vector<uint8_t> b) {
    b.back() ^= 0x20;
    return b;
  };
  uint32_t ts = 1000;
  auto phone = [&](uint32_t flow, uint8_t pt, uint16_t seq, uint32_t ssrc, uint16_t sport = 4000,
                   bool marker = false) {
    Frame f = from_phone(flow, sport);
    f.payload = dptest::rtp(pt, seq, ts += 160, ssrc, 160, marker);
    return f;
  };
  for (uint32_t flow : {1u, 2u}) {
    for (uint16_t q = 1; q <= 40; ++q) both(0, phone(flow, 0, q, 0xa1).bytes());
    both(0, phone(flow, 0, 38, 0xa1).bytes());                   // reordered
    both(0, phone(flow, 0, 41, 0xa1, 4000, true).bytes());       // marker
    both(0, corrupt(phone(flow, 0, 42, 0xa1).bytes()));          // passes, still wrong
    both(0, corrupt(phone(flow, 0, 48, 0xa1).bytes()));          // sampled: dropped
    for (uint16_t q = 65530; q != 4; ++q) both(0, phone(flow, 0, q, 0xa1).bytes());  // wrap
    for (uint16_t q = 100; q < 104; ++q) both(0, phone(flow, 0, q, 0xb2).bytes());   // new SSRC
    both(0, phone(flow, 101, 104, 0xb2).bytes());                // DTMF
    both(0, phone(flow, 13, 105, 0xb2).bytes());                 // comfort noise
    for (uint16_t q = 106; q < 108; ++q) both(0, phone(flow, 0, q, 0xc3, 4002).bytes());  // bleed
    for (uint16_t q = 108; q < 112; ++q) both(0, phone(flow, 0, q, 0xb2).bytes());
    // The same stream from a new port (NAT rebinding) needs an unbroken run
    // of latch_packets (3): the current source's packet in between resets it.
    both(0, phone(flow, 0, 112, 0xb2, 4002).bytes());
    both(0, phone(flow, 0, 113, 0xb2, 4002).bytes());
    both(0, phone(flow, 0, 114, 0xb2).bytes());
    both(0, phone(flow, 0, 115, 0xb2, 4002).bytes());
    both(0, phone(flow, 0, 116, 0xb2).bytes());
    Frame v = phone(flow, 0, 112, 0xb2);
    v.vlan = 7;
    both(0, v.bytes());
    Frame c = phone(flow, 0, 113, 0xb2);
    c.payload[0] = 0x81;  // one CSRC
    both(0, c.bytes());
    Frame p = phone(flow, 0, 114, 0xb2);
    p.payload[0] = 0xa0;  // padding: the last byte counts it
    p.payload.back() = 4;
    both(0, p.bytes());
    Frame nocks = phone(flow, 0, 115, 0xb2);
    nocks.udp_cksum = false;
    both(0, nocks.bytes());
    for (uint16_t q = 1; q < 20; ++q) {  // and back from the carrier
      Frame g = from_carrier(flow);
      g.payload = dptest::rtp(0, q, ts += 160, 0xd4);
      both(1, g.bytes());
    }
    Frame rtcp = from_carrier(flow);
    rtcp.dport = uint16_t(rtcp.dport + 1);
    rtcp.payload = {0x80, 201, 0, 1, 0, 0, 0, 0xd4};
    both(1, rtcp.bytes());
  }
  // The carrier's MAC moves (ARP): the cached next hop must not be used.
  for (Rig* r : {&fast, &slow}) r->nt->learn(1, kCarrier, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x44}});
  for (uint16_t q = 120; q < 124; ++q) both(0, phone(2, 0, q, 0xb2).bytes());
  // Hold (a modify), then resume.
  for (Rig* r : {&fast, &slow}) ASSERT_EQ(r->set_phone_hold(1, true), Status::ok);
  for (uint16_t q = 124; q < 128; ++q) both(1, [&] {
      Frame g = from_carrier(1);
      g.payload = dptest::rtp(0, q, ts += 160, 0xd4);
      return g.bytes();
    }());
  for (Rig* r : {&fast, &slow}) ASSERT_EQ(r->set_phone_hold(1, false), Status::ok);
  for (uint16_t q = 128; q < 140; ++q) both(0, phone(1, 0, q, 0xb2).bytes());

  EXPECT_EQ(fast.ctx.counters.relayed, slow.ctx.counters.relayed);
  EXPECT_EQ(fast.ctx.counters.rtcp_relayed, slow.ctx.counters.rtcp_relayed);
  EXPECT_EQ(fast.ctx.counters.latched, slow.ctx.counters.latched);
  EXPECT_EQ(fast.ctx.counters.dtmf_events, slow.ctx.counters.dtmf_events);
  for (size_t d = 0; d < size_t(Drop::count); ++d)
    EXPECT_EQ(fast.dropped(Drop(d)), slow.dropped(Drop(d))) << drop_name(Drop(d));
  EXPECT_EQ(slow.ctx.counters.relayed_steady, 0u);
  EXPECT_GT(fast.ctx.counters.relayed_steady * 10, fast.ctx.counters.relayed * 7)
      << "most relayed packets took the short path";
  EXPECT_GT(slow.dropped(Drop::bad_udp_checksum), 0u);
  for (uint32_t i = 2; i < 6; ++i) {
    const FlowStats& a = fast.seg->stats()[i];
    const FlowStats& b = slow.seg->stats()[i];
    EXPECT_EQ(a.packets, b.packets) << i;
    EXPECT_EQ(a.bytes, b.bytes) << i;
    EXPECT_EQ(a.lost, b.lost) << i;
    EXPECT_EQ(a.jitter, b.jitter) << i;
    EXPECT_EQ(a.last_seen_ns, b.last_seen_ns) << i;
    EXPECT_EQ(a.dropped, b.dropped) << i;
    EXPECT_EQ(a.sent, b.sent) << i;
  }
  const auto ea = fast.events(), eb = slow.events();
  ASSERT_EQ(ea.size(), eb.size());
  for (size_t i = 0; i < ea.size(); ++i)
    EXPECT_EQ(0, memcmp(&ea[i], &eb[i], sizeof(Event))) << "event " << i;
}

// The next hop's MAC is kept per leg; a change in the neighbour table (ARP
// learned a new MAC for the carrier) must reach the very next packet.
TEST(DataplanePacket, CachedNextHopFollowsANeighbourTableChange) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(1, kPhone, 4000), Status::ok);
  Frame f = from_phone(1);
  f.payload = dptest::rtp(0, 1, 160, 0x55);
  auto o = r.run(0, f.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(o[5], 0x14);
  f.payload = dptest::rtp(0, 2, 320, 0x55);
  o = r.run(0, f.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(o[5], 0x14);
  ASSERT_TRUE(r.nt->learn(1, kCarrier, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x15}}));
  f.payload = dptest::rtp(0, 3, 480, 0x55);
  o = r.run(0, f.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(o[5], 0x15);
}

TEST(DataplanePacket, OffLinkRemoteGoesToNextHopAndUnknownNeighbourIsResolved) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(2, kPhone, 4000, kFar), Status::ok);
  Frame f = from_phone(2);
  f.payload = dptest::rtp(0, 1, 160, 5);
  auto o = r.run(0, f.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(o[5], 0xfe);  // router's MAC
  EXPECT_EQ(rd32(o, 30), kFar);
  // Unknown on-link neighbour: dropped, counted, and asked for.
  ASSERT_EQ(r.add(3, kPhone, 4000, 0xc0a80133), Status::ok);
  f = from_phone(3);
  f.payload = dptest::rtp(0, 1, 160, 5);
  EXPECT_TRUE(r.run(0, f.bytes()).empty());
  EXPECT_EQ(r.dropped(Drop::no_neighbour), 1u);
  uint64_t key = 0;
  ASSERT_EQ(rte_ring_sc_dequeue_elem(r.resolve, &key, sizeof key), 0);
  EXPECT_EQ(key, (uint64_t(1) << 32) | 0xc0a80133);
}

TEST(DataplanePacket, SymmetricLatchingNeedsConsecutivePacketsAndResistsBleed) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(4), Status::ok);  // phone address unknown: NAT
  // The carrier talks first: nowhere to send yet.
  Frame c = from_carrier(4);
  c.payload = dptest::rtp(0, 1, 160, 0xc0c0);
  EXPECT_TRUE(r.run(1, c.bytes()).empty());
  EXPECT_EQ(r.dropped(Drop::no_destination), 1u);
  // Phone behind NAT at 10.0.0.16:40000: latches on the 3rd packet.
  for (uint16_t i = 0; i < 2; ++i) {
    Frame f = from_phone(4, 40000);
    f.payload = dptest::rtp(0, uint16_t(10 + i), 1600u + 160u * i, 0x5a5a);
    EXPECT_TRUE(r.run(0, f.bytes()).empty());
  }
  EXPECT_EQ(r.dropped(Drop::rtp_bleed), 2u);
  Frame f = from_phone(4, 40000);
  f.payload = dptest::rtp(0, 12, 1920, 0x5a5a);
  EXPECT_FALSE(r.run(0, f.bytes()).empty());
  auto ev = r.events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, uint16_t(EventType::latched));
  EXPECT_EQ(ev[0].u.latched.ip, kPhone);
  EXPECT_EQ(ev[0].u.latched.port, 40000);
  EXPECT_EQ(ev[0].u.latched.ssrc, 0x5a5au);
  // Carrier media now reaches the latched address.
  auto o = r.run(1, c.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(rd16(o, 36), 40000);

  // RTP bleed: an attacker with another SSRC never moves the latch.
  const uint64_t bleed0 = r.dropped(Drop::rtp_bleed);
  for (int i = 0; i < 10; ++i) {
    Frame a = from_phone(4, 6666, 0x0a000066);
    a.payload = dptest::rtp(0, uint16_t(500 + i), 9999, 0xbad);
    EXPECT_TRUE(r.run(0, a.bytes()).empty());
  }
  EXPECT_EQ(r.dropped(Drop::rtp_bleed), bleed0 + 10);
  // Even with the right SSRC, interleaved with the live source, no takeover.
  for (int i = 0; i < 6; ++i) {
    Frame a = from_phone(4, 6666, 0x0a000066);
    a.payload = dptest::rtp(0, uint16_t(600 + i), 9999, 0x5a5a);
    EXPECT_TRUE(r.run(0, a.bytes()).empty());
    Frame live = from_phone(4, 40000);
    live.payload = dptest::rtp(0, uint16_t(13 + i), 2080u + 160u * i, 0x5a5a);
    EXPECT_FALSE(r.run(0, live.bytes()).empty());
  }
  o = r.run(1, c.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(rd16(o, 36), 40000);
  EXPECT_TRUE(r.events().empty());
  // Unexpected payload type from a new source is bleed too.
  Frame pt = from_phone(4, 7777);
  pt.payload = dptest::rtp(34, 1, 1, 0x5a5a);
  EXPECT_TRUE(r.run(0, pt.bytes()).empty());
  // NAT rebinding: the same stream moves to a new port and stays there.
  for (uint16_t i = 0; i < 3; ++i) {
    Frame n = from_phone(4, 40002);
    n.payload = dptest::rtp(0, uint16_t(30 + i), 5000u + 160u * i, 0x5a5a);
    auto out = r.run(0, n.bytes());
    EXPECT_EQ(out.empty(), i < 2);
  }
  ev = r.events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].u.latched.port, 40002);
  // Non-latching trunk leg: anything but the carrier is a wrong source.
  Frame w = from_carrier(4);
  w.src_ip = kRouter;
  w.payload = dptest::rtp(0, 1, 1, 0xc0c0);
  EXPECT_TRUE(r.run(1, w.bytes()).empty());
  EXPECT_EQ(r.dropped(Drop::wrong_source), 1u);
}

TEST(DataplanePacket, SignalledAddressTakesTheLatchBackFromAnEarlyAttacker) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(12, kPhone, 4000), Status::ok);  // SDP: 10.0.0.16:4000
  r.nt->learn(0, 0x0a000066, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x66}});
  // The attacker is first and latches (nothing else is known yet).
  for (uint16_t i = 0; i < 3; ++i) {
    Frame a = from_phone(12, 6666, 0x0a000066);
    a.payload = dptest::rtp(0, uint16_t(100 + i), 160u * i, 0xbad);
    r.run(0, a.bytes());
  }
  Frame c = from_carrier(12);
  c.payload = dptest::rtp(0, 1, 160, 0xc0c0);
  auto o = r.run(1, c.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(rd32(o, 30), 0x0a000066u);
  // The real phone (signalled IP, NAT port, its own SSRC) takes over after
  // latch_packets packets although its SSRC differs.
  for (uint16_t i = 0; i < 3; ++i) {
    Frame p = from_phone(12, 4444);
    p.payload = dptest::rtp(0, uint16_t(7 + i), 160u * i, 0x5a5a);
    EXPECT_EQ(r.run(0, p.bytes()).empty(), i < 2);
  }
  o = r.run(1, c.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(rd32(o, 30), kPhone);
  EXPECT_EQ(rd16(o, 36), 4444);
  // And the attacker cannot take it back: its SSRC is not the phone's.
  for (uint16_t i = 0; i < 5; ++i) {
    Frame a = from_phone(12, 6666, 0x0a000066);
    a.payload = dptest::rtp(0, uint16_t(200 + i), 160u * i, 0xbad);
    EXPECT_TRUE(r.run(0, a.bytes()).empty());
  }
  o = r.run(1, c.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(rd16(o, 36), 4444);
}

TEST(DataplanePacket, SourceChangeKeepsEgressSsrcSeqTsContinuousWithMarker) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(5, kPhone, 4000), Status::ok);
  // Carrier side: ringback from one SSRC, then the answer from another.
  uint16_t last_seq = 0;
  uint32_t last_ts = 0, out_ssrc = 0;
  for (uint16_t i = 0; i < 3; ++i) {
    Frame c = from_carrier(5);
    c.payload = dptest::rtp(0, uint16_t(65534 + i), 4294967000u + 160u * i, 0x1111);
    auto o = r.run(1, c.bytes());
    ASSERT_FALSE(o.empty());
    last_seq = rd16(o, 44);
    last_ts = rd32(o, 46);
    out_ssrc = rd32(o, 50);
    EXPECT_EQ(o[43] & 0x80, 0);
  }
  EXPECT_EQ(last_seq, 0);  // wrapped as sent
  LegSpec l[2] = {r.ft->get(5)->legs[0], r.ft->get(5)->legs[1]};
  l[1].remote_ip = 0xc0a80115;  // re-INVITE: media now from another box
  l[1].remote_port = 6000;
  r.nt->learn(1, 0xc0a80115, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x15}});
  ASSERT_EQ(r.ft->modify(5, l), Status::ok);
  Frame c = from_carrier(5);
  c.src_ip = 0xc0a80115;
  c.sport = 6000;
  c.payload = dptest::rtp(0, 4242, 777777, 0x2222);
  auto o = r.run(1, c.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(rd32(o, 50), out_ssrc);
  EXPECT_EQ(rd16(o, 44), uint16_t(last_seq + 1));
  EXPECT_EQ(rd32(o, 46), last_ts + 160);
  EXPECT_EQ(o[43] & 0x80, 0x80);
  c.payload = dptest::rtp(0, 4243, 777937, 0x2222);
  o = r.run(1, c.bytes());
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(rd16(o, 44), uint16_t(last_seq + 2));
  EXPECT_EQ(rd32(o, 46), last_ts + 320);
  EXPECT_EQ(o[43] & 0x80, 0);
  // The old source is no longer accepted.
  Frame old = from_carrier(5);
  old.payload = dptest::rtp(0, 3, 184u, 0x1111);
  EXPECT_TRUE(r.run(1, old.bytes()).empty());
}

// Hold re-programmed by the control plane: nothing goes out of the held leg
// (counted as `held`, not as a bad packet), the held party's own media still
// reaches the other leg, and after resume the stream continues where it was.
TEST(DataplanePacket, HeldLegReceivesNothingAndResumeContinuesTheStream) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(1, kPhone, 4000), Status::ok);
  Frame g = from_carrier(1);
  g.payload = dptest::rtp(0, 10, 1600, 0x0c0c0c0c);
  ASSERT_FALSE(r.run(1, g.bytes()).empty());
  ASSERT_EQ(r.set_phone_hold(1, true), Status::ok);
  for (uint16_t k = 11; k < 14; ++k) {
    g.payload = dptest::rtp(0, k, 1600 + 160u * (k - 10), 0x0c0c0c0c);
    EXPECT_TRUE(r.run(1, g.bytes()).empty()) << "sent to a held phone";
  }
  EXPECT_EQ(r.dropped(Drop::held), 3u);
  EXPECT_EQ(r.seg->stats()[1 * 2 + 1].packets, 4u);  // still received and counted
  EXPECT_EQ(r.seg->stats()[1 * 2 + 1].dropped, 0u);  // not a bad packet
  // The held phone's music on hold still reaches the carrier.
  Frame f = from_phone(1);
  f.payload = dptest::rtp(0, 500, 80000, 0xabab0001);
  uint16_t port = 99;
  ASSERT_FALSE(r.run(0, f.bytes(), &port).empty());
  EXPECT_EQ(port, 1);
  // Resume: carrier media reaches the phone again, same SSRC, seq following on.
  ASSERT_EQ(r.set_phone_hold(1, false), Status::ok);
  g.payload = dptest::rtp(0, 14, 1600 + 160u * 4, 0x0c0c0c0c);
  auto o = r.run(1, g.bytes(), &port);
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(port, 0);
  EXPECT_EQ(rd16(o, 44), 14);
  EXPECT_EQ(rd32(o, 50), 0x0c0c0c0cu);
  EXPECT_EQ(r.dropped(Drop::held), 3u);
}

TEST(DataplanePacket, Rfc4733IsMappedAndReportedOnce) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(6, kPhone, 4000), Status::ok);
  for (int i = 0; i < 4; ++i) {
    Frame f = from_phone(6);
    auto p = dptest::rtp(101, uint16_t(50 + i), 8000, 0x77, 0);
    const bool end = i >= 1;
    const uint8_t ev[4] = {5, uint8_t((end ? 0x80 : 0) | 10), 0x03, 0x20};
    p.insert(p.end(), ev, ev + 4);
    f.payload = p;
    auto o = r.run(0, f.bytes());
    ASSERT_FALSE(o.empty());
    EXPECT_EQ(o[43] & 0x7f, 96);  // telephone-event PT of the carrier leg
  }
  auto ev = r.events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, uint16_t(EventType::dtmf));
  EXPECT_EQ(ev[0].u.dtmf.event, 5);
  EXPECT_EQ(ev[0].u.dtmf.volume, 10);
  EXPECT_EQ(ev[0].u.dtmf.duration, 0x0320);
  // An undeclared dynamic payload type is not relayed.
  Frame f = from_phone(6);
  f.payload = dptest::rtp(110, 60, 9000, 0x77);
  EXPECT_TRUE(r.run(0, f.bytes()).empty());
  EXPECT_EQ(r.dropped(Drop::unexpected_payload_type), 1u);
}

TEST(DataplanePacket, RtcpIsRelayedToTheOtherLegsRtcpPort) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(7, kPhone, 4000), Status::ok);
  Frame f = from_phone(7, 4001);
  f.dport = 20000 + 14 + 1;
  // RR: V=2, RC=0, PT=201, length=1 (8 bytes), SSRC.
  f.payload = {0x80, 201, 0, 1, 0, 0, 0x12, 0x34};
  uint16_t port = 9;
  auto o = r.run(0, f.bytes(), &port);
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(port, 1);
  EXPECT_EQ(rd16(o, 34), 30015);
  EXPECT_EQ(rd16(o, 36), 5001);
  EXPECT_TRUE(dptest::checksums_ok(o));
  EXPECT_EQ(r.ctx.counters.rtcp_relayed, 1u);
  f.payload = {0x80, 201, 0, 9, 0, 0, 0x12, 0x34};  // length beyond the datagram
  EXPECT_TRUE(r.run(0, f.bytes()).empty());
  f.payload = {0x80, 201, 0, 1};
  EXPECT_TRUE(r.run(0, f.bytes()).empty());
  EXPECT_EQ(r.dropped(Drop::bad_rtcp), 2u);
}

TEST(DataplanePacket, VlanTaggedMediaIsRelayedUntagged) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(8, kPhone, 4000), Status::ok);
  Frame f = from_phone(8);
  f.vlan = 42;
  f.payload = dptest::rtp(0, 1, 160, 9);
  auto o = r.run(0, f.bytes());
  ASSERT_EQ(o.size(), 14u + 20 + 8 + 172);
  EXPECT_EQ(rd16(o, 12), 0x0800);
  EXPECT_TRUE(dptest::checksums_ok(o));
}

TEST(DataplanePacket, NonMediaGoesToTheExceptionPath) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(9, kPhone, 4000), Status::ok);
  auto exceptions = [&](const std::vector<uint8_t>& b) {
    rte_mbuf* m = dptest::mbuf(b);
    r.out.clear();
    process_burst(r.ctx, 0, &m, 1, false, r.tsc, r.ns, r.out);
    const uint16_t n = r.out.n_exception[0];
    for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(r.out.exception[0][i]);
    return n;
  };
  std::vector<uint8_t> arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(exceptions(arp), 1);
  Frame sip = from_phone(9, 5060);
  sip.dport = 5060;
  sip.payload.assign(300, 'S');
  EXPECT_EQ(exceptions(sip.bytes()), 1);
  Frame icmp = from_phone(9);
  icmp.proto = 1;
  icmp.udp_cksum = false;
  EXPECT_EQ(exceptions(icmp.bytes()), 1);
  Frame tail = from_phone(9);  // non-first fragment: only the kernel can reassemble
  tail.frag = 0x0010;
  tail.payload = dptest::rtp(0, 1, 1, 1);
  EXPECT_EQ(exceptions(tail.bytes()), 1);
  EXPECT_EQ(r.ctx.counters.exception, 4u);
  EXPECT_EQ(r.ctx.counters.dropped_total(), 0u);
}

TEST(DataplanePacket, SessionsOwnedByAnotherWorkerAreHandedOff) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  FlowTable ft2("ut_pkt_two_workers", 16, 2, 2, nullptr, SOCKET_ID_ANY);
  r.ctx.flows = &ft2;
  LegSpec l[2] = {};
  for (int i = 0; i < 2; ++i) {
    l[i].port = uint16_t(i);
    l[i].local_ip = i ? kGwB : kGwA;
    l[i].local_port = 40000;
    l[i].remote_ip = i ? kCarrier : kPhone;
    l[i].remote_port = 4000;
    l[i].dtmf_pt = kNoPayloadType;
  }
  ASSERT_EQ(ft2.add(0, l), Status::ok);  // owner 0
  l[0].local_port = 40002;
  l[1].local_port = 40002;
  ASSERT_EQ(ft2.add(1, l), Status::ok);  // owner 1
  Frame f = from_phone(0);
  f.dport = 40002;
  f.payload = dptest::rtp(0, 1, 1, 1);
  rte_mbuf* m = dptest::mbuf(f.bytes());
  r.out.clear();
  process_burst(r.ctx, 0, &m, 1, false, r.tsc, r.ns, r.out);
  ASSERT_EQ(r.out.n_handoff[1], 1);
  // The owner processes it as a hand-off and relays it.
  r.ctx.worker_id = 1;
  rte_mbuf* h = r.out.handoff[1][0];
  r.out.clear();
  process_burst(r.ctx, 0, &h, 1, true, r.tsc, r.ns, r.out);
  ASSERT_EQ(r.out.n_tx[1], 1);
  rte_pktmbuf_free(r.out.tx[1][0]);
  EXPECT_EQ(r.ctx.counters.handoff_out, 1u);
  EXPECT_EQ(r.ctx.counters.handoff_in, 1u);
}

// Every malformed class is dropped, counted under its own reason, never sent.
TEST(DataplanePacket, EveryBadPacketClassIsDroppedAndCounted) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(10, kPhone, 4000), Status::ok);
  Frame good = from_phone(10);
  good.payload = dptest::rtp(0, 1, 160, 3);
  const std::vector<uint8_t> g = good.bytes();
  auto expect_drop = [&](const std::vector<uint8_t>& b, Drop d, const char* what) {
    const uint64_t before = r.dropped(d);
    EXPECT_TRUE(r.run(0, b).empty()) << what;
    EXPECT_EQ(r.dropped(d), before + 1) << what << " -> " << drop_name(d);
  };
  expect_drop(std::vector<uint8_t>(g.begin(), g.begin() + 10), Drop::truncated_ether, "eth");
  Frame v = good;
  v.vlan = 1;
  auto vb = v.bytes();
  expect_drop(std::vector<uint8_t>(vb.begin(), vb.begin() + 16), Drop::truncated_ether, "vlan");
  expect_drop(std::vector<uint8_t>(g.begin(), g.begin() + 30), Drop::truncated_ip, "ip");
  auto b = g;
  b[14] = 0x65;
  expect_drop(b, Drop::bad_ip_version, "version 6 in IPv4 ethertype");
  b = g;
  b[14] = 0x44;
  expect_drop(b, Drop::bad_ip_ihl, "ihl 4");
  b = g;
  b[14] = 0x4f;
  expect_drop(std::vector<uint8_t>(b.begin(), b.begin() + 60), Drop::bad_ip_ihl, "ihl past end");
  b = g;
  b[16] = 0x7f;
  expect_drop(b, Drop::bad_ip_length, "total length past frame");
  b = g;
  b[16] = 0;
  b[17] = 10;
  expect_drop(b, Drop::bad_ip_length, "total length < ihl");
  b = g;
  b[24] ^= 0x55;
  expect_drop(b, Drop::bad_ip_checksum, "ip checksum");
  Frame fr = good;
  fr.frag = 0x2000;  // MF, offset 0, towards a media port
  expect_drop(fr.bytes(), Drop::fragment, "first fragment");
  Frame tu = good;
  tu.payload.clear();
  b = tu.bytes();
  b.resize(14 + 20 + 4);
  b[16] = 0;
  b[17] = 24;
  b[24] = b[25] = 0;
  {
    uint16_t c = dptest::inet_checksum(&b[14], 20);
    b[24] = uint8_t(c >> 8);
    b[25] = uint8_t(c);
  }
  expect_drop(b, Drop::truncated_udp, "udp header cut");
  b = g;
  b[38] = 0;
  b[39] = 4;
  expect_drop(b, Drop::bad_udp_length, "udp length < 8");
  b = g;
  b[38] = 0x7f;
  expect_drop(b, Drop::bad_udp_length, "udp length > ip payload");
  b = g;
  b.back() ^= 1;
  expect_drop(b, Drop::bad_udp_checksum, "udp checksum");
  Frame big = good;
  big.payload = dptest::rtp(0, 1, 1, 3, 1600);
  expect_drop(big.bytes(), Drop::oversized, "oversized");
  Frame rt = good;
  rt.payload.assign(8, 0x80);
  expect_drop(rt.bytes(), Drop::truncated_rtp, "rtp < 12");
  rt = good;
  rt.payload[0] = 0x40;
  expect_drop(rt.bytes(), Drop::bad_rtp_version, "rtp v1");
  rt = good;
  rt.payload = dptest::rtp(0, 1, 1, 3, 20);
  rt.payload[0] = 0x8f;  // 15 CSRCs = 60 bytes > 32 available
  expect_drop(rt.bytes(), Drop::bad_rtp_csrc, "absurd csrc count");
  rt = good;
  rt.payload = dptest::rtp(0, 1, 1, 3, 2);
  rt.payload[0] = 0x90;  // extension header does not fit
  expect_drop(rt.bytes(), Drop::bad_rtp_extension, "ext header cut");
  rt = good;
  rt.payload = dptest::rtp(0, 1, 1, 3, 8);
  rt.payload[0] = 0x90;
  rt.payload[14] = 0x10;  // 4096 words of extension
  expect_drop(rt.bytes(), Drop::bad_rtp_extension, "ext length");
  rt = good;
  rt.payload = dptest::rtp(0, 1, 1, 3, 4);
  rt.payload[0] = 0xa0;
  rt.payload.back() = 0;
  expect_drop(rt.bytes(), Drop::bad_rtp_padding, "padding 0");
  rt.payload.back() = 200;
  expect_drop(rt.bytes(), Drop::bad_rtp_padding, "padding past header");
  // The valid frame still passes after all that.
  EXPECT_FALSE(r.run(0, g).empty());
  EXPECT_EQ(r.ctx.counters.relayed, 1u);
}

TEST(DataplanePacket, JitterAndLossFollowRfc3550) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(11, kPhone, 4000), Status::ok);
  // Perfectly paced stream with a gap of 2 lost packets: jitter stays 0.
  for (uint16_t s : {1, 2, 3, 6, 7}) {
    Frame f = from_phone(11);
    f.payload = dptest::rtp(0, s, 160u * s, 3);
    r.tsc = 1'000'000 + 160'000ull * s - 160'000;  // run() adds 20 ms
    r.run(0, f.bytes());
  }
  const FlowStats& st = r.seg->stats()[11 * 2];
  EXPECT_EQ(st.packets, 5u);
  EXPECT_EQ(st.lost, 2u);
  EXPECT_EQ(st.jitter, 0u);
}

// Found by fuzz_dataplane_packet: RTP timestamps half the 32-bit space apart
// made the RFC 3550 transit difference overflow a signed int (UB). The
// difference is modular now; jitter is large but defined, and the packets count.
TEST(DataplanePacket, JitterOfWildTimestampsDoesNotOverflow) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(12, kPhone, 4000), Status::ok);
  const uint32_t stamps[] = {0x80000000u, 0x00000001u, 0x7fffffffu, 0xffffffffu};
  uint16_t seq = 1;
  for (uint32_t ts : stamps) {
    Frame f = from_phone(12);
    f.payload = dptest::rtp(0, seq++, ts, 3);
    r.run(0, f.bytes());
  }
  const FlowStats& st = r.seg->stats()[12 * 2];
  EXPECT_EQ(st.packets, 4u);
  EXPECT_GT(st.jitter, 0u);
}

namespace {

// Media on a transcoded session (PCMU from the phone, PCMA from the carrier).
std::vector<uint8_t> phone_media(uint32_t flow, uint16_t seq) {
  Frame f = from_phone(flow);
  f.payload = dptest::rtp(0, seq, 160u * seq, 0x0bad0bad);
  return f.bytes();
}
std::vector<uint8_t> carrier_media(uint32_t flow, uint16_t seq, uint32_t ssrc) {
  Frame f = from_carrier(flow);
  f.payload = dptest::rtp(8, seq, 160u * seq, ssrc);
  return f.bytes();
}

// Report block of an SR frame (Ethernet 14 + IPv4 20 + UDP 8 + SR header 28).
constexpr size_t kBlock = 42 + 28;

// One RTCP interval later the phone's next packet makes the carrier leg send
// its SR: returns it (empty if none was sent).
std::vector<uint8_t> next_report(Rig& r, uint32_t flow, uint16_t& phone_seq) {
  r.ns += r.ctx.rtcp_interval_ns;
  r.run(0, phone_media(flow, phone_seq++));
  return r.sender_report();
}

}  // namespace

// RFC 3550 A.3: the report block about the carrier's stream, in the SR the
// carrier leg sends, carries the loss of the interval since the previous
// block and the signed cumulative loss.
TEST(DataplanePacket, SenderReportBlockCarriesIntervalAndCumulativeLoss) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add_transcoded(13), Status::ok);
  r.ctx.rtcp_interval_ns = 1'000'000'000;
  constexpr uint32_t kSsrc = 0xca11ca11;
  uint16_t phone_seq = 1;
  // The carrier leg's own stream (and its SR clock) starts with the phone's media.
  r.run(0, phone_media(13, phone_seq++));
  ASSERT_TRUE(r.sender_report().empty());
  // Interval 1: 100..119 with 103, 107, 108 and 115 missing: 4 of 20 lost.
  for (uint16_t s = 100; s < 120; ++s)
    if (s != 103 && s != 107 && s != 108 && s != 115) r.run(1, carrier_media(13, s, kSsrc));
  auto sr = next_report(r, 13, phone_seq);
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(rd16(sr, 36), 5001);     // the carrier's RTCP port
  EXPECT_EQ(sr[42] & 0x1f, 1);       // one report block
  EXPECT_EQ(rd32(sr, kBlock), kSsrc);
  EXPECT_EQ(int(sr[kBlock + 4]), (4 << 8) / 20);
  EXPECT_EQ(rd32(sr, kBlock + 4) & 0xffffff, 4u);
  EXPECT_EQ(rd32(sr, kBlock + 8), 119u);
  // Interval 2: 120..129 without 122, and 125 three times: more received
  // than expected in the interval, so no fraction; cumulative 4 + 1 - 2 = 3.
  for (uint16_t s = 120; s < 130; ++s) {
    if (s == 122) continue;
    r.run(1, carrier_media(13, s, kSsrc));
    if (s == 125) {
      r.run(1, carrier_media(13, s, kSsrc));
      r.run(1, carrier_media(13, s, kSsrc));
    }
  }
  sr = next_report(r, 13, phone_seq);
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(int(sr[kBlock + 4]), 0);
  EXPECT_EQ(rd32(sr, kBlock + 4) & 0xffffff, 3u);
  EXPECT_EQ(rd32(sr, kBlock + 8), 129u);
  // Interval 3: 130 and 131, then 131 five more times: cumulative -2, in
  // 24-bit two's complement.
  r.run(1, carrier_media(13, 130, kSsrc));
  for (int i = 0; i < 6; ++i) r.run(1, carrier_media(13, 131, kSsrc));
  sr = next_report(r, 13, phone_seq);
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(int(sr[kBlock + 4]), 0);
  EXPECT_EQ(rd32(sr, kBlock + 4) & 0xffffff, 0xfffffeu);
  // Interval 4: 132..141 with only 132 and 141 arriving: 8 of 10 lost.
  r.run(1, carrier_media(13, 132, kSsrc));
  r.run(1, carrier_media(13, 141, kSsrc));
  sr = next_report(r, 13, phone_seq);
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(int(sr[kBlock + 4]), (8 << 8) / 10);
  EXPECT_EQ(rd32(sr, kBlock + 4) & 0xffffff, 6u);
  EXPECT_EQ(rd32(sr, kBlock + 8), 141u);
}

// The cumulative count saturates at the ends of its 24-bit range instead of
// wrapping.  Millions of packets would take too long through the packet path,
// so the counters the worker keeps are moved directly, as a long call would.
TEST(DataplanePacket, SenderReportCumulativeLossSaturates) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add_transcoded(14), Status::ok);
  r.ctx.rtcp_interval_ns = 1'000'000'000;
  uint16_t phone_seq = 1;
  r.run(0, phone_media(14, phone_seq++));
  r.run(1, carrier_media(14, 10, 0x5eed));
  LegRuntime& carrier = r.ft->runtime(14)->legs[1];
  carrier.cycles += 65536u * 200;  // 13 million expected, one received
  auto sr = next_report(r, 14, phone_seq);
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(rd32(sr, kBlock + 4) & 0xffffff, 0x7fffffu);
  EXPECT_EQ(int(sr[kBlock + 4]), 255);  // all but one lost
  carrier.cycles -= 65536u * 200;
  carrier.received += 9'000'000;  // duplicates beyond -2^23
  carrier.received_prior = carrier.received;
  sr = next_report(r, 14, phone_seq);
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(rd32(sr, kBlock + 4) & 0xffffff, 0x800000u);
}

namespace {

// RTCP from the carrier (to the carrier leg's RTCP port) with this payload.
std::vector<uint8_t> carrier_rtcp(uint32_t flow, const std::vector<uint8_t>& payload) {
  Frame f = from_carrier(flow);
  f.sport = 5001;
  f.dport = uint16_t(30000 + 2 * flow + 1);
  f.payload = payload;
  return f.bytes();
}

// SR with no report blocks: V=2, PT=200, length 6 (28 bytes).
std::vector<uint8_t> sr_packet(uint32_t ssrc, uint32_t ntp_sec, uint32_t ntp_frac) {
  std::vector<uint8_t> p = {0x80, 200, 0, 6};
  auto put32 = [&p](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) p.push_back(uint8_t(v >> s));
  };
  put32(ssrc);
  put32(ntp_sec);
  put32(ntp_frac);
  put32(0x11223344);  // RTP timestamp
  put32(50);          // packets
  put32(8000);        // octets
  return p;
}

// SDES with one CNAME item "c", padded: V=2, SC=1, PT=202, length 3.
std::vector<uint8_t> sdes_packet(uint32_t ssrc) {
  return {0x81, 202, 0, 3, uint8_t(ssrc >> 24), uint8_t(ssrc >> 16), uint8_t(ssrc >> 8),
          uint8_t(ssrc), 1, 1, 'c', 0, 0, 0, 0, 0};
}

std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

// RFC 3550 6.4.1: after the carrier's SR, the report block about its stream
// carries LSR = the middle 32 bits of that SR's NTP timestamp and DLSR = the
// time since it arrived, in 1/65536 s.
TEST(DataplanePacket, SenderReportBlockCarriesLsrAndDlsrOfThePeersLastSr) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add_transcoded(15), Status::ok);
  r.ctx.rtcp_interval_ns = 1'000'000'000;
  constexpr uint32_t kSsrc = 0xca11ca11;
  uint16_t phone_seq = 1, carrier_seq = 500;
  r.run(0, phone_media(15, phone_seq++));
  for (int i = 0; i < 5; ++i) r.run(1, carrier_media(15, carrier_seq++, kSsrc));
  // No SR from the carrier yet: LSR and DLSR 0.
  auto sr = next_report(r, 15, phone_seq);
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(rd32(sr, kBlock), kSsrc);
  EXPECT_EQ(rd32(sr, kBlock + 16), 0u);
  EXPECT_EQ(rd32(sr, kBlock + 20), 0u);

  // The carrier's SR + SDES compound is terminated, not relayed.
  EXPECT_TRUE(r.run(1, carrier_rtcp(15, cat(sr_packet(kSsrc, 0xe1234567, 0x89abcdef),
                                            sdes_packet(kSsrc)))).empty());
  EXPECT_EQ(r.ctx.counters.rtcp_terminated, 1u);
  const uint64_t arrived = r.ns;
  // 1.5 s later (run() adds its 20 ms), our next SR to the carrier.
  r.ns = arrived + 1'500'000'000 - 20'000'000;
  r.run(0, phone_media(15, phone_seq++));
  sr = r.sender_report();
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(rd32(sr, kBlock + 16), 0x456789abu);
  EXPECT_EQ(rd32(sr, kBlock + 20), 98304u);  // 1.5 * 65536

  // An SR from another SSRC than the carrier's RTP (a stranger, or a stale
  // source) changes nothing; the delay keeps counting from the real one.
  EXPECT_TRUE(r.run(1, carrier_rtcp(15, sr_packet(0x0ddba11, 0xe2000000, 0))).empty());
  EXPECT_EQ(r.ctx.counters.rtcp_terminated, 2u);
  r.ns = arrived + 2'750'000'000 - 20'000'000;
  r.run(0, phone_media(15, phone_seq++));
  sr = r.sender_report();
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(rd32(sr, kBlock + 16), 0x456789abu);
  EXPECT_EQ(rd32(sr, kBlock + 20), 180224u);  // 2.75 * 65536

  // The carrier's next SR replaces it; an odd delay is truncated to the unit.
  r.run(1, carrier_rtcp(15, sr_packet(kSsrc, 0xe1234568, 0x00010000)));
  const uint64_t arrived2 = r.ns;
  r.ns = arrived2 + 1'234'567'890 - 20'000'000;
  r.run(0, phone_media(15, phone_seq++));
  sr = r.sender_report();
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(rd32(sr, kBlock + 16), 0x45680001u);
  EXPECT_EQ(rd32(sr, kBlock + 20), uint32_t(1'234'567'890ull * 65536 / 1'000'000'000));

  // A new carrier source: the old source's SR does not describe it.
  for (int i = 0; i < 3; ++i) r.run(1, carrier_media(15, uint16_t(9000 + i), 0x5eca11));
  sr = next_report(r, 15, phone_seq);
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(rd32(sr, kBlock), 0x5eca11u);
  EXPECT_EQ(rd32(sr, kBlock + 16), 0u);
  EXPECT_EQ(rd32(sr, kBlock + 20), 0u);
  EXPECT_EQ(r.dropped(Drop::bad_rtcp), 0u);
}

// Compounds that do not hold together are dropped whole: the SR inside is
// not believed, nothing is read past the datagram, and a valid SR still works
// afterwards.
TEST(DataplanePacket, MalformedRtcpCompoundOnTranscodedLegLeavesLsrAlone) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add_transcoded(9), Status::ok);
  r.ctx.rtcp_interval_ns = 1'000'000'000;
  constexpr uint32_t kSsrc = 0xca11ca11;
  uint16_t phone_seq = 1;
  r.run(0, phone_media(9, phone_seq++));
  r.run(1, carrier_media(9, 1, kSsrc));
  const auto good = sr_packet(kSsrc, 0xe0000001, 0x00020000);  // LSR 0x00010002
  const auto bad_sr = sr_packet(kSsrc, 0xe0009999, 0x99990000);  // LSR 0x99999999
  auto with = [](std::vector<uint8_t> p, size_t at, uint8_t v) {
    p[at] = v;
    return p;
  };
  const std::vector<std::pair<const char*, std::vector<uint8_t>>> cases = {
      {"SR without sender info", {0x80, 200, 0, 1, 0xca, 0x11, 0xca, 0x11}},
      {"SR cut inside its length", std::vector<uint8_t>(bad_sr.begin(), bad_sr.end() - 8)},
      {"SR claiming a report block it lacks", with(bad_sr, 0, 0x81)},
      {"next packet runs past the datagram", cat(bad_sr, {0x81, 202, 0, 9, 1, 2, 3, 4})},
      {"next packet header cut", cat(bad_sr, {0x81, 202})},
      {"three stray bytes after the SR", cat(bad_sr, {0, 0, 0})},
      {"next packet not version 2", cat(bad_sr, {0x41, 202, 0, 1, 1, 2, 3, 4})},
      {"padding on a packet that is not the last", cat(with(bad_sr, 0, 0xa0), sdes_packet(kSsrc))},
      {"padding count past the packet", with(with(bad_sr, 0, 0xa0), 27, 29)},
      {"padding count 0", with(with(bad_sr, 0, 0xa0), 27, 0)},
      {"padding eating into the sender info", with(with(bad_sr, 0, 0xa0), 27, 8)},
  };
  uint64_t bad = 0;
  for (const auto& [what, payload] : cases) {
    EXPECT_TRUE(r.run(1, carrier_rtcp(9, payload)).empty()) << what;
    EXPECT_EQ(r.dropped(Drop::bad_rtcp), ++bad) << what;
  }
  EXPECT_EQ(r.ctx.counters.rtcp_terminated, 0u);
  // Bytes shaped like an SR inside an RR's length are the RR's extension
  // (RFC 3550 6.4.2): a valid compound, terminated, but no SR in it.
  EXPECT_TRUE(r.run(1, carrier_rtcp(9, cat({0x80, 201, 0, 8, 1, 2, 3, 4}, bad_sr))).empty());
  EXPECT_EQ(r.ctx.counters.rtcp_terminated, 1u);
  auto sr = next_report(r, 9, phone_seq);
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(rd32(sr, kBlock + 16), 0u);
  EXPECT_EQ(rd32(sr, kBlock + 20), 0u);

  // A well-formed SR with a valid padded SDES after it is taken...
  auto padded_sdes = sdes_packet(kSsrc);
  padded_sdes[0] |= 0x20;
  padded_sdes.back() = 4;
  EXPECT_TRUE(r.run(1, carrier_rtcp(9, cat(good, padded_sdes))).empty());
  EXPECT_EQ(r.ctx.counters.rtcp_terminated, 2u);
  // ...and none of the broken ones replaces it.
  for (const auto& [what, payload] : cases) r.run(1, carrier_rtcp(9, payload));
  EXPECT_EQ(r.dropped(Drop::bad_rtcp), 2 * bad);
  sr = next_report(r, 9, phone_seq);
  ASSERT_FALSE(sr.empty());
  EXPECT_EQ(rd32(sr, kBlock + 16), 0x00010002u);
  EXPECT_NE(rd32(sr, kBlock + 20), 0u);
}

// Telemetry's keys are an interface (scripts and operators read them): the
// lists that generate them keep these names, in this order, so that a
// reordering or a rename is a decision and not an accident.
TEST(DataplaneNames, DropReasonsKeepTheirTelemetryNamesAndOrder) {
  const char* const expected[] = {
      "truncated_ether", "truncated_ip", "bad_ip_version", "bad_ip_ihl", "bad_ip_length",
      "bad_ip_checksum", "fragment", "truncated_udp", "bad_udp_length", "bad_udp_checksum",
      "oversized", "truncated_rtp", "bad_rtp_version", "bad_rtp_csrc", "bad_rtp_extension",
      "bad_rtp_padding", "bad_rtcp", "rtp_bleed", "wrong_source", "unexpected_payload_type",
      "no_destination", "no_neighbour", "unsupported_codec", "tx_full", "exception_full",
      "handoff_full", "held"};
  ASSERT_EQ(std::size(expected), size_t(Drop::count));
  for (size_t r = 0; r < size_t(Drop::count); ++r) {
    EXPECT_STREQ(drop_name(Drop(r)), expected[r]) << r;
    EXPECT_EQ(drop_is_loss(Drop(r)), Drop(r) != Drop::held) << expected[r];
  }
  EXPECT_STREQ(drop_name(Drop::count), "unknown");
  EXPECT_STREQ(drop_name(Drop(200)), "unknown");
  EXPECT_FALSE(drop_is_loss(Drop(200)));
}

TEST(DataplaneNames, WorkerCountersKeepTheirTelemetryNamesAndOrder) {
  std::vector<std::string> names;
#define MSGW_TEST_COUNTER_NAME(name) names.push_back(#name);
  MSGW_FOREACH_WORKER_COUNTER(MSGW_TEST_COUNTER_NAME)
#undef MSGW_TEST_COUNTER_NAME
  const std::vector<std::string> expected = {
      "rx", "tx", "relayed", "relayed_steady", "rtcp_relayed", "exception", "handoff_out",
      "handoff_in", "latched", "dtmf_events", "fragments_seen", "transcoded_packets",
      "transcoded_frames", "concealed_frames", "transcode_buffered", "rtcp_terminated",
      "rtcp_sent"};
  EXPECT_EQ(names, expected);
}

TEST(DataplaneNames, WorkerCountersAddEveryFieldAndTheLossTotalSkipsHeld) {
  WorkerCounters a, b;
  uint64_t v = 1;
#define MSGW_TEST_COUNTER_SET(name) a.name = v++; b.name = 100;
  MSGW_FOREACH_WORKER_COUNTER(MSGW_TEST_COUNTER_SET)
#undef MSGW_TEST_COUNTER_SET
  for (size_t r = 0; r < size_t(Drop::count); ++r) {
    a.dropped[r] = 1;
    b.dropped[r] = 2;
  }
  b.arp_wishes = 5;
  b.add(a);
  v = 1;
#define MSGW_TEST_COUNTER_CHECK(name) EXPECT_EQ(b.name, 100 + v++) << #name;
  MSGW_FOREACH_WORKER_COUNTER(MSGW_TEST_COUNTER_CHECK)
#undef MSGW_TEST_COUNTER_CHECK
  EXPECT_EQ(b.arp_wishes, 5u);
  EXPECT_EQ(b.dropped_total(), 3 * (size_t(Drop::count) - 1));  // all but held
  EXPECT_EQ(b.dropped[size_t(Drop::held)], 3u);
}
