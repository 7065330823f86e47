// SPDX-License-Identifier: GPL-3.0-or-later
// Codec policy of a bridged call: relay when the two legs can share a codec,
// transcode only when they must.
//
// The A leg (subscriber) offers; the gateway offers the B leg (trunk) the
// trunk's codecs, the ones the A leg can also take first, so that a trunk
// that accepts one of them lets the call be relayed. When the trunk answers,
// the A leg is answered with the same codec if the subscriber offered it
// (relay), or else with the subscriber's best offered codec (transcode).
#pragma once

#include <optional>
#include <vector>

#include "msgw/codecs/codec.hpp"

namespace msgw::control {

using codecs::CodecId;

// What the A leg offered that the subscriber's policy allows, in the
// subscriber's preference order.
std::vector<CodecId> usable_offer(const std::vector<CodecId>& offered,
                                  const std::vector<CodecId>& subscriber_prefs);

// The B-leg offer: the trunk's codecs, those in `a_usable` first (trunk order
// kept within each group).
std::vector<CodecId> trunk_offer(const std::vector<CodecId>& a_usable,
                                 const std::vector<CodecId>& trunk_prefs);

struct AnswerPlan {
  CodecId a_codec;        // codec to answer the A leg with
  CodecId b_codec;        // codec the trunk chose
  bool transcode = false;
};

// nullopt when the A leg offered nothing usable (the caller answers 488).
std::optional<AnswerPlan> plan_answer(const std::vector<CodecId>& a_usable, CodecId b_codec);

// RFC 4733 events are negotiated on both legs when either side offers them,
// so a tone never has to be regenerated in-band.
inline bool want_telephone_event(bool a_offered, bool b_offered) { return a_offered || b_offered; }

}  // namespace msgw::control
