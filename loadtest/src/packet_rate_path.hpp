// SPDX-License-Identifier: GPL-3.0-or-later
// The packet-rate test's per-packet code: one lcore paces 20 ms RTP into the
// target's flows through one DPDK port and drains what comes back between
// bursts. Setup (EAL, the port, payloads) and the result are packet_rate.cpp's.
//
// Relayed: 172-byte RTP (160-byte payload) round the flows at the offered
// rate, built from one template (rtp_frame.hpp), each burst stamped with the
// TSC for the latency (same host, same TSC). Transcoded: each session gets a
// PCMU packet into leg 0 and a G.729 packet into leg 1 in turn, 50 packets/s
// each way, real codec payloads; no stamps (a transcoder builds new payloads).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "packet_rate_count.hpp"

struct rte_mempool;

namespace msgw::loadtest {

struct PacketPathConfig {
  std::uint16_t port = 0;
  rte_mempool* pool = nullptr;
  bool transcoded = false;
  std::uint32_t flows = 0;
  double pps = 0;  // both legs together when transcoded
  double seconds = 0;
  std::uint32_t ssrc_base = 0;  // a fresh one per run: the target sees new sources
  // Transcoded: one second of 20 ms payloads of each codec, used in turn.
  const std::vector<std::vector<std::uint8_t>>* pcmu = nullptr;
  const std::vector<std::vector<std::uint8_t>>* g729 = nullptr;
};

struct PacketPathCounts {
  std::uint64_t sent = 0, tx_fail = 0, skipped = 0;
  std::uint64_t received = 0, received_outside_flows = 0;
  std::vector<std::uint64_t> received_by_flow;
  std::vector<std::uint32_t> latency_ns;  // relayed: one per packet back, up to a cap
  std::vector<PacketRateSecond> timeline;
};

// Sends for cfg.seconds, then drains for 200 ms more. each_second runs once a
// second of the trial (progress), with the seconds elapsed and the counts so far.
PacketPathCounts run_packet_path(const PacketPathConfig& cfg,
                                 const std::function<void(double, const PacketPathCounts&)>& each_second);

}  // namespace msgw::loadtest
