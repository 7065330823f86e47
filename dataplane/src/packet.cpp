// SPDX-License-Identifier: GPL-3.0-or-later
// Hot path: per-packet classification, validation, latching and relay.
// No allocation, no system calls, every read bounds-checked against the
// frame's first (only accepted) segment.
//
// Everything here runs per relayed packet and has to inline into
// process_chunk(): the build has no LTO, so a helper moved to another
// translation unit becomes a call per packet (always-inlining emit() and
// next_hop_mac() alone took relay_bench from 68.4 to 66.3 ns a packet,
// commit fb407b2).  The helpers RTCP and transcoding share with it are
// inline in packet_internal.hpp; RTCP (packet_rtcp.cpp) and transcoding
// (packet_transcode.cpp), which run per RTCP packet or at the codec's cost,
// are apart.  The sections: events, session sync and receive statistics,
// the RTP rewrite, the steady stream's short path, classify(), and
// process_burst().
#include "msgw/dataplane/packet.hpp"

#include <rte_prefetch.h>

#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/sip_divert.hpp"
#include "msgw/dataplane/sip_shed.hpp"
#include "packet_internal.hpp"

namespace msgw::dataplane {

namespace {

using namespace packet_detail;

constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint8_t kRtpPtCn = 13;  // comfort noise (RFC 3389), static

// One packet in this many of a steady relayed stream has its UDP checksum
// checked in software (handle_rtp); a power of two.
constexpr uint16_t kSteadyCksumSample = 16;

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
  // Whether msgw-control takes SIP through the segment, and whether its ring
  // is crowded: read at the burst's first exception frame, not at each (the
  // ring's count is on lines msgw-control writes; a burst adds at most
  // kBurst datagrams to a mark of half the ring).
  int8_t diverting = -1, crowded = -1;
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
        // answered here (sip_shed.cpp), not through the TAP; and while its
        // ring is crowded, all of them.
        if (diverting < 0) {
          diverting = sip_diverting(ctx);
          crowded = diverting && sip_ring_crowded(ctx);
        }
        if (crowded) {
          if (sip_shed_frame(ctx, rx_port, m, now_ns, out, false)) break;
        } else if (sip_shedding(ctx, now_ns) && sip_shed_frame(ctx, rx_port, m, now_ns, out)) {
          break;
        }
        // SIP for msgw-control goes through the segment while it takes it
        // there (sip_divert.cpp), not through the TAP and the kernel.
        if (diverting && sip_divert_frame(ctx, rx_port, m, now_ns)) break;
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
