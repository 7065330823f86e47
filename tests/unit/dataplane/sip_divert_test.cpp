// SPDX-License-Identifier: GPL-3.0-or-later
// SIP through the segment (sip_divert.hpp).  In: a plain SIP datagram to a
// listen address goes into sip_in with the right fields while msgw-control
// is attached, and everything else (fragments, options, bad checksums,
// other ports and addresses, TCP, too large, no consumer) reaches the
// exception path unchanged.  Out: the frames worker 0 builds (headers and
// checksums checked with the tests' own checksum code), routing via the
// port's gateway, ARP wishes and held datagrams, and what is refused.
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring_elem.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "msgw/dataplane/sip_divert.hpp"
#include "msgw/dataplane/sip_shed.hpp"
#include "packet_rig.hpp"

namespace {

constexpr uint16_t kSip = 5060;

const std::string kOptions =
    "OPTIONS sip:10.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.16:5062;branch=z9hG4bK-o1\r\n"
    "From: <sip:spa1@10.0.0.1>;tag=1\r\nTo: <sip:10.0.0.1>\r\nCall-ID: o1\r\n"
    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

struct DivertRig : Rig {
  DivertRig() {
    ctx.sip = &*seg;
    SegmentHeader* h = seg->header();
    h->sip_consumer_pid = uint32_t(getpid());
    h->sip_shed.listen[0] = {kGwA, kSip, 0};   // the access port's own address
    h->sip_shed.listen[1] = {0, 5080, 0};      // any address of a port
    __atomic_store_n(&h->sip_shed.n_listen, 2u, __ATOMIC_RELEASE);
  }
  Frame sip(const std::string& text = kOptions) const {
    Frame f = from_phone(0, 5062);
    f.dport = kSip;
    f.payload.assign(text.begin(), text.end());
    return f;
  }
  struct Out {
    uint16_t exceptions = 0;
    std::vector<uint8_t> exception_bytes;
    std::vector<SipDatagram> posted;
  };
  // One frame in through process_burst (rx flags as a device would set
  // them); what reached the exception path and sip_in.
  Out through(const std::vector<uint8_t>& bytes, uint16_t rx_port = 0, uint64_t ol_flags = 0) {
    Out o;
    rte_mbuf* m = dptest::mbuf(bytes);
    EXPECT_NE(m, nullptr);
    m->ol_flags = ol_flags;
    out.clear();
    ns += 1'000'000;
    process_burst(ctx, rx_port, &m, 1, false, tsc, ns, out);
    for (uint16_t p = 0; p < kMaxPorts; ++p) {
      EXPECT_EQ(out.n_tx[p], 0);
      for (uint16_t i = 0; i < out.n_exception[p]; ++i) {
        o.exception_bytes = dptest::data(out.exception[p][i]);
        rte_pktmbuf_free(out.exception[p][i]);
      }
      o.exceptions = uint16_t(o.exceptions + out.n_exception[p]);
    }
    SipDatagram d;
    while (rte_ring_sc_dequeue_elem(seg->sip_in_ring(), &d, sizeof d) == 0) o.posted.push_back(d);
    return o;
  }
};

// The same frame with 4 bytes of IP options (NOPs), lengths and checksums
// made right.
std::vector<uint8_t> with_ip_options(std::vector<uint8_t> f) {
  f.insert(f.begin() + 34, {1, 1, 1, 1});
  f[14] = 0x46;
  const uint16_t total = uint16_t(f.size() - 14);
  f[16] = uint8_t(total >> 8);
  f[17] = uint8_t(total);
  f[24] = f[25] = 0;
  const uint16_t ick = dptest::inet_checksum(&f[14], 24);
  f[24] = uint8_t(ick >> 8);
  f[25] = uint8_t(ick);
  return f;
}

}  // namespace

TEST(SipDivertIn, ASipDatagramToAListenAddressGoesToTheRingAndTheMbufIsFreed) {
  ASSERT_NE(dptest::pool(), nullptr);
  DivertRig r;
  const unsigned avail = rte_mempool_avail_count(dptest::pool());
  const Frame f = r.sip();
  const auto o = r.through(f.bytes());
  EXPECT_EQ(o.exceptions, 0);
  ASSERT_EQ(o.posted.size(), 1u);
  const SipDatagram& d = o.posted[0];
  EXPECT_EQ(d.local_ip, kGwA);
  EXPECT_EQ(d.local_port, kSip);
  EXPECT_EQ(d.remote_ip, kPhone);
  EXPECT_EQ(d.remote_port, 5062);
  EXPECT_EQ(d.port, 0);
  EXPECT_EQ(d.time_ns, r.ns);
  ASSERT_EQ(d.length, kOptions.size());
  EXPECT_EQ(std::string(d.data, d.length), kOptions);
  EXPECT_EQ(rte_mempool_avail_count(dptest::pool()), avail);  // the frame is back in the pool
  EXPECT_EQ(r.ctx.counters.sip_to_control, 1u);
  EXPECT_EQ(r.ctx.counters.exception, 0u);
  EXPECT_EQ(r.ctx.sip_posted, 1u);  // the worker wakes the consumer after the burst
  EXPECT_EQ(r.ctx.counters.dropped_total(), 0u);
}

TEST(SipDivertIn, NoUdpChecksumAWildcardListenAndTheDevicesVerdictAreTaken) {
  ASSERT_NE(dptest::pool(), nullptr);
  DivertRig r;
  Frame f = r.sip();
  f.udp_cksum = false;  // 0: no checksum, allowed in IPv4
  EXPECT_EQ(r.through(f.bytes()).posted.size(), 1u);
  // Listen 0.0.0.0:5080: the port's own address on either port.
  f = r.sip();
  f.dport = 5080;
  EXPECT_EQ(r.through(f.bytes()).posted.size(), 1u);
  Frame c = from_carrier(0);
  c.dport = 5080;
  c.payload.assign(kOptions.begin(), kOptions.end());
  auto o = r.through(c.bytes(), 1);
  ASSERT_EQ(o.posted.size(), 1u);
  EXPECT_EQ(o.posted[0].port, 1);
  EXPECT_EQ(o.posted[0].local_ip, kGwB);
  // The device said GOOD: not checked again (the bytes are wrong here).
  std::vector<uint8_t> b = r.sip().bytes();
  b[40] ^= 0x5a;
  EXPECT_EQ(r.through(b, 0, RTE_MBUF_F_RX_L4_CKSUM_GOOD | RTE_MBUF_F_RX_IP_CKSUM_GOOD).posted.size(), 1u);
  // A minimum frame's Ethernet padding past the datagram is fine.
  f = r.sip("x");
  b = f.bytes();
  b.resize(60, 0);
  o = r.through(b);
  ASSERT_EQ(o.posted.size(), 1u);
  EXPECT_EQ(o.posted[0].length, 1);
  EXPECT_EQ(r.ctx.counters.sip_to_control, 5u);
}

TEST(SipDivertIn, EverythingElseReachesTheExceptionPathUnchanged) {
  ASSERT_NE(dptest::pool(), nullptr);
  DivertRig r;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> cases;
  auto add = [&](const std::string& what, const Frame& f) { cases.emplace_back(what, f.bytes()); };
  Frame f = r.sip();
  f.frag = 0x2000;  // MF: a first fragment
  add("first fragment", f);
  f = r.sip();
  f.frag = 0x0010;
  add("later fragment", f);
  cases.emplace_back("IP options", with_ip_options(r.sip().bytes()));
  std::vector<uint8_t> b = r.sip().bytes();
  b[40] ^= 0x01;  // UDP checksum
  cases.emplace_back("bad UDP checksum", b);
  f = r.sip();
  f.dport = 5070;
  add("not a listen port", f);
  f = r.sip();
  f.dst_ip = 0x0a000063;  // 10.0.0.99: not the port's address
  add("other destination", f);
  f = from_carrier(0);
  f.dport = kSip;
  f.dst_ip = kGwA;  // listen 10.0.0.1:5060 is port 0's, not port 1's
  f.payload.assign(kOptions.begin(), kOptions.end());
  cases.emplace_back("listen address of another port", f.bytes());
  f = r.sip(std::string(kSipDatagramMax + 1, 'x'));
  add("too large", f);
  f = r.sip("");
  add("empty", f);
  f = r.sip();
  f.proto = 6;
  f.udp_cksum = false;
  add("TCP", f);
  f = r.sip();
  f.vlan = 7;
  add("VLAN tag", f);
  for (const auto& [what, bytes] : cases) {
    const uint16_t port = what == "listen address of another port" ? 1 : 0;
    const auto o = r.through(bytes, port);
    EXPECT_EQ(o.exceptions, 1) << what;
    EXPECT_EQ(o.exception_bytes, bytes) << what;
    EXPECT_TRUE(o.posted.empty()) << what;
  }
  // Checksums the kernel would refuse, by the device's verdict or ours.
  b = r.sip().bytes();
  auto o = r.through(b, 0, RTE_MBUF_F_RX_L4_CKSUM_BAD);
  EXPECT_EQ(o.exceptions, 1);
  EXPECT_TRUE(o.posted.empty());
  b = r.sip().bytes();
  b[24] ^= 0x01;  // IP header checksum: classify() drops it before us
  o = r.through(b);
  EXPECT_TRUE(o.posted.empty());
  EXPECT_EQ(r.dropped(Drop::bad_ip_checksum), 1u);
  // The IP header checked by sip_divert_frame() itself, as a direct call.
  rte_mbuf* m = dptest::mbuf(b);
  EXPECT_FALSE(sip_divert_frame(r.ctx, 0, m, r.ns));
  m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_BAD;
  std::vector<uint8_t> good = r.sip().bytes();
  std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), good.data(), good.size());
  EXPECT_FALSE(sip_divert_frame(r.ctx, 0, m, r.ns));
  m->ol_flags = 0;
  EXPECT_FALSE(sip_divert_frame(r.ctx, 2, m, r.ns));  // no such port
  rte_pktmbuf_free(m);
  EXPECT_EQ(r.ctx.counters.sip_to_control, 0u);
  EXPECT_EQ(r.ctx.counters.exception, cases.size() + 1);
}

TEST(SipDivertIn, WithoutAConsumerSipTakesTheTap) {
  ASSERT_NE(dptest::pool(), nullptr);
  DivertRig r;
  r.seg->header()->sip_consumer_pid = 0;
  auto o = r.through(r.sip().bytes());
  EXPECT_EQ(o.exceptions, 1);
  EXPECT_TRUE(o.posted.empty());
  r.seg->header()->sip_consumer_pid = uint32_t(getpid());
  r.ctx.sip = nullptr;  // a worker without the segment
  o = r.through(r.sip().bytes());
  EXPECT_EQ(o.exceptions, 1);
  EXPECT_TRUE(o.posted.empty());
  EXPECT_EQ(r.ctx.counters.sip_to_control, 0u);
}

TEST(SipDivertIn, AFullRingDropsTheDatagramCounted) {
  ASSERT_NE(dptest::pool(), nullptr);
  DivertRig r;
  SipDatagram filler{};
  filler.length = 1;
  unsigned n = 0;
  while (r.seg->post_sip(filler)) ++n;
  EXPECT_EQ(n, kSipInSlots - 1);
  const unsigned avail = rte_mempool_avail_count(dptest::pool());
  rte_mbuf* m = dptest::mbuf(r.sip().bytes());
  r.out.clear();
  process_burst(r.ctx, 0, &m, 1, false, r.tsc, r.ns, r.out);
  EXPECT_EQ(r.out.n_exception[0], 0);
  EXPECT_EQ(rte_mempool_avail_count(dptest::pool()), avail);
  EXPECT_EQ(r.dropped(Drop::sip_ring_full), 1u);
  EXPECT_EQ(r.ctx.counters.sip_to_control, 0u);
  EXPECT_EQ(r.ctx.sip_posted, 0u);
  SipDatagram d;
  while (rte_ring_sc_dequeue_elem(r.seg->sip_in_ring(), &d, sizeof d) == 0) {
  }
}

// Past half the ring msgw-control is that far behind: new calls get the
// worker's 503 whatever the lease says, and the rest of the ring is kept
// for what belongs to calls already taken in.
TEST(SipDivertIn, ACrowdedRingShedsNewCallsAndKeepsRoomForTheRest) {
  ASSERT_NE(dptest::pool(), nullptr);
  DivertRig r;
  SegmentHeader* h = r.seg->header();
  r.ctx.sip_shed = &h->sip_shed;
  r.ctx.sip_tag_key = 42;
  __atomic_store_n(&h->sip_shed.retry_after_s, 2u, __ATOMIC_RELAXED);
  ASSERT_FALSE(sip_shedding(r.ctx, r.ns)) << "no lease: only the ring decides here";
  const std::string invite =
      "INVITE sip:18005551212@10.0.0.1 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 10.0.0.16:5062;branch=z9hG4bK-a1;rport\r\n"
      "From: <sip:spa1@10.0.0.1>;tag=abc\r\nTo: <sip:18005551212@10.0.0.1>\r\n"
      "Call-ID: crowd-1@10.0.0.16\r\nCSeq: 101 INVITE\r\nContent-Length: 0\r\n\r\n";
  auto one = [&](const std::string& text) {
    rte_mbuf* m = dptest::mbuf(r.sip(text).bytes());
    r.out.clear();
    r.ns += 1'000'000;
    process_burst(r.ctx, 0, &m, 1, false, r.tsc, r.ns, r.out);
    const uint16_t sent = r.out.n_tx[0];
    for (uint16_t i = 0; i < sent; ++i) rte_pktmbuf_free(r.out.tx[0][i]);
    EXPECT_EQ(r.out.n_exception[0], 0);
    r.out.clear();
    return sent;
  };
  SipDatagram filler{};
  filler.length = 1;
  for (uint32_t i = 0; i < kSipInCrowded; ++i) ASSERT_TRUE(r.seg->post_sip(filler));
  // At the mark, not past it: the INVITE goes in.
  EXPECT_EQ(one(invite), 0);
  EXPECT_EQ(r.ctx.counters.sip_to_control, 1u);
  // Past it: the INVITE is answered here, and an in-dialog message (here an
  // OPTIONS, which is never shed) still goes in.
  EXPECT_EQ(one(invite), 1);
  EXPECT_EQ(r.ctx.counters.sip_shed, 1u);
  EXPECT_EQ(r.ctx.counters.sip_to_control, 1u);
  EXPECT_EQ(one(kOptions), 0);
  EXPECT_EQ(r.ctx.counters.sip_to_control, 2u);
  EXPECT_EQ(r.dropped(Drop::sip_ring_full), 0u);
  // Drained below the mark: new calls go in again.
  SipDatagram d;
  for (int i = 0; i < 8; ++i) ASSERT_EQ(rte_ring_sc_dequeue_elem(r.seg->sip_in_ring(), &d, sizeof d), 0);
  EXPECT_EQ(one(invite), 0);
  EXPECT_EQ(r.ctx.counters.sip_to_control, 3u);
  EXPECT_EQ(r.ctx.counters.sip_shed, 1u);
  while (rte_ring_sc_dequeue_elem(r.seg->sip_in_ring(), &d, sizeof d) == 0) {
  }
}

// ---- Out: worker 0's frames

namespace {

constexpr uint64_t kNow = 5'000'000'000ull;

SipDatagram datagram(uint32_t local_ip, uint16_t local_port, uint32_t remote_ip,
                     uint16_t remote_port, const std::string& text = kOptions) {
  SipDatagram d{};
  d.local_ip = local_ip;
  d.local_port = local_port;
  d.remote_ip = remote_ip;
  d.remote_port = remote_port;
  d.length = uint16_t(text.size());
  std::memcpy(d.data, text.data(), std::min<size_t>(text.size(), kSipDatagramMax));
  return d;
}

struct EgressRig : Rig {
  SipEgress eg;
  // Frames queued by the last call, per port; freed here.
  std::vector<std::vector<uint8_t>> sent[2];
  std::vector<uint64_t> sent_flags;
  void take_out() {
    for (auto& s : sent) s.clear();
    sent_flags.clear();
    for (uint16_t p = 0; p < kMaxPorts; ++p) {
      for (uint16_t i = 0; i < out.n_tx[p]; ++i) {
        if (p < 2) sent[p].push_back(dptest::data(out.tx[p][i]));
        sent_flags.push_back(out.tx[p][i]->ol_flags);
        rte_pktmbuf_free(out.tx[p][i]);
      }
    }
    out.clear();
  }
  void send(const SipDatagram& d, uint64_t now = kNow) {
    out.clear();
    eg.send(ctx, d, dptest::pool(), now, out);
    take_out();
  }
  unsigned poll(uint64_t now = kNow) {
    out.clear();
    const unsigned n = eg.poll(ctx, *seg, dptest::pool(), now, out);
    take_out();
    return n;
  }
  std::vector<uint64_t> wishes() {
    std::vector<uint64_t> v;
    uint64_t k;
    while (rte_ring_sc_dequeue_elem(resolve, &k, sizeof k) == 0) v.push_back(k);
    return v;
  }
};

// The frame as the tests' own builder makes it, with the fields the
// dataplane sets (IP id copied from the frame).
void expect_frame(const std::vector<uint8_t>& got, const uint8_t dst_mac[6], const PortInfo& port,
                  const SipDatagram& d) {
  ASSERT_EQ(got.size(), 42u + d.length);
  Frame want;
  std::memcpy(want.dst_mac, dst_mac, 6);
  std::memcpy(want.src_mac, port.mac.addr_bytes, 6);
  want.src_ip = d.local_ip;
  want.dst_ip = d.remote_ip;
  want.sport = d.local_port;
  want.dport = d.remote_port;
  want.ttl = 64;
  want.payload.assign(d.data, d.data + d.length);
  std::vector<uint8_t> w = want.bytes();
  // The builder's fixed IP id (0x1234) and so its header checksum differ.
  EXPECT_EQ(rd16(got, 20), 0u) << "DF clear, not a fragment";
  EXPECT_EQ(got[15], 0u);
  w[18] = got[18];
  w[19] = got[19];
  w[24] = w[25] = 0;
  const uint16_t ick = dptest::inet_checksum(&w[14], 20);
  w[24] = uint8_t(ick >> 8);
  w[25] = uint8_t(ick);
  EXPECT_EQ(got, w);
  EXPECT_TRUE(dptest::checksums_ok(got));
}

const uint8_t kPhoneMac[6] = {0x02, 0, 0, 0, 0, 0x10};
const uint8_t kRouterMac[6] = {0x02, 0, 0, 0, 0, 0xfe};
const uint8_t kCarrierMac[6] = {0x02, 0, 0, 0, 0, 0x14};

}  // namespace

// Each row: where the datagram comes from (SipEgress::send on worker 0's
// own queue, or the sip_out ring its poll drains), the port whose address is
// its source, and the next hop's MAC the frame must carry.
TEST(SipDivertOut, ADatagramLeavesItsPortForItsNextHopWithValidHeadersAndChecksums) {
  ASSERT_NE(dptest::pool(), nullptr);
  struct Case {
    const char* what;
    SipDatagram d;
    bool through_ring;
    uint16_t port;
    const uint8_t* next_hop_mac;
  };
  const Case cases[] = {
      {"a phone on port 0's subnet", datagram(kGwA, kSip, kPhone, 5062), false, 0, kPhoneMac},
      {"odd length, through the ring, to the carrier on port 1's subnet",
       datagram(kGwB, kSip, kCarrier, 5060, "SIP/2.0 200 OK\r\n\r\n!"), true, 1, kCarrierMac},
      {"off port 1's subnet: via its gateway", datagram(kGwB, kSip, kFar, 5060), false, 1, kRouterMac},
  };
  EgressRig r;
  uint64_t sent = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    if (c.through_ring) {
      ASSERT_EQ(rte_ring_mp_enqueue_elem(r.seg->sip_out_ring(), const_cast<SipDatagram*>(&c.d),
                                         sizeof c.d), 0);
      EXPECT_TRUE(r.eg.pending(*r.seg));
      EXPECT_EQ(r.poll(), 1u);
      EXPECT_FALSE(r.eg.pending(*r.seg));
    } else {
      r.send(c.d);
    }
    ASSERT_EQ(r.sent[c.port].size(), 1u);
    ASSERT_TRUE(r.sent[c.port ^ 1].empty());
    expect_frame(r.sent[c.port][0], c.next_hop_mac, r.ports[c.port], c.d);
    EXPECT_EQ(r.ctx.counters.sip_from_control, ++sent);
  }
  EXPECT_EQ(r.ctx.counters.dropped_total(), 0u);
  EXPECT_TRUE(r.wishes().empty());
}

TEST(SipDivertOut, TheLargestDatagramFitsOneFrame) {
  ASSERT_NE(dptest::pool(), nullptr);
  EgressRig r;
  const SipDatagram big = datagram(kGwA, kSip, kPhone, 5062, std::string(kSipDatagramMax, 'b'));
  r.send(big);
  ASSERT_EQ(r.sent[0].size(), 1u);
  EXPECT_EQ(r.sent[0][0].size(), 1514u);
  expect_frame(r.sent[0][0], kPhoneMac, r.ports[0], big);
}

TEST(SipDivertOut, IpIdsIncrement) {
  ASSERT_NE(dptest::pool(), nullptr);
  EgressRig r;
  const SipDatagram d = datagram(kGwA, kSip, kPhone, 5062);
  r.send(d);
  const uint16_t first = rd16(r.sent[0].at(0), 18);
  r.send(d);
  EXPECT_EQ(rd16(r.sent[0].at(0), 18), uint16_t(first + 1));
}

TEST(SipDivertOut, OffSubnetWithoutAGatewayIsRefused) {
  ASSERT_NE(dptest::pool(), nullptr);
  EgressRig r;
  // Port 0 has no gateway: nothing off its subnet can be reached.
  r.send(datagram(kGwA, kSip, kFar, 5060));
  EXPECT_TRUE(r.sent[0].empty());
  EXPECT_TRUE(r.sent[1].empty());
  EXPECT_EQ(r.dropped(Drop::sip_no_route), 1u);
  EXPECT_TRUE(r.wishes().empty());
}

TEST(SipDivertOut, BadDatagramsAreCountedNotSent) {
  ASSERT_NE(dptest::pool(), nullptr);
  EgressRig r;
  std::vector<SipDatagram> bad;
  SipDatagram d = datagram(kGwA, kSip, kPhone, 5062);
  d.length = 0;
  bad.push_back(d);
  d = datagram(kGwA, kSip, kPhone, 5062);
  d.length = uint16_t(kSipDatagramMax + 1);
  bad.push_back(d);
  bad.push_back(datagram(0x0a000002, kSip, kPhone, 5062));  // not a port's address
  bad.push_back(datagram(0, kSip, kPhone, 5062));
  bad.push_back(datagram(kGwA, 0, kPhone, 5062));
  bad.push_back(datagram(kGwA, kSip, 0, 5062));
  bad.push_back(datagram(kGwA, kSip, kPhone, 0));
  bad.push_back(datagram(kGwA, kSip, 0xe0000001, 5062));  // multicast
  bad.push_back(datagram(kGwA, kSip, 0x7f000001, 5062));  // loopback
  bad.push_back(datagram(kGwA, kSip, kGwA, 5062));        // itself
  for (const SipDatagram& b : bad) r.send(b);
  EXPECT_TRUE(r.sent[0].empty());
  EXPECT_TRUE(r.sent[1].empty());
  EXPECT_EQ(r.dropped(Drop::sip_bad_datagram), bad.size());
  EXPECT_EQ(r.ctx.counters.sip_from_control, 0u);
  EXPECT_EQ(r.eg.held(), 0u);
  EXPECT_TRUE(r.wishes().empty());
}

TEST(SipDivertOut, AnUnknownNeighbourIsAskedForAndTheDatagramHeldUntilLearned) {
  ASSERT_NE(dptest::pool(), nullptr);
  EgressRig r;
  constexpr uint32_t kNew = 0x0a000030;  // 10.0.0.48, not in the table
  const SipDatagram a = datagram(kGwA, kSip, kNew, 5060, "first");
  const SipDatagram b = datagram(kGwA, kSip, kNew, 5060, "second");
  r.send(a);
  r.send(b, kNow + 1000);
  EXPECT_TRUE(r.sent[0].empty());
  EXPECT_EQ(r.eg.held(), 2u);
  EXPECT_EQ(r.ctx.counters.arp_wishes, 2u);  // the worker's flush kicks the main lcore
  const auto w = r.wishes();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], uint64_t(kNew));  // port 0
  EXPECT_TRUE(r.eg.pending(*r.seg));
  // Nothing learned: nothing sent, still held.
  EXPECT_EQ(r.poll(kNow + 2000), 0u);
  EXPECT_EQ(r.eg.held(), 2u);
  // Learned: both leave, in order, before anything newer from the ring.
  r.nt->learn(0, kNew, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x30}});
  const SipDatagram c = datagram(kGwA, kSip, kNew, 5060, "third");
  ASSERT_EQ(rte_ring_mp_enqueue_elem(r.seg->sip_out_ring(), const_cast<SipDatagram*>(&c), sizeof c), 0);
  EXPECT_EQ(r.poll(kNow + 3000), 1u);
  ASSERT_EQ(r.sent[0].size(), 3u);
  const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x30};
  expect_frame(r.sent[0][0], mac, r.ports[0], a);
  expect_frame(r.sent[0][1], mac, r.ports[0], b);
  expect_frame(r.sent[0][2], mac, r.ports[0], c);
  EXPECT_EQ(r.eg.held(), 0u);
  EXPECT_FALSE(r.eg.pending(*r.seg));
  EXPECT_EQ(r.ctx.counters.sip_from_control, 3u);
  EXPECT_EQ(r.ctx.counters.dropped_total(), 0u);
}

TEST(SipDivertOut, HeldDatagramsExpireAfterASecondAndTheHoldIsBounded) {
  ASSERT_NE(dptest::pool(), nullptr);
  EgressRig r;
  constexpr uint32_t kGone = 0x0a000031;
  r.send(datagram(kGwA, kSip, kGone, 5060), kNow);
  r.send(datagram(kGwA, kSip, kGone, 5060), kNow + 500'000'000);
  EXPECT_EQ(r.poll(kNow + kSipHoldNs - 1), 0u);
  EXPECT_EQ(r.eg.held(), 2u);
  r.poll(kNow + kSipHoldNs);  // the first one's second is up
  EXPECT_EQ(r.eg.held(), 1u);
  EXPECT_EQ(r.dropped(Drop::sip_no_neighbour), 1u);
  r.poll(kNow + 500'000'000 + kSipHoldNs);
  EXPECT_EQ(r.eg.held(), 0u);
  EXPECT_EQ(r.dropped(Drop::sip_no_neighbour), 2u);
  EXPECT_FALSE(r.eg.pending(*r.seg));
  // At most kSipHoldMax wait; more are dropped at once.
  for (uint32_t i = 0; i < kSipHoldMax + 3; ++i) r.send(datagram(kGwA, kSip, kGone, 5060), kNow * 2);
  EXPECT_EQ(r.eg.held(), kSipHoldMax);
  EXPECT_EQ(r.dropped(Drop::sip_no_neighbour), 5u);
  // Learned: all of them leave, as many as a pass has room for, the rest in
  // the next pass.
  r.nt->learn(0, kGone, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x31}});
  size_t sent = 0;
  for (int pass = 0; pass < 4 && r.eg.held() != 0; ++pass) {
    r.poll(kNow * 2 + 1);
    EXPECT_LE(r.sent[0].size(), size_t(kTxCap));
    sent += r.sent[0].size();
  }
  EXPECT_EQ(sent, size_t(kSipHoldMax));
  EXPECT_EQ(r.eg.held(), 0u);
  EXPECT_EQ(r.dropped(Drop::tx_full), 0u);
}

TEST(SipDivertOut, ChecksumsAreLeftToAPortThatOffloadsThem) {
  ASSERT_NE(dptest::pool(), nullptr);
  EgressRig r;
  r.ports[0].tx_ip_cksum = true;
  r.ports[0].tx_udp_cksum = true;
  r.send(datagram(kGwA, kSip, kPhone, 5062));
  ASSERT_EQ(r.sent[0].size(), 1u);
  ASSERT_EQ(r.sent_flags.size(), 1u);
  EXPECT_NE(r.sent_flags[0] & RTE_MBUF_F_TX_IP_CKSUM, 0u);
  EXPECT_EQ(r.sent_flags[0] & RTE_MBUF_F_TX_L4_MASK, RTE_MBUF_F_TX_UDP_CKSUM);
  EXPECT_EQ(rd16(r.sent[0][0], 24), 0u);  // the device fills it in
}
