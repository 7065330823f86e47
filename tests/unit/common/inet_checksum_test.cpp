// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/common/inet_checksum.hpp"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace msgw::common;

// RFC 1071 section 3's worked example: 00 01 f2 03 f4 f5 f6 f7 sums to
// 0x2ddf0, which folds to 0xddf2.
constexpr std::uint8_t kRfc1071[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
static_assert(inet_sum(kRfc1071, 8) == 0x2ddf0);
static_assert(inet_fold(0x2ddf0) == 0xddf2);
static_assert(inet_checksum(kRfc1071, 8) == 0x220d);

TEST(InetChecksum, Rfc1071Example) {
  EXPECT_EQ(inet_sum(kRfc1071, 8), 0x2ddf0u);
  EXPECT_EQ(inet_fold(inet_sum(kRfc1071, 8)), 0xddf2);
  // Byte order independence (RFC 1071 1.(B)): the swapped sum is the swapped result.
  const std::uint8_t swapped[] = {0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6};
  EXPECT_EQ(inet_fold(inet_sum(swapped, 8)), 0xf2dd);
}

TEST(InetChecksum, OddLengthPadsTheLastByteWithZero) {
  const std::uint8_t odd[] = {0x12, 0x34, 0x56};
  EXPECT_EQ(inet_sum(odd, 3), 0x1234u + 0x5600u);
  EXPECT_EQ(inet_sum(odd, 0), 0u);
  EXPECT_EQ(inet_sum(odd, 1), 0x1200u);
  EXPECT_EQ(inet_sum(odd, 0, 77), 77u);
}

// A real IPv4 header (the Wikipedia example): with its checksum field in
// place it verifies; with the field zeroed, inet_checksum gives that field.
TEST(InetChecksum, Ipv4HeaderVerifiesAndComputes) {
  std::uint8_t ip[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                         0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(inet_fold(inet_sum(ip, 20)), 0xffff);
  ip[10] = ip[11] = 0;
  EXPECT_EQ(inet_checksum(ip, 20), 0xb861);
  ip[15] ^= 1;  // any single-bit change breaks it
  store_be16(ip + 10, 0xb861);
  EXPECT_NE(inet_fold(inet_sum(ip, 20)), 0xffff);
}

// Partial sums add up: pseudo header + datagram equals one pass over both.
TEST(InetChecksum, PartialSumsCompose) {
  std::vector<std::uint8_t> a(37), b(64);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::uint8_t(i * 37 + 11);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::uint8_t(i * 91 + 5);
  std::vector<std::uint8_t> even_a(a.begin(), a.end() - 1), joined(even_a);
  joined.insert(joined.end(), b.begin(), b.end());
  EXPECT_EQ(inet_fold(inet_sum(b.data(), b.size(), inet_sum(even_a.data(), even_a.size()))),
            inet_fold(inet_sum(joined.data(), joined.size())));
}

// Sums that overflow 32 bits (over 64 KiB of 0xff) keep their value: all
// ones sums to 0xffff (negative zero), never to 0.
TEST(InetChecksum, LongRunsOfOnesDoNotOverflow) {
  std::vector<std::uint8_t> ones(1 << 20, 0xff);
  EXPECT_EQ(inet_fold(inet_sum(ones.data(), ones.size())), 0xffff);
  EXPECT_EQ(inet_fold(inet_sum(ones.data(), ones.size(), 0xffffffffu)), 0xffff);
  std::vector<std::uint8_t> zeros(1 << 20, 0);
  EXPECT_EQ(inet_fold(inet_sum(zeros.data(), zeros.size())), 0);
}

}  // namespace
