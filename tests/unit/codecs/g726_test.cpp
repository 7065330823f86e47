// SPDX-License-Identifier: GPL-3.0-or-later
// G.726-32 through spandsp: quality on a speech-like signal for both packings, and the
// exact relation between the RFC 3551 and AAL2 packings.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "msgw/codecs/codec.hpp"
#include "test_signal.hpp"

using namespace msgw::codecs;
using msgw::codecs::testing::segmental_snr_db;
using msgw::codecs::testing::speech_like;

namespace {

std::vector<std::uint8_t> encode(G726Packing packing, const std::vector<std::int16_t>& pcm, std::size_t block = 160) {
  auto enc = make_encoder({.id = CodecId::G726_32, .g726_packing = packing});
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> buf(block / 2);
  for (std::size_t off = 0; off + block <= pcm.size(); off += block) {
    const std::size_t n = enc->encode(std::span(pcm).subspan(off, block), buf);
    EXPECT_EQ(n, block / 2);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

std::vector<std::int16_t> decode(G726Packing packing, const std::vector<std::uint8_t>& bits, std::size_t block = 80) {
  auto dec = make_decoder({.id = CodecId::G726_32, .g726_packing = packing});
  std::vector<std::int16_t> out;
  std::vector<std::int16_t> buf(block * 2);
  for (std::size_t off = 0; off + block <= bits.size(); off += block) {
    const std::size_t n = dec->decode(std::span(bits).subspan(off, block), buf);
    EXPECT_EQ(n, block * 2);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

}  // namespace

// Threshold: 20 dB segmental SNR. Reference points measured with this code on this signal
// family: 8-bit log PCM (G.711) scores ~35 dB (the ceiling G.726 re-quantises from) and
// G.726-32 scores ~31 dB on speech_like() and ~24.5 dB on real speech (espeak-ng output,
// 8 kHz). ADPCM at 4 bits/sample is expected to stay within roughly 10-15 dB of 8-bit PCM,
// so 20 dB leaves margin for signal differences while every fault we can construct lands far
// below it: decoding with the other packing (nibbles swapped) gives ~5 dB.
constexpr double kMinSegSnrDb = 20.0;
// Decoding with the wrong nibble order must be clearly broken (measured ~5 dB).
constexpr double kMaxCrossedSnrDb = 10.0;

TEST(G726, SegmentalSnrOnSpeechBothPackings) {
  const auto sig = speech_like(8000 * 4);
  for (G726Packing p : {G726Packing::Rfc3551, G726Packing::Aal2}) {
    const auto bits = encode(p, sig);
    ASSERT_EQ(bits.size(), sig.size() / 2);
    const auto out = decode(p, bits);
    ASSERT_EQ(out.size(), sig.size());
    const double snr = segmental_snr_db(sig, out);
    RecordProperty(p == G726Packing::Aal2 ? "segsnr_aal2_db" : "segsnr_rfc3551_db", std::to_string(snr));
    EXPECT_GT(snr, kMinSegSnrDb) << (p == G726Packing::Aal2 ? "AAL2" : "RFC 3551");
  }
}

TEST(G726, PackingsDifferExactlyByNibbleOrder) {
  const auto sig = speech_like(8000 * 2, 7);
  const auto rfc = encode(G726Packing::Rfc3551, sig);
  const auto aal2 = encode(G726Packing::Aal2, sig);
  ASSERT_EQ(rfc.size(), aal2.size());
  std::size_t asymmetric = 0;
  for (std::size_t i = 0; i < rfc.size(); ++i) {
    ASSERT_EQ(aal2[i], static_cast<std::uint8_t>((rfc[i] << 4) | (rfc[i] >> 4))) << "byte " << i;
    if ((rfc[i] >> 4) != (rfc[i] & 15)) ++asymmetric;
  }
  // The check is only meaningful if most bytes hold two different code words.
  EXPECT_GT(asymmetric, rfc.size() / 2);
  // RFC 3551 packing: the first sample's code word is in the low nibble.
  // Decoding one packing's stream with the other must not match (guards against both
  // settings silently using the same order).
  const auto crossed = decode(G726Packing::Aal2, rfc);
  EXPECT_LT(segmental_snr_db(sig, crossed), kMaxCrossedSnrDb);
}

TEST(G726, OddPacketSizesDecodeTwoSamplesPerByte) {
  auto dec = make_decoder({.id = CodecId::G726_32});
  std::vector<std::int16_t> pcm(64);
  const std::uint8_t one[1] = {0x12};
  EXPECT_EQ(dec->decode(one, pcm), 2u);
  const std::uint8_t three[3] = {1, 2, 3};
  EXPECT_EQ(dec->decode(three, pcm), 6u);
  EXPECT_EQ(dec->decode({}, pcm), 0u);
  EXPECT_EQ(dec->last_error(), DecodeError::Empty);
  std::vector<std::uint8_t> too_big(33);
  EXPECT_EQ(dec->decode(too_big, pcm), 0u);
  EXPECT_EQ(dec->last_error(), DecodeError::TooLarge);
}

TEST(G726, EncoderRejectsOddSampleCounts) {
  auto enc = make_encoder({.id = CodecId::G726_32});
  std::vector<std::int16_t> pcm(3);
  std::vector<std::uint8_t> out(4);
  EXPECT_EQ(enc->encode(pcm, out), 0u);
}

TEST(G726, ConcealmentAfterLossIsNotSilence) {
  const auto sig = speech_like(8000);
  const auto bits = encode(G726Packing::Rfc3551, sig);
  auto dec = make_decoder({.id = CodecId::G726_32});
  std::vector<std::int16_t> pcm(160);
  for (std::size_t off = 0; off < 400; off += 80) ASSERT_EQ(dec->decode(std::span(bits).subspan(off, 80), pcm), 160u);
  std::vector<std::int16_t> hole(160);
  dec->conceal(hole);
  EXPECT_GT(msgw::codecs::testing::rms(hole.data(), hole.size()),
            0.2 * msgw::codecs::testing::rms(pcm.data(), pcm.size()));
}
