// SPDX-License-Identifier: GPL-3.0-or-later
// SDP (RFC 4566) parsing with oSIP2's sdp_message_parse, serialisation, and the
// RFC 3264 offer/answer model for the gateway's audio legs.
//
// Codec identity, names, clock rates and default payload types come from the
// codec engine (msgw/codecs/codec.hpp); this file only decides which of the
// offered formats a leg uses. Setup-time code: allocates freely, never throws
// on bad input (errors come back as SdpError plus a message).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "msgw/codecs/codec.hpp"

namespace msgw::sip::sdp {

enum class Direction : std::uint8_t { sendrecv, sendonly, recvonly, inactive };
std::string_view to_string(Direction d) noexcept;
// What the other side should say when we receive `d` (sendonly ↔ recvonly).
Direction reverse(Direction d) noexcept;

enum class AddrType : std::uint8_t { ip4, ip6 };

// Limits on what we accept, to bound work on hostile input.
inline constexpr std::size_t kMaxSdpBytes = 16 * 1024;
inline constexpr std::size_t kMaxMediaLines = 16;
inline constexpr std::size_t kMaxFormatsPerMedia = 64;
inline constexpr std::size_t kMaxAttributesPerMedia = 128;

struct Attribute {
  std::string name, value;  // value empty for property attributes ("a=sendrecv")
};

// One payload format of an RTP m-line with what rtpmap/fmtp say about it.
struct PayloadFormat {
  std::uint8_t pt = 0;
  std::string encoding;       // from rtpmap; empty for a static PT without rtpmap
  std::uint32_t clock_rate = 0;
  std::uint16_t channels = 1;
  std::string fmtp;           // a=fmtp value for this PT, or empty
  // Filled when the codec engine supports this format.
  std::optional<codecs::CodecParams> codec;
  bool telephone_event = false;  // RFC 4733 "telephone-event/8000"
};

struct MediaDescription {
  std::string media;        // "audio", "video", "image", ...
  std::uint16_t port = 0;
  std::uint16_t port_count = 0;  // from "m=audio 5000/2 ..."; 0 if absent
  std::string proto;        // "RTP/AVP", "RTP/SAVP", "udptl", ...
  std::vector<std::string> formats;  // fmt list exactly as on the m-line
  std::vector<PayloadFormat> payloads;  // RTP m-lines: one per numeric format, in m-line order
  // Effective connection (media-level c= or else the session-level one).
  std::string address;
  AddrType addr_type = AddrType::ip4;
  bool has_address = false;
  Direction direction = Direction::sendrecv;  // media-level, else session-level, else sendrecv
  std::uint16_t ptime_ms = 0;                 // 0 = absent
  std::uint16_t maxptime_ms = 0;
  std::vector<Attribute> other_attributes;    // everything not interpreted above

  bool is_rtp() const noexcept;
  // c=0.0.0.0 (or ::) — RFC 2543 style hold.
  bool is_hold_address() const noexcept;
  const PayloadFormat* find_pt(std::uint8_t pt) const noexcept;
};

struct SessionDescription {
  std::string origin_user = "-";
  std::uint64_t session_id = 0;
  std::uint64_t session_version = 0;
  AddrType origin_addr_type = AddrType::ip4;
  std::string origin_address;
  std::string session_name = "-";
  // Session-level connection, if any (media lines also carry their effective one).
  std::string address;
  AddrType addr_type = AddrType::ip4;
  bool has_address = false;
  std::vector<MediaDescription> media;
};

enum class SdpError : std::uint8_t {
  ok,
  empty,
  too_large,
  syntax,               // oSIP2's parser refused it
  bad_version,          // v= missing or not 0
  bad_origin,
  bad_connection,       // unknown nettype/addrtype or address
  missing_connection,   // an active m-line without any c=
  bad_media,            // bad port, proto or format list
  too_many_media,
  too_many_formats,
  no_common_codec,      // offer/answer: nothing acceptable → 488
  answer_mismatch,      // answer does not match our offer (m-line count, unknown PT)
  invalid_argument,     // local policy incomplete
};
std::string_view to_string(SdpError e) noexcept;

// Parses `text`. On failure `out` is unspecified and *why (if given) explains,
// naming the line or field at fault.
SdpError parse(std::string_view text, SessionDescription& out, std::string* why = nullptr);

// Serialises with CRLF line ends: v o s c t m, then per-media c and attributes.
std::string build(const SessionDescription& sdp);

// ---- offer / answer ----

// What this side of a leg wants: codec preference (most preferred first), the
// media address it receives on, and DTMF handling.
struct LocalPolicy {
  std::vector<codecs::CodecId> codecs;   // preference order; must not be empty
  std::string address;                   // our RTP address for this leg
  AddrType addr_type = AddrType::ip4;
  std::uint16_t port = 0;                // our RTP port (even)
  bool telephone_event = true;           // accept / offer RFC 4733
  std::uint8_t telephone_event_pt = 101; // PT when we are the offerer
  bool g729_annexb = true;               // willing to use G.729 Annex B (VAD/CNG)
  std::uint16_t ptime_ms = 0;            // ptime we ask to receive; 0 = mirror the offer / omit
  Direction direction = Direction::sendrecv;  // what we want (sendonly = we put the call on hold)
  bool single_codec_answer = true;       // answer with exactly one codec (+ telephone-event)
  std::string origin_user = "msgw";
  std::uint64_t session_id = 0;          // 0 = derived from the clock when building
  std::uint64_t session_version = 0;
};

// The outcome for one m-line, as the media layer needs it.
struct NegotiatedStream {
  std::size_t media_index = 0;
  bool accepted = false;
  codecs::CodecParams codec{};            // payload_type = the PT on the wire (offerer's numbering)
  std::optional<std::uint8_t> telephone_event_pt;
  std::string telephone_events;           // e.g. "0-15" or "0-16"
  std::string remote_address;
  AddrType remote_addr_type = AddrType::ip4;
  std::uint16_t remote_port = 0;
  std::uint16_t remote_ptime_ms = 0;      // what the peer asked to receive (0 = not said)
  Direction local_direction = Direction::sendrecv;  // direction we announced
  bool remote_hold = false;               // peer sent sendonly / inactive / c=0.0.0.0
};

struct AnswerResult {
  SessionDescription answer;
  std::vector<NegotiatedStream> streams;  // one per m-line of the offer
  // Index into `streams` of the audio stream in use, if any.
  std::optional<std::size_t> active;
};

// RFC 3264 §6: one answer m-line per offer m-line, in order; the first usable
// audio RTP stream is accepted with the best codec by local preference that the
// offer contains (keeping the offerer's PT), plus telephone-event when both
// sides do it; every other m-line is rejected with port 0. Returns
// no_common_codec when no audio stream can be accepted (the caller answers 488).
SdpError make_answer(const SessionDescription& offer, const LocalPolicy& local, AnswerResult& out,
                     std::string* why = nullptr);

// An offer of every codec in `local.codecs` (static PT where one exists, else
// dynamic from 96) plus telephone-event.
SessionDescription make_offer(const LocalPolicy& local);

// Applies the peer's answer to our offer: picks the first codec of the answer
// that we offered, telephone-event, address, direction.
SdpError process_answer(const SessionDescription& our_offer, const SessionDescription& answer,
                        NegotiatedStream& out, std::string* why = nullptr);

// RFC 4733 event list helpers: "0-15,16" → bitmask (bit n = event n, events 0..255
// folded to the 0..63 we care about), and back to the shortest range list.
std::uint64_t parse_event_list(std::string_view fmtp) noexcept;
std::string format_event_list(std::uint64_t mask);

}  // namespace msgw::sip::sdp
