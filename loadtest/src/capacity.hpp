// SPDX-License-Identifier: GPL-3.0-or-later
// Session capacity, from samples taken once a second while calls with media
// pile up: the first sample whose interval saw a packet lost, a failed call,
// a setup over the establishment threshold or a stream that never received a
// packet ends the clean run; the most calls with media flowing in the
// samples before it is the clean level. Pure arithmetic on injected samples
// (the runner takes them; the unit tests make them up).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace msgw::loadtest {

struct CapacitySample {
  double t_s = 0;                      // since the run started
  std::uint64_t calls_up = 0;          // phone side SIPp's calls in progress (any state)
  std::uint64_t calls_with_media = 0;  // calls whose streams are flowing both ways
  // Cumulative since the step started:
  std::uint64_t failed = 0;            // failed calls (phone side), rejections included
  std::uint64_t over_threshold = 0;    // setups slower than the threshold
  std::uint64_t packets_expected = 0, packets_lost = 0;  // RFC 3550, both sides
  std::uint64_t late_slots = 0, send_errors = 0;         // the tool's own RTP sender
  std::uint64_t receive_drops = 0;                       // the tool's own ports (DPDK engine)
  // At the sample:
  std::uint64_t silent_streams = 0;    // streams sending for > 0.5 s that never received a packet
};

struct CapacityAssessment {
  std::optional<std::size_t> first_bad;  // index of the first sample with a fault in its interval
  std::string reason;                    // what that interval saw; empty when clean
  std::uint64_t clean_level = 0;         // most calls with media (calls up without) in the samples before it
  // The first fault came with the tool's sender running late or failing to
  // send, or its ports dropping what they received, in that interval: the
  // tool, not the target, may have been the limit.
  bool generator_suspect = false;
  // The target level: when calls with media first reached it (-1: never) and
  // how long it was held clean from then on.
  double level_reached_s = -1;
  double held_s = 0;
};

// with_media = false (capacity --no-media): the level is calls up, and
// there are no packets or streams to fault on.
CapacityAssessment assess_capacity(std::span<const CapacitySample> samples, std::uint64_t target_level,
                                   bool with_media = true);

// The level to confirm after a failed confirmation at `level`: the clean
// level that run reached if lower, else 10 % below.
std::uint64_t next_capacity_level(std::uint64_t level, std::uint64_t clean_level_of_failed_run);

}  // namespace msgw::loadtest
