// SPDX-License-Identifier: GPL-3.0-or-later
// RTCP on the packet path: a peer's compound checked (RFC 3550 A.2) and
// relayed or terminated (handle_rtcp), and a transcoded leg's own SR + SDES
// with its report block (send_sender_report, RFC 3550 6.4.1/A.3).
//
// Why apart from packet.cpp: this runs per RTCP packet (a few a second per
// leg), not per relayed RTP packet, so the call across translation units
// costs nothing measurable; the shared helpers it uses stay inline in
// packet_internal.hpp.
#include <cstring>

#include "packet_internal.hpp"

namespace msgw::dataplane::packet_detail {

namespace {

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

}  // namespace

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

}  // namespace msgw::dataplane::packet_detail
