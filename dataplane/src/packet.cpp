// SPDX-License-Identifier: GPL-3.0-or-later
// Hot path: per-packet classification, validation, latching and relay.
// No allocation, no system calls, every read bounds-checked against the
// frame's first (only accepted) segment.
//
// Why one file of ~1,200 lines: everything here runs per packet and has to
// inline into process_chunk(). The build has no LTO, so a helper moved to
// another translation unit becomes a call per packet (always-inlining emit()
// and next_hop_mac() alone took relay_bench from 68.4 to 66.3 ns a packet,
// commit fb407b2). The sections: checksums, events, session sync and
// receive statistics, the IP/UDP/RTP rewrites, RTCP, the steady stream's
// short path, classify(), and process_burst().
#include "msgw/dataplane/packet.hpp"

#include <cstring>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_random.h>
#include <rte_udp.h>

#include "msgw/common/byte_order.hpp"
#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/sip_shed.hpp"

namespace msgw::dataplane {

namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint8_t kRtpPtCn = 13;  // comfort noise (RFC 3389), static

// Header fields in network order, at any alignment (inline, per packet).
using common::load_be16;
using common::load_be32;
using common::store_be16;
using common::store_be32;

inline void st(uint64_t& field, uint64_t v) { __atomic_store_n(&field, v, __ATOMIC_RELAXED); }

// Ones'-complement sum over pseudo header + UDP datagram of ulen bytes
// (folded; native word order, as rte_raw_cksum gives it).
uint16_t udp_sum(const uint8_t* ip, const uint8_t* udp, uint32_t ulen) {
  uint32_t sum = raw_cksum(udp, ulen);
  sum += udp_pseudo_header_cksum(ip, uint16_t(ulen));
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// One packet in this many of a steady relayed stream has its UDP checksum
// checked in software (handle_rtp); a power of two.
constexpr uint16_t kSteadyCksumSample = 16;

// A datagram whose checksum field is set: the sum over it must be all ones.
bool udp_checksum_ok(const uint8_t* ip, const uint8_t* udp, uint32_t ulen) {
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

void post(WorkerContext& ctx, const Event& ev) {
  if (ctx.events != nullptr) ctx.events->post_event(ev);
}

Event make_event(EventType t, uint32_t flow_id, uint8_t leg, uint64_t now_ns) {
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
void sync_config(const SessionConfig& cfg, SessionRuntime& rt) {
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

bool expected_pt(const LegSpec& l, uint8_t pt) {
  return pt == l.payload_type || (l.dtmf_pt != kNoPayloadType && pt == l.dtmf_pt) ||
         pt == kRtpPtCn;
}

// Symmetric latching with RTP-bleed protection.  Returns true when the
// packet comes from the (possibly just moved) accepted source.
bool accept_source(WorkerContext& ctx, const SessionConfig& cfg, uint8_t leg, LegRuntime& r,
                   uint32_t src_ip, uint16_t src_port, uint32_t ssrc, uint8_t pt, uint64_t now_ns,
                   Drop* why) {
  const LegSpec& l = cfg.legs[leg];
  if (r.remote_ip == src_ip && r.remote_port == src_port) {
    // Traffic from the current source keeps its latch: a competing
    // candidate needs an uninterrupted run to take over.
    r.cand_count = 0;
    if (!r.have_ssrc || r.in_ssrc != ssrc) {
      r.in_ssrc = ssrc;
      r.have_ssrc = 1;
      r.seq_init = 0;
    }
    return true;
  }
  if ((l.flags & kLegLatch) == 0) {
    *why = Drop::wrong_source;
    return false;
  }
  // Once a stream is known, only that SSRC may move the latch (NAT rebinding
  // keeps the SSRC); before that, any stream of the negotiated payload types
  // that stays consistent for latch_packets packets.  The address signalled
  // in SDP outranks a stranger: if the latch sits on another IP, a stream
  // from the signalled IP may take it over with any SSRC, so an attacker who
  // won the race to the first packets cannot keep the call.
  const bool signalled = l.remote_ip != 0 && src_ip == l.remote_ip && r.remote_ip != l.remote_ip;
  const bool plausible =
      expected_pt(l, pt) && (!r.have_ssrc || ssrc == r.in_ssrc || signalled);
  if (!plausible) {
    if (r.cand_ip == src_ip && r.cand_port == src_port) r.cand_count = 0;
    *why = Drop::rtp_bleed;
    return false;
  }
  if (r.cand_count > 0 && r.cand_ip == src_ip && r.cand_port == src_port && r.cand_ssrc == ssrc) {
    if (r.cand_count < 255) ++r.cand_count;
  } else {
    r.cand_ip = src_ip;
    r.cand_port = src_port;
    r.cand_ssrc = ssrc;
    r.cand_count = 1;
  }
  if (r.cand_count < ctx.latch_packets) {
    *why = Drop::rtp_bleed;
    return false;
  }
  r.remote_ip = src_ip;
  r.remote_port = src_port;
  r.remote_rtcp_port = uint16_t(src_port + 1);
  r.latched = 1;
  r.cand_count = 0;
  if (!r.have_ssrc || r.in_ssrc != ssrc) r.seq_init = 0;
  r.in_ssrc = ssrc;
  r.have_ssrc = 1;
  ++ctx.counters.latched;
  Event ev = make_event(EventType::latched, cfg.flow_id, leg, now_ns);
  ev.u.latched.ip = src_ip;
  ev.u.latched.port = src_port;
  ev.u.latched.ssrc = ssrc;
  post(ctx, ev);
  return true;
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

void receive_stats(LegRuntime& r, FlowStats& s, uint16_t seq, uint32_t ts,
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
  if (ctx.resolve != nullptr) {
    uint64_t key = (uint64_t(out_port) << 32) | nh;
    if (rte_ring_mp_enqueue_elem(ctx.resolve, &key, sizeof key) == 0) ++ctx.counters.arp_wishes;
  }
  return false;
}

// IPv4 header and UDP checksums: by the device when the port offers it.
void finish_checksums(rte_mbuf* m, uint8_t* ip, uint8_t* udp, uint32_t ihl, const PortInfo& op) {
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

// Builds a fresh Ethernet/IPv4/UDP frame around `len` bytes of UDP payload
// in m (reset first); returns the UDP payload pointer or null.
uint8_t* build_udp(rte_mbuf* m, const rte_ether_addr& dmac, const PortInfo& op, uint32_t src_ip,
                   uint16_t src_port, uint32_t dst_ip, uint16_t dst_port, uint16_t ip_id,
                   uint32_t len) {
  rte_pktmbuf_reset(m);
  auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, uint16_t(14 + 20 + 8 + len)));
  if (f == nullptr) return nullptr;
  auto* eth = reinterpret_cast<rte_ether_hdr*>(f);
  eth->dst_addr = dmac;
  eth->src_addr = op.mac;
  eth->ether_type = rte_cpu_to_be_16(kEtherIpv4);
  uint8_t* ip = f + 14;
  ip[0] = 0x45;
  ip[1] = 0xb8;  // DSCP EF: voice
  store_be16(ip + 2, uint16_t(20 + 8 + len));
  store_be16(ip + 4, ip_id);
  store_be16(ip + 6, 0x4000);  // DF
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

void finish_built(rte_mbuf* m, const PortInfo& op) {
  uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, 14);
  finish_checksums(m, ip, ip + 20, 20, op);
}

// Second word of a report block (RFC 3550 A.3): fraction lost since the
// previous block about this leg, then cumulative lost.  Advances the
// interval, so call it once per block actually sent.
uint32_t loss_word(LegRuntime& r) {
  const uint64_t ext_max = uint64_t(r.cycles) + r.max_seq;
  const uint64_t expected = ext_max - r.base_seq + 1;
  // Signed: duplicates count as received, so a stream can show more
  // received than expected; the field is 24-bit two's complement.
  int64_t lost = int64_t(expected) - int64_t(r.received);
  if (lost > 0x7fffff) lost = 0x7fffff;
  if (lost < -0x800000) lost = -0x800000;
  // The interval is taken modulo 2^32 as in A.3, which is what the priors hold.
  const uint32_t expected_interval = uint32_t(expected) - r.expected_prior;
  const uint32_t received_interval = r.received - r.received_prior;
  r.expected_prior = uint32_t(expected);
  r.received_prior = r.received;
  const int64_t lost_interval = int64_t(expected_interval) - int64_t(received_interval);
  uint32_t fraction = 0;
  if (expected_interval != 0 && lost_interval > 0) {
    fraction = uint32_t((uint64_t(lost_interval) << 8) / expected_interval);
    // 256 only if nothing at all arrived in the interval, which the 8-bit
    // field cannot hold.
    if (fraction > 255) fraction = 255;
  }
  return fraction << 24 | (uint32_t(lost) & 0xffffff);
}

// DLSR: the delay since the peer's SR arrived, in 1/65536 s, saturating
// where the 32-bit field ends (~18 h).
uint32_t dlsr_units(uint64_t since_ns) {
  const uint64_t secs = since_ns / 1000000000ull;
  if (secs >= 65536) return 0xffffffffu;
  return uint32_t(secs << 16 | ((since_ns % 1000000000ull) << 16) / 1000000000ull);
}

// Own RTCP for a transcoded leg: SR (+ one report block about what the leg
// receives) + SDES CNAME, RFC 3550 6.4.1/6.5.
void send_sender_report(WorkerContext& ctx, const SessionConfig& cfg, uint8_t leg,
                        SessionRuntime& rt, rte_mempool* pool, uint64_t now_ns,
                        BurstOutput& out) {
  LegRuntime& r = rt.legs[leg];
  const LegSpec& l = cfg.legs[leg];
  r.last_rtcp_ns = now_ns;
  if (r.remote_ip == 0 || r.remote_rtcp_port == 0 || out.n_tx[l.port] >= kTxCap) return;
  rte_ether_addr dmac;
  if (!next_hop_mac(ctx, l.port, r.remote_ip, &dmac, &r)) return;
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return;
  const bool block = r.have_ssrc != 0;
  const uint32_t sr_len = 28 + (block ? 24 : 0);
  static constexpr char kCname[] = "msgw";
  const uint32_t sdes_len = 4 + 4 + 2 + (sizeof kCname - 1) + 2;  // padded to 4 below
  const uint32_t sdes_padded = (sdes_len + 3) & ~3u;
  uint8_t* p = build_udp(m, dmac, ctx.ports[l.port], l.local_ip, uint16_t(l.local_port + 1),
                         r.remote_ip, r.remote_rtcp_port, r.ip_id++, sr_len + sdes_padded);
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return;
  }
  p[0] = uint8_t(0x80 | (block ? 1 : 0));
  p[1] = 200;
  store_be16(p + 2, uint16_t(sr_len / 4 - 1));
  store_be32(p + 4, r.out_ssrc);
  const uint64_t wall = now_ns + uint64_t(ctx.realtime_offset_ns);
  const uint64_t secs = wall / 1000000000ull + 2208988800ull;  // NTP era 0
  const uint64_t frac = ((wall % 1000000000ull) << 32) / 1000000000ull;
  store_be32(p + 8, uint32_t(secs));
  store_be32(p + 12, uint32_t(frac));
  const codecs::Transcoder* t = cfg.tc[leg ^ 1];  // builds what this leg sends
  store_be32(p + 16, t != nullptr ? t->next_egress_timestamp() : 0);
  store_be32(p + 20, uint32_t(r.tc_packets));
  store_be32(p + 24, uint32_t(r.tc_octets));
  if (block) {
    uint8_t* b = p + 28;
    store_be32(b, r.in_ssrc);
    store_be32(b + 4, loss_word(r));
    store_be32(b + 8, r.cycles + r.max_seq);
    store_be32(b + 12, r.jitter_q4 >> 4);
    // An SR from an earlier source of this leg says nothing about the one
    // reported on: LSR/DLSR 0 as if none had been received.
    const bool lsr = r.peer_sr_seen && r.peer_sr_ssrc == r.in_ssrc;
    store_be32(b + 16, lsr ? r.peer_sr_ntp_mid : 0);
    store_be32(b + 20, lsr && now_ns >= r.peer_sr_ns ? dlsr_units(now_ns - r.peer_sr_ns) : 0);
  }
  uint8_t* d = p + sr_len;
  std::memset(d, 0, sdes_padded);
  d[0] = 0x81;
  d[1] = 202;
  store_be16(d + 2, uint16_t(sdes_padded / 4 - 1));
  store_be32(d + 4, r.out_ssrc);
  d[8] = 1;  // CNAME
  d[9] = uint8_t(sizeof kCname - 1);
  std::memcpy(d + 10, kCname, sizeof kCname - 1);
  finish_built(m, ctx.ports[l.port]);
  out.tx[l.port][out.n_tx[l.port]++] = m;
  ++ctx.counters.rtcp_sent;
}

// Transcoded session: the codec engine decodes, re-frames, conceals and
// encodes; each egress packet becomes a frame of its own (the first reuses
// the ingress mbuf).
Verdict transcode(WorkerContext& ctx, rte_mbuf* m, const SessionConfig& cfg, uint8_t leg,
                  SessionRuntime& rt, const uint8_t* payload, uint32_t len, uint8_t pt,
                  uint16_t seq, uint32_t ts, uint32_t ssrc, bool marker, uint64_t now_ns,
                  BurstOutput& out, Drop* why) {
  codecs::Transcoder* t = cfg.tc[leg];
  LegRuntime& eg = rt.legs[leg ^ 1];
  const LegSpec& oc = cfg.legs[leg ^ 1];
  if (t == nullptr) {
    *why = Drop::unsupported_codec;
    return Verdict::dropped;
  }
  if (eg.remote_ip == 0 || eg.remote_port == 0) {
    *why = Drop::no_destination;
    return Verdict::dropped;
  }
  if (!eg.out_init) {
    eg.out_init = 1;
    eg.out_ssrc = uint32_t(rte_rand());
    eg.src_ssrc = ssrc;
    eg.tc_next_seq = uint16_t(rte_rand());
    eg.last_rtcp_ns = now_ns;
  } else if (eg.src_ssrc != ssrc) {
    t->resync();  // new source: the engine keeps the egress timeline and marks it
    eg.src_ssrc = ssrc;
  }
  const codecs::TranscoderStats& ts0 = t->stats();
  const uint64_t frames0 = ts0.frames_out, conceal0 = ts0.concealed_samples;
  const size_t n = t->process(std::span<const uint8_t>(payload, len), pt, seq, ts, marker,
                              std::span<codecs::EgressPacket>(ctx.tc_out, codecs::kMaxEgressPerCall));
  ctx.counters.transcoded_frames += t->stats().frames_out - frames0;
  ctx.counters.concealed_frames += (t->stats().concealed_samples - conceal0) / 80;
  if (n == 0) {
    ++ctx.counters.transcode_buffered;
    rte_pktmbuf_free(m);
    return Verdict::consumed;
  }
  const PortInfo& op = ctx.ports[oc.port];
  rte_ether_addr dmac;
  if (!next_hop_mac(ctx, oc.port, eg.remote_ip, &dmac, &eg)) {
    *why = Drop::no_neighbour;
    return Verdict::dropped;
  }
  FlowStats& ost = ctx.stats[size_t(cfg.flow_id) * 2 + (leg ^ 1)];
  rte_mempool* pool = m->pool;
  for (size_t k = 0; k < n; ++k) {
    const codecs::EgressPacket& e = ctx.tc_out[k];
    rte_mbuf* o = k == 0 ? m : rte_pktmbuf_alloc(pool);
    if (o == nullptr || out.n_tx[oc.port] >= kTxCap) {
      if (o != nullptr) rte_pktmbuf_free(o);
      ++ctx.counters.dropped[size_t(Drop::tx_full)];
      continue;
    }
    uint8_t* r = build_udp(o, dmac, op, oc.local_ip, oc.local_port, eg.remote_ip, eg.remote_port,
                           eg.ip_id++, 12u + e.length);
    if (r == nullptr) {
      rte_pktmbuf_free(o);
      ++ctx.counters.dropped[size_t(Drop::tx_full)];
      continue;
    }
    r[0] = 0x80;
    r[1] = uint8_t((e.marker ? 0x80 : 0) | (e.payload_type & 0x7f));
    store_be16(r + 2, eg.tc_next_seq++);
    store_be32(r + 4, e.timestamp);
    store_be32(r + 8, eg.out_ssrc);
    std::memcpy(r + 12, e.payload, e.length);
    finish_built(o, op);
    out.tx[oc.port][out.n_tx[oc.port]++] = o;
    ++ctx.counters.transcoded_packets;
    ++eg.tc_packets;
    eg.tc_octets += e.length;
    st(ost.sent, ost.sent + 1);
  }
  if (now_ns - eg.last_rtcp_ns >= ctx.rtcp_interval_ns)
    send_sender_report(ctx, cfg, uint8_t(leg ^ 1), rt, pool, now_ns, out);
  return Verdict::sent;
}

// The relayed RTP header's second byte, seq, ts and SSRC as they leave;
// returns what changed, for the UDP checksum.
[[gnu::always_inline]] inline CksumDelta rewrite_rtp_header(uint8_t* rtp, uint8_t b1, uint16_t seq,
                                                           uint16_t oseq, uint32_t ts,
                                                           uint32_t ots, uint32_t ssrc,
                                                           uint32_t out_ssrc) {
  CksumDelta delta;
  delta.replace16(load_be16(rtp), uint16_t(rtp[0] << 8 | b1));
  delta.replace16(seq, oseq);
  delta.replace32(ts, ots);
  delta.replace32(ssrc, out_ssrc);
  rtp[1] = b1;
  store_be16(rtp + 2, oseq);
  store_be32(rtp + 4, ots);
  store_be32(rtp + 8, out_ssrc);
  return delta;
}

Verdict handle_rtp(WorkerContext& ctx, rte_mbuf* m, Parsed& p, const SessionConfig& cfg,
                   uint8_t leg, SessionRuntime& rt, uint32_t arrival, uint64_t now_ns,
                   BurstOutput& out, Drop* why) {
  uint8_t* rtp = p.payload;
  const uint32_t plen = p.plen;
  if (plen < 12) {
    *why = Drop::truncated_rtp;
    return Verdict::dropped;
  }
  const uint8_t b0 = rtp[0];
  if ((b0 >> 6) != 2) {
    *why = Drop::bad_rtp_version;
    return Verdict::dropped;
  }
  uint32_t hdr = 12 + 4u * (b0 & 0x0f);
  if (hdr > plen) {
    *why = Drop::bad_rtp_csrc;
    return Verdict::dropped;
  }
  if (b0 & 0x10) {
    if (hdr + 4 > plen) {
      *why = Drop::bad_rtp_extension;
      return Verdict::dropped;
    }
    hdr += 4 + 4u * load_be16(rtp + hdr + 2);
    if (hdr > plen) {
      *why = Drop::bad_rtp_extension;
      return Verdict::dropped;
    }
  }
  uint32_t pad = 0;
  if (b0 & 0x20) {
    pad = rtp[plen - 1];
    if (pad == 0 || hdr + pad > plen) {
      *why = Drop::bad_rtp_padding;
      return Verdict::dropped;
    }
  }
  const uint8_t pt = rtp[1] & 0x7f;
  const uint16_t seq = load_be16(rtp + 2);
  const uint32_t ts = load_be32(rtp + 4);
  const uint32_t ssrc = load_be32(rtp + 8);
  const uint32_t src_ip = load_be32(p.ip + 12);
  const uint16_t src_port = load_be16(p.udp);

  LegRuntime& in = rt.legs[leg];
  LegRuntime& eg = rt.legs[leg ^ 1];
  const LegSpec& ic = cfg.legs[leg];
  const LegSpec& oc = cfg.legs[leg ^ 1];
  FlowStats& ist = ctx.stats[size_t(cfg.flow_id) * 2 + leg];
  FlowStats& ost = ctx.stats[size_t(cfg.flow_id) * 2 + (leg ^ 1)];

  // The UDP checksum.  Whatever can change state is checked: a packet that
  // could move the latch or be a candidate, DTMF (events), comfort noise,
  // anything transcoded.  The steady relayed stream (the latched source, its
  // SSRC, the negotiated payload type) is checked one packet in
  // kSteadyCksumSample: RFC 1624 updates in emit() carry a wrong checksum
  // through unchanged, so the far end's stack still discards a corrupt
  // datagram, as behind any NAT; the sample makes a stream whose checksums
  // are all wrong (a peer's unfinished offload) show in bad_udp_checksum.
  // Not when the egress device would compute a fresh checksum over it.
  if (p.udp_ck_unchecked) {
    const PortInfo& op = ctx.ports[oc.port];
    const bool steady = cfg.relay && in.remote_ip == src_ip && in.remote_port == src_port &&
                        in.have_ssrc && in.in_ssrc == ssrc && pt == ic.payload_type &&
                        !op.tx_ip_cksum && !op.tx_udp_cksum;
    if ((!steady || (seq & (kSteadyCksumSample - 1)) == 0) &&
        !udp_checksum_ok(p.ip, p.udp, p.ulen)) {
      *why = Drop::bad_udp_checksum;
      return Verdict::dropped;
    }
  }
  if (!accept_source(ctx, cfg, leg, in, src_ip, src_port, ssrc, pt, now_ns, why)) {
    st(ist.dropped, ist.dropped + 1);
    return Verdict::dropped;
  }
  receive_stats(in, ist, seq, ts, plen, arrival, now_ns);

  const uint32_t body = plen - hdr - pad;
  const bool is_dtmf = ic.dtmf_pt != kNoPayloadType && pt == ic.dtmf_pt;
  if (is_dtmf && body >= 4) {
    const uint8_t* ev = rtp + hdr;
    const bool end = (ev[1] & 0x80) != 0;
    // The end packet is sent three times with the same timestamp: report once.
    if (end && !(in.dtmf_end_seen && in.last_dtmf_ts == ts)) {
      in.dtmf_end_seen = 1;
      in.last_dtmf_ts = ts;
      ++ctx.counters.dtmf_events;
      Event e = make_event(EventType::dtmf, cfg.flow_id, leg, now_ns);
      e.u.dtmf.event = ev[0];
      e.u.dtmf.volume = ev[1] & 0x3f;
      e.u.dtmf.duration = load_be16(ev + 2);
      e.u.dtmf.timestamp = ts;
      post(ctx, e);
    }
  }

  // Hold: received, counted and latched as usual, but not sent on.
  if (oc.flags & kLegHold) {
    *why = Drop::held;
    return Verdict::dropped;
  }
  // Only what was negotiated reaches the other leg: its codec and
  // telephone-event.  A static type nobody agreed to (PCMU from a phone on a
  // call negotiated as G.729, CN) is dropped, unless the other leg takes
  // them unchanged (kLegPayloadPassthrough, relayed sessions only).
  uint8_t out_pt = pt;
  if (pt == ic.payload_type) {
    out_pt = oc.payload_type;
  } else if (is_dtmf) {
    if (oc.dtmf_pt == kNoPayloadType) {
      *why = Drop::unexpected_payload_type;
      return Verdict::dropped;
    }
    out_pt = oc.dtmf_pt;
  } else if (pt >= 96) {
    *why = Drop::unexpected_payload_type;
    return Verdict::dropped;
  } else if (!cfg.relay || (oc.flags & kLegPayloadPassthrough) == 0) {
    *why = Drop::payload_type_not_negotiated;
    return Verdict::dropped;
  }
  if (!cfg.relay)
    return transcode(ctx, m, cfg, leg, rt, rtp + hdr, body, pt, seq, ts, ssrc,
                     (rtp[1] & 0x80) != 0, now_ns, out, why);
  if (eg.remote_ip == 0 || eg.remote_port == 0) {
    *why = Drop::no_destination;
    return Verdict::dropped;
  }

  // Egress continuity: the far end sees one stream per leg whatever happens
  // behind the gateway; a new ingress SSRC re-bases seq/ts after the last
  // packet sent and raises the marker.
  bool marker = false;
  const bool first = !eg.out_init;
  if (first) {
    eg.out_init = 1;
    eg.out_ssrc = ssrc;
    eg.src_ssrc = ssrc;
    eg.seq_delta = 0;
    eg.ts_delta = 0;
  } else if (ssrc != eg.src_ssrc) {
    const uint32_t step = uint32_t(ic.ptime_ms ? ic.ptime_ms : 20) * 8;
    eg.seq_delta = uint16_t(uint16_t(eg.last_seq + 1) - seq);
    eg.ts_delta = eg.last_ts + step - ts;
    eg.src_ssrc = ssrc;
    marker = true;
  }
  const uint16_t oseq = uint16_t(seq + eg.seq_delta);
  const uint32_t ots = ts + eg.ts_delta;
  // Reordered packets keep their place; only the newest defines the base.
  if (first || marker || int16_t(oseq - eg.last_seq) > 0) {
    eg.last_seq = oseq;
    eg.last_ts = ots;
  }
  const CksumDelta delta = rewrite_rtp_header(
      rtp, uint8_t((rtp[1] & 0x80) | (marker ? 0x80 : 0) | out_pt), seq, oseq, ts, ots, ssrc,
      eg.out_ssrc);

  Verdict v = emit(ctx, m, p, oc.port, oc.local_ip, oc.local_port, eg.remote_ip, eg.remote_port,
                   &eg, &delta, out, why);
  if (v == Verdict::sent) {
    ++ctx.counters.relayed;
    st(ost.sent, ost.sent + 1);
  }
  return v;
}

// RFC 3550 A.2 validity over a whole compound packet: every packet version
// 2, its length inside what remains, the lengths adding up to the datagram,
// padding only on the last one and inside it.  Returns false for anything
// else; on true, *sr is the first SR from `ssrc` (any SR when !match_ssrc)
// with its sender info and report blocks inside its length, or null.
bool find_sender_report(const uint8_t* c, uint32_t len, bool match_ssrc, uint32_t ssrc,
                        const uint8_t** sr) {
  *sr = nullptr;
  uint32_t off = 0;
  while (off < len) {
    if (len - off < 4) return false;
    const uint8_t* h = c + off;
    if ((h[0] >> 6) != 2) return false;
    const uint32_t n = (uint32_t(load_be16(h + 2)) + 1) * 4;
    if (n > len - off) return false;
    uint32_t body = n;
    if (h[0] & 0x20) {
      if (off + n != len) return false;
      const uint8_t pad = h[n - 1];
      if (pad == 0 || pad > n - 4) return false;
      body = n - pad;
    }
    if (h[1] == 200) {
      if (body < 28 + 24u * (h[0] & 0x1f)) return false;
      if (*sr == nullptr && (!match_ssrc || load_be32(h + 4) == ssrc)) *sr = h;
    }
    off += n;
  }
  return true;
}

Verdict handle_rtcp(WorkerContext& ctx, rte_mbuf* m, Parsed& p, const SessionConfig& cfg,
                    uint8_t leg, SessionRuntime& rt, uint64_t now_ns, BurstOutput& out,
                    Drop* why) {
  uint8_t* r = p.payload;
  // First packet of the compound: version 2, SR/RR/SDES/BYE/APP/RTPFB/PSFB/XR,
  // its length inside the datagram.
  if (p.plen < 8 || (r[0] >> 6) != 2 || r[1] < 200 || r[1] > 207 ||
      (uint32_t(load_be16(r + 2)) + 1) * 4 > p.plen) {
    *why = Drop::bad_rtcp;
    return Verdict::dropped;
  }
  if (p.udp_ck_unchecked && !udp_checksum_ok(p.ip, p.udp, p.ulen)) {
    *why = Drop::bad_udp_checksum;
    return Verdict::dropped;
  }
  LegRuntime& in = rt.legs[leg];
  LegRuntime& eg = rt.legs[leg ^ 1];
  const LegSpec& oc = cfg.legs[leg ^ 1];
  const uint32_t src_ip = load_be32(p.ip + 12);
  const uint16_t src_port = load_be16(p.udp);
  if (in.remote_ip == 0 || src_ip != in.remote_ip) {
    *why = Drop::wrong_source;
    return Verdict::dropped;
  }
  // Transcoded legs read the compound, so all of it must hold together
  // before anything in it is believed, the RTCP port included.
  const uint8_t* sr = nullptr;
  if (!cfg.relay && !find_sender_report(r, p.plen, in.have_ssrc != 0, in.in_ssrc, &sr)) {
    *why = Drop::bad_rtcp;
    return Verdict::dropped;
  }
  if (in.latched || (cfg.legs[leg].flags & kLegLatch) != 0) in.remote_rtcp_port = src_port;
  if (!cfg.relay) {
    // Kept for LSR/DLSR of our report block about the stream this SR's
    // sender sends us; before its RTP is known, any SR is taken and the
    // report block uses it only if the SSRCs turn out to match.
    if (sr != nullptr) {
      in.peer_sr_ssrc = load_be32(sr + 4);
      in.peer_sr_ntp_mid = load_be32(sr + 10);
      in.peer_sr_ns = now_ns;
      in.peer_sr_seen = 1;
    }
    // Transcoded legs terminate RTCP: the far side's reports describe a
    // stream the other leg never sees; we send our own SR per leg.
    ++ctx.counters.rtcp_terminated;
    rte_pktmbuf_free(m);
    return Verdict::consumed;
  }
  if (eg.remote_ip == 0 || eg.remote_rtcp_port == 0) {
    *why = Drop::no_destination;
    return Verdict::dropped;
  }
  // Reports about the stream we re-based carry our egress SSRC.
  if (eg.out_init && load_be32(r + 4) == eg.src_ssrc) store_be32(r + 4, eg.out_ssrc);
  Verdict v = emit(ctx, m, p, oc.port, oc.local_ip, uint16_t(oc.local_port + 1), eg.remote_ip,
                   eg.remote_rtcp_port, &eg, nullptr, out, why);
  if (v == Verdict::sent) ++ctx.counters.rtcp_relayed;
  return v;
}

// First half of a packet's processing: Ethernet/IPv4/UDP checks up to the
// flow table key.  Returns Verdict::consumed for "look it up", anything
// else is final.  No side effects but counters, so a whole burst can be
// classified before any of it is processed.
Verdict classify(WorkerContext& ctx, rte_mbuf* m, Parsed& p, Drop* why) {
  if (m->nb_segs != 1 || m->pkt_len != m->data_len || m->data_len > kMaxFrame) {
    *why = Drop::oversized;
    return Verdict::dropped;
  }
  p = Parsed{};
  p.frame = rte_pktmbuf_mtod(m, uint8_t*);
  p.len = m->data_len;
  if (p.len < sizeof(rte_ether_hdr)) {
    *why = Drop::truncated_ether;
    return Verdict::dropped;
  }
  p.l2 = sizeof(rte_ether_hdr);
  uint16_t et = load_be16(p.frame + 12);
  if (et == kEtherVlan || et == kEtherQinQ) {
    if (p.len < p.l2 + 4) {
      *why = Drop::truncated_ether;
      return Verdict::dropped;
    }
    et = load_be16(p.frame + 16);
    p.l2 += 4;
  }
  if (et != kEtherIpv4) return Verdict::exception;  // ARP, IPv6, LLDP...: the kernel's
  if (p.len < p.l2 + 20) {
    *why = Drop::truncated_ip;
    return Verdict::dropped;
  }
  p.ip = p.frame + p.l2;
  if ((p.ip[0] >> 4) != 4) {
    *why = Drop::bad_ip_version;
    return Verdict::dropped;
  }
  p.ihl = 4u * (p.ip[0] & 0x0f);
  if (p.ihl < 20 || p.l2 + p.ihl > p.len) {
    *why = Drop::bad_ip_ihl;
    return Verdict::dropped;
  }
  p.ip_total = load_be16(p.ip + 2);
  if (p.ip_total < p.ihl || p.l2 + p.ip_total > p.len) {
    *why = Drop::bad_ip_length;
    return Verdict::dropped;
  }
  const uint64_t ipck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (ipck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
      (ipck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && raw_cksum(p.ip, p.ihl) != 0xffff)) {
    *why = Drop::bad_ip_checksum;
    return Verdict::dropped;
  }
  const uint16_t frag = load_be16(p.ip + 6);
  const bool fragment = (frag & 0x3fff) != 0;
  if (fragment) {
    ++ctx.counters.fragments_seen;
    // Only a first fragment has a UDP header to classify; the kernel owns
    // reassembly (large SIP messages over UDP are fragmented).
    if ((frag & 0x1fff) != 0) return Verdict::exception;
  }
  if (p.ip[9] != IPPROTO_UDP) return Verdict::exception;
  const uint32_t ip_payload = p.ip_total - p.ihl;
  if (ip_payload < 8) {
    *why = Drop::truncated_udp;
    return Verdict::dropped;
  }
  p.udp = p.ip + p.ihl;
  const uint32_t ulen = load_be16(p.udp + 4);
  if (ulen < 8 || ulen > ip_payload) {
    *why = Drop::bad_udp_length;
    return Verdict::dropped;
  }
  p.fragment = fragment;
  p.ulen = ulen;
  p.ip_payload = ip_payload;
  return Verdict::consumed;
}

// Second half, for a packet whose destination is a flow.
Verdict process_flow(WorkerContext& ctx, rte_mbuf* m, Parsed& p, const SessionConfig* cfg,
                     uint8_t leg, bool handed_off, uint32_t arrival, uint64_t now_ns,
                     BurstOutput& out, Drop* why) {
  const bool fragment = p.fragment;
  const uint32_t ulen = p.ulen, ip_payload = p.ip_payload;
  if (fragment) {
    // Media is never legitimately fragmented; a fragment towards a media
    // port is an attack or a broken peer.
    *why = Drop::fragment;
    return Verdict::dropped;
  }
  if (cfg->owner != ctx.worker_id && !handed_off && cfg->owner < kMaxWorkers) {
    out.handoff[cfg->owner][out.n_handoff[cfg->owner]++] = m;
    return Verdict::handoff;
  }
  if (ulen != ip_payload) {
    *why = Drop::bad_udp_length;
    return Verdict::dropped;
  }
  // The device's verdict is free; the software check is left to the
  // handlers, which know whether the packet can change any state.
  p.udp_ck_unchecked = false;
  if (load_be16(p.udp + 6) != 0) {
    const uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
      *why = Drop::bad_udp_checksum;
      return Verdict::dropped;
    }
    p.udp_ck_unchecked = l4 != RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  }
  p.payload = p.udp + 8;
  p.plen = ulen - 8;
  SessionRuntime& rt = *ctx.flows->runtime(cfg->flow_id);
  sync_config(*cfg, rt);
  if ((load_be16(p.udp + 2) & 1u) != 0) return handle_rtcp(ctx, m, p, *cfg, leg, rt, now_ns, out, why);
  return handle_rtp(ctx, m, p, *cfg, leg, rt, arrival, now_ns, out, why);
}

// The steady relayed stream's short path.  Most relayed packets are the
// latched source's next packet of the negotiated codec, in an untagged,
// unfragmented IPv4/UDP frame with a checksum: for those, the general path's
// record of parsed headers, its checks for what else a packet could be
// (VLAN, options, CSRCs, DTMF, a new SSRC, a latch candidate, RTCP, hold,
// transcoding) and its per-case branches were ~40 % of a relayed packet.
// steady_frame() picks such frames from fixed offsets (checking all the
// general path's header checks would), relay_steady() relays one whose flow
// is in that state, and returns false, having changed nothing, otherwise:
// the general path then takes the packet from the start.
[[gnu::always_inline]] inline bool steady_frame(const rte_mbuf* m) {
  constexpr uint32_t kMin = 14 + 20 + 8 + 12;
  if (m->nb_segs != 1 || m->pkt_len != m->data_len || m->data_len < kMin ||
      m->data_len > kMaxFrame)
    return false;
  const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t ip_total = load_be16(f + 16);
  // IPv4 without options, UDP, not a fragment, no padding past the
  // datagram, UDP length = IP payload, a UDP checksum, an even (RTP) port.
  if (load_be16(f + 12) != kEtherIpv4 || f[14] != 0x45 || f[23] != IPPROTO_UDP ||
      (load_be16(f + 20) & 0x3fff) != 0 || 14 + ip_total != m->data_len ||
      load_be16(f + 38) != ip_total - 20 || load_be16(f + 40) == 0 || (f[37] & 1) != 0)
    return false;
  const uint64_t ipck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  const uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  if (ipck == RTE_MBUF_F_RX_IP_CKSUM_BAD || l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD) return false;
  return ipck == RTE_MBUF_F_RX_IP_CKSUM_GOOD || raw_cksum(f + 14, 20) == 0xffff;
}

[[gnu::always_inline]] inline bool relay_steady(WorkerContext& ctx, rte_mbuf* m,
                                                const SessionConfig& cfg, uint8_t leg,
                                                uint32_t arrival, uint64_t now_ns,
                                                BurstOutput& out) {
  uint8_t* const ip = rte_pktmbuf_mtod(m, uint8_t*) + 14;
  uint8_t* const udp = ip + 20;
  uint8_t* const rtp = udp + 8;
  const LegSpec& ic = cfg.legs[leg];
  const LegSpec& oc = cfg.legs[leg ^ 1];
  const uint8_t pt = rtp[1] & 0x7f;
  // RTP version 2 without padding, extension or CSRCs, of the leg's codec.
  if (!cfg.relay || cfg.owner != ctx.worker_id || (oc.flags & kLegHold) != 0 || rtp[0] != 0x80 ||
      pt != ic.payload_type || pt == ic.dtmf_pt || pt == kRtpPtCn)
    return false;
  SessionRuntime& rt = *ctx.flows->runtime(cfg.flow_id);
  LegRuntime& in = rt.legs[leg];
  LegRuntime& eg = rt.legs[leg ^ 1];
  const uint32_t src_ip = load_be32(ip + 12);
  const uint16_t src_port = load_be16(udp);
  const uint32_t ssrc = load_be32(rtp + 8);
  // The latched source's current stream, already mapped on egress; no
  // modify pending for either leg (sync_config would have nothing to do).
  if (in.config_version != cfg.version || eg.config_version != cfg.version ||
      in.remote_ip != src_ip || in.remote_port != src_port || !in.have_ssrc ||
      in.in_ssrc != ssrc || !eg.out_init || eg.src_ssrc != ssrc || eg.remote_ip == 0 ||
      eg.remote_port == 0)
    return false;
  // Software checksums (so the incremental update below is what leaves),
  // room to queue, the next hop's MAC cached for this destination.
  const uint16_t out_port = oc.port;
  const PortInfo& op = ctx.ports[out_port];
  if (op.tx_ip_cksum || op.tx_udp_cksum || out.n_tx[out_port] >= kTxCap ||
      ctx.neighbours == nullptr)
    return false;
  uint32_t nh = eg.remote_ip;
  if (op.next_hop != 0 && (nh & op.netmask) != (op.ip & op.netmask)) nh = op.next_hop;
  if (eg.nh_version != ctx.neighbours->version() || eg.nh_ip != nh || eg.nh_port != out_port)
    return false;
  const uint16_t seq = load_be16(rtp + 2);
  const uint32_t ulen = m->data_len - 34u;
  // The sampled checksum check (handle_rtp); a failure is the general
  // path's to drop and count.
  if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
      (seq & (kSteadyCksumSample - 1)) == 0 && !udp_checksum_ok(ip, udp, ulen))
    return false;

  in.cand_count = 0;  // as accept_source() for the current source
  const uint32_t ts = load_be32(rtp + 4);
  receive_stats(in, ctx.stats[size_t(cfg.flow_id) * 2 + leg], seq, ts, ulen - 8, arrival, now_ns);
  const uint16_t oseq = uint16_t(seq + eg.seq_delta);
  const uint32_t ots = ts + eg.ts_delta;
  if (int16_t(oseq - eg.last_seq) > 0) {
    eg.last_seq = oseq;
    eg.last_ts = ots;
  }
  const CksumDelta delta = rewrite_rtp_header(rtp, uint8_t((rtp[1] & 0x80) | oc.payload_type),
                                              seq, oseq, ts, ots, ssrc, eg.out_ssrc);
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  eth->dst_addr = eg.nh_mac;
  eth->src_addr = op.mac;
  rewrite_ip_udp(m, ip, udp, 20, op, oc.local_ip, oc.local_port, eg.remote_ip, eg.remote_port,
                 &delta);
  out.tx[out_port][out.n_tx[out_port]++] = m;
  ++ctx.counters.relayed;
  ++ctx.counters.relayed_steady;
  FlowStats& ost = ctx.stats[size_t(cfg.flow_id) * 2 + (leg ^ 1)];
  st(ost.sent, ost.sent + 1);
  return true;
}

void process_chunk(WorkerContext& ctx, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                   bool handed_off, uint32_t arrival, uint64_t now_ns, BurstOutput& out) {
  // Up to kBurst packets.  Three passes, so that memory latency overlaps instead of adding up: all
  // headers are checked first, then the flow table is searched for the
  // whole burst at once (rte_hash prefetches buckets and keys across it),
  // then each packet is processed while the next one's session state is
  // being fetched.  Outputs keep the packets' order.
  Parsed parsed[kBurst];
  Verdict verdict[kBurst];
  Drop why[kBurst];
  FlowKey keys[kBurst];
  uint8_t slot[kBurst];  // packet -> index into keys
  uint32_t n_keys = 0;
  FlowCache* const fc = ctx.flow_cache;
  bool steady[kBurst];  // steady_frame(): parsed[i] not filled in yet
  const bool fast = ctx.steady_fast_path && ctx.flows != nullptr;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
    why[i] = Drop::count;
    steady[i] = fast && steady_frame(pkts[i]);
    if (steady[i]) {
      const uint8_t* f = rte_pktmbuf_mtod(pkts[i], const uint8_t*);
      verdict[i] = Verdict::consumed;
      keys[n_keys] = flow_key(rx_port, load_be32(f + 30), load_be16(f + 36));
      if (fc != nullptr) fc->prefetch(keys[n_keys]);
      slot[i] = uint8_t(n_keys++);
      continue;
    }
    verdict[i] = classify(ctx, pkts[i], parsed[i], &why[i]);
    if (verdict[i] == Verdict::consumed) {
      if (ctx.flows == nullptr) {
        verdict[i] = Verdict::exception;
        continue;
      }
      keys[n_keys] = flow_key(rx_port, load_be32(parsed[i].ip + 16), load_be16(parsed[i].udp + 2));
      if (fc != nullptr) fc->prefetch(keys[n_keys]);
      slot[i] = uint8_t(n_keys++);
    }
  }
  const SessionConfig* cfgs[kBurst];
  uint8_t legs[kBurst];
  bool unconfirmed[kBurst];  // a cache candidate, checked when its config is at hand
  uint32_t ids[kBurst];      // flow ids, to prefetch state without reading the config
  if (n_keys != 0) {
    ctx.flows->lookup_burst(fc, keys, n_keys, cfgs, legs, ids, unconfirmed);
    for (uint32_t k = 0; k < n_keys; ++k)
      if (cfgs[k] != nullptr) rte_prefetch0(cfgs[k]);
  }
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    Verdict v = verdict[i];
    if (v == Verdict::consumed) {
      const uint8_t k = slot[i];
      if (unconfirmed[k]) {
        if (FlowTable::has_key(cfgs[k], legs[k], keys[k])) {
          ++fc->hits;
        } else {
          ++fc->misses;
          cfgs[k] = ctx.flows->lookup_fill(*fc, keys[k], &legs[k]);
          if (cfgs[k] != nullptr) ids[k] = cfgs[k]->flow_id;
        }
      }
      const SessionConfig* cfg = cfgs[k];
      if (cfg == nullptr) {
        v = Verdict::exception;
      } else {
        // The next flow packet's session state, while this one is processed.
        for (uint16_t j = uint16_t(i + 1); j < n; ++j) {
          if (verdict[j] != Verdict::consumed) continue;
          if (cfgs[slot[j]] != nullptr) {
            // Every line the relay path touches (see LegRuntime's layout),
            // found from the flow id alone: reading the next config for it
            // waited for that config's line.  A candidate's id not yet
            // confirmed costs at most useless prefetches.
            const uint32_t id = ids[slot[j]];
            SessionRuntime* r = ctx.flows->runtime(id);
            const LegRuntime* eg = &r->legs[legs[slot[j]] ^ 1];
            rte_prefetch0(&r->legs[legs[slot[j]]]);
            rte_prefetch0(eg);
            rte_prefetch0(reinterpret_cast<const uint8_t*>(eg) + 64);
            if (ctx.stats != nullptr) {
              rte_prefetch0(&ctx.stats[size_t(id) * 2]);
              rte_prefetch0(&ctx.stats[size_t(id) * 2 + 1]);
            }
          }
          break;
        }
        if (steady[i]) {
          if (relay_steady(ctx, m, *cfg, legs[k], arrival, now_ns, out)) continue;
          classify(ctx, m, parsed[i], &why[i]);  // consumed: its checks are steady_frame()'s
        }
        v = process_flow(ctx, m, parsed[i], cfg, legs[k], handed_off, arrival, now_ns, out,
                         &why[i]);
      }
    }
    switch (v) {
      case Verdict::sent:
      case Verdict::consumed:
        break;
      case Verdict::handoff:
        ++ctx.counters.handoff_out;
        break;
      case Verdict::exception:
        // While msgw-control sheds, new calls to its SIP addresses are
        // answered here (sip_shed.cpp), not through the TAP.
        if (sip_shedding(ctx, now_ns) && sip_shed_frame(ctx, rx_port, m, now_ns, out)) break;
        if (rx_port < kMaxPorts) {
          out.exception[rx_port][out.n_exception[rx_port]++] = m;
          ++ctx.counters.exception;
        } else {
          ++ctx.counters.dropped[size_t(Drop::exception_full)];
          rte_pktmbuf_free(m);
        }
        break;
      case Verdict::dropped:
        ++ctx.counters.dropped[size_t(why[i])];
        rte_pktmbuf_free(m);
        break;
    }
  }
}

}  // namespace

void prefetch_flow_slots(const WorkerContext& ctx, uint16_t rx_port, rte_mbuf* const* pkts,
                         uint16_t n) {
  if (ctx.flow_cache == nullptr) return;
  for (uint16_t i = 0; i < n; ++i) {
    const rte_mbuf* m = pkts[i];
    if (m->data_len < 14 + 20 + 8) continue;
    const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
    if (f[12] != 0x08 || f[13] != 0x00 || f[14] != 0x45 || f[23] != IPPROTO_UDP) continue;
    ctx.flow_cache->prefetch(flow_key(rx_port, load_be32(f + 30), load_be16(f + 36)));
  }
}

void process_burst(WorkerContext& ctx, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                   bool handed_off, uint64_t now_tsc, uint64_t now_ns, BurstOutput& out) {
  if (handed_off)
    ctx.counters.handoff_in += n;
  else
    ctx.counters.rx += n;
  // Arrival time in RTP units (8 kHz) for the jitter estimate, once per
  // burst: two 64-bit divisions per packet were a measurable share of it.
  const uint64_t per_tick = ctx.tsc_hz / 8000 ? ctx.tsc_hz / 8000 : 1;
  const uint32_t arrival = uint32_t(now_tsc / per_tick);
  for (uint16_t off = 0; off < n; off = uint16_t(off + kBurst))
    process_chunk(ctx, rx_port, pkts + off, uint16_t(n - off < kBurst ? n - off : kBurst),
                  handed_off, arrival, now_ns, out);
}

}  // namespace msgw::dataplane
