// Reading the SDP of a call's legs: the first audio stream, the codecs it
// offers, the offer of A's INVITE with the caller's codec policy applied.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "msgw/codecs/codec.hpp"
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
// permits into `usable` (in `allowed`'s order).
std::optional<OfferProblem> take_offer(sip::MessageRef invite, const std::vector<std::string>& allowed,
                                       sip::sdp::SessionDescription& offer, std::vector<codecs::CodecId>& usable);

}  // namespace msgw::control
