// SPDX-License-Identifier: GPL-3.0-or-later
// The wall clock as Unix time, in the units records and registrations keep:
// seconds (registrar expiry, nonce ages) and milliseconds (call records).
// Header-only; setup/control code only (one clock read per call).
#pragma once

#include <chrono>
#include <cstdint>

namespace msgw::common {

inline int64_t wall_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace msgw::common
