// SPDX-License-Identifier: GPL-3.0-or-later
// msgw codec interface: one description, encoder and decoder per supported codec.
//
// Setup/control side (may allocate, may fail with a message):
//   auto id   = msgw::codecs::codec_from_sdp_name("G729a", 8000);     // SDP names, case-insensitive
//   auto info = msgw::codecs::codec_info(*id);                        // clock, frame, default PT...
//   CodecParams p{.id = *id, .payload_type = 18, .ptime_ms = 20};
//   msgw::codecs::apply_fmtp(p, "annexb=no");                         // SDP a=fmtp value
//   auto enc = msgw::codecs::make_encoder(p);                         // state allocated here, once
//   auto dec = msgw::codecs::make_decoder(p);
// Per-frame side (noexcept, no allocation, no locks, no logging):
//   std::size_t n = dec->decode(payload, pcm);     // samples written; 0 and dec->last_error() on bad input
//   enc->encode(pcm.first(enc->frame_samples()), bytes);
//
// All codecs here are narrowband: 16-bit linear PCM at 8000 Hz is the common representation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "msgw/codecs/codec_id.hpp"

namespace msgw::codecs {

inline constexpr std::uint32_t kSampleRate = 8000;
inline constexpr std::size_t kSamplesPerMs = 8;
// The re-framing quantum: every supported codec and ptime is a multiple of 10 ms.
inline constexpr std::size_t kBlockSamples = 80;

// G.726-32 bit order inside a byte. RFC 3551 puts the first code word in the
// low nibble; ITU I.366.2 AAL2 (Asterisk "g726aal2", most SPA firmware) puts it
// in the high nibble. The SDP name does not reliably tell them apart, so it is a
// per-peer setting.
enum class G726Packing : std::uint8_t { Rfc3551 = 0, Aal2 = 1 };

struct CodecInfo {
  CodecId id;
  std::string_view sdp_name;        // canonical rtpmap encoding name
  std::uint32_t clock_rate;         // RTP clock
  std::uint8_t static_payload_type; // RFC 3551 static PT, or kDynamicPayloadType
  std::uint16_t frame_samples;      // smallest unit the codec encodes (1 for G.711, 2 for G.726-32, 80 for G.729)
  std::uint16_t frame_bytes;        // bytes of one such unit (G.729 speech frame: 10)
  std::uint16_t frame_us;           // duration of that unit in µs (G.711: 125, G.726-32: 250, G.729: 10000)
  std::uint16_t default_ptime_ms;   // RFC 3551 default packet time
  bool sample_based;                // RFC 3551 sample-based (any length) vs frame-based
};
inline constexpr std::uint8_t kDynamicPayloadType = 0xFF;

// Negotiated parameters of one codec on one leg.
struct CodecParams {
  CodecId id = CodecId::Pcmu;
  std::uint8_t payload_type = 0;           // RTP PT used on the leg
  std::uint16_t ptime_ms = 20;             // packet time (egress framing); 10/20/30/40/60
  G726Packing g726_packing = G726Packing::Rfc3551;
  bool g729_annexb = true;                 // RFC 4856: absent fmtp means annexb=yes
};

const CodecInfo& codec_info(CodecId id) noexcept;

// Lookup by SDP encoding name (case-insensitive): PCMU, PCMA, G726-32 (also
// AAL2-G726-32, which selects AAL2 packing), G729, G729a, G729A. Clock must be 8000.
std::optional<CodecId> codec_from_sdp_name(std::string_view name, std::uint32_t clock_rate = kSampleRate) noexcept;

struct RtpMap {
  std::string_view encoding;   // view into the input
  std::uint32_t clock_rate = 0;
  std::uint16_t channels = 1;
};
// Parses the value of "a=rtpmap:<pt> <value>", e.g. "G729/8000" or "PCMU/8000/1".
std::optional<RtpMap> parse_rtpmap(std::string_view value) noexcept;

// Builds CodecParams from one SDP payload format. rtpmap may be empty for a
// static PT (0, 8, 18; 2 is read as G726-32 for old SPA firmware). fmtp is the
// a=fmtp value for this PT or empty. Returns nullopt for codecs we do not support.
std::optional<CodecParams> params_from_sdp(std::uint8_t payload_type, std::string_view rtpmap,
                                           std::string_view fmtp) noexcept;

// Applies an a=fmtp value (G.729: annexb=yes|no). Unknown parameters are ignored
// as RFC 4566 requires; returns false on a malformed value for a known parameter.
bool apply_fmtp(CodecParams& params, std::string_view fmtp) noexcept;

// Packet time the engine actually uses for a requested one: a=ptime is only a hint
// (RFC 4566/3264), so instead of failing a call we use the nearest supported value at or
// below it: a multiple of 10 ms between 10 and 60 (0 means the codec default, 20).
std::uint16_t effective_ptime_ms(std::uint16_t requested_ms) noexcept;

// SDP text for an answer/offer: rtpmap value ("G729/8000") and fmtp value ("" if none needed).
std::string format_rtpmap(const CodecParams& params);
std::string format_fmtp(const CodecParams& params);

// What one encoded G.729 frame (or G.711/G.726 block) turned out to be.
enum class FrameKind : std::uint8_t {
  Speech = 0,   // normal frame
  Sid = 1,      // G.729 Annex B silence descriptor (2 bytes)
  NoData = 2,   // G.729 Annex B DTX: nothing to transmit for this frame
};

enum class DecodeError : std::uint8_t {
  None = 0,
  Empty,          // zero-length payload
  BadLength,      // length not a valid multiple for the codec (odd G.729 size...)
  TooLarge,       // more audio than the caller's buffer can hold
};

// Stateful encoder. frame_samples() is the granularity: encode() accepts any
// multiple of it (the transcoder feeds G.729 one 10 ms frame at a time so DTX
// decisions are visible).
class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual CodecId id() const noexcept = 0;
  virtual std::size_t frame_samples() const noexcept = 0;
  // Upper bound of bytes produced for `samples` input samples.
  virtual std::size_t max_bytes(std::size_t samples) const noexcept = 0;
  // pcm.size() must be a multiple of frame_samples() and out.size() >= max_bytes(pcm.size());
  // otherwise nothing is encoded and 0 is returned. `kind` reports the last frame's kind.
  virtual std::size_t encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out,
                             FrameKind* kind = nullptr) noexcept = 0;
  // Back to the initial state. Setup-time only: bcg729 has no re-init, so G.729 re-creates
  // its context (allocates); if that fails the old state is kept.
  virtual void reset() noexcept = 0;
};

// Stateful decoder with packet-loss concealment.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual CodecId id() const noexcept = 0;
  // Number of samples a payload will decode to, or 0 with *err set if the payload is invalid.
  virtual std::size_t samples_in(std::span<const std::uint8_t> payload, DecodeError* err) const noexcept = 0;
  // Decodes one RTP payload; returns samples written (0 on error, see last_error()).
  virtual std::size_t decode(std::span<const std::uint8_t> payload, std::span<std::int16_t> pcm) noexcept = 0;
  // Fills pcm with concealment for lost audio (G.729 frame erasure; spandsp PLC
  // for G.711/G.726). pcm.size() must be a multiple of 80 samples for G.729.
  virtual std::size_t conceal(std::span<std::int16_t> pcm) noexcept = 0;
  virtual DecodeError last_error() const noexcept = 0;
  // Setup-time only, as Encoder::reset().
  virtual void reset() noexcept = 0;

 protected:
  // samples_in() checked against the room in pcm: 0 with `err` set when
  // the payload is invalid or decodes to more than `room` samples.
  std::size_t checked_samples(std::span<const std::uint8_t> payload, std::size_t room,
                              DecodeError& err) const noexcept {
    const std::size_t n = samples_in(payload, &err);
    if (n > room) {
      err = DecodeError::TooLarge;
      return 0;
    }
    return n;
  }
};

// Allocate codec state (setup time). Throw std::bad_alloc / std::runtime_error on failure.
std::unique_ptr<Encoder> make_encoder(const CodecParams& params);
std::unique_ptr<Decoder> make_decoder(const CodecParams& params);

}  // namespace msgw::codecs
