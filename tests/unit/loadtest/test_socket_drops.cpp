// SPDX-License-Identifier: GPL-3.0-or-later
// The tool's socket drops from a namespace's UDP MIB (socket_drops.hpp).
#include <gtest/gtest.h>

#include "socket_drops.hpp"

using namespace msgw::loadtest;

namespace {

// /proc/net/snmp of a phone namespace after a flood (trimmed to the UDP lines
// and one before them).
constexpr const char* kSnmp =
    "Icmp: InMsgs InErrors\n"
    "Icmp: 3 0\n"
    "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n"
    "Udp: 450461 167 445251 1171164 445250 2 1 0 0\n"
    "UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n"
    "UdpLite: 0 0 9 0 9 9 0 0 0\n";

}  // namespace

TEST(SocketDrops, ParsesTheUdpLinesNotUdpLite) {
  auto d = parse_snmp_udp(kSnmp);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->in_errors, 445251u);
  EXPECT_EQ(d->rcvbuf_errors, 445250u);
  EXPECT_EQ(d->sndbuf_errors, 2u);
  // InErrors already holds the receive-buffer drops.
  EXPECT_EQ(d->total(), 445253u);
}

TEST(SocketDrops, ColumnsAreFoundByName) {
  auto d = parse_snmp_udp("Udp: RcvbufErrors InErrors\nUdp: 5 7\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->rcvbuf_errors, 5u);
  EXPECT_EQ(d->in_errors, 7u);
  EXPECT_EQ(d->sndbuf_errors, 0u);  // an older kernel's MIB without it
}

TEST(SocketDrops, MalformedIsNone) {
  EXPECT_FALSE(parse_snmp_udp(""));
  EXPECT_FALSE(parse_snmp_udp("Udp: InErrors RcvbufErrors\n"));                 // no values
  EXPECT_FALSE(parse_snmp_udp("Udp: InErrors RcvbufErrors\nUdp: 1\n"));         // too few
  EXPECT_FALSE(parse_snmp_udp("Udp: InErrors RcvbufErrors\nUdp: 1 x\n"));       // not a number
  EXPECT_FALSE(parse_snmp_udp("Udp: InErrors RcvbufErrors\nUdp: 1 -2\n"));      // negative
  EXPECT_FALSE(parse_snmp_udp("Udp: InDatagrams NoPorts\nUdp: 1 2\n"));         // no drop columns
  EXPECT_FALSE(parse_snmp_udp("UdpLite: InErrors RcvbufErrors\nUdpLite: 1 2\n"));
}

TEST(SocketDrops, DeltaOverAStep) {
  UdpDrops before{10, 1, 12}, after{25, 1, 30};
  auto d = udp_drops_delta(before, after);
  EXPECT_EQ(d.rcvbuf_errors, 15u);
  EXPECT_EQ(d.sndbuf_errors, 0u);
  EXPECT_EQ(d.in_errors, 18u);
  // A namespace recreated between the readings counts from zero.
  auto reset = udp_drops_delta(after, UdpDrops{3, 0, 4});
  EXPECT_EQ(reset.rcvbuf_errors, 3u);
  EXPECT_EQ(reset.in_errors, 4u);
}

TEST(SocketDrops, ReadsItsOwnNamespace) {
  // The tool's own namespace (no netns given) always has a UDP MIB.
  EXPECT_TRUE(read_netns_udp(""));
  EXPECT_FALSE(read_netns_udp("msgw-no-such-namespace"));
}
