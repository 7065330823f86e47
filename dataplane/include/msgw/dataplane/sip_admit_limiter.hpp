// SPDX-License-Identifier: GPL-3.0-or-later
// One worker's share of msgw-control's admission rate while it sheds
// (SipShedState::admit_rate in protocol.hpp): a token bucket of
// rate / n_workers tokens a second, holding at most kSipAdmitBurst of them
// (and at least one), full when first used.  Per worker, written by that
// worker only: no shared writes on the packet path.  Time is an argument
// (CLOCK_MONOTONIC ns) so that tests drive it.
#pragma once

#include <algorithm>
#include <cstdint>

namespace msgw::dataplane {

// The bucket's depth: this long at the worker's rate.  Short, so that the
// control plane's rate holds over its own 100 ms steps.
inline constexpr uint64_t kSipAdmitBurstNs = 50'000'000;

struct SipAdmitBucket {
  uint64_t last_ns = 0;     // 0: never used (starts full)
  double tokens = 0;

  // One new call: true when it is admitted (a token taken).  rate 0: none.
  bool take(uint32_t rate_per_s, uint32_t n_workers, uint64_t now_ns) {
    if (rate_per_s == 0) return false;
    const double rate = double(rate_per_s) / double(std::max<uint32_t>(n_workers, 1));
    const double burst = std::max(1.0, rate * double(kSipAdmitBurstNs) / 1e9);
    if (last_ns == 0) {
      tokens = burst;
    } else if (now_ns > last_ns) {
      tokens = std::min(burst, tokens + rate * double(now_ns - last_ns) / 1e9);
    } else {
      tokens = std::min(burst, tokens);  // a lower rate shrinks the bucket at once
    }
    if (now_ns > last_ns || last_ns == 0) last_ns = now_ns;
    if (tokens < 1.0) return false;
    tokens -= 1.0;
    return true;
  }
};

}  // namespace msgw::dataplane
