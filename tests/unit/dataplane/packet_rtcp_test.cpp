// SPDX-License-Identifier: GPL-3.0-or-later
// process_burst(): RFC 3550 receive statistics and RTCP (jitter, loss, SR
// report blocks, LSR/DLSR), and the telemetry names of drops and counters.
#include "packet_rig.hpp"

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
      "payload_type_not_negotiated",
      "no_destination", "no_neighbour", "unsupported_codec", "tx_full", "exception_full",
      "handoff_full", "held", "sip_ring_full", "sip_bad_datagram", "sip_no_route",
      "sip_no_neighbour"};
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
#define MSGW_TEST_COUNTER_NAME(name, help) names.push_back(#name);
  MSGW_FOREACH_WORKER_COUNTER(MSGW_TEST_COUNTER_NAME)
#undef MSGW_TEST_COUNTER_NAME
  const std::vector<std::string> expected = {
      "rx", "tx", "relayed", "relayed_steady", "rtcp_relayed", "exception", "handoff_out",
      "handoff_in", "latched", "dtmf_events", "fragments_seen", "transcoded_packets",
      "transcoded_frames", "concealed_frames", "transcode_buffered", "rtcp_terminated",
      "rtcp_sent", "busy_cycles", "sip_shed", "sip_shed_acks_absorbed", "sip_shed_admitted",
      "sip_to_control", "sip_from_control"};
  EXPECT_EQ(names, expected);
}

TEST(DataplaneNames, WorkerCountersAddEveryFieldAndTheLossTotalSkipsHeld) {
  WorkerCounters a, b;
  uint64_t v = 1;
#define MSGW_TEST_COUNTER_SET(name, help) a.name = v++; b.name = 100;
  MSGW_FOREACH_WORKER_COUNTER(MSGW_TEST_COUNTER_SET)
#undef MSGW_TEST_COUNTER_SET
  for (size_t r = 0; r < size_t(Drop::count); ++r) {
    a.dropped[r] = 1;
    b.dropped[r] = 2;
  }
  b.arp_wishes = 5;
  b.add(a);
  v = 1;
#define MSGW_TEST_COUNTER_CHECK(name, help) EXPECT_EQ(b.name, 100 + v++) << #name;
  MSGW_FOREACH_WORKER_COUNTER(MSGW_TEST_COUNTER_CHECK)
#undef MSGW_TEST_COUNTER_CHECK
  EXPECT_EQ(b.arp_wishes, 5u);
  EXPECT_EQ(b.dropped_total(), 3 * (size_t(Drop::count) - 1));  // all but held
  EXPECT_EQ(b.dropped[size_t(Drop::held)], 3u);
}
