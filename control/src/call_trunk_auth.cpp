// SPDX-License-Identifier: GPL-3.0-or-later
// A call's answers to its trunk's digest challenges (the `b_challenge`
// row of the transition table) and the credentials it puts on requests to
// the trunk from the trunk's cached challenge.
#include "msgw/common/log.hpp"
#include "msgw/control/call.hpp"

namespace msgw::control {

using sip::kNoTxn;
using sip::TxnId;

void Call::on_b_challenge(const Input& in) {
  if (in.txn != b_txn_) return;
  svc_.index->forget_client(b_txn_);
  b_txn_ = kNoTxn;
  b_deadline_.reset();
  const int code = in.msg.status();
  if (direction_ == CallDirection::inbound) {  // a subscriber challenging us: not ours to answer
    fail(CallError::callee_failed, std::to_string(code) + " from subscriber", relay_status(code));
    return;
  }
  sip::DigestClient* auth = svc_.trunks ? svc_.trunks->call_auth(trunk) : nullptr;
  const std::optional<sip::ChallengeOutcome> outcome =
      auth ? std::optional(auth->take_challenge(in.msg, b_auth_retry_)) : std::nullopt;
  if (outcome == sip::ChallengeOutcome::answer && b_auth_answers_ < 2 && next_target_ > 0) {
    ++svc_.stats->trunk_challenges;
    ++b_auth_answers_;
    b_auth_retry_ = true;
    const CalleeTarget& t = targets[next_target_ - 1];
    state_ = CallState::routing;  // a new INVITE transaction
    arm_deadline(t);
    if (send_b_invite(t, true)) return;
  }
  ++svc_.stats->trunk_auth_failures;
  // The attempt ends as a 503 would: the next trunk, else 503 to the caller.
  const std::string why = std::string(error_info(CallError::trunk_auth_failed).name) + ": " + std::to_string(code) +
                          " from " + trunk + ", " +
                          (outcome ? std::string(sip::to_string(*outcome)) : "no credentials configured");
  log_event(log::Level::warn, "trunk authentication failed", CallEvent::b_challenge, why, code);
  note_attempt_failure(why);
  if (try_next_target()) return;
  attempt_failures.clear();  // the call's own end reason says it
  fail(CallError::trunk_auth_failed, why);
}

void Call::note_attempt_failure(const std::string& why) {
  attempt_failures += (attempt_failures.empty() ? "" : "; ") + why;
}

ClientTxn Call::client_txn(ClientTxnKind kind, LegId to, TxnAuth auth) const {
  ClientTxn t(id_, kind, to);
  t.auth = auth;
  if (to == trunk_leg()) t.trunk = trunk;
  t.peer = leg(to).peer;
  t.proto = leg(to).proto;
  return t;
}

void Call::add_trunk_credentials(sip::Message& m, LegId to, std::string_view method) {
  // Only toward the trunk (B of an outbound call, A of an inbound one), and
  // only with a cached challenge (the trunk's 401/407 for this or an earlier
  // call).
  if (to != trunk_leg() || !svc_.trunks || trunk.empty() || !m) return;
  sip::DigestClient* auth = svc_.trunks->call_auth(trunk);
  if (!auth || !auth->has_challenge()) return;
  if (auto h = auth->authorization(method, m.request_uri())) m.add_header(h->name, h->value);
}

// A trunk challenged our re-INVITE (hold/resume passed on): the same offer
// again in a new transaction of the dialog (CSeq + 1) with credentials, once.
// Not answerable, or refused again: the re-INVITE failed, and the session
// stays as it was (RFC 3261 §14.1); the call goes on.
void Call::on_reinvite_challenge(const Input& in) {
  const int code = in.msg.status();
  sip::DigestClient* auth =
      in.leg == trunk_leg() && svc_.trunks && !trunk.empty() ? svc_.trunks->call_auth(trunk) : nullptr;
  const bool answered_before = in.auth == TxnAuth::answered;
  const std::optional<sip::ChallengeOutcome> outcome =
      auth ? std::optional(auth->take_challenge(in.msg, answered_before)) : std::nullopt;
  // The offer the trunk challenged (the leg's last SDP), now with credentials.
  if (outcome == sip::ChallengeOutcome::answer && !answered_before && send_reinvite(in.leg, TxnAuth::answered)) {
    ++svc_.stats->trunk_challenges;
    return;
  }
  ++svc_.stats->trunk_auth_failures;
  const std::string why = std::to_string(code) + " from " + (trunk.empty() ? "the callee" : trunk) + " to our re-INVITE, " +
                          (answered_before ? "challenged again"
                           : outcome       ? std::string(sip::to_string(*outcome))
                                           : "no credentials configured") +
                          ": the session stays as it was";
  log_event(log::Level::warn, "re-INVITE not authenticated", CallEvent::reinvite_challenge, why, code);
  relay_queued_direction(in.leg);
}

}  // namespace msgw::control
