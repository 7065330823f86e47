// SPDX-License-Identifier: GPL-3.0-or-later
// process_burst(): what is not relayed: non-media to the exception path,
// sessions of another worker handed off, every bad-packet class dropped and
// counted.
#include "packet_rig.hpp"

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
