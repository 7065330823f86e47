// SPDX-License-Identifier: GPL-3.0-or-later
#include "packet_rate_path.hpp"

#include <algorithm>
#include <cstring>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "rtp_frame.hpp"

namespace msgw::loadtest {
namespace {

// At most this many latency samples (80 MB), reserved up front: growing
// the vector mid-trial copies it while packets wait.
constexpr std::size_t kMaxLatencySamples = 20'000'000;
constexpr std::uint16_t kBurst = 32;
constexpr unsigned kRtpMinFrame = 14 + 20 + 8 + 12 + 8;

struct Receiver {
  PacketPathCounts& c;
  std::uint32_t flows;
  bool stamped;
  std::uint64_t ns_per_tick_q32;

  // The generator shares its core with receiving, so what it spends per
  // packet sets how fast it can offer load: it has to outrun dpdk-testpmd
  // for the ceiling to be testpmd's. Hence bulk frees and no division.
  void drain(std::uint16_t port) {
    rte_mbuf* pkts[64];
    const std::uint16_t n = rte_eth_rx_burst(port, 0, pkts, 64);
    if (n == 0) return;
    const std::uint64_t now = rte_rdtsc();
    for (std::uint16_t i = 0; i < n; ++i) {
      const rte_mbuf* m = pkts[i];
      if (m->data_len < kRtpMinFrame) continue;
      const auto* f = rte_pktmbuf_mtod(m, const std::uint8_t*);
      // RTP only (IPv4, UDP, even destination port): the dataplane's own
      // RTCP SRs on transcoded legs go to odd ports and must not pass for media.
      if (f[12] != 0x08 || f[13] != 0x00 || f[23] != IPPROTO_UDP || (f[37] & 1) != 0) continue;
      ++c.received;
      const auto flow = packet_rate_flow_of_port(static_cast<std::uint16_t>(f[36] << 8 | f[37]), flows);
      if (flow >= 0) ++c.received_by_flow[static_cast<std::size_t>(flow)];
      else ++c.received_outside_flows;
      if (stamped && c.latency_ns.size() < kMaxLatencySamples) {
        std::uint64_t sent;
        std::memcpy(&sent, f + RtpFrameTemplate::kStampOffset, 8);
        if (sent < now)
          c.latency_ns.push_back(static_cast<std::uint32_t>((unsigned __int128)(now - sent) * ns_per_tick_q32 >> 32));
      }
    }
    rte_pktmbuf_free_bulk(pkts, n);
  }
};

const rte_ether_addr kGwMac = {{0x02, 0, 0, 0, 0, 0x01}};
const rte_ether_addr kMyMac = {{0x02, 0, 0, 0, 0, 0x02}};

// One transcoded-mode packet, built whole (its rates are low).
rte_mbuf* make_frame(rte_mempool* mp, std::uint32_t sip, std::uint16_t sp, std::uint32_t dip, std::uint16_t dp,
                     std::uint8_t pt, std::uint16_t seq, std::uint32_t ts, std::uint32_t ssrc,
                     const std::vector<std::uint8_t>& payload) {
  rte_mbuf* m = rte_pktmbuf_alloc(mp);
  if (m == nullptr) return nullptr;
  const auto plen = static_cast<std::uint16_t>(payload.size());
  auto* f = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, rtp_frame_size(plen)));
  write_rtp_frame(f, kGwMac, kMyMac, sip, sp, dip, dp, pt, seq, ts, ssrc, payload.data(), plen);
  return m;
}

}  // namespace

PacketPathCounts run_packet_path(const PacketPathConfig& cfg,
                                 const std::function<void(double, const PacketPathCounts&)>& each_second) {
  PacketPathCounts c;
  c.received_by_flow.assign(cfg.flows, 0);
  const bool transcoded = cfg.transcoded;
  if (!transcoded)
    c.latency_ns.reserve(std::min<std::size_t>(kMaxLatencySamples, static_cast<std::size_t>(cfg.pps * cfg.seconds)));
  const std::uint64_t hz = rte_get_tsc_hz();
  Receiver rx{c, cfg.flows, !transcoded, (1'000'000'000ull << 32) / hz};
  // PCMU-like filler (the relay never looks at it).
  const RtpFrameTemplate frames(kGwMac, kMyMac, kPacketRatePeer0, kPacketRateGw0, 0xd5);
  std::uint32_t flow = 0;  // relayed: the next flow, and how many rounds over all flows so far
  std::uint64_t round = 0;
  std::uint64_t seqno = 0;  // transcoded: packets built so far (packet k: leg k % 2, session (k / 2) % flows)

  const std::uint64_t start = rte_rdtsc();
  const std::uint64_t end = start + static_cast<std::uint64_t>(cfg.seconds * static_cast<double>(hz));
  const double per_pkt = static_cast<double>(hz) / cfg.pps;
  std::uint64_t next_second = start + hz, last_sent = 0, last_received = 0;
  auto tick = [&](std::uint64_t now) {
    if (now < next_second) return;
    const double t = static_cast<double>(next_second - start) / static_cast<double>(hz);
    c.timeline.push_back({t, c.sent - last_sent, c.received - last_received});
    last_sent = c.sent;
    last_received = c.received;
    next_second += hz;
    if (each_second) each_second(t, c);
  };
  rte_mbuf* burst[kBurst];
  // When this process loses its core for a while (the benchmark shares two
  // cores among four busy threads on a VM), it would send the whole backlog
  // back to back on return: a line-rate burst the offered rate never asked
  // for. At most 1 ms of backlog is caught up; the rest is skipped (never
  // sent, so never counted as lost) and reported, with the rate achieved.
  const std::uint64_t max_lag = std::max<std::uint64_t>(64, static_cast<std::uint64_t>(cfg.pps / 1000));
  for (std::uint64_t now = rte_rdtsc(); now < end; now = rte_rdtsc()) {
    std::uint64_t due = static_cast<std::uint64_t>(static_cast<double>(now - start) / per_pkt) - c.skipped;
    if (due > c.sent + max_lag) {
      c.skipped += due - c.sent - max_lag;
      due = c.sent + max_lag;
    }
    std::uint16_t n = 0;
    if (!transcoded) {
      const auto want = static_cast<std::uint16_t>(due > c.sent ? std::min<std::uint64_t>(due - c.sent, kBurst) : 0);
      if (want != 0 && rte_pktmbuf_alloc_bulk(cfg.pool, burst, want) == 0) {
        const std::uint64_t stamp = rte_rdtsc();  // the burst leaves at once
        for (; n < want; ++n) {
          auto* f = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(burst[n], RtpFrameTemplate::kSize));
          frames.write(f, static_cast<std::uint16_t>(kPacketRatePeerPortBase + 2 * flow),
                       static_cast<std::uint16_t>(kPacketRateGwPortBase + 2 * flow), static_cast<std::uint16_t>(round),
                       static_cast<std::uint32_t>(round * 160), cfg.ssrc_base + flow, stamp);
          if (++flow == cfg.flows) {
            flow = 0;
            ++round;
          }
        }
      }
    } else {
      while (c.sent + n < due && n < kBurst) {
        const std::uint64_t k = seqno;
        const auto s = static_cast<std::uint32_t>((k / 2) % cfg.flows);
        const std::uint64_t r = (k / 2) / cfg.flows;
        const auto sp = static_cast<std::uint16_t>(kPacketRatePeerPortBase + 2 * s);
        const auto dp = static_cast<std::uint16_t>(kPacketRateGwPortBase + 2 * s);
        const auto seq = static_cast<std::uint16_t>(r);
        const auto ts = static_cast<std::uint32_t>(r * 160);
        rte_mbuf* m = k % 2 == 0 ? make_frame(cfg.pool, kPacketRatePeer0, sp, kPacketRateGw0, dp, 0, seq, ts,
                                              cfg.ssrc_base + 2 * s, (*cfg.pcmu)[r % cfg.pcmu->size()])
                                 : make_frame(cfg.pool, kPacketRatePeer1, sp, kPacketRateGw1, dp, 18, seq, ts,
                                              cfg.ssrc_base + 2 * s + 1, (*cfg.g729)[r % cfg.g729->size()]);
        if (m == nullptr) break;  // no mbuf now: this packet is the next one tried
        ++seqno;
        burst[n++] = m;
      }
    }
    if (n > 0) {
      const std::uint16_t s = rte_eth_tx_burst(cfg.port, 0, burst, n);
      if (s < n) {
        c.tx_fail += n - s;
        rte_pktmbuf_free_bulk(burst + s, n - s);
      }
      c.sent += n;
    }
    rx.drain(cfg.port);
    tick(now);
  }
  // Let the tail drain.
  const std::uint64_t tail = rte_rdtsc() + hz / 5;
  for (std::uint64_t now = rte_rdtsc(); now < tail; now = rte_rdtsc()) rx.drain(cfg.port);
  // The last part second and the tail, as one more point.
  c.timeline.push_back({static_cast<double>(rte_rdtsc() - start) / static_cast<double>(hz), c.sent - last_sent,
                        c.received - last_received});
  return c;
}

}  // namespace msgw::loadtest
