// SPDX-License-Identifier: GPL-3.0-or-later
// The call's vocabulary, defined once: its legs, states, events, the
// transition table that says which event is valid in which state, and the
// errors a call can end with (each mapped to one SIP status and reason).
//
// Everything here is data; call.cpp acts on it. Unit tests walk the table
// (tests/unit/control/test_call_transitions.cpp), docs/ARCHITECTURE.md draws it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace msgw::control {

// a: the side that called us (we are its UAS). b: the side we call (UAC).
// For an outbound call a is the phone and b the trunk; inbound, the reverse.
enum class LegId : uint8_t { a = 0, b = 1 };
constexpr LegId other(LegId l) { return l == LegId::a ? LegId::b : LegId::a; }
constexpr std::size_t index(LegId l) { return static_cast<std::size_t>(l); }
constexpr std::string_view leg_name(LegId l) { return l == LegId::a ? "a" : "b"; }

// X(name): the call's states, in the order a call goes through them.
#define MSGW_CALL_STATES(X) \
  X(routing)   /* A's INVITE accepted; B's INVITE placed (or being failed over) */ \
  X(early)     /* B sent a provisional (ringing, early media)                   */ \
  X(connecting) /* B answered; its flow is being added: ACK and 200 wait for it */ \
  X(offering)  /* A's INVITE had no offer: B answered and is ACKed, A's 2xx     \
                  carries our offer; A's ACK brings the answer, then the flow  */ \
  X(answered)  /* B answered, A got the 2xx, the media flow is programmed       */ \
  X(ended)     /* final: the call record is written and the call is erased      */

enum class CallState : uint8_t {
#define MSGW_X(name) name,
  MSGW_CALL_STATES(MSGW_X)
#undef MSGW_X
};
inline constexpr std::size_t kCallStateCount = 0
#define MSGW_X(name) +1
    MSGW_CALL_STATES(MSGW_X)
#undef MSGW_X
    ;
std::string_view state_name(CallState s);

// X(name, is_request_with_transaction): everything that can happen to a call.
// Requests carry a server transaction that must get an answer even when the
// event is not valid in the call's state.
#define MSGW_CALL_EVENTS(X)                                                       \
  X(b_provisional, false)   /* 1xx (not 100) to B's INVITE                   */  \
  X(b_answer, false)        /* 2xx to B's INVITE                             */  \
  X(b_failure, false)       /* 3xx-6xx to B's INVITE                         */  \
  X(b_challenge, false)     /* 401/407 to B's INVITE (a trunk's digest auth) */  \
  X(b_timeout, false)       /* B's INVITE transaction timed out (Timer B)    */  \
  X(b_deadline, false)      /* the trunk's answer deadline passed            */  \
  X(a_cancel, false)        /* A cancelled its INVITE (200/487 already sent) */  \
  X(bye_a, true)            /* BYE from A                                    */  \
  X(bye_b, true)            /* BYE from B                                    */  \
  X(reinvite_a, true)       /* re-INVITE (or UPDATE with an offer) from A    */  \
  X(reinvite_b, true)       /* re-INVITE (or UPDATE with an offer) from B    */  \
  X(reinvite_answer, false) /* final answer to a re-INVITE we sent           */  \
  X(reinvite_challenge, false) /* 401/407 to a re-INVITE we sent (a trunk's)  */  \
  X(reinvite_timeout, false) /* a re-INVITE we sent got no final response     */  \
  X(in_dialog_other, true)  /* NOTIFY, OPTIONS, UPDATE without an offer, ... */  \
  X(info, true)             /* INFO from either leg: passed on to the other  */  \
  X(relay_dialog_gone, false) /* a request we passed on got 481 / 408 or no    \
                               answer: that leg's dialog is gone            */  \
  X(ack_timeout, false)     /* A never ACKed our 2xx                         */  \
  X(ack, false)             /* an ACK of our 2xx to an INVITE (an answer when  \
                               the 2xx offered: delayed or offerless)      */  \
  X(media_timeout, false)   /* the dataplane saw no RTP for too long         */  \
  X(session_timer, false)   /* a leg's RFC 4028 timer: time to refresh it, or \
                               its refresher went silent                    */  \
  X(dataplane_restart, false) /* a new dataplane generation: flows are gone  */  \
  X(hangup, false)          /* msgwctl hangup                                */  \
  X(flow_update_failed, false) /* the dataplane refused or never acked a flow modify */ \
  X(flow_ready, false)      /* the dataplane acknowledged the flow's add      */  \
  X(flow_refused, false)    /* the dataplane refused the add or never acked it */

enum class CallEvent : uint8_t {
#define MSGW_X(name, req) name,
  MSGW_CALL_EVENTS(MSGW_X)
#undef MSGW_X
};
inline constexpr std::size_t kCallEventCount = 0
#define MSGW_X(name, req) +1
    MSGW_CALL_EVENTS(MSGW_X)
#undef MSGW_X
    ;
std::string_view event_name(CallEvent e);
bool event_is_request(CallEvent e);

// What the call does with an event in a state.
enum class Handling : uint8_t {
  act,     // run the event's action; the call then is in one of `to`
  reject,  // not valid here: answer the request with `status` (a log line says why)
  ignore,  // not valid here and nothing to answer (a stray or late response, a timer)
};

constexpr uint8_t to_mask(CallState s) { return uint8_t(1u << static_cast<unsigned>(s)); }

struct Transition {
  CallState from;
  CallEvent event;
  Handling handling;
  uint8_t to;       // bit mask of the states the action may leave the call in
  int status = 0;   // the answer for `reject`
};

// The table: one row per (state, event) pair, every pair present once
// (checked at compile time in call_model.cpp).
const Transition& transition(CallState from, CallEvent event);
const std::array<Transition, kCallStateCount * kCallEventCount>& transition_table();

// X(name, status, reason): why a call attempt or a call ended badly, with the
// SIP status and reason phrase the caller gets. Status 0: the status comes
// from the callee (mapped by relay_status()).
#define MSGW_CALL_ERRORS(X)                                                          \
  X(offer_unusable, 488, "Not Acceptable Here")      /* bad SDP, no audio */        \
  X(no_allowed_codec, 488, "Not Acceptable Here")                                   \
  X(address_incomplete, 484, "Address Incomplete")                                  \
  X(no_route, 404, "No Route")                                                      \
  X(unknown_subscriber, 403, "Forbidden")                                           \
  X(foreign_domain, 403, "Domain Not Served Here")   /* Request-URI host */       \
  X(unknown_did, 404, "No Such DID")                                                \
  X(not_registered, 480, "Subscriber Not Registered")                               \
  X(unreachable_contact, 480, "Unreachable Contact")                                \
  X(out_of_media_ports, 503, "Out Of Media Ports")                                  \
  X(no_trunk_available, 503, "Service Unavailable")                                 \
  X(trunk_auth_failed, 503, "Service Unavailable")   /* challenge not answerable */ \
  X(subscriber_unreachable, 480, "Temporarily Unavailable")                         \
  X(flow_table_full, 503, "Service Unavailable")                                    \
  X(dataplane_refused, 503, "Service Unavailable")                                  \
  X(answer_unusable, 488, "Not Acceptable Here")                                    \
  X(ack_answer_unusable, 488, "Not Acceptable Here") /* A's ACK: no or bad answer */ \
  X(callee_failed, 0, "")                                                           \
  X(callee_timeout, 408, "Request Timeout")                                         \
  X(callee_bye_before_answer, 487, "Request Terminated")                            \
  X(caller_bye_before_answer, 487, "Request Terminated")                            \
  X(cancelled, 487, "Request Terminated")                                           \
  X(operator_hangup, 480, "Temporarily Unavailable")                                \
  X(loop_detected, 482, "Loop Detected")                                            \
  X(too_many_hops, 483, "Too Many Hops")                                            \
  X(session_interval_too_small, 422, "Session Interval Too Small") /* RFC 4028 */    \
  X(request_pending, 491, "Request Pending")                                        \
  X(media_update_failed, 500, "Media Update Failed")

enum class CallError : uint8_t {
#define MSGW_X(name, status, reason) name,
  MSGW_CALL_ERRORS(MSGW_X)
#undef MSGW_X
};

inline constexpr std::size_t kCallErrorCount = 0
#define MSGW_X(name, status, reason) +1
    MSGW_CALL_ERRORS(MSGW_X)
#undef MSGW_X
    ;

struct ErrorInfo {
  std::string_view name;
  int status;
  std::string_view reason;
};
const ErrorInfo& error_info(CallError e);

// What the caller hears when the callee failed with `code` (RFC 3261 §16.7
// style: authentication and redirection problems of the trunk are ours).
int relay_status(int code);

}  // namespace msgw::control
