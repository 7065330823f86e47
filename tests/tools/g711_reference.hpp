// SPDX-License-Identifier: GPL-3.0-or-later
// ITU-T G.711 mu-law, written independently of codecs/ (which uses spandsp's):
// the oracle that the dataplane's transcoding tests and dataplane_tool
// encode and decode reference audio with.
#pragma once

#include <cstdint>

namespace msgw::g711ref {

inline std::int16_t ulaw_to_linear(std::uint8_t u) {
  u = std::uint8_t(~u);
  int t = ((u & 0x0f) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return std::int16_t((u & 0x80) ? 0x84 - t : t - 0x84);
}

inline std::uint8_t linear_to_ulaw(std::int16_t pcm) {
  int mask = 0xff, v = pcm;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  }
  v += 0x84;
  if (v > 0x7fff) v = 0x7fff;
  int seg = 0;
  for (int x = v >> 8; x > 0 && seg < 7; x >>= 1) ++seg;
  const std::uint8_t u = std::uint8_t((seg << 4) | ((v >> (seg + 3)) & 0x0f));
  return std::uint8_t(u ^ mask);
}

}  // namespace msgw::g711ref
