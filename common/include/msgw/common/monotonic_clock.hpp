// SPDX-License-Identifier: GPL-3.0-or-later
// CLOCK_MONOTONIC, the one clock the daemons share through the segment
// (datagram arrival times, shed leases, last-seen stamps) and the clock of
// every interval a process measures itself. Header-only; a vDSO read each.
#pragma once

#include <time.h>

#include <cstdint>

namespace msgw::common {

inline uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

// In seconds, for the load-test tool's schedules and reports.
inline double monotonic_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// A relative sleep of the calling thread (nanosleep measures it on this
// clock), for the load-test tool's waits between its steps and samples.
inline void sleep_ms(int ms) {
  timespec d{ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&d, nullptr);
}

}  // namespace msgw::common
