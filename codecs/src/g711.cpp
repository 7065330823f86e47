// SPDX-License-Identifier: GPL-3.0-or-later
// G.711 µ-law / A-law (per-frame path). Encoding uses spandsp's inline G.711
// (the ITU segment encoder); decoding is a 256-entry table built from it at load
// time, so a decoded packet costs one load per sample. Loss concealment is
// spandsp's generic PLC, fed with every decoded sample so it always has history.
// spandsp headers expect the C integer types to be declared already.
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>
#include <spandsp/plc.h>

#include <array>
#include <cstring>

#include "codec_impl.hpp"
#include "plc.hpp"

namespace msgw::codecs::detail {

namespace {

using Table = std::array<std::int16_t, 256>;

Table build_table(bool ulaw) {
  Table t{};
  for (int c = 0; c < 256; ++c)
    t[c] = ulaw ? ulaw_to_linear(static_cast<std::uint8_t>(c)) : alaw_to_linear(static_cast<std::uint8_t>(c));
  return t;
}

// Built during static initialisation, before any worker runs: no first-use guard on the hot path.
const Table kUlawToLinear = build_table(true);
const Table kAlawToLinear = build_table(false);

template <bool Ulaw>
class G711Encoder final : public Encoder {
 public:
  CodecId id() const noexcept override { return Ulaw ? CodecId::Pcmu : CodecId::Pcma; }
  std::size_t frame_samples() const noexcept override { return 1; }
  std::size_t max_bytes(std::size_t samples) const noexcept override { return samples; }
  std::size_t encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out,
                     FrameKind* kind) noexcept override {
    if (kind) *kind = FrameKind::Speech;
    if (out.size() < pcm.size()) return 0;
    const std::size_t n = pcm.size();
    for (std::size_t i = 0; i < n; ++i)
      out[i] = Ulaw ? linear_to_ulaw(pcm[i]) : linear_to_alaw(pcm[i]);
    return n;
  }
  void reset() noexcept override {}
};

template <bool Ulaw>
class G711Decoder final : public Decoder {
 public:
  G711Decoder() { plc_init(&plc_); }
  CodecId id() const noexcept override { return Ulaw ? CodecId::Pcmu : CodecId::Pcma; }
  std::size_t samples_in(std::span<const std::uint8_t> payload, DecodeError* err) const noexcept override {
    if (payload.empty()) {
      if (err) *err = DecodeError::Empty;
      return 0;
    }
    if (err) *err = DecodeError::None;
    return payload.size();
  }
  std::size_t decode(std::span<const std::uint8_t> payload, std::span<std::int16_t> pcm) noexcept override {
    const std::size_t n = checked_samples(payload, pcm.size(), err_);
    if (n == 0) return 0;
    const Table& t = Ulaw ? kUlawToLinear : kAlawToLinear;
    for (std::size_t i = 0; i < n; ++i) pcm[i] = t[payload[i]];
    plc_rx(&plc_, pcm.data(), static_cast<int>(n));
    return n;
  }
  std::size_t conceal(std::span<std::int16_t> pcm) noexcept override {
    if (pcm.empty()) return 0;
    plc_conceal(plc_, pcm.data(), static_cast<int>(pcm.size()));
    return pcm.size();
  }
  DecodeError last_error() const noexcept override { return err_; }
  void reset() noexcept override {
    plc_init(&plc_);
    err_ = DecodeError::None;
  }

 private:
  plc_state_t plc_;
  DecodeError err_ = DecodeError::None;
};

}  // namespace

std::unique_ptr<Encoder> make_g711_encoder(CodecId id) {
  if (id == CodecId::Pcmu) return std::make_unique<G711Encoder<true>>();
  return std::make_unique<G711Encoder<false>>();
}

std::unique_ptr<Decoder> make_g711_decoder(CodecId id) {
  if (id == CodecId::Pcmu) return std::make_unique<G711Decoder<true>>();
  return std::make_unique<G711Decoder<false>>();
}

}  // namespace msgw::codecs::detail
