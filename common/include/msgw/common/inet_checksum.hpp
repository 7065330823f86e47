// SPDX-License-Identifier: GPL-3.0-or-later
// The Internet checksum (RFC 1071) computed the plain way: 16-bit words in
// network order, an odd last byte padded with zero, end-around carries.
//
// This is the reference, not the fast path: the dataplane sums with SSE in
// native order (dataplane/include/msgw/dataplane/packet.hpp raw_cksum), and
// its tests check that against this independent definition.
#pragma once

#include <cstddef>
#include <cstdint>

#include "msgw/common/byte_order.hpp"

namespace msgw::common {

// acc plus the ones'-complement sum of n bytes at p, not yet folded to 16
// bits (so partial sums can be added: pseudo header + datagram).  Any n: the
// 64-bit total is folded back to 32 bits, which keeps its value modulo 0xffff.
constexpr std::uint32_t inet_sum(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) noexcept {
  std::uint64_t s = acc;
  for (std::size_t i = 0; i + 1 < n; i += 2) s += load_be16(p + i);
  if (n & 1) s += std::uint32_t(p[n - 1]) << 8;
  while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
  return std::uint32_t(s);
}

// A sum folded to 16 bits with end-around carry.  A sum over data whose
// checksum field is right folds to 0xffff.
constexpr std::uint16_t inet_fold(std::uint32_t s) noexcept {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return std::uint16_t(s);
}

// The value for a checksum field (zeroed while summing): ~fold(sum).  UDP
// sends a computed 0 as 0xffff; that is the caller's rule, not done here.
constexpr std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) noexcept {
  return std::uint16_t(~inet_fold(inet_sum(p, n, acc)));
}

}  // namespace msgw::common
