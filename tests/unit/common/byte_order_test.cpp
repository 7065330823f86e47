// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/common/byte_order.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>

#include <gtest/gtest.h>

namespace {

using namespace msgw::common;

// Evaluated by the compiler: the helpers are usable in constant expressions.
constexpr std::uint8_t kBytes[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
static_assert(load_be16(kBytes) == 0x0123);
static_assert(load_be32(kBytes) == 0x01234567u);
static_assert(load_be64(kBytes) == 0x0123456789abcdefull);
static_assert(load_le16(kBytes) == 0x2301);
static_assert(load_le32(kBytes) == 0x67452301u);
static_assert(load_le64(kBytes) == 0xefcdab8967452301ull);
constexpr std::uint32_t stored_be32() {
  std::uint8_t b[4] = {};
  store_be32(b, 0xdeadbeef);
  return std::uint32_t(b[0]) << 24 | std::uint32_t(b[3]);
}
static_assert(stored_be32() == 0xde0000efu);

// Each byte of an N-byte field, with each of the 256 values, lands where the
// byte order says: the shift of byte i is 8*(N-1-i) in big-endian, 8*i in
// little-endian.  The other bytes are zero, so a mixed-up byte shows alone.
template <std::size_t N, class T, class LoadBe, class LoadLe>
void every_byte_every_value(LoadBe load_be, LoadLe load_le) {
  for (std::size_t i = 0; i < N; ++i) {
    for (unsigned v = 0; v < 256; ++v) {
      std::uint8_t b[N] = {};
      b[i] = std::uint8_t(v);
      EXPECT_EQ(load_be(b), T(T(v) << (8 * (N - 1 - i)))) << "byte " << i << " value " << v;
      EXPECT_EQ(load_le(b), T(T(v) << (8 * i))) << "byte " << i << " value " << v;
    }
  }
}

TEST(ByteOrder, EveryByteOfEveryWidthWithEveryValue) {
  every_byte_every_value<2, std::uint16_t>(load_be16, load_le16);
  every_byte_every_value<4, std::uint32_t>(load_be32, load_le32);
  every_byte_every_value<8, std::uint64_t>(load_be64, load_le64);
}

// A deterministic spread of values with every bit pattern density.
std::uint64_t next(std::uint64_t& x) {
  x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x ^ (x >> 29);
}

// Stores at every offset of a buffer (so at every alignment) write exactly
// their N bytes, and the loads at the same offset read the value back.
template <std::size_t N, class T, class Store, class Load>
void round_trip_unaligned(Store store, Load load) {
  std::uint64_t seed = 42;
  for (std::size_t off = 0; off < 16; ++off) {
    for (int rep = 0; rep < 64; ++rep) {
      std::array<std::uint8_t, 32> buf;
      buf.fill(0x5a);
      const T v = T(next(seed));
      store(buf.data() + off, v);
      EXPECT_EQ(load(buf.data() + off), v) << "offset " << off;
      for (std::size_t k = 0; k < buf.size(); ++k) {
        if (k < off || k >= off + N) {
          EXPECT_EQ(buf[k], 0x5a) << "byte " << k << " written, offset " << off;
        }
      }
    }
  }
}

TEST(ByteOrder, RoundTripAtEveryAlignmentWritesOnlyItsBytes) {
  round_trip_unaligned<2, std::uint16_t>(store_be16, load_be16);
  round_trip_unaligned<4, std::uint32_t>(store_be32, load_be32);
  round_trip_unaligned<8, std::uint64_t>(store_be64, load_be64);
  round_trip_unaligned<2, std::uint16_t>(store_le16, load_le16);
  round_trip_unaligned<4, std::uint32_t>(store_le32, load_le32);
  round_trip_unaligned<8, std::uint64_t>(store_le64, load_le64);
}

TEST(ByteOrder, StoresPutTheMostSignificantByteFirstInNetworkOrder) {
  std::uint8_t b[8];
  store_be16(b, 0xa1b2);
  EXPECT_EQ(b[0], 0xa1);
  EXPECT_EQ(b[1], 0xb2);
  store_be32(b, 0xa1b2c3d4);
  EXPECT_EQ(std::memcmp(b, "\xa1\xb2\xc3\xd4", 4), 0);
  store_be64(b, 0x0102030405060708ull);
  EXPECT_EQ(std::memcmp(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8), 0);
  store_le32(b, 0xa1b2c3d4);
  EXPECT_EQ(std::memcmp(b, "\xd4\xc3\xb2\xa1", 4), 0);
  store_le64(b, 0x0102030405060708ull);
  EXPECT_EQ(std::memcmp(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8), 0);
  store_le16(b, 0xa1b2);
  EXPECT_EQ(b[0], 0xb2);
  EXPECT_EQ(b[1], 0xa1);
}

// The same answer as the C library's network-order conversions, at odd
// addresses, for the extremes and a spread of values.
TEST(ByteOrder, AgreesWithNtohsAndNtohl) {
  std::uint64_t seed = 7;
  alignas(8) std::uint8_t buf[16];
  for (int rep = 0; rep < 1000; ++rep) {
    const std::uint32_t v = rep == 0 ? 0u : rep == 1 ? 0xffffffffu : std::uint32_t(next(seed));
    const std::uint32_t n32 = htonl(v);
    const std::uint16_t n16 = htons(std::uint16_t(v));
    std::memcpy(buf + 1, &n32, 4);
    std::memcpy(buf + 7, &n16, 2);
    EXPECT_EQ(load_be32(buf + 1), v);
    EXPECT_EQ(load_be16(buf + 7), std::uint16_t(v));
  }
}

}  // namespace
