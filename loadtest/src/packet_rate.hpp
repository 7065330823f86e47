// SPDX-License-Identifier: GPL-3.0-or-later
// The packet-rate test: the target's dataplane alone, at millions of packets
// per second, from a DPDK port (net_memif here; a NIC port cabled to the
// gateway on bare metal), one trial per run. It sends 20 ms RTP into flows
// the target already has (dataplane_tool bench-flows programs them; no SIP)
// at the offered rate, relayed or transcoded, and counts and latency-stamps
// what comes back (packet_rate_path.hpp). scripts/bench-dataplane.sh runs it
// trial by trial for its zero-loss searches against dpdk-testpmd.
//
// Built when meson finds libdpdk (packet_rate.cpp); otherwise
// packet_rate_unbuilt.cpp says so and the test refuses to run.
#pragma once

#include "options.hpp"

namespace msgw::loadtest {

struct RunResult;

bool packet_rate_built();
// One trial into result.packet_rate (or result.error).
void run_packet_rate(const Options& o, RunResult& result);
// After the reports are out. net_memif's peer must hang up first (DPDK 22.11
// unmaps the shared rings in the server's interrupt thread without waiting
// for the lcore polling them: a server still polling when its client left
// faulted), so this waits up to --linger-s for the link to go down, then
// ends the process without rte_eal_cleanup() (22.11 leaves memif's interrupt
// thread running while the cleanup unmaps memory under it). Returns at once
// when no port was started.
void packet_rate_after_report(const Options& o, int exit_code);

}  // namespace msgw::loadtest
