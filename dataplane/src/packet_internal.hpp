// SPDX-License-Identifier: GPL-3.0-or-later
// The packet path's shared internals: what the relay hot path (packet.cpp),
// RTCP (packet_rtcp.cpp) and transcoding (packet_transcode.cpp) all need —
// the parsed-header record and verdict, UDP checksums, events, session
// sync and receive statistics (RFC 3550 A.1/A.8, which the SR's report block
// reads), the next hop's MAC, the IP/UDP rewrite and emit(), and building a
// fresh UDP frame — plus the entry points of the two cold files.
//
// Why inline, in a header: the build has no LTO, and emit(), next_hop_mac()
// and the checksum helpers run per relayed packet, so they must inline into
// process_chunk() as they did when they were file-local (always-inlining
// emit() and next_hop_mac() alone took relay_bench from 68.4 to 66.3 ns a
// packet, commit fb407b2).  Private to dataplane/src: not a seam.
#pragma once

#include <cstdint>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "msgw/common/byte_order.hpp"
#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/packet.hpp"

namespace msgw::dataplane::packet_detail {

constexpr uint16_t kEtherIpv4 = 0x0800;

// Header fields in network order, at any alignment (inline, per packet).
using common::load_be16;
using common::load_be32;
using common::store_be16;
using common::store_be32;

inline void st(uint64_t& field, uint64_t v) { __atomic_store_n(&field, v, __ATOMIC_RELAXED); }

// Ones'-complement sum over pseudo header + UDP datagram of ulen bytes
// (folded; native word order, as rte_raw_cksum gives it).
inline uint16_t udp_sum(const uint8_t* ip, const uint8_t* udp, uint32_t ulen) {
  uint32_t sum = raw_cksum(udp, ulen);
  sum += udp_pseudo_header_cksum(ip, uint16_t(ulen));
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// A datagram whose checksum field is set: the sum over it must be all ones.
inline bool udp_checksum_ok(const uint8_t* ip, const uint8_t* udp, uint32_t ulen) {
  return udp_sum(ip, udp, ulen) == 0xffff;
}

// What one packet turned into.
enum class Verdict : uint8_t { sent, dropped, exception, handoff, consumed };

struct Parsed {
  uint8_t* frame;
  uint32_t len;       // bytes valid in the first segment
  uint32_t l2;        // Ethernet (+VLAN) header length
  uint8_t* ip;
  uint32_t ihl;
  uint32_t ip_total;
  uint8_t* udp;
  uint8_t* payload;
  uint32_t plen;      // UDP payload length
  uint32_t ulen;      // UDP length field
  uint32_t ip_payload;
  bool fragment;
  bool udp_ck_unchecked;  // a UDP checksum is set and the device did not check it
};

inline void post(WorkerContext& ctx, const Event& ev) {
  if (ctx.events != nullptr) ctx.events->post_event(ev);
}

inline Event make_event(EventType t, uint32_t flow_id, uint8_t leg, uint64_t now_ns) {
  Event ev{};
  ev.version = kMessageVersion;
  ev.type = uint16_t(t);
  ev.flow_id = flow_id;
  ev.leg = leg;
  ev.time_ns = now_ns;
  return ev;
}

// A session's runtime follows its configuration lazily: the owner notices a
// new version at the next packet and resets what the modify changed.
inline void sync_config(const SessionConfig& cfg, SessionRuntime& rt) {
  for (int i = 0; i < 2; ++i) {
    LegRuntime& r = rt.legs[i];
    if (r.config_version == cfg.version) continue;
    const LegSpec& l = cfg.legs[i];
    if (l.remote_ip != 0 && (l.remote_ip != r.remote_ip || l.remote_port != r.remote_port)) {
      // Signalled address change (re-INVITE): forget the latch and the
      // candidate; SSRC continuity on egress is kept by the other leg's state.
      r.remote_ip = l.remote_ip;
      r.remote_port = l.remote_port;
      r.remote_rtcp_port = uint16_t(l.remote_port + 1);
      r.latched = 0;
      r.have_ssrc = 0;
      r.cand_count = 0;
    }
    r.config_version = cfg.version;
  }
}

// RFC 3550 A.1 (sequence/loss) and A.8 (jitter), 8 kHz clock: every codec
// this dataplane carries is narrowband.
// RFC 3550 A.1 init_seq(): the loss count starts again at seq.
inline void restart_seq_count(LegRuntime& r, uint16_t seq) {
  r.base_seq = seq;
  r.max_seq = seq;
  r.cycles = 0;
  r.received = 0;
  r.expected_prior = 0;
  r.received_prior = 0;
}

inline void receive_stats(LegRuntime& r, FlowStats& s, uint16_t seq, uint32_t ts,
                   uint32_t bytes, uint32_t arrival, uint64_t now_ns) {
  if (!r.seq_init) {
    r.seq_init = 1;
    restart_seq_count(r, seq);
    r.transit_init = 0;
  } else {
    const uint16_t udelta = uint16_t(seq - r.max_seq);
    if (udelta < 3000) {
      if (seq < r.max_seq) r.cycles += 65536;
      r.max_seq = seq;
    } else if (udelta <= 65536 - 100) {
      // A jump no network reorders: restart the count as A.1 does after
      // two sequential packets; one is enough here since sources are checked.
      restart_seq_count(r, seq);
    }
  }
  ++r.received;
  const uint64_t ext_max = uint64_t(r.cycles) + r.max_seq;
  const uint64_t expected = ext_max - r.base_seq + 1;
  const uint64_t lost = expected > r.received ? expected - r.received : 0;
  // RFC 3550 A.8 in modular arithmetic: transit times of a hostile or
  // wrapped stream can be anything, and the difference must not overflow.
  const uint32_t transit = arrival - ts;
  if (r.transit_init) {
    const int32_t d = int32_t(transit - r.transit);
    const uint32_t ad = d < 0 ? 0u - uint32_t(d) : uint32_t(d);
    r.jitter_q4 += ad - ((r.jitter_q4 + 8) >> 4);
  }
  r.transit = transit;
  r.transit_init = 1;
  st(s.packets, s.packets + 1);
  st(s.bytes, s.bytes + bytes);
  st(s.lost, lost);
  st(s.jitter, r.jitter_q4 >> 4);
  st(s.last_seen_ns, now_ns);
}

// Asks the main lcore to ARP for next hop nh on out_port (it asks at most
// twice a second per next hop); the worker's flush kicks it when arp_wishes
// moved.
inline void wish_neighbour(WorkerContext& ctx, uint16_t out_port, uint32_t nh) {
  if (ctx.resolve == nullptr) return;
  uint64_t key = (uint64_t(out_port) << 32) | nh;
  if (rte_ring_mp_enqueue_elem(ctx.resolve, &key, sizeof key) == 0) ++ctx.counters.arp_wishes;
}

// Next-hop MAC for a destination on a port; asks the main lcore to ARP
// when unknown.  `cache` (the sending leg's) skips the table lookup while the
// table has not changed since the MAC was cached for this next hop.
[[gnu::always_inline]] inline bool next_hop_mac(WorkerContext& ctx, uint16_t out_port, uint32_t dst_ip, rte_ether_addr* mac,
                  LegRuntime* cache) {
  const PortInfo& op = ctx.ports[out_port];
  uint32_t nh = dst_ip;
  if (op.next_hop != 0 && (dst_ip & op.netmask) != (op.ip & op.netmask)) nh = op.next_hop;
  if (ctx.neighbours != nullptr) {
    const uint64_t version = ctx.neighbours->version();
    if (cache != nullptr && cache->nh_version == version && cache->nh_ip == nh &&
        cache->nh_port == out_port) {
      *mac = cache->nh_mac;
      return true;
    }
    if (ctx.neighbours->lookup(out_port, nh, mac)) {
      if (cache != nullptr) {
        cache->nh_version = version;
        cache->nh_ip = nh;
        cache->nh_port = out_port;
        cache->nh_mac = *mac;
      }
      return true;
    }
  }
  wish_neighbour(ctx, out_port, nh);
  return false;
}

// IPv4 header and UDP checksums: by the device when the port offers it.
inline void finish_checksums(rte_mbuf* m, uint8_t* ip, uint8_t* udp, uint32_t ihl, const PortInfo& op) {
  auto* iph = reinterpret_cast<rte_ipv4_hdr*>(ip);
  auto* udph = reinterpret_cast<rte_udp_hdr*>(udp);
  iph->hdr_checksum = 0;
  udph->dgram_cksum = 0;
  m->l2_len = sizeof(rte_ether_hdr);
  m->l3_len = ihl;
  m->ol_flags &= ~(RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IPV4);
  if (op.tx_ip_cksum) {
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
  } else {
    iph->hdr_checksum = uint16_t(~raw_cksum(iph, ihl));
  }
  if (op.tx_udp_cksum) {
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
    udph->dgram_cksum = rte_ipv4_phdr_cksum(iph, m->ol_flags);
  } else {
    // As rte_ipv4_udptcp_cksum() computes it, with the faster sum.
    const uint16_t ck = uint16_t(~udp_sum(ip, udp, rte_be_to_cpu_16(udph->dgram_len)));
    udph->dgram_cksum = ck == 0 ? 0xffff : ck;
  }
}

// RFC 1624 incremental update of a checksum over 16-bit words at even
// offsets: HC' = ~(~HC + ~m + m') for every word m that became m'.  A relayed
// packet changes a few dozen bytes of ~200, so two passes over the datagram
// are saved; a wrong ingress checksum stays exactly as wrong.
class CksumDelta {
 public:
  void replace16(uint16_t before, uint16_t after) {
    sum_ += uint16_t(~before);
    sum_ += after;
  }
  void replace32(uint32_t before, uint32_t after) {
    replace16(uint16_t(before >> 16), uint16_t(after >> 16));
    replace16(uint16_t(before), uint16_t(after));
  }
  uint16_t apply(uint16_t checksum) const {
    uint64_t s = uint16_t(~checksum) + sum_;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return uint16_t(~s);
  }

 private:
  uint64_t sum_ = 0;
};

// Addresses, ports and TTL of the egress leg.  payload_delta: what the
// caller changed in the UDP payload, so checksums done in software can be
// updated instead of recomputed; null = recompute.
[[gnu::always_inline]] inline void rewrite_ip_udp(rte_mbuf* m, uint8_t* ip, uint8_t* udp,
                                                  uint32_t ihl, const PortInfo& op,
                                                  uint32_t src_ip, uint16_t src_port,
                                                  uint32_t dst_ip, uint16_t dst_port,
                                                  const CksumDelta* payload_delta) {
  const uint16_t old_udp_ck = load_be16(udp + 6);
  // A datagram that came without a UDP checksum (0) leaves with one.
  const bool incremental =
      payload_delta != nullptr && !op.tx_ip_cksum && !op.tx_udp_cksum && old_udp_ck != 0;
  CksumDelta ipd, ud;
  if (incremental) {
    ipd.replace16(load_be16(ip + 8), uint16_t(64 << 8 | ip[9]));
    ipd.replace32(load_be32(ip + 12), src_ip);
    ipd.replace32(load_be32(ip + 16), dst_ip);
    ud = *payload_delta;
    ud.replace32(load_be32(ip + 12), src_ip);  // pseudo header
    ud.replace32(load_be32(ip + 16), dst_ip);
    ud.replace16(load_be16(udp), src_port);
    ud.replace16(load_be16(udp + 2), dst_port);
  }
  ip[8] = 64;  // a B2BUA originates its media packets
  store_be32(ip + 12, src_ip);
  store_be32(ip + 16, dst_ip);
  store_be16(udp + 0, src_port);
  store_be16(udp + 2, dst_port);
  if (incremental) {
    m->l2_len = sizeof(rte_ether_hdr);
    m->l3_len = ihl;
    m->ol_flags &= ~(RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IPV4);
    store_be16(ip + 10, ipd.apply(load_be16(ip + 10)));
    const uint16_t ck = ud.apply(old_udp_ck);
    store_be16(udp + 6, ck == 0 ? 0xffff : ck);  // 0 would mean "no checksum"
  } else {
    finish_checksums(m, ip, udp, ihl, op);
  }
}

// Rewrites Ethernet/IPv4/UDP for the egress leg and queues the frame
// (payload_delta as for rewrite_ip_udp).
[[gnu::always_inline]] inline Verdict emit(WorkerContext& ctx, rte_mbuf* m, Parsed& p, uint16_t out_port, uint32_t src_ip,
             uint16_t src_port, uint32_t dst_ip, uint16_t dst_port, LegRuntime* sender,
             const CksumDelta* payload_delta, BurstOutput& out, Drop* why) {
  const PortInfo& op = ctx.ports[out_port];
  rte_ether_addr dmac;
  if (!next_hop_mac(ctx, out_port, dst_ip, &dmac, sender)) {
    *why = Drop::no_neighbour;
    return Verdict::dropped;
  }
  if (out.n_tx[out_port] >= kTxCap) {
    *why = Drop::tx_full;
    return Verdict::dropped;
  }
  // Ethernet padding and anything past the IP datagram goes.
  const uint32_t keep = p.l2 + p.ip_total;
  if (p.len > keep) rte_pktmbuf_trim(m, uint16_t(p.len - keep));
  // Egress is untagged: drop the VLAN tag by moving the start of the frame.
  if (p.l2 > sizeof(rte_ether_hdr)) rte_pktmbuf_adj(m, uint16_t(p.l2 - sizeof(rte_ether_hdr)));
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  eth->dst_addr = dmac;
  eth->src_addr = op.mac;
  eth->ether_type = rte_cpu_to_be_16(kEtherIpv4);
  rewrite_ip_udp(m, p.ip, p.udp, p.ihl, op, src_ip, src_port, dst_ip, dst_port, payload_delta);
  out.tx[out_port][out.n_tx[out_port]++] = m;
  return Verdict::sent;
}

// What the IPv4 header of a frame the dataplane builds says about its class.
struct IpClass {
  uint8_t tos;
  bool dont_fragment;
};
// Media: DSCP EF, DF set (RTP/RTCP never exceed the MTU).
inline constexpr IpClass kMediaIp{0xb8, true};
// SIP relayed for msgw-control: as its sockets sent it (no IP_TOS), and DF
// clear, so a path with a smaller MTU fragments the datagram rather than
// losing it (there is no path MTU discovery here); hence the caller passes an
// IP id that changes from one datagram to the next (RFC 6864).
inline constexpr IpClass kSignallingIp{0, false};

// Builds a fresh Ethernet/IPv4/UDP frame around `len` bytes of UDP payload
// in m (reset first); returns the UDP payload pointer or null.
inline uint8_t* build_udp(rte_mbuf* m, const rte_ether_addr& dmac, const PortInfo& op, uint32_t src_ip,
                   uint16_t src_port, uint32_t dst_ip, uint16_t dst_port, uint16_t ip_id,
                   uint32_t len, IpClass cls = kMediaIp) {
  rte_pktmbuf_reset(m);
  auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, uint16_t(14 + 20 + 8 + len)));
  if (f == nullptr) return nullptr;
  auto* eth = reinterpret_cast<rte_ether_hdr*>(f);
  eth->dst_addr = dmac;
  eth->src_addr = op.mac;
  eth->ether_type = rte_cpu_to_be_16(kEtherIpv4);
  uint8_t* ip = f + 14;
  ip[0] = 0x45;
  ip[1] = cls.tos;
  store_be16(ip + 2, uint16_t(20 + 8 + len));
  store_be16(ip + 4, ip_id);
  store_be16(ip + 6, cls.dont_fragment ? 0x4000 : 0);
  ip[8] = 64;
  ip[9] = IPPROTO_UDP;
  store_be32(ip + 12, src_ip);
  store_be32(ip + 16, dst_ip);
  uint8_t* udp = ip + 20;
  store_be16(udp, src_port);
  store_be16(udp + 2, dst_port);
  store_be16(udp + 4, uint16_t(8 + len));
  return udp + 8;
}

inline void finish_built(rte_mbuf* m, const PortInfo& op) {
  uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, 14);
  finish_checksums(m, ip, ip + 20, 20, op);
}

// RTCP from a peer (odd port): relayed, or checked and terminated on a
// transcoded session (packet_rtcp.cpp).
Verdict handle_rtcp(WorkerContext& ctx, rte_mbuf* m, Parsed& p, const SessionConfig& cfg,
                    uint8_t leg, SessionRuntime& rt, uint64_t now_ns, BurstOutput& out,
                    Drop* why);

// Own RTCP for a transcoded leg: SR (+ one report block about what the leg
// receives) + SDES CNAME, RFC 3550 6.4.1/6.5 (packet_rtcp.cpp).
void send_sender_report(WorkerContext& ctx, const SessionConfig& cfg, uint8_t leg,
                        SessionRuntime& rt, rte_mempool* pool, uint64_t now_ns,
                        BurstOutput& out);

// Transcoded session: the codec engine decodes, re-frames, conceals and
// encodes; each egress packet becomes a frame of its own (the first reuses
// the ingress mbuf) (packet_transcode.cpp).
Verdict transcode(WorkerContext& ctx, rte_mbuf* m, const SessionConfig& cfg, uint8_t leg,
                  SessionRuntime& rt, const uint8_t* payload, uint32_t len, uint8_t pt,
                  uint16_t seq, uint32_t ts, uint32_t ssrc, bool marker, uint64_t now_ns,
                  BurstOutput& out, Drop* why);

}  // namespace msgw::dataplane::packet_detail
