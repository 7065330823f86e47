// SPDX-License-Identifier: GPL-3.0-or-later
// msgw-control's admission rate while it sheds (SipShedState::admit_rate in
// protocol.hpp), applied by all workers together: one limiter for the whole
// dataplane, not a share per worker.  A per-worker share (rate / workers)
// admitted half the rate on the rig: RSS sends every datagram of one
// source address to one worker, and one phone network or one carrier's
// signalling address is one source, so the others' shares went unused
// while the controller read the shortfall as "not limiting" and left.
//
// GCRA (the virtual scheduling form of a token bucket): one atomic, the
// theoretical arrival time of the next admission; a request is admitted
// when that time is at most the burst tolerance ahead of now, and moves it
// one emission interval on (compare-and-swap; retried when another worker
// moved it first).  Only requests the workers would otherwise shed reach
// it (new INVITE/REGISTER while msgw-control is overloaded): at most the
// flood's rate of atomics, never on the media path.  The burst: kSipAdmit-
// BurstNs at the rate, at least one.  Time is an argument (CLOCK_MONOTONIC
// ns) so that tests drive it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace msgw::dataplane {

// The burst's length at the rate.  Short, so that the control plane's
// rate holds over its own 100 ms steps.
inline constexpr uint64_t kSipAdmitBurstNs = 50'000'000;

class SipAdmitLimiter {
 public:
  // One new call: true when it is admitted.  rate 0: none.
  bool take(uint32_t rate_per_s, uint64_t now_ns) {
    if (rate_per_s == 0) return false;
    const uint64_t interval = std::max<uint64_t>(1, 1'000'000'000ull / rate_per_s);
    // Admissions the burst allows at once beyond the first: (burst - 1)
    // intervals of tolerance; a rate too low for a burst of two admits one.
    const uint64_t tolerance = kSipAdmitBurstNs > interval ? kSipAdmitBurstNs - interval : 0;
    uint64_t tat = tat_ns_.load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t base = std::max(tat, now_ns);
      if (base - now_ns > tolerance) return false;
      if (tat_ns_.compare_exchange_weak(tat, base + interval, std::memory_order_relaxed)) return true;
    }
  }

 private:
  std::atomic<uint64_t> tat_ns_{0};
};

}  // namespace msgw::dataplane
