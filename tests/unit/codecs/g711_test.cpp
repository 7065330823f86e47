// SPDX-License-Identifier: GPL-3.0-or-later
// G.711: every code of both laws against the ITU-T G.711 tables, computed here from the
// standard's segment/quantisation rules (not from the code under test).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstdint>
#include <vector>

#include "msgw/codecs/codec.hpp"
#include "test_signal.hpp"

using namespace msgw::codecs;

namespace {

// G.711 table 2 (µ-law): the 8 bits are transmitted inverted; after inversion bit 7 is the
// sign (1 = negative), bits 6..4 the segment e, bits 3..0 the step m. The decoder output
// on the 14-bit scale (max 8031) is ((2m + 33) << e) - 33. msgw's 16-bit linear is that
// value left-aligned (x4).
int itu_ulaw_decode(std::uint8_t code) {
  const unsigned x = static_cast<std::uint8_t>(~code);
  const int e = (x >> 4) & 7, m = x & 15;
  const int mag = ((2 * m + 33) << e) - 33;
  return ((x & 0x80) ? -mag : mag) * 4;
}

// G.711 table 1 (A-law): even bits are inverted (XOR 0x55); bit 7 is the sign (1 = positive),
// bits 6..4 the segment e, bits 3..0 the step m. Decoder output on the 13-bit scale
// (max 4032): segment 0 is 2m + 1, segment e > 0 is (2m + 33) << (e - 1). 16-bit = x8.
int itu_alaw_decode(std::uint8_t code) {
  const unsigned x = code ^ 0x55u;
  const int e = (x >> 4) & 7, m = x & 15;
  const int mag = e == 0 ? 2 * m + 1 : (2 * m + 33) << (e - 1);
  return ((x & 0x80) ? mag : -mag) * 8;
}

std::vector<std::int16_t> decode_all(CodecId id, const std::vector<std::uint8_t>& codes) {
  auto dec = make_decoder({.id = id});
  std::vector<std::int16_t> pcm(codes.size());
  EXPECT_EQ(dec->decode(codes, pcm), codes.size());
  return pcm;
}

std::vector<std::uint8_t> all_codes() {
  std::vector<std::uint8_t> c(256);
  for (int i = 0; i < 256; ++i) c[i] = static_cast<std::uint8_t>(i);
  return c;
}

}  // namespace

TEST(G711, UlawTableMatchesItuFormula) {
  // Spot values straight from G.711 table 2 so the formula itself is checked too.
  EXPECT_EQ(itu_ulaw_decode(0xFF), 0);
  EXPECT_EQ(itu_ulaw_decode(0x80), 8031 * 4);
  EXPECT_EQ(itu_ulaw_decode(0x00), -8031 * 4);
  EXPECT_EQ(itu_ulaw_decode(0xEF), 33 * 4);
  const auto pcm = decode_all(CodecId::Pcmu, all_codes());
  for (int c = 0; c < 256; ++c) EXPECT_EQ(pcm[c], itu_ulaw_decode(static_cast<std::uint8_t>(c))) << "code " << c;
}

TEST(G711, AlawTableMatchesItuFormula) {
  EXPECT_EQ(itu_alaw_decode(0xD5), 1 * 8);     // smallest positive step
  EXPECT_EQ(itu_alaw_decode(0x55), -1 * 8);
  EXPECT_EQ(itu_alaw_decode(0xAA), 4032 * 8);  // largest positive
  EXPECT_EQ(itu_alaw_decode(0x2A), -4032 * 8);
  const auto pcm = decode_all(CodecId::Pcma, all_codes());
  for (int c = 0; c < 256; ++c) EXPECT_EQ(pcm[c], itu_alaw_decode(static_cast<std::uint8_t>(c))) << "code " << c;
}

TEST(G711, EveryCodeReencodesToItself) {
  for (CodecId id : {CodecId::Pcmu, CodecId::Pcma}) {
    const auto codes = all_codes();
    const auto pcm = decode_all(id, codes);
    auto enc = make_encoder({.id = id});
    std::vector<std::uint8_t> back(256);
    ASSERT_EQ(enc->encode(pcm, back), 256u);
    for (int c = 0; c < 256; ++c) {
      // µ-law 0x7F is "negative zero": G.711 decodes it to 0 like 0xFF, and a two's
      // complement sample has no -0, so it necessarily re-encodes to the positive zero 0xFF.
      if (id == CodecId::Pcmu && c == 0x7F) {
        EXPECT_EQ(back[c], 0xFF);
        continue;
      }
      EXPECT_EQ(back[c], c) << (id == CodecId::Pcmu ? "PCMU" : "PCMA") << " code " << c;
    }
  }
}

TEST(G711, EncoderPicksTheQuantisationIntervalOfEveryInput) {
  // Every 16-bit input must map to a code whose decoded value is the nearest-below/above
  // reconstruction level in G.711's interval sense: the encoder output is monotonic in
  // the input and decodes to within one step of it.
  for (CodecId id : {CodecId::Pcmu, CodecId::Pcma}) {
    auto enc = make_encoder({.id = id});
    std::vector<std::int16_t> in(65536);
    for (int i = 0; i < 65536; ++i) in[i] = static_cast<std::int16_t>(i - 32768);
    std::vector<std::uint8_t> codes(65536);
    ASSERT_EQ(enc->encode(in, codes), 65536u);
    const auto dec = decode_all(id, codes);
    int prev = -40000;
    for (int i = 0; i < 65536; ++i) {
      ASSERT_GE(dec[i], prev) << "non-monotonic at " << in[i];
      prev = dec[i];
      // Inside the range, the reconstruction level is within half of the largest step
      // (segment 7: 256 x4 for µ-law, 128 x8 for A-law = 1024 in 16-bit) of the input;
      // beyond the largest level (µ 32124, A 32256) the encoder saturates to it.
      const int top = id == CodecId::Pcmu ? 32124 : 32256;
      const int clipped = std::max(-top, std::min(top, static_cast<int>(in[i])));
      ASSERT_LE(std::abs(dec[i] - clipped), 512) << "input " << in[i];
      ASSERT_LE(std::abs(dec[i]), top);
    }
  }
}

TEST(G711, ConcealmentAfterLossIsNotSilence) {
  for (CodecId id : {CodecId::Pcmu, CodecId::Pcma}) {
    auto enc = make_encoder({.id = id});
    auto dec = make_decoder({.id = id});
    const auto sig = msgw::codecs::testing::speech_like(8000);
    std::vector<std::uint8_t> bits(sig.size());
    enc->encode(sig, bits);
    std::vector<std::int16_t> pcm(160);
    // Decode 0.1 s inside a syllable, then lose one 20 ms packet.
    for (std::size_t off = 0; off < 800; off += 160)
      ASSERT_EQ(dec->decode(std::span(bits).subspan(off, 160), pcm), 160u);
    std::vector<std::int16_t> hole(160);
    ASSERT_EQ(dec->conceal(hole), 160u);
    const double level = msgw::codecs::testing::rms(pcm.data(), pcm.size());
    const double filled = msgw::codecs::testing::rms(hole.data(), hole.size());
    EXPECT_GT(level, 500.0);
    EXPECT_GT(filled, level * 0.2) << "PLC produced (near) silence";
  }
}

TEST(G711, EmptyPayloadIsAnError) {
  auto dec = make_decoder({.id = CodecId::Pcmu});
  std::vector<std::int16_t> pcm(10);
  EXPECT_EQ(dec->decode({}, pcm), 0u);
  EXPECT_EQ(dec->last_error(), DecodeError::Empty);
  std::vector<std::uint8_t> big(11, 0xFF);
  EXPECT_EQ(dec->decode(big, pcm), 0u);
  EXPECT_EQ(dec->last_error(), DecodeError::TooLarge);
}
