// SPDX-License-Identifier: GPL-3.0-or-later
// The gateway's counters, defined once: the struct, `msgwctl show stats` and
// the metrics endpoint (gateway_metrics.hpp) are generated from
// MSGW_GATEWAY_COUNTERS.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "msgw/control/call_model.hpp"
#include "msgw/metrics/exposition.hpp"

namespace msgw::control {

// X(name, help)
#define MSGW_GATEWAY_COUNTERS(X)                                                   \
  X(calls_attempted, "INVITEs that became calls (routing started)")                \
  X(calls_answered, "calls answered by the callee")                                \
  X(calls_failed, "call attempts that ended without an answer (not cancelled)")    \
  X(calls_cancelled, "call attempts cancelled by the caller")                      \
  X(calls_restored, "answered calls taken over from a previous process")           \
  X(inbound_calls, "calls from a trunk to a subscriber")                           \
  X(outbound_calls, "calls from a subscriber to a trunk")                          \
  X(relayed_calls, "answered calls relayed without transcoding")                   \
  X(transcoded_calls, "answered calls transcoded between the legs")                \
  X(auth_challenges, "401/407 challenges sent")                                    \
  X(auth_failures, "requests with wrong credentials")                              \
  X(auth_blocked_403, "requests refused because their source is blocked")          \
  X(registrations, "successful REGISTERs")                                         \
  X(options, "OPTIONS answered")                                                   \
  X(failovers, "INVITEs moved to the next trunk")                                  \
  X(redirects_followed, "trunk 3xx followed: the INVITE again to the Contact, same trunk") \
  X(trunks_unresolved, "trunks by name skipped by a call: no DNS answer yet")       \
  X(reinvites, "re-INVITEs received")                                              \
  X(info_relayed, "INFO requests passed on to the other leg (DTMF by SIP INFO, RFC 6086 packages)") \
  X(info_unrelayed, "INFO requests answered 200 but not passed on: the other leg had no dialog yet") \
  X(delayed_offers, "INVITEs without an offer: our 2xx offered, the ACK answered") \
  X(ack_answers_unusable, "ACKs without a usable answer to our 2xx's offer (a delayed offer's call ends; a re-INVITE's session stays)") \
  X(media_timeouts, "calls ended by the dataplane's media timeout")                \
  X(sessions_expired, "calls ended because a leg's refresher never refreshed its session (RFC 4028 session timer)") \
  X(session_refreshes, "session refresh re-INVITEs sent as a leg's refresher (RFC 4028)") \
  X(session_intervals_too_small, "requests answered 422: a Session-Expires below our Min-SE of 90 s") \
  X(media_errors, "flow programming refused or timed out")                         \
  X(dataplane_restarts, "dataplane generations seen after the first")              \
  X(flows_reprogrammed, "flows programmed again after a dataplane restart")        \
  X(dtmf_events, "RFC 4733 DTMF events reported by the dataplane")                 \
  X(latched_events, "media sources latched by the dataplane")                      \
  X(loops_refused, "INVITEs refused as loops (482) or out of hops (483)")          \
  X(invalid_events, "call events not valid in the call's state (answered or dropped)") \
  X(trunk_pings, "OPTIONS pings sent to trunks")                                   \
  X(trunk_ping_failures, "trunk pings unanswered or answered 5xx/6xx")             \
  X(trunks_down, "trunks that went down (health check)")                           \
  X(trunks_up, "trunks that came back up (health check)")                          \
  X(trunk_skipped, "call attempts that skipped a down trunk")                      \
  X(trunk_challenges, "401/407 from trunks answered with credentials")            \
  X(trunk_auth_failures, "trunk challenges we could not or may not answer")        \
  X(trunk_registrations, "REGISTERs accepted by trunks")                           \
  X(trunk_registration_failures, "REGISTERs to trunks refused or unanswered")      \
  X(reloads, "configuration reloads applied")                                      \
  X(reloads_refused, "configuration reloads refused")

struct GatewayStats {
#define MSGW_X(name, help) uint64_t name = 0;
  MSGW_GATEWAY_COUNTERS(MSGW_X)
#undef MSGW_X
  uint64_t calls_active = 0;  // a gauge: answered calls now
  // INVITEs answered with a failure, by cause: refused before a call
  // existed (Gateway::refuse) or failed after (Call::fail).
  uint64_t failures_by_cause[kCallErrorCount] = {};
  // From a call's INVITE received to its 200 OK forwarded (the gateway's
  // clock), answered calls only.  Buckets in seconds: a trunk answers in
  // tens of milliseconds to tens of seconds (a person picks up).
  metrics::Histogram call_setup_seconds{{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60}};
};

// Every counter by name, plus the gauge.
inline nlohmann::json to_json(const GatewayStats& s) {
  nlohmann::json j = nlohmann::json::object();
#define MSGW_X(name, help) j[#name] = s.name;
  MSGW_GATEWAY_COUNTERS(MSGW_X)
#undef MSGW_X
  j["calls_active"] = s.calls_active;
  return j;
}

}  // namespace msgw::control
