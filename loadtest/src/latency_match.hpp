// SPDX-License-Identifier: GPL-3.0-or-later
// The media-throughput test's arithmetic, apart from sockets so unit tests
// feed it: which packet a received one was, its one-way latency, and what
// was lost, per direction of one call.
//
// Matching is by RTP timestamp, the one field both a relay and a transcoder
// carry through:
//  - msgw's relay keeps SSRC, sequence number and timestamp (it re-bases
//    them only when the ingress SSRC changes, which ours never does);
//  - msgw's transcoder (codecs/src/transcoder.cpp, dataplane transcode())
//    gives the egress leg its own random SSRC and its own sequence numbers
//    (a random start, +1 per egress packet, so a packet it conceals takes a
//    number too), and egress timestamp = ingress timestamp + an offset fixed
//    at the stream's first packet (re-based only on a jump). At equal
//    packet times (20 ms both legs, 8 kHz clocks) each ingress packet gives
//    exactly one egress packet with the same timestamp shifted by that
//    offset; a gap up to max_conceal_ms is filled with concealment packets
//    carrying the missing timestamps.
// So: offset = timestamp of the first packet received - timestamp of our
// first packet. The runner makes that exact: the first packet of every
// stream is a probe sent alone and waited for (it also pairs the two sides
// of a call), so the first packet received in a direction is our packet 0.
// Then packet number = (timestamp - offset - first timestamp) / samples per
// packet, and latency = receive time - that packet's send time.
//
// The test aid (--withhold-rtp-every) plays a target that loses packets:
// a withheld packet is numbered and counted sent (offered to the target)
// but never leaves, so it is lost unless something comes back for it. A
// relay sends nothing for it (lost); a transcoder conceals the gap with a
// packet of that timestamp, counted as concealed, not matched: still lost,
// as RFC 2544 counts a frame that did not come back as itself. So the
// loss reported equals the loss injected in both modes. A packet arriving
// twice counts once (duplicates); a timestamp off our packet grid or ahead
// of what we sent is unmatched.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "stats.hpp"

namespace msgw::loadtest {

struct DirectionCounts {
  std::uint64_t sent = 0;       // packets offered to the target (with the withheld)
  std::uint64_t withheld = 0;   // test aid: of those, numbered but kept back (the target "lost" them)
  std::uint64_t matched = 0;    // distinct packets that came back as themselves
  std::uint64_t duplicates = 0;
  std::uint64_t concealed = 0;  // arrived for a withheld packet's timestamp (the target filled the gap)
  std::uint64_t unmatched = 0;  // timestamp off our grid or ahead of what we sent
  std::uint64_t lost() const { return sent > matched ? sent - matched : 0; }
};

class DirectionMatch {
 public:
  DirectionMatch(std::uint32_t first_timestamp, std::uint32_t samples_per_packet)
      : first_ts_(first_timestamp), spp_(samples_per_packet ? samples_per_packet : 160) {}

  // Packet `no` (0, 1, 2 ... in order) left at time t (seconds, any clock
  // shared with on_received), or was withheld.
  void on_sent(std::uint64_t no, double t);
  void on_withheld(std::uint64_t no);
  // A packet of this direction arrived at time t with RTP timestamp ts;
  // returns its one-way latency in seconds when it matched a packet we sent.
  std::optional<double> on_received(std::uint32_t ts, double t);

  bool offset_known() const { return have_offset_; }
  std::uint32_t offset() const { return offset_; }
  const DirectionCounts& counts() const { return counts_; }

 private:
  static constexpr double kWithheld = -1, kNotSent = -2;
  std::uint32_t first_ts_, spp_;
  bool have_offset_ = false;
  std::uint32_t offset_ = 0;
  std::vector<double> send_time_;     // by packet number; kWithheld / kNotSent
  std::vector<std::uint8_t> seen_;    // by packet number
  DirectionCounts counts_;
};

// Latency percentiles over a trial: RFC 8219's typical (p50) and worst case
// (p99, p99.9), nearest rank, in milliseconds.
struct LatencySummary {
  std::uint64_t n = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0, mean = 0, min = 0;
};
LatencySummary summarize_latency(std::vector<double> ms);

// Latency histogram bins (log scale, 10 µs .. 1 s) for the HTML report;
// below and above fall in the first and last bin.
inline constexpr int kLatencyBins = 50;
inline constexpr double kLatencyBinMinMs = 0.01, kLatencyBinMaxMs = 1000;
int latency_bin(double ms);

// RFC 2544's search on the number of sessions: the rate search of
// rate_search.hpp (double from the start while trials pass, then bisect to
// the resolution; no confirmation run), counted in sessions.
struct TrialCounts {
  std::uint64_t sent = 0, lost = 0;
  bool calls_ok = true;  // every call of the trial was set up and held through it
};
// RFC 2544: a trial passes when every frame sent came back (and, here,
// every call needed for it was up). Concealed packets (withheld by the test
// aid) are not losses of packets sent.
bool trial_passed(const TrialCounts& c);

}  // namespace msgw::loadtest
