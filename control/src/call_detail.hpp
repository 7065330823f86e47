// SPDX-License-Identifier: GPL-3.0-or-later
// What call.cpp, call_in_dialog.cpp and call_delayed_offer.cpp use to turn SDP into a leg's
// media and to explain a refusal.
#pragma once

#include <string>

#include "msgw/config/config.hpp"
#include "msgw/control/call.hpp"
#include "msgw/control/media_policy.hpp"

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

}  // namespace msgw::control::call_detail
