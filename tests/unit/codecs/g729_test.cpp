// SPDX-License-Identifier: GPL-3.0-or-later
// G.729A/B through bcg729: payload parsing, Annex B SID frames, concealment.
#include <gtest/gtest.h>

extern "C" {
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
}

#include <cstdint>
#include <vector>

#include "msgw/codecs/codec.hpp"
#include "test_signal.hpp"

using namespace msgw::codecs;
using msgw::codecs::testing::rms;
using msgw::codecs::testing::speech_like;

namespace {

// Low-level background noise such as a quiet line: Annex B VAD classifies it as inactive.
std::vector<std::int16_t> quiet_noise(std::size_t n) {
  std::vector<std::int16_t> v(n);
  std::uint32_t r = 99;
  for (auto& s : v) {
    r = r * 1664525u + 1013904223u;
    s = static_cast<std::int16_t>(static_cast<int>(r >> 24) - 128) / 4;
  }
  return v;
}

struct Encoded {
  std::vector<std::vector<std::uint8_t>> frames;  // per 10 ms: 10, 2 or 0 bytes
};

Encoded encode_frames(const std::vector<std::int16_t>& pcm, bool vad) {
  auto enc = make_encoder({.id = CodecId::G729, .g729_annexb = vad});
  Encoded e;
  for (std::size_t off = 0; off + 80 <= pcm.size(); off += 80) {
    std::vector<std::uint8_t> b(10);
    FrameKind k;
    const std::size_t n = enc->encode(std::span(pcm).subspan(off, 80), b, &k);
    b.resize(n);
    EXPECT_EQ(k, n == 10 ? FrameKind::Speech : n == 2 ? FrameKind::Sid : FrameKind::NoData);
    e.frames.push_back(b);
  }
  return e;
}

}  // namespace

TEST(G729, PayloadLengthRules) {
  auto dec = make_decoder({.id = CodecId::G729});
  DecodeError err;
  std::vector<std::uint8_t> p;
  struct Case { std::size_t len; std::size_t samples; DecodeError err; };
  for (Case c : {Case{0, 0, DecodeError::Empty}, Case{1, 0, DecodeError::BadLength},
                 Case{2, 80, DecodeError::None}, Case{3, 0, DecodeError::BadLength},
                 Case{9, 0, DecodeError::BadLength}, Case{10, 80, DecodeError::None},
                 Case{12, 160, DecodeError::None}, Case{15, 0, DecodeError::BadLength},
                 Case{20, 160, DecodeError::None}, Case{21, 0, DecodeError::BadLength},
                 Case{22, 240, DecodeError::None}, Case{30, 240, DecodeError::None}}) {
    p.assign(c.len, 0x55);
    EXPECT_EQ(dec->samples_in(p, &err), c.samples) << "len " << c.len;
    EXPECT_EQ(err, c.err) << "len " << c.len;
  }
  std::vector<std::int16_t> pcm(160);
  p.assign(30, 0);
  EXPECT_EQ(dec->decode(p, pcm), 0u);
  EXPECT_EQ(dec->last_error(), DecodeError::TooLarge);
  p.assign(11, 0);
  EXPECT_EQ(dec->decode(p, pcm), 0u);
  EXPECT_EQ(dec->last_error(), DecodeError::BadLength);
}

TEST(G729, DecoderMatchesBcg729FrameByFrame) {
  const auto sig = speech_like(8000);
  const auto e = encode_frames(sig, false);
  auto* ref = initBcg729DecoderChannel();
  auto dec = make_decoder({.id = CodecId::G729});
  std::vector<std::int16_t> ours(160), theirs(160);
  // Two frames per payload (20 ms) through the codec object, one by one through bcg729.
  for (std::size_t f = 0; f + 1 < e.frames.size(); f += 2) {
    std::vector<std::uint8_t> payload = e.frames[f];
    payload.insert(payload.end(), e.frames[f + 1].begin(), e.frames[f + 1].end());
    ASSERT_EQ(payload.size(), 20u);
    ASSERT_EQ(dec->decode(payload, ours), 160u);
    bcg729Decoder(ref, e.frames[f].data(), 10, 0, 0, 0, theirs.data());
    bcg729Decoder(ref, e.frames[f + 1].data(), 10, 0, 0, 0, theirs.data() + 80);
    ASSERT_EQ(ours, theirs) << "frame " << f;
  }
  closeBcg729DecoderChannel(ref);
}

TEST(G729, AnnexBProducesAndDecodesSidFrames) {
  // Speech, then a quiet line: with VAD the encoder must switch to SID / untransmitted frames.
  auto sig = speech_like(8000 * 1);
  const auto q = quiet_noise(8000 * 2);
  sig.insert(sig.end(), q.begin(), q.end());
  const auto e = encode_frames(sig, true);
  std::size_t speech = 0, sid = 0, none = 0;
  for (const auto& f : e.frames) (f.size() == 10 ? speech : f.size() == 2 ? sid : none)++;
  EXPECT_GT(speech, 50u);
  EXPECT_GT(sid, 0u);
  EXPECT_GT(none, 50u);

  // Decode the stream the way it arrives over RTP: SID frames alone or after speech,
  // untransmitted frames as erasures (comfort noise continues).
  auto dec = make_decoder({.id = CodecId::G729});
  std::vector<std::int16_t> pcm(80);
  std::size_t sid_decoded = 0;
  double cn_energy = 0.0;
  for (const auto& f : e.frames) {
    if (f.empty()) {
      ASSERT_EQ(dec->conceal(pcm), 80u);
      cn_energy += rms(pcm.data(), 80);
      continue;
    }
    ASSERT_EQ(dec->decode(f, pcm), 80u) << "frame of " << f.size() << " bytes";
    EXPECT_EQ(dec->last_error(), DecodeError::None);
    if (f.size() == 2) ++sid_decoded;
  }
  EXPECT_EQ(sid_decoded, sid);
  // Comfort noise is generated, not digital silence.
  EXPECT_GT(cn_energy / static_cast<double>(none), 1.0);

  // Speech frame + SID in one payload (12 bytes) is a valid RFC 3551 payload.
  std::vector<std::uint8_t> combo = e.frames[10];
  for (const auto& f : e.frames)
    if (f.size() == 2) {
      combo.insert(combo.end(), f.begin(), f.end());
      break;
    }
  ASSERT_EQ(combo.size(), 12u);
  std::vector<std::int16_t> two(160);
  EXPECT_EQ(dec->decode(combo, two), 160u);
}

TEST(G729, ConcealmentAfterSpeechIsNotSilence) {
  const auto sig = speech_like(8000);
  const auto e = encode_frames(sig, false);
  auto dec = make_decoder({.id = CodecId::G729});
  std::vector<std::int16_t> pcm(80);
  for (std::size_t f = 0; f < 10; ++f) ASSERT_EQ(dec->decode(e.frames[f], pcm), 80u);
  const double level = rms(pcm.data(), 80);
  std::vector<std::int16_t> hole(160);
  ASSERT_EQ(dec->conceal(hole), 160u);
  EXPECT_GT(level, 300.0);
  EXPECT_GT(rms(hole.data(), 160), 0.1 * level);
  // A concealment length that is not a whole number of frames still fills every sample.
  std::vector<std::int16_t> odd(100, 0x7777);
  EXPECT_EQ(dec->conceal(odd), 100u);
}

TEST(G729, EncoderRejectsPartialFrames) {
  auto enc = make_encoder({.id = CodecId::G729});
  std::vector<std::int16_t> pcm(79);
  std::vector<std::uint8_t> out(10);
  EXPECT_EQ(enc->encode(pcm, out), 0u);
  std::vector<std::int16_t> two(160);
  std::vector<std::uint8_t> small(10);
  EXPECT_EQ(enc->encode(two, small), 0u);
}
