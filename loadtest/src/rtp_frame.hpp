// SPDX-License-Identifier: GPL-3.0-or-later
// One Ethernet/IPv4/UDP/RTP frame as msgw-loadtest's packet-rate test sends
// it (IPv4 header and UDP checksums valid); tests/perf/relay_bench builds its
// frames here too. DPDK's headers: only the packet-rate files include this.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "msgw/common/byte_order.hpp"

namespace msgw::loadtest {

inline constexpr uint16_t rtp_frame_size(uint16_t payload_len) {
  return uint16_t(14 + 20 + 8 + 12 + payload_len);
}

// Writes rtp_frame_size(plen) bytes at f.  Addresses and ports in host order.
// payload_sum: rtp_payload_sum(payload, plen) when the caller keeps it (the
// media engine sends the same 50 payloads over and over): the UDP checksum
// then sums only the 20 bytes of UDP and RTP header; -1: sum it here.
inline void write_rtp_frame(uint8_t* f, const rte_ether_addr& dst_mac,
                            const rte_ether_addr& src_mac, uint32_t sip, uint16_t sp,
                            uint32_t dip, uint16_t dp, uint8_t pt, uint16_t seq, uint32_t ts,
                            uint32_t ssrc, const uint8_t* payload, uint16_t plen,
                            int32_t payload_sum = -1) {
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
  if (payload_sum < 0) {
    udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
    return;
  }
  // The payload starts 20 bytes into the datagram (an even offset), so its
  // ones'-complement sum adds to the headers' as is.
  uint32_t sum = uint32_t(rte_raw_cksum(udp, 8 + 12)) + uint32_t(payload_sum) + rte_ipv4_phdr_cksum(ip, 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const uint16_t ck = uint16_t(~sum);
  udp->dgram_cksum = ck == 0 ? 0xffff : ck;
}

// The sum write_rtp_frame takes for a payload it is given again and again.
inline int32_t rtp_payload_sum(const uint8_t* payload, uint16_t plen) {
  return int32_t(rte_raw_cksum(payload, plen));
}

// Relay frames from one template: per packet only ports, SSRC, sequence
// number, timestamp and an 8-byte stamp at the payload's start change, all
// 16-bit aligned within the datagram, so the UDP checksum is the template's
// sum plus those words (a ones'-complement sum does not care about order):
// one copy and a dozen adds instead of a pass over the datagram with DPDK's
// 2-bytes-a-step rte_raw_cksum. The generator shares its core with
// receiving, so this is what lets it outrun dpdk-testpmd.
class RtpFrameTemplate {
 public:
  static constexpr uint16_t kPayload = 160;
  static constexpr uint16_t kSize = rtp_frame_size(kPayload);
  static constexpr unsigned kStampOffset = 14 + 20 + 8 + 12;  // the payload's first 8 bytes

  // fill: every payload byte but the stamp's 8.
  RtpFrameTemplate(const rte_ether_addr& dst_mac, const rte_ether_addr& src_mac, uint32_t sip, uint32_t dip,
                   uint8_t fill) {
    uint8_t payload[kPayload];
    std::memset(payload, fill, sizeof payload);
    std::memset(payload, 0, 8);  // where the stamp goes
    write_rtp_frame(frame_, dst_mac, src_mac, sip, 0, dip, 0, 0, 0, 0, 0, payload, kPayload);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame_ + 14);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(frame_ + 34);
    udp->dgram_cksum = 0;
    base_ = uint32_t(rte_raw_cksum(udp, 8 + 12 + kPayload)) + rte_ipv4_phdr_cksum(ip, 0);
  }

  void write(uint8_t* f, uint16_t sp, uint16_t dp, uint16_t seq, uint32_t ts, uint32_t ssrc,
             uint64_t stamp) const {
    std::memcpy(f, frame_, kSize);
    msgw::common::store_be16(f + 34, sp);
    msgw::common::store_be16(f + 36, dp);
    msgw::common::store_be16(f + 44, seq);
    msgw::common::store_be32(f + 46, ts);
    msgw::common::store_be32(f + 50, ssrc);
    std::memcpy(f + kStampOffset, &stamp, 8);
    uint64_t sum = base_;
    for (unsigned off : {34u, 36u, 44u, 46u, 48u, 50u, 52u, 54u, 56u, 58u, 60u}) {
      uint16_t w;
      std::memcpy(&w, f + off, 2);  // native order, as rte_raw_cksum sums
      sum += w;
    }
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    const uint16_t ck = uint16_t(~sum);
    const uint16_t field = ck == 0 ? 0xffff : ck;
    std::memcpy(f + 40, &field, 2);
  }

 private:
  alignas(64) uint8_t frame_[kSize];
  uint32_t base_;
};

}  // namespace msgw::loadtest
