// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzz every decoder (and the SDP helpers) with arbitrary payloads.
// Input: byte 0 selects the target (low 3 bits: 0-4 decoders, 5 rtpmap, 6-7 SDP params with
// the next byte as payload type) and options; the rest is the payload / text.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "msgw/codecs/codec.hpp"

using namespace msgw::codecs;

namespace {

struct Decoders {
  // One long-lived decoder per codec/packing so state carries across inputs like a real stream.
  std::unique_ptr<Decoder> d[5] = {
      make_decoder({.id = CodecId::Pcmu}),
      make_decoder({.id = CodecId::Pcma}),
      make_decoder({.id = CodecId::G726_32, .g726_packing = G726Packing::Rfc3551}),
      make_decoder({.id = CodecId::G726_32, .g726_packing = G726Packing::Aal2}),
      make_decoder({.id = CodecId::G729}),
  };
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Decoders decs;
  if (size < 1) return 0;
  const std::uint8_t sel = data[0];
  std::span<const std::uint8_t> payload(data + 1, size - 1);
  const unsigned target = sel & 7;
  if (target < 5) {
    Decoder& d = *decs.d[target];
    // Output buffer sized from the selector so both "fits" and "too large" paths run.
    static std::array<std::int16_t, 4096> pcm;
    const std::size_t cap = (sel & 0x80) ? pcm.size() : 160;
    DecodeError err = DecodeError::None;
    const std::size_t expect = d.samples_in(payload, &err);
    const std::size_t got = d.decode(payload, std::span<std::int16_t>(pcm.data(), cap));
    if (got > cap) __builtin_trap();
    if (got != 0 && got != expect) __builtin_trap();
    if (got == 0 && d.last_error() == DecodeError::None) __builtin_trap();
    const std::size_t hole = ((sel >> 3) & 7) * 40;
    d.conceal(std::span<std::int16_t>(pcm.data(), hole));
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (target == 5) {
    if (auto m = parse_rtpmap(text)) {
      if (m->encoding.empty() || m->clock_rate == 0) __builtin_trap();
      (void)codec_from_sdp_name(m->encoding, m->clock_rate);
    }
  } else if (!text.empty()) {
    const auto pt = static_cast<std::uint8_t>(text[0]);
    const std::string_view rest = text.substr(1);
    const auto split = rest.find('\n');
    auto p = params_from_sdp(pt, rest.substr(0, split),
                             split == std::string_view::npos ? std::string_view{} : rest.substr(split + 1));
    if (p) {
      (void)format_rtpmap(*p);
      (void)format_fmtp(*p);
    }
  }
  return 0;
}
