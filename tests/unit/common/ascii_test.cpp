// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/common/ascii.hpp"

#include <string>
#include <unordered_map>

#include <gtest/gtest.h>

namespace {

using namespace msgw::common;
using namespace std::string_view_literals;

static_assert(iequals("Content-Length", "content-LENGTH"));
static_assert(!iequals("Via", "Vib"));
static_assert(ihash("CSeq") == ihash("cseq"));

TEST(Ascii, LowerAndUpperFoldOnlyAsciiLetters) {
  for (int i = 0; i < 256; ++i) {
    const char c = char(i);
    const bool upper = i >= 'A' && i <= 'Z', lower = i >= 'a' && i <= 'z';
    EXPECT_EQ(ascii_lower(c), upper ? char(i + 32) : c) << i;
    EXPECT_EQ(ascii_upper(c), lower ? char(i - 32) : c) << i;
  }
}

TEST(Ascii, IequalsIgnoresCaseOfLettersOnly) {
  EXPECT_TRUE(iequals("", ""));
  EXPECT_TRUE(iequals("PCMU", "pcmu"));
  EXPECT_TRUE(iequals("g729A", "G729a"));
  EXPECT_TRUE(iequals("SIP/2.0", "sip/2.0"));
  EXPECT_FALSE(iequals("PCMU", "PCM"));
  EXPECT_FALSE(iequals("", "a"));
  EXPECT_FALSE(iequals("PCMU", "PCMA"));
  // Pairs that differ only in bit 0x20 but are not letters: a compare that
  // ORs 0x20 into every byte would call them equal.
  EXPECT_FALSE(iequals("@", "`"));
  EXPECT_FALSE(iequals("[", "{"));
  EXPECT_FALSE(iequals("^", "~"));
  EXPECT_FALSE(iequals("\r", "-"));
  EXPECT_FALSE(iequals("\xc0", "\xe0"));  // Latin-1 A-grave / a-grave: bytes, not letters
  EXPECT_TRUE(iequals("\xc0", "\xc0"));
  // Embedded NUL is a byte like any other.
  EXPECT_TRUE(iequals("a\0B"sv, "A\0b"sv));
  EXPECT_FALSE(iequals("a\0B"sv, "a\0C"sv));
}

TEST(Ascii, IequalsAgreesWithLowerCaseComparisonForEveryBytePair) {
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) {
      const char x = char(a), y = char(b);
      EXPECT_EQ(iequals(std::string_view(&x, 1), std::string_view(&y, 1)),
                ascii_lower(x) == ascii_lower(y))
          << a << " " << b;
    }
}

TEST(Ascii, IstartsWith) {
  EXPECT_TRUE(istarts_with("branch=z9hG4bK", "BRANCH="));
  EXPECT_TRUE(istarts_with("RTP/AVP", "rtp/"));
  EXPECT_TRUE(istarts_with("x", ""));
  EXPECT_TRUE(istarts_with("", ""));
  EXPECT_FALSE(istarts_with("RT", "rtp/"));
  EXPECT_FALSE(istarts_with("tag=1", "tog"));
}

TEST(Ascii, IhashIsFnv1aOfTheLowerCaseBytes) {
  EXPECT_EQ(ihash(""), 0xcbf29ce484222325ull);  // FNV-1a 64 offset basis
  EXPECT_EQ(ihash("a"), 0xaf63dc4c8601ec8cull); // published FNV-1a 64 test vector
  EXPECT_EQ(ihash("A"), ihash("a"));
  EXPECT_EQ(ihash("foobar"), 0x85944171f73967e8ull);
  EXPECT_EQ(ihash("FooBAR"), ihash("foobar"));
  EXPECT_NE(ihash("a"), ihash("b"));
  EXPECT_NE(ihash("@"), ihash("`"));
  EXPECT_NE(ihash("ab"), ihash("ba"));
}

TEST(Ascii, CaseInsensitiveMapKeys) {
  std::unordered_map<std::string, int, IHash, IEqual> m;
  m["Content-Type"] = 1;
  m["CONTENT-TYPE"] = 2;  // same key
  m["Via"] = 3;
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.at("content-type"), 2);
  // Transparent lookup: a string_view finds the key without a std::string.
  EXPECT_NE(m.find("VIA"sv), m.end());
  EXPECT_EQ(m.find("Vias"sv), m.end());
}

TEST(Ascii, Lowered) {
  EXPECT_EQ(ascii_lowered("SIP:Alice@Example.COM"), "sip:alice@example.com");
  EXPECT_EQ(ascii_lowered(""), "");
  EXPECT_EQ(ascii_lowered("\xc0Z["), "\xc0z[");
}

}  // namespace
