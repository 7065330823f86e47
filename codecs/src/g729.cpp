// SPDX-License-Identifier: GPL-3.0-or-later
// G.729A (+ Annex B) through bcg729 (per-frame path).
// RTP payload (RFC 3551 4.5.6): zero or more 10-byte speech frames followed by at
// most one 2-byte Annex B SID frame. Any other length is malformed.
// bcg729's headers carry no extern "C" guards of their own.
extern "C" {
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
}

#include <array>
#include <cstring>
#include <new>

#include "codec_impl.hpp"

namespace msgw::codecs::detail {

namespace {

constexpr std::size_t kFrameSamples = 80;
constexpr std::size_t kFrameBytes = 10;
constexpr std::size_t kSidBytes = 2;

class G729Encoder final : public Encoder {
 public:
  explicit G729Encoder(bool annexb) : vad_(annexb) {
    ctx_ = initBcg729EncoderChannel(vad_ ? 1 : 0);
    if (!ctx_) throw std::bad_alloc();
  }
  ~G729Encoder() override { closeBcg729EncoderChannel(ctx_); }
  G729Encoder(const G729Encoder&) = delete;
  G729Encoder& operator=(const G729Encoder&) = delete;

  CodecId id() const noexcept override { return CodecId::G729; }
  std::size_t frame_samples() const noexcept override { return kFrameSamples; }
  std::size_t max_bytes(std::size_t samples) const noexcept override {
    return samples / kFrameSamples * kFrameBytes;
  }
  std::size_t encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out,
                     FrameKind* kind) noexcept override {
    if (pcm.empty() || pcm.size() % kFrameSamples != 0 || out.size() < max_bytes(pcm.size())) return 0;
    std::size_t written = 0;
    FrameKind k = FrameKind::Speech;
    for (std::size_t off = 0; off < pcm.size(); off += kFrameSamples) {
      std::uint8_t len = 0;
      bcg729Encoder(ctx_, pcm.data() + off, out.data() + written, &len);
      // bcg729 reports 10 (speech), 2 (SID) or 0 (DTX: nothing to send).
      k = len == kFrameBytes ? FrameKind::Speech : len == kSidBytes ? FrameKind::Sid : FrameKind::NoData;
      written += len;
    }
    if (kind) *kind = k;
    return written;
  }
  void reset() noexcept override {
    // bcg729 has no re-init entry point; replacing the context allocates, which is
    // acceptable because reset() is a setup-time operation, never per frame.
    auto* fresh = initBcg729EncoderChannel(vad_ ? 1 : 0);
    if (fresh) {
      closeBcg729EncoderChannel(ctx_);
      ctx_ = fresh;
    }
  }

 private:
  bool vad_;
  bcg729EncoderChannelContextStruct* ctx_ = nullptr;
};

class G729Decoder final : public Decoder {
 public:
  G729Decoder() {
    ctx_ = initBcg729DecoderChannel();
    if (!ctx_) throw std::bad_alloc();
  }
  ~G729Decoder() override { closeBcg729DecoderChannel(ctx_); }
  G729Decoder(const G729Decoder&) = delete;
  G729Decoder& operator=(const G729Decoder&) = delete;

  CodecId id() const noexcept override { return CodecId::G729; }
  std::size_t samples_in(std::span<const std::uint8_t> payload, DecodeError* err) const noexcept override {
    const std::size_t len = payload.size();
    if (len == 0) {
      if (err) *err = DecodeError::Empty;
      return 0;
    }
    const std::size_t rem = len % kFrameBytes;
    if (rem != 0 && rem != kSidBytes) {
      if (err) *err = DecodeError::BadLength;
      return 0;
    }
    if (err) *err = DecodeError::None;
    return (len / kFrameBytes + (rem == kSidBytes ? 1 : 0)) * kFrameSamples;
  }
  std::size_t decode(std::span<const std::uint8_t> payload, std::span<std::int16_t> pcm) noexcept override {
    const std::size_t n = checked_samples(payload, pcm.size(), err_);
    if (n == 0) return 0;
    const std::uint8_t* p = payload.data();
    std::size_t left = payload.size();
    std::int16_t* o = pcm.data();
    while (left >= kFrameBytes) {
      bcg729Decoder(ctx_, p, kFrameBytes, 0, 0, 0, o);
      p += kFrameBytes;
      left -= kFrameBytes;
      o += kFrameSamples;
    }
    if (left == kSidBytes) {
      bcg729Decoder(ctx_, p, kSidBytes, 0, 1, 0, o);
    }
    return n;
  }
  // Frame erasure: after speech bcg729 extrapolates the last frame's parameters
  // (G.729 4.4); after a SID it keeps generating comfort noise (Annex B DTX).
  std::size_t conceal(std::span<std::int16_t> pcm) noexcept override {
    const std::size_t full = pcm.size() / kFrameSamples * kFrameSamples;
    for (std::size_t off = 0; off < full; off += kFrameSamples)
      bcg729Decoder(ctx_, nullptr, 0, 1, 0, 0, pcm.data() + off);
    if (full < pcm.size()) {
      std::array<std::int16_t, kFrameSamples> tmp;
      bcg729Decoder(ctx_, nullptr, 0, 1, 0, 0, tmp.data());
      std::memcpy(pcm.data() + full, tmp.data(), (pcm.size() - full) * sizeof(std::int16_t));
    }
    return pcm.size();
  }
  DecodeError last_error() const noexcept override { return err_; }
  void reset() noexcept override {
    auto* fresh = initBcg729DecoderChannel();
    if (fresh) {
      closeBcg729DecoderChannel(ctx_);
      ctx_ = fresh;
    }
    err_ = DecodeError::None;
  }

 private:
  bcg729DecoderChannelContextStruct* ctx_ = nullptr;
  DecodeError err_ = DecodeError::None;
};

}  // namespace

std::unique_ptr<Encoder> make_g729_encoder(bool annexb) { return std::make_unique<G729Encoder>(annexb); }
std::unique_ptr<Decoder> make_g729_decoder() { return std::make_unique<G729Decoder>(); }

}  // namespace msgw::codecs::detail
