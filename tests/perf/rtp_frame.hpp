// SPDX-License-Identifier: GPL-3.0-or-later
// One Ethernet/IPv4/UDP/RTP frame as the benchmarks send it (IPv4 header and
// UDP checksums valid), shared by dataplane_loadgen and relay_bench.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "msgw/common/byte_order.hpp"

namespace msgw::perf {

inline constexpr uint16_t rtp_frame_size(uint16_t payload_len) {
  return uint16_t(14 + 20 + 8 + 12 + payload_len);
}

// Writes rtp_frame_size(plen) bytes at f.  Addresses and ports in host order.
inline void write_rtp_frame(uint8_t* f, const rte_ether_addr& dst_mac,
                            const rte_ether_addr& src_mac, uint32_t sip, uint16_t sp,
                            uint32_t dip, uint16_t dp, uint8_t pt, uint16_t seq, uint32_t ts,
                            uint32_t ssrc, const uint8_t* payload, uint16_t plen) {
  const uint16_t total = rtp_frame_size(plen);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(f);
  eth->dst_addr = dst_mac;
  eth->src_addr = src_mac;
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f + 14);
  std::memset(ip, 0, 20);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(uint16_t(total - 14));
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(sip);
  ip->dst_addr = rte_cpu_to_be_32(dip);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(f + 34);
  udp->src_port = rte_cpu_to_be_16(sp);
  udp->dst_port = rte_cpu_to_be_16(dp);
  udp->dgram_len = rte_cpu_to_be_16(uint16_t(8 + 12 + plen));
  uint8_t* r = f + 42;
  r[0] = 0x80;
  r[1] = pt;
  msgw::common::store_be16(r + 2, seq);
  msgw::common::store_be32(r + 4, ts);
  msgw::common::store_be32(r + 8, ssrc);
  std::memcpy(r + 12, payload, plen);
  udp->dgram_cksum = 0;
  udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

}  // namespace msgw::perf
