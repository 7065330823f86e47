// SPDX-License-Identifier: GPL-3.0-or-later
// The packet-rate test's setup: EAL, the port, the payloads, the progress
// line and the result. The per-packet loop is packet_rate_path.cpp's.
#include "packet_rate.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "dpdk_port.hpp"
#include "media.hpp"
#include "packet_rate_path.hpp"
#include "results.hpp"

namespace msgw::loadtest {
namespace {

constexpr std::uint16_t kPort = 0;
bool port_started = false;

void progress(const Options& o, const PacketPathConfig& cfg, double t, const PacketPathCounts& c) {
  static const bool tty = isatty(2);
  if (o.quiet || !tty) return;
  const std::uint64_t lost = c.sent > c.received ? c.sent - c.received : 0;
  std::fprintf(stderr, "\rpacket-rate %s %.0fs/%.0fs  %u flows  sent %llu  received %llu  behind %llu  %.0f pps   ",
               cfg.transcoded ? "transcoded" : "relayed", t, cfg.seconds, cfg.flows,
               static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.received),
               static_cast<unsigned long long>(lost), t > 0 ? static_cast<double>(c.sent) / t : 0.0);
  std::fflush(stderr);
}

}  // namespace

bool packet_rate_built() { return true; }

void run_packet_rate(const Options& o, RunResult& result) {
  result.rate_unit = "packets/s";
  result.target = eal_device_name(o.eal_args, 0);
  if (o.eal_args.empty()) {
    result.error = "packet-rate needs the EAL's arguments after --, with one port (e.g. -- -l 0 --no-pci "
                   "--vdev net_memif0,role=client,socket=PATH)";
    return;
  }
  // The EAL pins this thread, the packet loop's, to its lcore (-l).
  if (!eal_init(o.eal_args, false, &result.error)) return;
  if (rte_eth_dev_count_avail() < 1) {
    result.error = "no port: name one in the EAL arguments (e.g. --vdev net_memif0,role=client,socket=PATH)";
    return;
  }
  // Mbufs of 2 KiB. From 100,000 packets/s offered, 65,535 (~140 MB of the
  // EAL's -m), the pool the retired tests/perf/dataplane_loadgen had at
  // every rate, so the benchmark's trials run as before. Below, 8,191: both
  // rings of 2,048 and the cache with room to spare (memif copies, and frees
  // what it sent at once), without faulting in 140 MB first (seconds on a
  // loaded VM: the CI check runs at 2,000 packets/s).
  const double offered = o.mode_transcoded ? o.flows * double(kPacketRateTranscodedPps) : o.pps;
  const unsigned mbufs = offered >= 100'000 ? 65535 : 8191;
  rte_mempool* pool = rte_pktmbuf_pool_create("lt_pool", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    result.error = "no pool of " + std::to_string(mbufs) + " mbufs (give the EAL more memory with -m): " +
                   rte_strerror(rte_errno);
    return;
  }
  if (auto why = start_port(kPort, pool, 2048); !why.empty()) {
    result.error = why;
    return;
  }
  port_started = true;
  if (!wait_link(kPort, true, 10)) {  // memif connects asynchronously
    result.error = "the port's link did not come up in 10 s (is the target's side of it there?)";
    return;
  }

  // Real payloads (the codec engines decode them): one second of a tone.
  codecs::CodecParams pcmu_params, g729_params;
  g729_params.id = codecs::CodecId::G729;
  g729_params.payload_type = 18;
  g729_params.g729_annexb = false;  // as bench-flows programs the leg
  const auto pcmu = encoded_tone(pcmu_params);
  const auto g729 = encoded_tone(g729_params);
  PacketPathConfig cfg;
  cfg.port = kPort;
  cfg.pool = pool;
  cfg.transcoded = o.mode_transcoded;
  cfg.flows = o.flows;
  cfg.pps = offered;
  cfg.seconds = o.step_s;
  // A fresh SSRC per run: the dataplane sees a new source (codec engines
  // resync) instead of a replay of the previous run's sequence numbers.
  cfg.ssrc_base = static_cast<std::uint32_t>(rte_rand()) & 0xffff0000u;
  cfg.pcmu = &pcmu;
  cfg.g729 = &g729;
  PacketPathCounts c = run_packet_path(cfg, [&](double t, const PacketPathCounts& so_far) {
    progress(o, cfg, t, so_far);
  });
  if (!o.quiet && isatty(2)) std::fputc('\n', stderr);

  PacketRateResult r;
  r.transcoded = cfg.transcoded;
  r.flows = cfg.flows;
  r.offered_pps = cfg.pps;
  r.seconds = cfg.seconds;
  r.port = result.target;
  r.sent = c.sent;
  r.tx_fail = c.tx_fail;
  r.received = c.received;
  r.received_outside_flows = c.received_outside_flows;
  r.skipped = c.skipped;
  r.by_flow = packet_rate_flows(c.received_by_flow, c.sent, cfg.transcoded);
  r.latency_us = packet_rate_latency(c.latency_ns, &r.latency_hist);
  r.timeline = std::move(c.timeline);
  r.tsc_hz = static_cast<double>(rte_get_tsc_hz());
  packet_rate_finish_counts(r);
  if (r.generator_bound)
    result.generator_limits.push_back("sent " + std::to_string(static_cast<std::uint64_t>(r.achieved_pps)) +
                                      " packets/s of " + std::to_string(static_cast<std::uint64_t>(r.offered_pps)) +
                                      " offered (" + std::to_string(r.skipped) +
                                      " skipped after the tool lost its core)");
  const bool zero_loss = r.sent > 0 && r.received >= r.sent && r.tx_fail == 0;
  result.found_rate = zero_loss ? static_cast<std::uint32_t>(r.achieved_pps) : 0;
  result.confirmed = zero_loss;
  std::fprintf(stderr,
               "packet-rate %s: %u flows, offered %.0f pps for %.0f s: sent %llu (%.0f pps), received %llu, lost %llu "
               "(%.4f %%), tx_fail %llu, skipped %llu; latency p50/p99/p99.9 %.1f/%.1f/%.1f us\n",
               cfg.transcoded ? "transcoded" : "relayed", r.flows, r.offered_pps, r.seconds,
               static_cast<unsigned long long>(r.sent), r.achieved_pps, static_cast<unsigned long long>(r.received),
               static_cast<unsigned long long>(r.lost), r.loss_percent, static_cast<unsigned long long>(r.tx_fail),
               static_cast<unsigned long long>(r.skipped), r.latency_us.p50, r.latency_us.p99, r.latency_us.p999);
  result.packet_rate = std::move(r);
}

void packet_rate_after_report(const Options& o, int exit_code) {
  if (!port_started) return;
  std::fflush(stdout);
  std::fflush(stderr);
  wait_link(kPort, false, o.linger_s);
  // No rte_eth_dev_stop()/rte_eal_cleanup() (packet_rate.hpp): exiting ends
  // every thread at once; the next run with this file prefix reclaims the
  // hugepage files, and whoever started the run removes the rest.
  std::_Exit(exit_code);
}

}  // namespace msgw::loadtest
