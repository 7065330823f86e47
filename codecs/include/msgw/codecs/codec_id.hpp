// SPDX-License-Identifier: GPL-3.0-or-later
// The codec identifier, the one definition that codecs/, dataplane/ and
// control/ share.  Header-only and dependency-free so that the dataplane's
// shared-memory protocol (dataplane/include/msgw/dataplane/protocol.hpp) can
// carry it without pulling in the codec engine.
//
// The numbers are on two wires, so they are fixed: never renumber, append.
//   - LegSpec::codec in the control <-> dataplane command ring (a uint8_t;
//     protocol.hpp static_asserts the values);
//   - the "codec" field of the calls control/ persists in its state store,
//     read back after a restart.
// codec_info()'s table (codecs/src/codec.cpp) is indexed by this number and
// static_asserts that its rows are in this order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace msgw::codecs {

enum class CodecId : std::uint8_t { Pcmu = 0, Pcma = 1, G726_32 = 2, G729 = 3 };
inline constexpr std::size_t kCodecCount = 4;

// A number read from a wire names a codec.
constexpr bool is_codec_id(std::uint32_t wire) noexcept { return wire < kCodecCount; }

// "No payload type" in a uint8_t payload-type field (e.g. no telephone-event).
inline constexpr std::uint8_t kNoPayloadType = 0xFF;

}  // namespace msgw::codecs
