// SPDX-License-Identifier: GPL-3.0-or-later
// process_burst(): relay, latching and bleed protection, continuity, DTMF
// events, exception path, hand-off and every bad-packet class.
#include "packet_rig.hpp"

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
  // Comfort noise (PT 13, never negotiated) is relayed too: the carrier leg
  // takes payload types nobody negotiated.
  LegSpec l[2];
  Rig::specs(l, 1, kPhone, 4000, kCarrier, 0, false);
  l[1].flags |= kLegPayloadPassthrough;
  ASSERT_EQ(r.ft->add(1, l), Status::ok);
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
    both(0, phone(flow, 13, 105, 0xb2).bytes());                 // comfort noise: not negotiated
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
