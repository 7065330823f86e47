// SPDX-License-Identifier: GPL-3.0-or-later
// DPDK load generator for scripts/bench-dataplane.sh, over one net_memif
// port (role=client) facing msgw-dataplane (role=server).
//
//   dataplane_loadgen relay     FLOWS PPS SECONDS -- EAL...
//       20 ms G.711 RTP (172-byte payload) to FLOWS relay flows at PPS in
//       total; counts what comes back relayed; latency from a TSC stamp in
//       the payload (same host, same TSC).
//   dataplane_loadgen transcode SESSIONS SECONDS -- EAL...
//       each session: PCMU 20 ms into leg 0 and G.729 20 ms (real bcg729
//       frames) into leg 1, 50 pps each way; counts packets back.
//
// Addressing (matches dataplane_tool bench-flows): leg 0 of flow i is
// 10.0.0.1:(20000+2i) with remote 10.0.0.2:(40000+2i); leg 1 is
// 10.0.1.1:(20000+2i) with remote 10.0.1.2:(40000+2i).  Prints one JSON line,
// then waits for the server to hang up (at most 30 s) before it disconnects.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_udp.h>

#include "g711_reference.hpp"
#include "msgw/common/byte_order.hpp"
#include "rtp_frame.hpp"

extern "C" {  // bcg729 declares no C linkage itself
#include <bcg729/encoder.h>
}

namespace {

constexpr uint32_t kGw0 = 0x0a000001, kPeer0 = 0x0a000002;
constexpr uint32_t kGw1 = 0x0a000101, kPeer1 = 0x0a000102;
const rte_ether_addr kGwMac = {{0x02, 0, 0, 0, 0, 0x01}};
const rte_ether_addr kMyMac = {{0x02, 0, 0, 0, 0, 0x02}};

rte_mbuf* make(rte_mempool* mp, uint32_t sip, uint16_t sp, uint32_t dip, uint16_t dp,
               uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, const uint8_t* payload,
               uint16_t plen) {
  rte_mbuf* m = rte_pktmbuf_alloc(mp);
  if (m == nullptr) return nullptr;
  auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, msgw::loadtest::rtp_frame_size(plen)));
  msgw::loadtest::write_rtp_frame(f, kGwMac, kMyMac, sip, sp, dip, dp, pt, seq, ts, ssrc, payload,
                              plen);
  return m;
}

struct Rx {
  uint64_t packets = 0;
  std::vector<uint32_t> latency_ns;
};

// The generator shares its core with receiving, so what it spends per packet
// sets how fast it can offer load: it has to outrun dpdk-testpmd for the
// ceiling to be testpmd's.  Hence bulk frees and no division per packet.
void drain(uint16_t port, Rx& rx, bool stamped, uint64_t ns_per_tick_q32) {
  rte_mbuf* pkts[64];
  const uint16_t n = rte_eth_rx_burst(port, 0, pkts, 64);
  if (n == 0) return;
  const uint64_t now = rte_rdtsc();
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (m->data_len >= 14 + 20 + 8 + 12 + 8) {
      const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
      // RTP only (even destination port): the dataplane's own RTCP SRs on
      // transcoded legs go to odd ports and must not pass for media.
      if (f[12] == 0x08 && f[13] == 0x00 && f[23] == IPPROTO_UDP && (f[37] & 1) == 0) {
        ++rx.packets;
        if (stamped && rx.latency_ns.size() < 20'000'000) {
          uint64_t sent;
          std::memcpy(&sent, f + 54, 8);
          if (sent < now)
            rx.latency_ns.push_back(
                uint32_t((unsigned __int128)(now - sent) * ns_per_tick_q32 >> 32));
        }
      }
    }
  }
  rte_pktmbuf_free_bulk(pkts, n);
}

// Relay frames from one template: per packet only ports, SSRC, seq, ts and
// the TSC stamp change, all 16-bit aligned within the datagram, so the UDP
// checksum is the template's sum plus those words (a ones'-complement sum
// does not care about order): one copy and a dozen adds instead of a pass
// over the datagram with DPDK's 2-bytes-a-step rte_raw_cksum.
class RelayFrames {
 public:
  static constexpr uint16_t kPayload = 160;
  static constexpr uint16_t kSize = msgw::loadtest::rtp_frame_size(kPayload);

  RelayFrames(uint32_t sip, uint32_t dip) {
    uint8_t payload[kPayload];
    std::memset(payload, 0xd5, sizeof payload);  // PCMU silence
    std::memset(payload, 0, 8);                   // where the TSC stamp goes
    msgw::loadtest::write_rtp_frame(frame_, kGwMac, kMyMac, sip, 0, dip, 0, 0, 0, 0, 0, payload,
                                kPayload);
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
    std::memcpy(f + 54, &stamp, 8);
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

double percentile_us(std::vector<uint32_t>& v, unsigned pct) {
  if (v.empty()) return -1;
  const size_t k = v.size() * pct / 100;
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  return v[k] / 1000.0;
}

// Polls the link every 100 ms, sleeping (not spinning: the core is shared
// with the server's main lcore) until it is up or down as asked, or seconds pass.
void wait_link(uint16_t port, bool up, unsigned seconds) {
  for (unsigned i = 0; i < seconds * 10; ++i) {
    rte_eth_link link{};
    rte_eth_link_get_nowait(port, &link);
    if (bool(link.link_status) == up) return;
    rte_delay_us_sleep(100'000);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int sep = 1;
  while (sep < argc && std::strcmp(argv[sep], "--") != 0) ++sep;
  if (sep >= argc || sep < 2) {
    std::fprintf(stderr, "usage: see the header of dataplane_loadgen.cpp\n");
    return 2;
  }
  const std::string mode = argv[1];
  if (mode != "relay" && mode != "transcode") {
    std::fprintf(stderr, "loadgen: unknown mode '%s' (relay or transcode)\n", mode.c_str());
    return 2;
  }
  if (sep < (mode == "relay" ? 5 : 4)) {
    std::fprintf(stderr, "loadgen: %s needs %s before --\n", mode.c_str(),
                 mode == "relay" ? "FLOWS PPS SECONDS" : "SESSIONS SECONDS");
    return 2;
  }
  std::vector<char*> eal = {argv[0]};
  for (int i = sep + 1; i < argc; ++i) eal.push_back(argv[i]);
  if (rte_eal_init(int(eal.size()), eal.data()) < 0) {
    std::fprintf(stderr, "loadgen: EAL init failed\n");
    return 1;
  }
  if (rte_eth_dev_count_avail() < 1) {
    std::fprintf(stderr, "loadgen: no port (pass a net_memif vdev)\n");
    return 1;
  }
  const uint16_t port = 0;
  rte_mempool* mp = rte_pktmbuf_pool_create("lg_pool", 65535, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                            int(rte_socket_id()));
  rte_eth_conf conf{};
  if (mp == nullptr || rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(port, 0, 2048, rte_socket_id(), nullptr, mp) != 0 ||
      rte_eth_tx_queue_setup(port, 0, 2048, rte_socket_id(), nullptr) != 0 ||
      rte_eth_dev_start(port) != 0) {
    std::fprintf(stderr, "loadgen: port setup failed\n");
    return 1;
  }
  wait_link(port, true, 10);  // memif connects asynchronously
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t ns_per_tick_q32 = (1'000'000'000ull << 32) / hz;

  const bool transcode = mode == "transcode";
  const uint32_t flows = uint32_t(std::atol(argv[2]));
  const double pps = transcode ? flows * 100.0 : std::atof(argv[3]);
  const double seconds = std::atof(argv[transcode ? 3 : 4]);
  if (flows == 0 || pps <= 0 || seconds <= 0) return 2;
  // Real payloads: a two-tone signal as PCMU and as bcg729 G.729 frames.
  uint8_t pcmu[160], g729[20];
  {
    int16_t pcm[160];
    for (int k = 0; k < 160; ++k)
      pcm[k] = int16_t(6000 * std::sin(k * 0.35) + 2000 * std::sin(k * 1.3));
    for (int k = 0; k < 160; ++k) pcmu[k] = msgw::g711ref::linear_to_ulaw(pcm[k]);
    auto* enc = initBcg729EncoderChannel(0);
    uint8_t len;
    bcg729Encoder(enc, pcm, g729, &len);
    bcg729Encoder(enc, pcm + 80, g729 + 10, &len);
    closeBcg729EncoderChannel(enc);
  }
  const RelayFrames frames(kPeer0, kGw0);
  uint32_t flow = 0;   // relay: next flow, and how many rounds over all flows so far
  uint64_t round = 0;

  // A fresh SSRC per run: the dataplane sees a new source (codec engines
  // resync) instead of a replay of the previous run's sequence numbers.
  const uint32_t ssrc_base = uint32_t(rte_rand()) & 0xffff0000u;
  Rx rx;
  uint64_t sent = 0, tx_fail = 0;
  const uint64_t start = rte_rdtsc();
  const uint64_t end = start + uint64_t(seconds * double(hz));
  const double per_pkt = double(hz) / pps;
  uint64_t seqno = 0;
  rte_mbuf* burst[32];
  // When this process loses its core for a while (the benchmark shares two
  // cores among four busy threads on a VM), it would send the whole backlog
  // back to back on return: a line-rate burst the offered rate never asked
  // for.  At most 1 ms of backlog is caught up; the rest is skipped (never
  // sent, so never counted as lost) and reported, with the rate achieved.
  const uint64_t max_lag = std::max<uint64_t>(64, uint64_t(pps / 1000));
  uint64_t skipped = 0;
  while (rte_rdtsc() < end) {
    uint64_t due = uint64_t(double(rte_rdtsc() - start) / per_pkt) - skipped;
    if (due > sent + max_lag) {
      skipped += due - sent - max_lag;
      due = sent + max_lag;
    }
    uint16_t n = 0;
    if (!transcode) {
      const uint16_t want = uint16_t(due > sent ? std::min<uint64_t>(due - sent, 32) : 0);
      if (want != 0 && rte_pktmbuf_alloc_bulk(mp, burst, want) == 0) {
        const uint64_t stamp = rte_rdtsc();  // the burst leaves at once
        for (; n < want; ++n) {
          auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(burst[n], RelayFrames::kSize));
          frames.write(f, uint16_t(40000 + 2 * flow), uint16_t(20000 + 2 * flow), uint16_t(round),
                       uint32_t(round * 160), ssrc_base + flow, stamp);
          if (++flow == flows) {
            flow = 0;
            ++round;
          }
        }
      }
    } else {
      while (sent + n < due && n < 32) {
        const uint64_t k = seqno++;
        // Alternate legs: even k feeds leg 0 (PCMU), odd k leg 1 (G.729).
        const uint32_t s = uint32_t((k / 2) % flows);
        const uint64_t r2 = (k / 2) / flows;
        rte_mbuf* m;
        if (k % 2 == 0)
          m = make(mp, kPeer0, uint16_t(40000 + 2 * s), kGw0, uint16_t(20000 + 2 * s), 0,
                   uint16_t(r2), uint32_t(r2 * 160), ssrc_base + 2 * s, pcmu, 160);
        else
          m = make(mp, kPeer1, uint16_t(40000 + 2 * s), kGw1, uint16_t(20000 + 2 * s), 18,
                   uint16_t(r2), uint32_t(r2 * 160), ssrc_base + 2 * s + 1, g729, 20);
        if (m == nullptr) break;
        burst[n++] = m;
      }
    }
    if (n > 0) {
      const uint16_t s = rte_eth_tx_burst(port, 0, burst, n);
      if (s < n) {
        tx_fail += n - s;
        rte_pktmbuf_free_bulk(burst + s, n - s);
      }
      sent += n;
    }
    drain(port, rx, !transcode, ns_per_tick_q32);
  }
  // Let the tail drain.
  const uint64_t tail = rte_rdtsc() + hz / 5;
  while (rte_rdtsc() < tail) drain(port, rx, !transcode, ns_per_tick_q32);
  std::printf("{\"mode\": \"%s\", \"flows\": %u, \"offered_pps\": %.0f, \"sent\": %lu, "
              "\"tx_fail\": %lu, \"received\": %lu, \"skipped\": %lu, \"achieved_pps\": %.0f, "
              "\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f}\n",
              mode.c_str(), flows, pps, (unsigned long)sent, (unsigned long)tx_fail,
              (unsigned long)rx.packets, (unsigned long)skipped, double(sent) / seconds,
              percentile_us(rx.latency_ns, 50),
              percentile_us(rx.latency_ns, 90), percentile_us(rx.latency_ns, 99));
  std::fflush(stdout);
  // The server hangs up first (the benchmark stops it once the line above is
  // out), and nothing is polled meanwhile.  DPDK 22.11's net_memif unmaps the
  // shared rings in its interrupt thread when the peer leaves, without waiting
  // for the lcore that polls them: a server still polling when its client left
  // faulted in its RX burst.  30 s at most, for a server that never stops.
  wait_link(port, false, 30);
  // No rte_eth_dev_stop()/rte_eal_cleanup(): the link reads down as soon as
  // the interrupt thread starts tearing the connection down, and 22.11 leaves
  // that thread running while the cleanup unmaps memory under it (it faulted
  // so in librte_eal).  Exiting ends every thread at once; the next run with
  // this file prefix reclaims the hugepage files, the script removes the rest.
  std::_Exit(0);
}
