// SPDX-License-Identifier: GPL-3.0-or-later
// The overload test's arithmetic: from one step's counts, the good calls
// (completed, setup within the establishment threshold), goodput (good
// calls per second of offered time), rejections with and without
// Retry-After, timeouts, and goodput as a share of the capacity (the rate the
// test was given or found). Pure: the unit tests feed it made-up counts.
#pragma once

#include <cstdint>

namespace msgw::loadtest {

struct OverloadCounts {
  double offered_s = 0;               // how long calls were offered (the step time)
  std::uint64_t attempted = 0;        // calls the phone side created
  std::uint64_t completed = 0;        // calls that ran to their end (rejections already taken out)
  std::uint64_t over_threshold = 0;   // setups slower than the threshold (of any call)
  std::uint64_t rejected_retry_after = 0, rejected_no_retry_after = 0;  // 503s received
  std::uint64_t timeouts = 0;         // no answer: receive timeouts and UDP retransmissions exhausted
  std::uint64_t failed = 0;           // every failed attempt, rejections and timeouts included
};

struct Goodput {
  // Completed calls minus every slow setup: a lower bound (SIPp's RTT log does
  // not name the call, so a slow setup of a call that later failed is taken
  // out twice); exact when every slow call completed.
  std::uint64_t good = 0;
  double good_per_s = 0;
  double ratio = 0;  // good_per_s / capacity (0 when the capacity is unknown)
  std::uint64_t rejected = 0;  // 503s, with or without Retry-After
  std::uint64_t other_failures = 0;  // failed, neither a 503 nor a timeout
};

Goodput compute_goodput(const OverloadCounts& c, double capacity_per_s);

}  // namespace msgw::loadtest
