// SPDX-License-Identifier: GPL-3.0-or-later
// Internal: concrete encoder/decoder factories, one per codec family.
#pragma once

#include <memory>

#include "msgw/codecs/codec.hpp"

namespace msgw::codecs::detail {

std::unique_ptr<Encoder> make_g711_encoder(CodecId id);
std::unique_ptr<Decoder> make_g711_decoder(CodecId id);
std::unique_ptr<Encoder> make_g726_encoder(G726Packing packing);
std::unique_ptr<Decoder> make_g726_decoder(G726Packing packing);
std::unique_ptr<Encoder> make_g729_encoder(bool annexb);
std::unique_ptr<Decoder> make_g729_decoder();

}  // namespace msgw::codecs::detail
