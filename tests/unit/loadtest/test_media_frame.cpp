// SPDX-License-Identifier: GPL-3.0-or-later
// The DPDK media engine's decisions without DPDK (media_frame.hpp): which
// frames from a side's port are its RTP (to the side's media address and
// port), the target's RTCP (port + 1, dropped), or the kernel's (bridged to
// the TAP: ARP, SIP, ICMP, other addresses, fragments, malformed frames);
// and the gateway's MAC learned from the frames' sources.
#include <gtest/gtest.h>

#include <vector>

#include "media_frame.hpp"

using namespace msgw::loadtest;

namespace {

constexpr std::uint32_t kMediaIp = 0x0a0a0002;  // 10.10.0.2
constexpr std::uint16_t kMediaPort = 40000;

void be16(std::vector<std::uint8_t>& f, std::size_t at, std::uint16_t v) {
  f[at] = static_cast<std::uint8_t>(v >> 8);
  f[at + 1] = static_cast<std::uint8_t>(v);
}
void be32(std::vector<std::uint8_t>& f, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) f[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

// An Ethernet/IPv4/UDP frame from 10.10.0.1:src_port to dst:dst_port with
// `payload` bytes of UDP payload; ihl in 32-bit words (5 = no options).
std::vector<std::uint8_t> udp_frame(std::uint32_t dst, std::uint16_t dst_port, std::size_t payload = 172,
                                    std::uint16_t src_port = 20000, unsigned ihl = 5) {
  const std::size_t ip_len = ihl * 4 + 8 + payload;
  std::vector<std::uint8_t> f(14 + ip_len, 0);
  const std::uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x02}, smac[6] = {0x02, 0, 0, 0, 0, 0x01};
  std::copy(dmac, dmac + 6, f.begin());
  std::copy(smac, smac + 6, f.begin() + 6);
  f[12] = 0x08;
  f[13] = 0x00;
  f[14] = static_cast<std::uint8_t>(0x40 | ihl);
  be16(f, 16, static_cast<std::uint16_t>(ip_len));
  f[22] = 64;
  f[23] = 17;
  be32(f, 26, 0x0a0a0001);
  be32(f, 30, dst);
  const std::size_t udp = 14 + ihl * 4;
  be16(f, udp, src_port);
  be16(f, udp + 2, dst_port);
  be16(f, udp + 4, static_cast<std::uint16_t>(8 + payload));
  if (payload) f[udp + 8] = 0x80;  // RTP version 2
  return f;
}

FrameClass classify(const std::vector<std::uint8_t>& f) {
  return classify_frame(f.data(), f.size(), kMediaIp, kMediaPort);
}

}  // namespace

TEST(MediaFrame, RtpToTheMediaAddressIsTheEnginesWithItsSenderAndPayload) {
  const auto f = udp_frame(kMediaIp, kMediaPort, 172, 20002);
  const auto c = classify(f);
  EXPECT_EQ(c.kind, FrameKind::media);
  EXPECT_EQ(c.src_ip, 0x0a0a0001u);
  EXPECT_EQ(c.src_port, 20002);
  EXPECT_EQ(c.payload_offset, 14u + 20 + 8);
  EXPECT_EQ(c.payload_len, 172u);
  EXPECT_EQ(f[c.payload_offset], 0x80);
}

TEST(MediaFrame, IpOptionsMoveThePayload) {
  const auto c = classify(udp_frame(kMediaIp, kMediaPort, 20, 20002, 6));
  EXPECT_EQ(c.kind, FrameKind::media);
  EXPECT_EQ(c.payload_offset, 14u + 24 + 8);
  EXPECT_EQ(c.payload_len, 20u);
}

TEST(MediaFrame, RtcpToThePortAboveIsDroppedNotBridged) {
  EXPECT_EQ(classify(udp_frame(kMediaIp, kMediaPort + 1, 52)).kind, FrameKind::media_rtcp);
}

TEST(MediaFrame, EverythingElseGoesToTheKernel) {
  EXPECT_EQ(classify(udp_frame(kMediaIp, 5062, 400)).kind, FrameKind::bridge);  // SIP to the phone side
  EXPECT_EQ(classify(udp_frame(kMediaIp, kMediaPort + 2)).kind, FrameKind::bridge);
  EXPECT_EQ(classify(udp_frame(0x0a0a0003, kMediaPort)).kind, FrameKind::bridge);  // another address
  auto arp = udp_frame(kMediaIp, kMediaPort);
  arp[13] = 0x06;  // ethertype ARP
  EXPECT_EQ(classify(arp).kind, FrameKind::bridge);
  auto icmp = udp_frame(kMediaIp, kMediaPort);
  icmp[23] = 1;
  EXPECT_EQ(classify(icmp).kind, FrameKind::bridge);
  auto vlan = udp_frame(kMediaIp, kMediaPort);
  vlan[12] = 0x81;
  EXPECT_EQ(classify(vlan).kind, FrameKind::bridge);
}

TEST(MediaFrame, FragmentsAndMalformedFramesGoToTheKernel) {
  auto more = udp_frame(kMediaIp, kMediaPort);
  more[20] = 0x20;  // more fragments
  EXPECT_EQ(classify(more).kind, FrameKind::bridge);
  auto offset = udp_frame(kMediaIp, kMediaPort);
  offset[21] = 0x10;  // a fragment offset
  EXPECT_EQ(classify(offset).kind, FrameKind::bridge);
  auto df = udp_frame(kMediaIp, kMediaPort);
  df[20] = 0x40;  // don't fragment: a whole datagram
  EXPECT_EQ(classify(df).kind, FrameKind::media);

  auto f = udp_frame(kMediaIp, kMediaPort);
  f.resize(f.size() - 1);  // the IP length says more than the frame has
  EXPECT_EQ(classify(f).kind, FrameKind::bridge);
  auto udp_long = udp_frame(kMediaIp, kMediaPort);
  be16(udp_long, 38, 2000);  // UDP length past the IP datagram
  EXPECT_EQ(classify(udp_long).kind, FrameKind::bridge);
  auto udp_short = udp_frame(kMediaIp, kMediaPort);
  be16(udp_short, 38, 7);
  EXPECT_EQ(classify(udp_short).kind, FrameKind::bridge);
  auto ihl = udp_frame(kMediaIp, kMediaPort);
  ihl[14] = 0x44;  // IHL below 5
  EXPECT_EQ(classify(ihl).kind, FrameKind::bridge);
  auto v6 = udp_frame(kMediaIp, kMediaPort);
  v6[14] = 0x65;
  EXPECT_EQ(classify(v6).kind, FrameKind::bridge);
  for (std::size_t len : {0u, 13u, 41u}) EXPECT_EQ(classify_frame(f.data(), len, kMediaIp, kMediaPort).kind,
                                                   FrameKind::bridge);
}

TEST(MediaFrame, PaddedShortFrameUsesTheIpLength) {
  // A minimum-size Ethernet frame carries padding past the datagram.
  auto f = udp_frame(kMediaIp, kMediaPort, 4);
  f.resize(60, 0);
  const auto c = classify(f);
  EXPECT_EQ(c.kind, FrameKind::media);
  EXPECT_EQ(c.payload_len, 4u);
}

TEST(MacLearner, LearnsTheUnicastSourceAndCountsChanges) {
  MacLearner m;
  EXPECT_FALSE(m.known());
  auto f = udp_frame(kMediaIp, kMediaPort);
  m.on_frame(f.data(), f.size());
  ASSERT_TRUE(m.known());
  EXPECT_EQ(m.mac(), (MacAddress{0x02, 0, 0, 0, 0, 0x01}));
  m.on_frame(f.data(), f.size());
  EXPECT_EQ(m.changes(), 0u);
  f[11] = 0x09;  // the gateway replaced
  m.on_frame(f.data(), f.size());
  EXPECT_EQ(m.mac(), (MacAddress{0x02, 0, 0, 0, 0, 0x09}));
  EXPECT_EQ(m.changes(), 1u);
}

TEST(MacLearner, IgnoresGroupAndZeroSourcesAndShortFrames) {
  MacLearner m;
  auto f = udp_frame(kMediaIp, kMediaPort);
  f[6] = 0x01;  // a multicast source: never a station
  m.on_frame(f.data(), f.size());
  EXPECT_FALSE(m.known());
  std::fill(f.begin() + 6, f.begin() + 12, 0);
  m.on_frame(f.data(), f.size());
  EXPECT_FALSE(m.known());
  auto g = udp_frame(kMediaIp, kMediaPort);
  m.on_frame(g.data(), 11);
  EXPECT_FALSE(m.known());
  m.on_frame(g.data(), 12);
  EXPECT_TRUE(m.known());
}
