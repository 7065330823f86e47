// SPDX-License-Identifier: GPL-3.0-or-later
// The light-load sleep of a worker ([dataplane] worker_sleep_max_us): how
// long it naps after a poll pass, from how much that pass brought.
//
// A pass that fills a burst means the worker is loaded: it polls flat out
// (no nap).  A pass that brings less than half a burst means the core
// mostly spins: the nap doubles, from 1 us up to the bound.  In between
// (half a burst or more, not a full one) the nap halves.  Halving rather than
// starting again from 1 us matters on hosts where a nap is dear: on this
// project's VMs nanosleep costs ~27 us of CPU and ~95 us of wall time
// whatever it asks for, so each restart paid about nine naps (1, 2, 4, ...
// 256 us) to climb back, and at 1,000 SIP calls/s the worker napped ~3,600
// times a second, a quarter of msgw-dataplane's CPU.  Latency stays bounded
// by the operator's bound, which is what a nap may cost by definition.
#pragma once

#include <cstdint>

namespace msgw::dataplane {

inline constexpr uint64_t kFirstNapNs = 1000;

constexpr uint64_t next_nap_ns(uint64_t nap_ns, unsigned pass_packets, unsigned burst, uint64_t max_ns) {
  if (max_ns == 0 || pass_packets >= burst) return 0;
  if (pass_packets >= burst / 2) return nap_ns / 2 < kFirstNapNs ? 0 : nap_ns / 2;
  const uint64_t next = nap_ns == 0 ? kFirstNapNs : nap_ns * 2;
  return next < max_ns ? next : max_ns;
}

}  // namespace msgw::dataplane
