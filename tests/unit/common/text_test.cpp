// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/common/text.hpp"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace {

using namespace msgw::common;

static_assert(trim_lws(" \t8000\r\n") == "8000");

TEST(Text, TrimLwsStripsSpaceTabCrLfAtBothEndsOnly) {
  EXPECT_EQ(trim_lws(""), "");
  EXPECT_EQ(trim_lws(" \t\r\n"), "");
  EXPECT_EQ(trim_lws("annexb=no"), "annexb=no");
  EXPECT_EQ(trim_lws("\r\n a b \t"), "a b");
  EXPECT_EQ(trim_lws(" a\tb\r\nc "), "a\tb\r\nc");
  // Vertical tab, form feed and NUL are not linear white space.
  EXPECT_EQ(trim_lws("\va\f"), "\va\f");
  EXPECT_EQ(trim_lws(std::string_view(" x\0", 3)), std::string_view("x\0", 2));
  for (int i = 0; i < 256; ++i)
    EXPECT_EQ(is_lws(char(i)), i == ' ' || i == '\t' || i == '\r' || i == '\n') << i;
}

TEST(Text, ParseUintAcceptsDigitsThatFit) {
  std::uint16_t u16 = 0;
  EXPECT_TRUE(parse_uint("0", u16));
  EXPECT_EQ(u16, 0);
  EXPECT_TRUE(parse_uint("65535", u16));
  EXPECT_EQ(u16, 65535);
  EXPECT_TRUE(parse_uint("00042", u16));
  EXPECT_EQ(u16, 42);
  std::uint8_t u8 = 0;
  EXPECT_TRUE(parse_uint("255", u8));
  EXPECT_EQ(u8, 255);
  std::uint64_t u64 = 0;
  EXPECT_TRUE(parse_uint(std::to_string(std::numeric_limits<std::uint64_t>::max()), u64));
  EXPECT_EQ(u64, std::numeric_limits<std::uint64_t>::max());
}

TEST(Text, ParseUintRefusesAnythingElseAndLeavesOutAlone) {
  for (const char* bad : {"", "65536", "99999999999999999999", "-1", "+1", " 1", "1 ", "0x10", "12a",
                          "1.5", "\xd9\xa1"}) {
    std::uint16_t out = 777;
    EXPECT_FALSE(parse_uint(bad, out)) << '"' << bad << '"';
    EXPECT_EQ(out, 777) << '"' << bad << '"';
  }
  std::uint8_t u8 = 9;
  EXPECT_FALSE(parse_uint("256", u8));
  EXPECT_EQ(u8, 9);
}

}  // namespace
