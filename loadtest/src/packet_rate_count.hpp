// SPDX-License-Identifier: GPL-3.0-or-later
// The packet-rate test's arithmetic and results, apart from DPDK so unit
// tests feed it and the reports build without it: which flow a packet was
// sent to (the sender goes round the flows in order), what each flow lost,
// latency percentiles of the TSC-stamped packets.
//
// Addressing, the one dataplane_tool bench-flows programs: flow i's leg 0 is
// the gateway's 10.0.0.1:(20000+2i) with the peer 10.0.0.2:(40000+2i), leg 1
// 10.0.1.1:(20000+2i) with 10.0.1.2:(40000+2i). Relayed: the tool sends into
// leg 0 and receives what leaves leg 1; transcoded: into both legs (PCMU into
// leg 0, G.729 into leg 1) and receives both. Either way a packet coming back
// names its flow in its destination port.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace msgw::loadtest {

inline constexpr std::uint32_t kPacketRateGw0 = 0x0a000001, kPacketRatePeer0 = 0x0a000002;
inline constexpr std::uint32_t kPacketRateGw1 = 0x0a000101, kPacketRatePeer1 = 0x0a000102;
inline constexpr std::uint16_t kPacketRateGwPortBase = 20000, kPacketRatePeerPortBase = 40000;
// Peer ports 40000 + 2i must fit in 16 bits.
inline constexpr std::uint32_t kPacketRateMaxFlows = (65534 - kPacketRatePeerPortBase) / 2 + 1;
// A transcoded session is 50 packets/s each way.
inline constexpr std::uint32_t kPacketRateTranscodedPps = 100;

// The flow a received packet's destination port names: the peer's port
// 40000 + 2i (what the target sends out of flow i), or the gateway's
// 20000 + 2i (a frame reflected as it was sent, by a loopback forwarder such
// as dpdk-testpmd's io mode, the ceiling scripts/bench-dataplane.sh measures);
// -1 for none of ours (an odd port is RTCP, never ours either). The peer's
// range first: above 10,000 flows the two overlap.
inline std::int64_t packet_rate_flow_of_port(std::uint16_t dport, std::uint32_t flows) {
  if (dport & 1) return -1;
  for (std::uint32_t base : {kPacketRatePeerPortBase, kPacketRateGwPortBase})
    if (dport >= base && (dport - base) / 2u < flows) return std::int64_t((dport - base) / 2u);
  return -1;
}

// Packets sent to flow f when `sent` went out round the flows from flow 0:
// relayed, packet k to flow k mod flows; transcoded, packet k to leg k mod 2
// of session (k / 2) mod flows.
std::uint64_t packet_rate_sent_to_flow(std::uint64_t sent, std::uint32_t flows, std::uint32_t f,
                                       bool transcoded);

struct PacketRateFlows {
  std::uint32_t with_loss = 0;  // flows that got back fewer than were sent to them
  std::uint32_t silent = 0;     // flows sent to that got nothing back
  std::uint64_t lost = 0;       // the sum of those shortfalls
  std::uint64_t extra = 0;      // packets beyond what a flow was sent (a transcoder's concealment)
};
PacketRateFlows packet_rate_flows(const std::vector<std::uint64_t>& received_by_flow, std::uint64_t sent,
                                  bool transcoded);

// Latency percentiles (nearest rank, as the rest of the tool), microseconds;
// -1 everywhere when there are no samples (transcoded packets carry no stamp).
struct PacketRateLatency {
  std::uint64_t n = 0;
  double p50 = -1, p90 = -1, p99 = -1, p999 = -1, max = -1, mean = -1;
};
// Reorders ns; fills hist (kLatencyBins of latency_match.hpp) when given.
PacketRateLatency packet_rate_latency(std::vector<std::uint32_t>& ns, std::vector<std::uint64_t>* hist);

struct PacketRateSecond {
  double t_s = 0;  // since the trial started
  std::uint64_t sent = 0, received = 0;  // in the second that ended at t_s
};

// One trial, as the reports show it. The names of the JSON keys that
// scripts/bench-dataplane.sh reads (sent, tx_fail, received, p99_us ...)
// are the ones tests/perf/dataplane_loadgen printed before this test replaced it.
struct PacketRateResult {
  bool transcoded = false;
  std::uint32_t flows = 0;
  double offered_pps = 0, seconds = 0;
  std::string port;  // the EAL device the trial ran on
  std::uint64_t sent = 0;      // handed to the port's TX burst, tx_fail included
  std::uint64_t tx_fail = 0;   // of those, refused by a full TX ring (freed, never offered)
  std::uint64_t received = 0;  // RTP frames back (even UDP port), every one
  std::uint64_t received_outside_flows = 0;  // of those, to no flow of this trial
  std::uint64_t skipped = 0;   // never sent: backlog beyond 1 ms after the tool lost its core
  double achieved_pps = 0;     // sent / seconds
  std::uint64_t lost = 0;      // sent - received, never below 0
  double loss_percent = 0;
  PacketRateFlows by_flow;
  PacketRateLatency latency_us;
  std::vector<std::uint64_t> latency_hist;
  std::vector<PacketRateSecond> timeline;
  double tsc_hz = 0;
  bool generator_bound = false;  // sent below 95 % of the offered load
};

// Fills the derived figures (achieved_pps, lost, loss_percent, generator_bound).
void packet_rate_finish_counts(PacketRateResult& r);

}  // namespace msgw::loadtest
