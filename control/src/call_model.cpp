// SPDX-License-Identifier: GPL-3.0-or-later
// The call's transition table and error table (see call_model.hpp).
#include "msgw/control/call_model.hpp"

namespace msgw::control {
namespace {

using S = CallState;
using E = CallEvent;
using H = Handling;

constexpr uint8_t kRouting = to_mask(S::routing), kEarly = to_mask(S::early),
                  kConnecting = to_mask(S::connecting), kOffering = to_mask(S::offering),
                  kAnswered = to_mask(S::answered), kEnded = to_mask(S::ended);

constexpr Transition act(S from, E e, uint8_t to) { return {from, e, H::act, to, 0}; }
constexpr Transition reject(S from, E e, int status) { return {from, e, H::reject, to_mask(from), status}; }
constexpr Transition ignore(S from, E e) { return {from, e, H::ignore, to_mask(from), 0}; }

// Rows grouped by state. A failure or timeout of B before the answer may
// fail over to the next trunk (staying in routing) or end the call. A flow
// add is posted, not awaited: its ack comes back as flow_ready or
// flow_refused (refused, or not acknowledged in time) on a later loop pass.
constexpr std::array<Transition, kCallStateCount * kCallEventCount> kTable = {{
    // ---- routing
    act(S::routing, E::b_provisional, kEarly),
    // connecting while the add waits; offering when A's INVITE had no offer
    act(S::routing, E::b_answer, kConnecting | kOffering | kAnswered | kEnded),
    act(S::routing, E::b_failure, kRouting | kEnded),
    act(S::routing, E::b_challenge, kRouting | kEnded),
    act(S::routing, E::b_timeout, kRouting | kEnded),
    act(S::routing, E::b_deadline, kRouting | kEnded),
    act(S::routing, E::a_cancel, kEnded),
    act(S::routing, E::bye_a, kEnded),
    reject(S::routing, E::bye_b, 481),  // B has no dialog before a provisional with a tag
    reject(S::routing, E::reinvite_a, 491),
    reject(S::routing, E::reinvite_b, 491),
    ignore(S::routing, E::reinvite_answer),
    ignore(S::routing, E::reinvite_challenge),  // no re-INVITE before the answer
    ignore(S::routing, E::reinvite_timeout),
    act(S::routing, E::in_dialog_other, kRouting),
    act(S::routing, E::info, kRouting),
    ignore(S::routing, E::relay_dialog_gone),
    ignore(S::routing, E::ack_timeout),
    ignore(S::routing, E::ack),  // no 2xx to ACK yet: the stack drops it
    ignore(S::routing, E::media_timeout),
    ignore(S::routing, E::session_timer),
    // A flow exists in routing only after a failed trunk's early media: the
    // new dataplane lost it, the call forgets it (the next answer adds one).
    act(S::routing, E::dataplane_restart, kRouting),
    act(S::routing, E::hangup, kEnded),
    // The flow carried a failed trunk's early media: the next answer
    // programs it again in full.
    ignore(S::routing, E::flow_update_failed),
    // A failed trunk's early-media add: the flow is kept (ready) or
    // forgotten (refused) for the next trunk's answer.
    act(S::routing, E::flow_ready, kRouting),
    act(S::routing, E::flow_refused, kRouting),
    // ---- early
    act(S::early, E::b_provisional, kEarly),
    act(S::early, E::b_answer, kConnecting | kOffering | kAnswered | kEnded),
    act(S::early, E::b_failure, kRouting | kEnded),
    act(S::early, E::b_challenge, kRouting | kEnded),  // a new INVITE: routing again
    act(S::early, E::b_timeout, kRouting | kEnded),
    ignore(S::early, E::b_deadline),  // a provisional proved the trunk alive
    act(S::early, E::a_cancel, kEnded),
    act(S::early, E::bye_a, kEnded),
    act(S::early, E::bye_b, kEnded),
    reject(S::early, E::reinvite_a, 491),
    reject(S::early, E::reinvite_b, 491),
    ignore(S::early, E::reinvite_answer),
    ignore(S::early, E::reinvite_challenge),
    ignore(S::early, E::reinvite_timeout),
    act(S::early, E::in_dialog_other, kEarly),
    act(S::early, E::info, kEarly),
    ignore(S::early, E::relay_dialog_gone),
    ignore(S::early, E::ack_timeout),
    ignore(S::early, E::ack),
    ignore(S::early, E::media_timeout),
    ignore(S::early, E::session_timer),
    act(S::early, E::dataplane_restart, kEarly),  // early media flow
    act(S::early, E::hangup, kEnded),
    // Early media keeps the flow as it was; the answer programs it in full.
    act(S::early, E::flow_update_failed, kEarly),
    // The early-media add: A gets the 183 with SDP (ready) or the
    // provisional without it (refused); after a dataplane restart the flow
    // is simply back (ready) or lost until the answer (refused).
    act(S::early, E::flow_ready, kEarly),
    act(S::early, E::flow_refused, kEarly),
    // ---- connecting: B's 2xx is in, not yet ACKed; A has no final answer.
    ignore(S::connecting, E::b_provisional),
    ignore(S::connecting, E::b_answer),  // a 2xx retransmission: the ACK goes with flow_ready
    ignore(S::connecting, E::b_failure),
    ignore(S::connecting, E::b_challenge),
    ignore(S::connecting, E::b_timeout),
    ignore(S::connecting, E::b_deadline),
    act(S::connecting, E::a_cancel, kEnded),  // ACK + BYE to B
    act(S::connecting, E::bye_a, kEnded),     // 487 to A's INVITE, ACK + BYE to B
    act(S::connecting, E::bye_b, kEnded),     // A gets 487 "callee BYE before answer"
    reject(S::connecting, E::reinvite_a, 491),
    reject(S::connecting, E::reinvite_b, 491),
    ignore(S::connecting, E::reinvite_answer),
    ignore(S::connecting, E::reinvite_challenge),
    ignore(S::connecting, E::reinvite_timeout),
    act(S::connecting, E::in_dialog_other, kConnecting),
    act(S::connecting, E::info, kConnecting),
    ignore(S::connecting, E::relay_dialog_gone),
    ignore(S::connecting, E::ack_timeout),
    ignore(S::connecting, E::ack),
    ignore(S::connecting, E::media_timeout),
    ignore(S::connecting, E::session_timer),
    // The add went to the old dataplane: posted again to the new one
    // (connecting), or the call fails as a refused add does (ended).
    act(S::connecting, E::dataplane_restart, kConnecting | kEnded),
    act(S::connecting, E::hangup, kEnded),
    // A modify queued behind the add (the 2xx came during an early-media
    // add) is answered after it: flow_ready has moved the call on by then.
    ignore(S::connecting, E::flow_update_failed),
    act(S::connecting, E::flow_ready, kAnswered),  // ACK B, 200 to A
    act(S::connecting, E::flow_refused, kEnded),   // ACK + BYE to B, 503 to A
    // ---- offering: A's INVITE had no offer (RFC 3261 §13.2.1 delayed
    // offer). B answered and is ACKed; A got the 2xx with our offer; A's ACK
    // brings its answer and the flow's add; flow_ready completes the call.
    ignore(S::offering, E::b_provisional),
    ignore(S::offering, E::b_answer),  // retransmissions: the stack re-ACKs
    ignore(S::offering, E::b_failure),
    ignore(S::offering, E::b_challenge),
    ignore(S::offering, E::b_timeout),
    ignore(S::offering, E::b_deadline),
    ignore(S::offering, E::a_cancel),  // too late: the INVITE was answered
    act(S::offering, E::bye_a, kEnded),  // BYE to B
    act(S::offering, E::bye_b, kEnded),  // BYE to A
    reject(S::offering, E::reinvite_a, 491),  // the offer of the 2xx is still unanswered
    reject(S::offering, E::reinvite_b, 491),
    ignore(S::offering, E::reinvite_answer),
    ignore(S::offering, E::reinvite_challenge),
    ignore(S::offering, E::reinvite_timeout),
    act(S::offering, E::in_dialog_other, kOffering),
    act(S::offering, E::info, kOffering),
    ignore(S::offering, E::relay_dialog_gone),
    act(S::offering, E::ack_timeout, kEnded),  // BYE to both
    // The answer applied, the flow's add posted (offering until its ack); no
    // or an unusable answer: BYE to both.
    act(S::offering, E::ack, kOffering | kEnded),
    ignore(S::offering, E::media_timeout),
    ignore(S::offering, E::session_timer),  // armed at our 2xx; the ACK timeout (32 s) comes first
    // An add posted to the old dataplane is posted again (or the call ends).
    act(S::offering, E::dataplane_restart, kOffering | kEnded),
    act(S::offering, E::hangup, kEnded),
    ignore(S::offering, E::flow_update_failed),  // no modify before the add
    act(S::offering, E::flow_ready, kAnswered),
    act(S::offering, E::flow_refused, kEnded),  // BYE to both
    // ---- answered
    ignore(S::answered, E::b_provisional),
    ignore(S::answered, E::b_answer),  // 2xx retransmissions: the stack re-ACKs
    ignore(S::answered, E::b_failure),
    ignore(S::answered, E::b_challenge),
    ignore(S::answered, E::b_timeout),
    ignore(S::answered, E::b_deadline),
    ignore(S::answered, E::a_cancel),  // too late: the INVITE was answered
    act(S::answered, E::bye_a, kEnded),
    act(S::answered, E::bye_b, kEnded),
    act(S::answered, E::reinvite_a, kAnswered),
    act(S::answered, E::reinvite_b, kAnswered),
    act(S::answered, E::reinvite_answer, kAnswered | kEnded),  // 481/408: the dialog is gone
    // Answered once with the trunk's credentials; refused again: the
    // re-INVITE failed and the session stays as it was (RFC 3261 §14.1).
    act(S::answered, E::reinvite_challenge, kAnswered),
    // The dialog is gone (RFC 3261 §14.1): BYE both legs.
    act(S::answered, E::reinvite_timeout, kEnded),
    act(S::answered, E::in_dialog_other, kAnswered),
    act(S::answered, E::info, kAnswered),
    // RFC 3261 §12.2.1.2: the dialog is gone; BYE both legs.
    act(S::answered, E::relay_dialog_gone, kEnded),
    act(S::answered, E::ack_timeout, kEnded),
    // The ACK of the answered INVITE or of a re-INVITE's 2xx; after an
    // offerless re-INVITE it carries the answer to the offer of our 2xx,
    // which may move the leg's media (RFC 3725 third-party call control).
    act(S::answered, E::ack, kAnswered | kEnded),
    act(S::answered, E::media_timeout, kEnded),
    // Our refresh re-INVITE sent (answered), or no refresh from the peer: BYE both legs.
    act(S::answered, E::session_timer, kAnswered | kEnded),
    act(S::answered, E::dataplane_restart, kAnswered),
    act(S::answered, E::hangup, kEnded),
    // Both legs were told of media the dataplane does not carry.
    act(S::answered, E::flow_update_failed, kEnded),
    // The re-add after a dataplane restart: counted (ready) or logged, the
    // call going on without media as before (refused).
    act(S::answered, E::flow_ready, kAnswered),
    act(S::answered, E::flow_refused, kAnswered),
    // ---- ended: nothing reaches an erased call, but the table is total
    ignore(S::ended, E::b_provisional),
    ignore(S::ended, E::b_answer),
    ignore(S::ended, E::b_failure),
    ignore(S::ended, E::b_challenge),
    ignore(S::ended, E::b_timeout),
    ignore(S::ended, E::b_deadline),
    ignore(S::ended, E::a_cancel),
    reject(S::ended, E::bye_a, 481),
    reject(S::ended, E::bye_b, 481),
    reject(S::ended, E::reinvite_a, 481),
    reject(S::ended, E::reinvite_b, 481),
    ignore(S::ended, E::reinvite_answer),
    ignore(S::ended, E::reinvite_challenge),
    ignore(S::ended, E::reinvite_timeout),
    reject(S::ended, E::in_dialog_other, 481),
    reject(S::ended, E::info, 481),
    ignore(S::ended, E::relay_dialog_gone),
    ignore(S::ended, E::ack_timeout),
    ignore(S::ended, E::ack),
    ignore(S::ended, E::media_timeout),
    ignore(S::ended, E::session_timer),
    ignore(S::ended, E::dataplane_restart),
    ignore(S::ended, E::hangup),
    ignore(S::ended, E::flow_update_failed),
    ignore(S::ended, E::flow_ready),
    ignore(S::ended, E::flow_refused),
}};

constexpr std::size_t slot(S s, E e) {
  return static_cast<std::size_t>(s) * kCallEventCount + static_cast<std::size_t>(e);
}

// Every (state, event) pair exactly once, in slot order, so that lookup is
// an index; a request is never silently ignored (it must be answered).
constexpr bool table_is_total_and_ordered() {
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    const Transition& t = kTable[i];
    if (slot(t.from, t.event) != i) return false;
    if (t.handling == H::reject && t.status < 400) return false;
    if (t.handling == H::act && t.to == 0) return false;
  }
  return true;
}
static_assert(table_is_total_and_ordered(), "call transition table: one row per (state, event), in order");

constexpr bool requests_are_answered() {
  constexpr bool is_request[] = {
#define MSGW_X(name, req) req,
      MSGW_CALL_EVENTS(MSGW_X)
#undef MSGW_X
  };
  for (const Transition& t : kTable)
    if (is_request[static_cast<std::size_t>(t.event)] && t.handling == H::ignore) return false;
  return true;
}
static_assert(requests_are_answered(), "a request event must be acted on or rejected with a status");

constexpr std::string_view kStateNames[] = {
#define MSGW_X(name) #name,
    MSGW_CALL_STATES(MSGW_X)
#undef MSGW_X
};

constexpr std::string_view kEventNames[] = {
#define MSGW_X(name, req) #name,
    MSGW_CALL_EVENTS(MSGW_X)
#undef MSGW_X
};

constexpr bool kEventIsRequest[] = {
#define MSGW_X(name, req) req,
    MSGW_CALL_EVENTS(MSGW_X)
#undef MSGW_X
};

constexpr ErrorInfo kErrors[] = {
#define MSGW_X(name, status, reason) {#name, status, reason},
    MSGW_CALL_ERRORS(MSGW_X)
#undef MSGW_X
};

}  // namespace

std::string_view state_name(CallState s) { return kStateNames[static_cast<std::size_t>(s)]; }
std::string_view event_name(CallEvent e) { return kEventNames[static_cast<std::size_t>(e)]; }
bool event_is_request(CallEvent e) { return kEventIsRequest[static_cast<std::size_t>(e)]; }

const Transition& transition(CallState from, CallEvent event) { return kTable[slot(from, event)]; }
const std::array<Transition, kCallStateCount * kCallEventCount>& transition_table() { return kTable; }

const ErrorInfo& error_info(CallError e) { return kErrors[static_cast<std::size_t>(e)]; }

int relay_status(int code) {
  if (code == 401 || code == 407) return 503;
  if (code >= 300 && code < 400) return 502;
  return code;
}

}  // namespace msgw::control
