// SPDX-License-Identifier: GPL-3.0-or-later
// Per-packet cost of the relay path, without a port: what process_burst()
// costs a worker for each 20 ms G.711 RTP packet, apart from the PMD's own
// rx/tx work (scripts/bench-dataplane.sh measures the two together).
//
//   relay_bench [FLOWS...]        default: 1000 10000 100000
//
// For each flow count: relay flows programmed as dataplane_tool bench-flows
// does (20,000 per local address), packets in msgw-loadtest packet-rate's
// shape (leg 0 -> leg 1, round-robin over the flows, consecutive seq/ts,
// valid UDP checksums), 32-packet bursts.  Each
// burst's frames are written into fresh mbufs first (as a copying PMD leaves
// them: in cache), then only process_burst() is timed.  Prints a line per
// flow count and one JSON object on the last line; exits non-zero if any
// packet was not relayed (a figure for dropped packets would be no figure).
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/packet.hpp"
#include "rtp_frame.hpp"
#include "eal_in_memory.hpp"

using namespace msgw::dataplane;

namespace {

constexpr uint32_t kGw0 = 0x0a000001, kPeer0 = 0x0a000002;
constexpr uint32_t kGw1 = 0x0a000101, kPeer1 = 0x0a000102;
const rte_ether_addr kGwMac = {{0x02, 0, 0, 0, 0, 0x01}};
const rte_ether_addr kPeerMac = {{0x02, 0, 0, 0, 0, 0x02}};
constexpr uint16_t kFrame = msgw::loadtest::rtp_frame_size(160);

// Flow f's addresses: 20,000 flows per local address, so any count fits.
uint32_t local_ip(uint32_t base, uint32_t f) { return base + ((f / 20000) << 16); }
uint16_t local_port(uint32_t f) { return uint16_t(20000 + 2 * (f % 20000)); }
uint16_t remote_port(uint32_t f) { return uint16_t(1024 + 2 * (f % 30000)); }

void build_frame(uint8_t* f, uint32_t flow, uint16_t seq, uint32_t ts) {
  static const auto payload = [] {
    std::array<uint8_t, 160> p{};
    for (size_t k = 0; k < p.size(); ++k) p[k] = uint8_t(0xff - (k & 0x0f));
    return p;
  }();
  msgw::loadtest::write_rtp_frame(f, kGwMac, kPeerMac, kPeer0, remote_port(flow), local_ip(kGw0, flow),
                                  local_port(flow), 0, seq, ts, 0x10000000u + flow, payload.data(),
                                  uint16_t(payload.size()));
}

struct Result {
  double ns_per_packet;  // median over the rounds
  uint64_t packets;
  uint64_t relayed;
};

Result run(uint32_t flows, rte_mempool* pool) {
  static unsigned serial = 0;
  const std::string tag = std::to_string(getpid()) + "-" + std::to_string(serial++);
  std::string err;
  auto seg = Segment::create("relaybench-" + tag, flows, 1, 1, err);
  if (!seg) {
    std::fprintf(stderr, "relay_bench: %s\n", err.c_str());
    std::exit(1);
  }
  seg->unlink();
  FlowTable ft("rb_ft" + tag, flows, 1, 1, nullptr, SOCKET_ID_ANY);
  NeighbourTable nt("rb_nt" + tag, 64, SOCKET_ID_ANY);
  if (!ft.ok() || !nt.ok()) {
    std::fprintf(stderr, "relay_bench: tables of %u flows: %s\n", flows, rte_strerror(rte_errno));
    std::exit(1);
  }
  ft.set_stats_area(seg->stats());
  nt.learn(0, kPeer0, kPeerMac);
  nt.learn(0, kPeer1, kPeerMac);
  PortInfo port;
  port.mac = kGwMac;
  port.ip = kGw0;
  port.netmask = 0xffff0000;
  for (uint32_t f = 0; f < flows; ++f) {
    LegSpec l[2] = {};
    l[0].local_ip = local_ip(kGw0, f);
    l[1].local_ip = local_ip(kGw1, f);
    l[0].local_port = l[1].local_port = local_port(f);
    l[0].remote_ip = kPeer0;
    l[1].remote_ip = kPeer1;
    l[0].remote_port = l[1].remote_port = remote_port(f);
    l[0].codec = l[1].codec = uint8_t(CodecId::Pcmu);
    l[0].dtmf_pt = l[1].dtmf_pt = kNoPayloadType;
    l[0].ptime_ms = l[1].ptime_ms = 20;
    if (ft.add(f, l) != Status::ok) {
      std::fprintf(stderr, "relay_bench: flow %u refused\n", f);
      std::exit(1);
    }
  }
  auto ctx = std::make_unique<WorkerContext>();
  ctx->n_ports = 1;
  ctx->ports = &port;
  ctx->flows = &ft;
  // As a worker has it: its flow cache in front of the table.
  FlowCache cache(ft.leg_capacity(), SOCKET_ID_ANY);
  if (!cache.ok()) {
    std::fprintf(stderr, "relay_bench: flow cache: %s\n", rte_strerror(rte_errno));
    std::exit(1);
  }
  ctx->flow_cache = &cache;
  ctx->neighbours = &nt;
  ctx->stats = seg->stats();
  ctx->events = &*seg;
  ctx->tsc_hz = rte_get_tsc_hz();
  auto out = std::make_unique<BurstOutput>();

  // Two passes over every flow per round, so each round sees each flow's
  // state cold at least once, as 50 pps per flow does at any real rate.
  const uint64_t per_round = std::max<uint64_t>(2ull * flows, 64 * 1024);
  constexpr int kRounds = 7;
  std::vector<double> ns_per_packet;
  uint64_t k = 0, packets = 0;
  const double ns_per_tick = 1e9 / double(rte_get_tsc_hz());
  rte_mbuf* burst[kBurst];
  for (int round = 0; round < kRounds; ++round) {
    uint64_t ticks = 0, done = 0;
    while (done < per_round) {
      if (rte_pktmbuf_alloc_bulk(pool, burst, kBurst) != 0) {
        std::fprintf(stderr, "relay_bench: mbuf pool empty\n");
        std::exit(1);
      }
      for (uint16_t i = 0; i < kBurst; ++i, ++k) {
        const uint32_t f = uint32_t(k % flows);
        const uint64_t r = k / flows;
        auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(burst[i], kFrame));
        build_frame(d, f, uint16_t(r), uint32_t(r * 160));
      }
      const uint64_t t0 = rte_rdtsc_precise();
      out->clear();
      process_burst(*ctx, 0, burst, kBurst, false, t0, uint64_t(double(t0) * ns_per_tick), *out);
      ticks += rte_rdtsc_precise() - t0;
      for (uint16_t p = 0; p < kMaxPorts; ++p) {
        if (out->n_tx[p]) rte_pktmbuf_free_bulk(out->tx[p], out->n_tx[p]);
        if (out->n_exception[p]) rte_pktmbuf_free_bulk(out->exception[p], out->n_exception[p]);
      }
      done += kBurst;
    }
    packets += done;
    ns_per_packet.push_back(double(ticks) * ns_per_tick / double(done));
  }
  std::sort(ns_per_packet.begin(), ns_per_packet.end());
  return Result{ns_per_packet[kRounds / 2], packets, ctx->counters.relayed};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint32_t> counts;
  for (int i = 1; i < argc; ++i) {
    const long v = std::strtol(argv[i], nullptr, 10);
    if (v <= 0 || v > 1000000) {
      std::fprintf(stderr, "usage: relay_bench [FLOWS...]  (1..1000000 each)\n");
      return 2;
    }
    counts.push_back(uint32_t(v));
  }
  if (counts.empty()) counts = {1000, 10000, 100000};
  if (!msgw::testing::init_eal_in_memory("msgwrb", 1024, unsigned(sched_getcpu()))) {
    std::fprintf(stderr, "relay_bench: EAL init failed\n");
    return 1;
  }
  rte_mempool* pool = rte_pktmbuf_pool_create("rb_pool", 4095, 256, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (pool == nullptr) {
    std::fprintf(stderr, "relay_bench: mbuf pool: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  std::string json = "{";
  bool all_relayed = true;
  for (size_t i = 0; i < counts.size(); ++i) {
    const Result r = run(counts[i], pool);
    std::printf("relay, %u flows: %.1f ns per packet (median of 7 rounds), %lu of %lu relayed\n",
                counts[i], r.ns_per_packet, (unsigned long)r.relayed, (unsigned long)r.packets);
    if (r.relayed != r.packets) all_relayed = false;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s\"relay_ns_per_packet_%u_flows\": %.1f", i ? ", " : "",
                  counts[i], r.ns_per_packet);
    json += buf;
  }
  std::printf("%s}\n", json.c_str());
  msgw::dataplane::eal_cleanup_and_remove_runtime_dir();
  return all_relayed ? 0 : 1;
}
