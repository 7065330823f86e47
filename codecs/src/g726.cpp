// SPDX-License-Identifier: GPL-3.0-or-later
// G.726-32 through spandsp (per-frame path). spandsp packs code words itself:
// G726_PACKING_RIGHT fills each byte from the least significant bit (RFC 3551),
// G726_PACKING_LEFT from the most significant bit (I.366.2 AAL2 / Asterisk g726aal2).
// Whole bytes carry exactly two 4-bit codes, so the bit reservoir inside spandsp is
// always empty between packets and packets stay independent of each other's length.
// spandsp headers expect the C integer types to be declared already.
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/bitstream.h>
#include <spandsp/g726.h>
#include <spandsp/plc.h>

#include <new>

#include "codec_impl.hpp"
#include "plc.hpp"

namespace msgw::codecs::detail {

namespace {

int spandsp_packing(G726Packing p) {
  return p == G726Packing::Aal2 ? G726_PACKING_LEFT : G726_PACKING_RIGHT;
}

// g726_state_t is opaque in spandsp's public API, so the state is allocated by
// g726_init() once, when the codec object is made.
class G726State {
 public:
  explicit G726State(G726Packing packing) : packing_(spandsp_packing(packing)) {
    s_ = g726_init(nullptr, 32000, G726_ENCODING_LINEAR, packing_);
    if (!s_) throw std::bad_alloc();
  }
  ~G726State() { g726_free(s_); }
  G726State(const G726State&) = delete;
  G726State& operator=(const G726State&) = delete;
  g726_state_t* get() const noexcept { return s_; }
  void reset() noexcept { g726_init(s_, 32000, G726_ENCODING_LINEAR, packing_); }

 private:
  int packing_;
  g726_state_t* s_ = nullptr;
};

class G726Encoder final : public Encoder {
 public:
  explicit G726Encoder(G726Packing packing) : st_(packing) {}
  CodecId id() const noexcept override { return CodecId::G726_32; }
  std::size_t frame_samples() const noexcept override { return 2; }
  std::size_t max_bytes(std::size_t samples) const noexcept override { return samples / 2; }
  std::size_t encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out,
                     FrameKind* kind) noexcept override {
    if (kind) *kind = FrameKind::Speech;
    if ((pcm.size() & 1) != 0 || out.size() < pcm.size() / 2) return 0;
    if (pcm.empty()) return 0;
    return static_cast<std::size_t>(
        g726_encode(st_.get(), out.data(), pcm.data(), static_cast<int>(pcm.size())));
  }
  void reset() noexcept override { st_.reset(); }

 private:
  G726State st_;
};

class G726Decoder final : public Decoder {
 public:
  explicit G726Decoder(G726Packing packing) : st_(packing) { plc_init(&plc_); }
  CodecId id() const noexcept override { return CodecId::G726_32; }
  std::size_t samples_in(std::span<const std::uint8_t> payload, DecodeError* err) const noexcept override {
    if (payload.empty()) {
      if (err) *err = DecodeError::Empty;
      return 0;
    }
    if (err) *err = DecodeError::None;
    return payload.size() * 2;
  }
  std::size_t decode(std::span<const std::uint8_t> payload, std::span<std::int16_t> pcm) noexcept override {
    const std::size_t n = checked_samples(payload, pcm.size(), err_);
    if (n == 0) return 0;
    int got = g726_decode(st_.get(), pcm.data(), payload.data(), static_cast<int>(payload.size()));
    plc_rx(&plc_, pcm.data(), got);
    return static_cast<std::size_t>(got);
  }
  std::size_t conceal(std::span<std::int16_t> pcm) noexcept override {
    if (pcm.empty()) return 0;
    plc_conceal(plc_, pcm.data(), static_cast<int>(pcm.size()));
    return pcm.size();
  }
  DecodeError last_error() const noexcept override { return err_; }
  void reset() noexcept override {
    st_.reset();
    plc_init(&plc_);
    err_ = DecodeError::None;
  }

 private:
  G726State st_;
  plc_state_t plc_;
  DecodeError err_ = DecodeError::None;
};

}  // namespace

std::unique_ptr<Encoder> make_g726_encoder(G726Packing packing) {
  return std::make_unique<G726Encoder>(packing);
}
std::unique_ptr<Decoder> make_g726_decoder(G726Packing packing) {
  return std::make_unique<G726Decoder>(packing);
}

}  // namespace msgw::codecs::detail
