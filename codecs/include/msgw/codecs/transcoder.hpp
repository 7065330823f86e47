// SPDX-License-Identifier: GPL-3.0-or-later
// msgw transcoder: one direction of one media session (ingress leg -> egress leg).
//
// Usage (dataplane):
//   // flow add (main lcore or worker setup; allocates all codec state once, may fail):
//   msgw::codecs::TranscoderConfig cfg;
//   cfg.ingress = {.id = CodecId::G729, .payload_type = 18, .ptime_ms = 30};
//   cfg.egress  = {.id = CodecId::Pcmu, .payload_type = 0,  .ptime_ms = 20};
//   cfg.ingress_event_pt = 101; cfg.egress_event_pt = 101;     // RFC 4733, kNoPayloadType if none
//   cfg.egress_timestamp_base = random32;                        // first egress RTP timestamp
//   std::string err;
//   auto tc = msgw::codecs::Transcoder::create(cfg, &err);       // nullptr + err on bad config
//
//   // per packet (worker lcore; noexcept, no allocation, no locks, no logging):
//   std::array<msgw::codecs::EgressPacket, msgw::codecs::kMaxEgressPerCall> out;  // reused storage
//   std::size_t n = tc->process(rtp_payload, rtp_pt, rtp_seq, rtp_ts, rtp_marker, out);
//   for (i < n) send RTP(out[i].payload_type, out[i].marker, out[i].timestamp,
//                        {out[i].payload, out[i].length}) with the egress leg's SSRC and next seq.
//
//   // optional: a packet the jitter/timeout logic gave up on -> conceal one ingress packet time:
//   n = tc->conceal_lost(out);
//   // media source changed (new SSRC, re-INVITE): keep egress timeline continuous, marker next:
//   tc->resync();
//   // counters: tc->stats() (written only by the owning worker; read racily for telemetry).
//
// Ingress loss is also inferred from RTP sequence/timestamp gaps (wrap at 65535 handled):
// a gap of up to cfg.max_conceal_ms is filled with the codec's concealment. Late or
// duplicate packets, unknown payload types and malformed payloads are counted and skipped.
// Egress timestamps follow the ingress timeline (offset fixed at the first packet), so
// silence (DTX) gaps and telephone-event timestamps stay aligned with the audio; large
// jumps re-base the offset so the egress timeline stays continuous and set the marker bit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "msgw/codecs/codec.hpp"

namespace msgw::codecs {

// Largest egress payload: 60 ms of G.711 (480 bytes); also bounds telephone-event payloads.
inline constexpr std::size_t kMaxEgressPayload = 480;
// Largest ingress audio accepted in one packet (300 ms); bigger payloads are dropped as TooLarge.
inline constexpr std::size_t kMaxIngressSamples = 2400;
// Enough egress storage for any single process()/conceal_lost() call:
// concealment (max_conceal_ms <= 200) + one 300 ms packet, re-framed to 10 ms, + slack.
inline constexpr std::size_t kMaxEgressPerCall = 56;

struct EgressPacket {
  std::uint32_t timestamp = 0;
  std::uint16_t length = 0;
  std::uint8_t payload_type = 0;
  bool marker = false;
  bool telephone_event = false;   // RFC 4733 pass-through (payload copied untouched)
  std::uint8_t payload[kMaxEgressPayload];
};

struct TranscoderConfig {
  CodecParams ingress;                     // codec + PT packets arrive with (ptime informational)
  CodecParams egress;                      // codec + PT + ptime of packets we emit (ptime passes
                                           // through effective_ptime_ms(); config() shows the result)
  std::uint8_t ingress_event_pt = kNoPayloadType;  // telephone-event PT on the ingress leg
  std::uint8_t egress_event_pt = kNoPayloadType;   // telephone-event PT on the egress leg
  // RFC 4733 requires the telephone-event clock to equal the audio clock, and every codec
  // here runs at 8000 Hz, so event durations need no rescaling: payloads pass untouched.
  std::uint32_t egress_timestamp_base = 0;         // egress RTP timestamp of the first sample
  std::uint16_t max_conceal_ms = 120;              // longer gaps are silence/discontinuity, not loss (<= 200)
  std::uint32_t max_timestamp_jump_ms = 30000;     // larger forward/backward jumps re-base the timeline
};

enum class DropReason : std::uint8_t {
  EmptyPayload = 0,      // zero-length audio payload
  MalformedPayload,      // truncated / odd-sized for the codec, or bad telephone-event payload
  UnexpectedPayloadType, // PT this transcoder was not set up for
  LateOrDuplicate,       // sequence number at or behind what was already played out
  TooLarge,              // more than kMaxIngressSamples of audio, or event payload > kMaxEgressPayload
  EventNotNegotiated,    // telephone-event received but the egress leg has no telephone-event PT
  OutputFull,            // caller's egress storage too small: egress packets lost
  Count
};
inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::Count);

struct TranscoderStats {
  std::uint64_t packets_in = 0;         // every process() call
  std::uint64_t packets_out = 0;        // egress packets produced (audio + events)
  std::uint64_t frames_in = 0;          // ingress codec frames decoded (G.729: 10 ms frames incl. SID; G.711/G.726: packets)
  std::uint64_t frames_out = 0;         // egress codec frames encoded (G.729: 10 ms frames incl. SID/DTX; others: packets)
  std::uint64_t sid_in = 0;             // G.729 Annex B SID frames received
  std::uint64_t sid_out = 0;            // G.729 Annex B SID frames sent
  std::uint64_t concealed_samples = 0;  // samples synthesised for lost audio
  std::uint64_t lost_packets = 0;       // ingress packets inferred lost from sequence gaps or conceal_lost()
  std::uint64_t events_in = 0;          // telephone-event packets received
  std::uint64_t events_out = 0;         // telephone-event packets passed through
  std::uint64_t seq_wraps = 0;          // ingress sequence number wrapped past 65535
  std::uint64_t resyncs = 0;            // timeline re-based (timestamp jump, large sequence jump, resync())
  std::uint64_t dropped[kDropReasonCount] = {};
  std::uint64_t dropped_total() const noexcept {
    std::uint64_t t = 0;
    for (auto d : dropped) t += d;
    return t;
  }
};

class TranscoderImpl;

class Transcoder {
 public:
  // Setup: validates cfg and allocates all state. Returns nullptr and sets *error on failure.
  static std::unique_ptr<Transcoder> create(const TranscoderConfig& cfg, std::string* error) noexcept;
  // Empty string if cfg is usable, otherwise why not.
  static std::string validate(const TranscoderConfig& cfg);

  ~Transcoder();
  Transcoder(const Transcoder&) = delete;
  Transcoder& operator=(const Transcoder&) = delete;

  // One ingress RTP packet (payload only, header already parsed). Writes egress packets into
  // `out` and returns how many. Never throws, allocates or blocks.
  std::size_t process(std::span<const std::uint8_t> payload, std::uint8_t payload_type,
                      std::uint16_t seq, std::uint32_t timestamp, bool marker,
                      std::span<EgressPacket> out) noexcept;

  // The next expected ingress packet is declared lost: conceal one ingress packet time
  // (as last seen) and advance the expected sequence/timestamp, so a late arrival is dropped.
  std::size_t conceal_lost(std::span<EgressPacket> out) noexcept;

  // Emit buffered audio that does not yet fill an egress packet (end of stream / hold).
  std::size_t flush(std::span<EgressPacket> out) noexcept;

  // Source changed: next packet starts a new ingress timeline; egress continues seamlessly
  // after the audio already buffered, and the next egress packet carries the marker bit.
  void resync() noexcept;

  const TranscoderStats& stats() const noexcept;
  const TranscoderConfig& config() const noexcept;
  // Egress RTP timestamp the next audio packet will carry if the stream continues without a gap.
  std::uint32_t next_egress_timestamp() const noexcept;

 private:
  explicit Transcoder(std::unique_ptr<TranscoderImpl> impl) noexcept;
  std::unique_ptr<TranscoderImpl> impl_;
};

}  // namespace msgw::codecs
