// SPDX-License-Identifier: GPL-3.0-or-later
// Codec descriptions and encoder/decoder factories (setup time only).
#include <array>
#include <stdexcept>

#include "codec_impl.hpp"
#include "msgw/codecs/codec.hpp"

namespace msgw::codecs {

namespace {

// RFC 3551 table 4: PCMU 0, PCMA 8, G729 18. G726-32 lost its static PT 2 in
// RFC 3551 and is dynamic, although SPA firmware still offers it as 2.
constexpr std::array<CodecInfo, kCodecCount> kCodecs = {{
    {CodecId::Pcmu, "PCMU", 8000, 0, 1, 1, 125, 20, true},
    {CodecId::Pcma, "PCMA", 8000, 8, 1, 1, 125, 20, true},
    {CodecId::G726_32, "G726-32", 8000, kDynamicPayloadType, 2, 1, 250, 20, true},
    {CodecId::G729, "G729", 8000, 18, 80, 10, 10000, 20, false},
}};

// codec_info() indexes the table by CodecId: one row per id, in id order.
constexpr bool rows_in_id_order() {
  for (std::size_t i = 0; i < kCodecs.size(); ++i)
    if (static_cast<std::size_t>(kCodecs[i].id) != i) return false;
  return true;
}
static_assert(rows_in_id_order(), "kCodecs must list every CodecId in numeric order");

}  // namespace

const CodecInfo& codec_info(CodecId id) noexcept {
  auto i = static_cast<std::size_t>(id);
  return kCodecs[i < kCodecCount ? i : 0];
}

std::uint16_t effective_ptime_ms(std::uint16_t requested_ms) noexcept {
  if (requested_ms == 0) return 20;
  if (requested_ms < 10) return 10;
  if (requested_ms > 60) return 60;
  return static_cast<std::uint16_t>(requested_ms / 10 * 10);
}

std::unique_ptr<Encoder> make_encoder(const CodecParams& p) {
  switch (p.id) {
    case CodecId::Pcmu:
    case CodecId::Pcma: return detail::make_g711_encoder(p.id);
    case CodecId::G726_32: return detail::make_g726_encoder(p.g726_packing);
    case CodecId::G729: return detail::make_g729_encoder(p.g729_annexb);
  }
  throw std::invalid_argument("unknown codec id");
}

std::unique_ptr<Decoder> make_decoder(const CodecParams& p) {
  switch (p.id) {
    case CodecId::Pcmu:
    case CodecId::Pcma: return detail::make_g711_decoder(p.id);
    case CodecId::G726_32: return detail::make_g726_decoder(p.g726_packing);
    case CodecId::G729: return detail::make_g729_decoder();
  }
  throw std::invalid_argument("unknown codec id");
}

}  // namespace msgw::codecs
