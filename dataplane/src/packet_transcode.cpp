// SPDX-License-Identifier: GPL-3.0-or-later
// The packet path of a transcoded session: an RTP packet given to its
// codecs::Transcoder, each egress packet built as a frame of its own (own
// SSRC and sequence), and the leg's own RTCP sent when its interval is up.
//
// Why apart from packet.cpp: its cost is the codec's (decode, re-frame,
// encode: microseconds a packet), so the call across translation units from
// handle_rtp() costs nothing measurable; the relay path stays in packet.cpp.
#include <cstring>
#include <span>

#include <rte_random.h>

#include "packet_internal.hpp"

namespace msgw::dataplane::packet_detail {

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

}  // namespace msgw::dataplane::packet_detail
