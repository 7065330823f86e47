// SPDX-License-Identifier: GPL-3.0-or-later
// What the call's files share to turn SDP into a leg's
// media, to explain a refusal and to pass a request on to the other leg.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "msgw/config/config.hpp"
#include "msgw/control/call.hpp"
#include "msgw/control/media_policy.hpp"
#include "msgw/sip/dialog.hpp"

namespace msgw::control::call_detail {

namespace dp = msgw::dataplane;
namespace sdp = msgw::sip::sdp;

// A negotiated stream becomes the leg's media: codec (with the peer's
// configured G.726 packing), DTMF payload type, where to send, packet time
// (the peer's a=ptime, else the configured default, capped by its
// a=maxptime), whether unnegotiated payload types may pass to it.
inline void take_stream(Leg& l, const sdp::NegotiatedStream& st, uint16_t remote_maxptime_ms, const PeerMedia& peer) {
  l.codec = with_peer_packing(st.codec, peer);
  l.has_codec = true;
  l.dtmf_pt = st.telephone_event_pt.value_or(dp::kNoPayloadType);
  l.remote_ip = config::parse_ipv4(st.remote_address).value_or(0);
  l.remote_port = st.remote_port;
  l.ptime = leg_ptime(st.remote_ptime_ms, remote_maxptime_ms, peer.default_ptime_ms);
  l.codec.ptime_ms = l.ptime;
  l.payload_passthrough = peer.payload_passthrough;
}

// The a=maxptime of the SDP's m-line `media_index` (0: none).
inline uint16_t maxptime_of(const sdp::SessionDescription& s, std::size_t media_index) {
  return media_index < s.media.size() ? s.media[media_index].maxptime_ms : 0;
}

// A Warning header's value (RFC 3261 §20.43) naming why we refused.
inline std::string warning(const std::string& why) { return "399 msgw \"" + why + "\""; }

// `text` as an RFC 3261 quoted-string ('"' and '\\' escaped).
inline std::string quoted(std::string_view text) {
  std::string q = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + '"';
}

// A Reason header's value (RFC 3326) for a BYE or a failure: the SIP cause
// and its text as a quoted-string.
inline std::string reason(int cause, std::string_view text) {
  return "SIP;cause=" + std::to_string(cause) + ";text=" + quoted(text);
}

// A name-addr: `"display" <uri>`, the display name left out when empty.
inline std::string name_addr(std::string_view display, std::string_view uri) {
  return (display.empty() ? std::string() : quoted(display) + " ") + "<" + std::string(uri) + ">";
}

// The answer in `msg` (an ACK) to the offer we last sent on `ours`: its
// parsed SDP and negotiated stream, or why it is not usable.
inline std::optional<std::string> read_answer(sip::MessageRef msg, const Leg& ours, sdp::SessionDescription& answer,
                                              sdp::NegotiatedStream& stream) {
  const std::string body = msg.sdp();
  if (body.empty()) return std::string("ACK without the answer to our offer");
  std::string why;
  sdp::SessionDescription offer;
  if (sdp::parse(ours.sdp_body, offer, &why) != sdp::SdpError::ok || sdp::parse(body, answer, &why) != sdp::SdpError::ok)
    return why;
  if (sdp::process_answer(offer, answer, stream, &why) != sdp::SdpError::ok || stream.media_index >= answer.media.size())
    return why;
  return std::nullopt;
}

// `from` (an INFO) as a request of ours in `to`'s dialog: same method,
// its body whole, and the headers that say what the body is (RFC 6086's
// Info-Package; Content-Disposition). Empty when it cannot be built.
inline sip::Message pass_on(sip::Dialog& to, sip::MessageRef from) {
  sip::Message rq = to.make_request(from.method());
  if (!rq || !rq.copy_body_from(from)) return {};
  for (const char* h : {"Info-Package", "Content-Disposition"})
    if (std::string v = from.header(h); !v.empty()) rq.add_header(h, v);
  return rq;
}

}  // namespace msgw::control::call_detail
