// SPDX-License-Identifier: GPL-3.0-or-later
// Reading the SDP of a call's legs: the first audio stream, the codecs it
// offers, the offer of A's INVITE with the caller's codec policy applied.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "msgw/codecs/codec.hpp"
#include "msgw/config/config.hpp"
#include "msgw/control/call_model.hpp"
#include "msgw/sip/message.hpp"
#include "msgw/sip/sdp.hpp"

namespace msgw::control {

// First audio RTP m-line with a port, if any.
const sip::sdp::MediaDescription* first_audio(const sip::sdp::SessionDescription& s);

// The codecs an m-line offers (each once, offer order); `telephone_event`
// says whether it offers RFC 4733 events.
std::vector<codecs::CodecId> offered_codecs(const sip::sdp::MediaDescription& m, bool* telephone_event = nullptr);

// Codec names of the configuration ("PCMU", "G729", ...) as ids; unknown names are skipped.
std::vector<codecs::CodecId> codec_list(const std::vector<std::string>& names);

struct OfferProblem {
  CallError error;
  std::string warning;  // the Warning header value for the 488
};

// A's INVITE offer: parsed into `offer`, and the offered codecs `allowed`
// permits into `usable` (in `allowed`'s order); the SDP may be a part of a
// multipart body (SIP-I). An INVITE without SDP is a delayed offer: `offer`
// left empty, `usable` all of `allowed`.
std::optional<OfferProblem> take_offer(sip::MessageRef invite, const std::vector<std::string>& allowed,
                                       sip::sdp::SessionDescription& offer, std::vector<codecs::CodecId>& usable);

// What the configuration says about a leg's peer (a subscriber or a trunk),
// beyond what its SDP says.
struct PeerMedia {
  // Packing of G.726-32 announced under its plain name "G726-32" (SPA-class
  // ATAs pack AAL2 under it); "AAL2-G726-32" always means AAL2.
  codecs::G726Packing g726_packing = codecs::G726Packing::Rfc3551;
  uint16_t default_ptime_ms = 20;     // when the peer states no a=ptime
  bool payload_passthrough = false;   // forward static payload types not negotiated on the leg
};

// The subscriber's (or trunk's) own setting, else [codecs]; either may be null.
PeerMedia peer_media(const config::Config& cfg, const config::SubscriberSection* subscriber,
                     const config::TrunkSection* trunk);

// The packet time to send a peer: its a=ptime, else `default_ms`, capped by
// its a=maxptime (RFC 4566: the most it can take in one packet) to a
// multiple of 10 ms, at least 10. 0 = not stated.
uint16_t leg_ptime(uint16_t ptime_ms, uint16_t maxptime_ms, uint16_t default_ms);

// A negotiated codec with the peer's configured G.726 packing applied.
codecs::CodecParams with_peer_packing(codecs::CodecParams codec, const PeerMedia& peer);

}  // namespace msgw::control
