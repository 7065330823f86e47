// SPDX-License-Identifier: GPL-3.0-or-later
// The media-throughput test (RFC 2544 adapted to a media gateway; latency
// as RFC 8219 reports it). Per mode (relayed: both legs one codec;
// transcoded: the phone leg --codec, the carrier leg --transcode-codec) a
// search on the number of sessions: each trial sets up that many calls
// through the target with the SIPp phone and carrier scenarios, pairs each
// call's two sides with a probe packet, then sends RTP both ways on every
// call at 20 ms for --step-s seconds and counts what came back. A trial
// passes with zero loss. One-way latency per packet: both ends are this
// process, so send time and the kernel's receive timestamp share one clock;
// latency_match.hpp says how received packets are matched.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "latency_match.hpp"
#include "options.hpp"

namespace msgw::loadtest {

struct RunResult;

enum class MediaMode : std::uint8_t { relayed, transcoded };
const char* media_mode_name(MediaMode m);

struct ThroughputTrial {
  std::uint32_t index = 0;
  std::uint32_t sessions = 0;  // calls asked for; each carries a stream each way
  std::uint32_t duration_s = 0;
  bool passed = false;
  std::string verdict;  // "pass" or why not
  std::uint64_t calls_set_up = 0;  // calls up on both sides (SIP)
  std::uint64_t calls_up = 0;      // of those, paired by the probe (media through the target)
  DirectionCounts to_carrier, to_phone;  // summed over calls (what that side received)
  double send_s = 0;  // from the first to the last slot sent
  double offered_pps = 0, received_pps = 0;  // both ways, packets per second
  LatencySummary latency_ms;  // both ways
  LatencySummary latency_to_carrier_ms, latency_to_phone_ms;
  std::vector<std::uint64_t> latency_hist;  // kLatencyBins, both ways
  std::uint64_t slots = 0, late_slots = 0, send_errors = 0;
  double max_lateness_ms = 0;
  double cpu_s = 0, cpu_us_per_packet = 0;  // this thread, pairing to the end of the drain
  bool generator_bound = false;  // late in > 1 % of slots, or the kernel refused packets
};

struct ThroughputMode {
  MediaMode mode = MediaMode::relayed;
  std::string phone_codec, carrier_codec;
  std::uint32_t found_sessions = 0;  // the most sessions of a passing trial
  std::vector<ThroughputTrial> trials;
};

// Runs the test into result (throughput, found_rate, generator_limits, error).
void run_media_throughput(const Options& o, const std::filesystem::path& work, RunResult& result);

}  // namespace msgw::loadtest
