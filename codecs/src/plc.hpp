// SPDX-License-Identifier: GPL-3.0-or-later
// Internal: spandsp PLC wrapper shared by the G.711 and G.726 decoders.
#pragma once

// spandsp headers expect the C integer types to be declared already.
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/plc.h>

#include <algorithm>

namespace msgw::codecs::detail {

// plc_fillin() first rotates its circular history so it starts at index 0, and spandsp
// 0.0.6 does that with memcpy() between overlapping ranges (undefined behaviour, flagged
// by ASan). Doing the same rotation here with std::rotate leaves buf_ptr at 0, so spandsp
// skips its own copy; the history contents and therefore the output are identical.
inline void plc_conceal(plc_state_t& s, int16_t* amp, int len) noexcept {
  if (s.buf_ptr > 0 && s.buf_ptr < PLC_HISTORY_LEN) {
    std::rotate(s.history, s.history + s.buf_ptr, s.history + PLC_HISTORY_LEN);
    s.buf_ptr = 0;
  }
  plc_fillin(&s, amp, len);
}

}  // namespace msgw::codecs::detail
