// SPDX-License-Identifier: GPL-3.0-or-later
// The Gateway's event side: what reaches calls after their INVITE, each
// turned into the call's event and dispatched. The SIP stack's responses to
// our requests (B's INVITE, re-INVITEs, BYE and CANCEL challenges, answers to
// INVITEs already given up) and their timeouts, A's CANCEL, a missing ACK;
// the event loop's tick (answer deadlines, the trunks' timers, the
// registrar's purge) and its next wake-up; the dataplane's events (flow
// acks, media timeouts, a dataplane restart); an operator's hangup.
#include <algorithm>

#include "call_detail.hpp"
#include "gateway_internal.hpp"
#include "msgw/common/wall_clock.hpp"
#include "msgw/control/gateway.hpp"
#include "msgw/sip/dialog.hpp"

namespace msgw::control {

using common::wall_s;
using gateway_detail::endpoint_from_uri;

using sip::kNoTxn;
using sip::TxnId;

// ---------------------------------------------------------------- responses and timers

void Gateway::on_response(sip::Stack&, TxnId txn, sip::MessageRef resp, sip::Dialog* dialog) {
  const ClientTxn* what = index_.client(txn);
  if (!what) {
    trunks_.on_response(txn, resp, now());  // OPTIONS pings and REGISTERs to trunks
    return;
  }
  const ClientTxn t = *what;
  const int code = resp.status();
  if (code >= 200) index_.forget_client(txn);
  switch (t.kind) {
    case ClientTxnKind::bye:
      if (code == 401 || code == 407) on_bye_challenge(t, resp, dialog);
      return;
    case ClientTxnKind::cancel:
      if (code == 401 || code == 407) on_cancel_challenge(t, resp);
      return;
    case ClientTxnKind::abandoned_invite:
      // Answered after we gave up on it (CANCEL race, failover): ACK and BYE.
      if (code >= 200 && code < 300 && dialog) {
        stack_->send_ack(*dialog, resp.cseq_number());
        sip::Message bye = dialog->make_request("BYE");
        if (auto dst = endpoint_from_uri(dialog->remote_target()))
          index_.bind_client(stack_->send_request(std::move(bye), *dst), {t.call, ClientTxnKind::bye, LegId::b});
      }
      return;
    case ClientTxnKind::relayed:
      on_relayed_answer(txn, t, resp, dialog);
      return;
    case ClientTxnKind::reinvite: {
      Call* c = call_by_id(t.call);
      const CallEvent e = code == 401 || code == 407 ? CallEvent::reinvite_challenge : CallEvent::reinvite_answer;
      const bool acted = c && dispatch(*c, e, {txn, resp, dialog, t.leg, t.auth});
      // A 2xx to our INVITE is ACKed whatever became of the call.
      if (!acted && code >= 200 && code < 300 && dialog) stack_->send_ack(*dialog, resp.cseq_number());
      return;
    }
    case ClientTxnKind::b_invite: {
      if (code == 100) return;
      Call* c = call_by_id(t.call);
      if (!c) return;
      const CallEvent e = code < 200                  ? CallEvent::b_provisional
                          : code < 300                ? CallEvent::b_answer
                          : code == 401 || code == 407 ? CallEvent::b_challenge
                                                      : CallEvent::b_failure;
      dispatch(*c, e, {txn, resp, dialog, LegId::b});
      return;
    }
  }
}

void Gateway::on_timeout(sip::Stack&, TxnId txn) {
  const ClientTxn* what = index_.client(txn);
  if (!what) {
    trunks_.on_timeout(txn, now());
    return;
  }
  const ClientTxn t = *what;
  index_.forget_client(txn);
  if (t.kind == ClientTxnKind::relayed) return on_relayed_answer(txn, t, {}, nullptr);
  Call* c = call_by_id(t.call);
  if (!c) return;
  if (t.kind == ClientTxnKind::b_invite) dispatch(*c, CallEvent::b_timeout, {txn, {}, nullptr, LegId::b});
  if (t.kind == ClientTxnKind::reinvite) dispatch(*c, CallEvent::reinvite_timeout, {txn, {}, nullptr, t.leg});
}

void Gateway::on_relayed_answer(TxnId txn, const ClientTxn& t, sip::MessageRef resp, sip::Dialog* dialog) {
  const int code = resp ? resp.status() : 408;
  if (code < 200) return;  // a non-INVITE's provisional stays here (RFC 3261 §16.7 keeps them hop by hop too)
  if ((code == 401 || code == 407) && resend_relayed_with_credentials(txn, t, resp, dialog)) return;
  // The sender hears what the far side said; a challenge that could not
  // be answered is ours, not the sender's to answer (503, as for an INVITE).
  // (Everything is read from the response first: answering the sender
  // settles the stack, which may free the transaction that holds it.)
  const std::string phrase = resp && code != 401 && code != 407 ? resp.reason_phrase() : std::string();
  Call::Input gone;
  gone.leg = t.leg;
  gone.status = resp ? code : 0;
  stack_->respond(t.origin, relay_status(code), phrase);
  // RFC 3261 §12.2.1.2: a 481 or 408, or no answer at all, to a request in
  // a dialog means that dialog is gone; the call ends on both legs.
  if (code == 481 || code == 408)
    if (Call* c = call_by_id(t.call)) dispatch(*c, CallEvent::relay_dialog_gone, gone);
}

bool Gateway::resend_relayed_with_credentials(TxnId txn, const ClientTxn& t, sip::MessageRef resp, sip::Dialog* dialog) {
  sip::DigestClient* auth = t.trunk.empty() ? nullptr : trunks_.call_auth(t.trunk);
  const sip::MessageRef sent = stack_->request_of(txn);
  const bool answered_before = t.auth == TxnAuth::answered;
  if (!auth || !dialog || !sent || answered_before ||
      auth->take_challenge(resp, false) != sip::ChallengeOutcome::answer) {
    ++stats_.trunk_auth_failures;
    return false;
  }
  sip::Message again = call_detail::pass_on(*dialog, sent);
  if (!again) return false;
  if (auto h = auth->authorization(sent.method(), again.request_uri())) again.add_header(h->name, h->value);
  const TxnId resent = stack_->send_request(std::move(again), t.peer, t.proto);
  if (resent == kNoTxn) return false;
  ++stats_.trunk_challenges;
  ClientTxn next = t;
  next.auth = TxnAuth::answered;
  index_.bind_client(resent, std::move(next));
  return true;
}

void Gateway::on_cancel(sip::Stack&, TxnId invite_txn) {
  auto id = index_.call_of_server_invite(invite_txn);
  if (!id) return;
  if (Call* c = call_by_id(*id)) dispatch(*c, CallEvent::a_cancel);
}

void Gateway::on_ack(sip::Stack&, sip::MessageRef ack, sip::Dialog* dialog) {
  // A's ACK of its INVITE's 2xx, or either leg's of a re-INVITE's: the
  // answer when our 2xx carried the offer.
  LegId leg = LegId::a;
  if (!dialog) return;
  if (Call* c = call_by_sip_call_id(dialog->call_id(), &leg))
    dispatch(*c, CallEvent::ack, {kNoTxn, ack, dialog, leg});
}

void Gateway::on_own_request(sip::Stack&, const sip::Dialog& dialog, sip::Message& request) {
  // The stack's PRACK (or fork BYE) toward a trunk that challenges every
  // request carries the credentials the call's own requests carry.
  LegId leg = LegId::a;
  if (Call* c = call_by_sip_call_id(dialog.call_id(), &leg)) c->authorize_stack_request(request, leg);
}

void Gateway::on_ack_timeout(sip::Stack&, sip::Dialog* dialog) {
  if (!dialog) return;
  LegId leg = LegId::a;
  if (Call* c = call_by_sip_call_id(dialog->call_id(), &leg)) dispatch(*c, CallEvent::ack_timeout, {kNoTxn, {}, dialog, leg});
}

void Gateway::tick() {
  // The commands this pass's SIP work posted: one doorbell for all of them,
  // then whatever the dataplane answered by now.
  media_.flush();
  poll_media();
  const auto t = now();
  if (auto earliest = index_.earliest_deadline(); earliest && *earliest <= t) {
    std::vector<std::string> due;
    std::optional<Clock::time_point> next;
    for (auto& [id, c] : calls_) {
      auto d = c->answer_deadline();
      if (!d) continue;
      if (*d <= t) due.push_back(id);
      else if (!next || *d < *next) next = d;
    }
    index_.reset_earliest(next);
    for (const auto& id : due)
      if (Call* c = call_by_id(id)) dispatch(*c, CallEvent::b_deadline);
  }
  for (const auto& id : index_.take_due_sessions(t))
    if (Call* c = call_by_id(id)) dispatch(*c, CallEvent::session_timer);
  trunks_.tick(t);
  if (t - last_purge_ > std::chrono::seconds(30)) {
    registrar_->purge_expired(wall_s());
    last_purge_ = t;
  }
  media_.flush();  // what the tick itself posted (flows programmed again, deletes)
}

int Gateway::next_timeout_ms() const {
  // The dataplane event ring has no fd: poll it on this period, and soon
  // while calls wait for their flow's add (its ack takes tens of
  // microseconds; under load SIP traffic wakes the loop sooner anyway).
  int best = media_.adds_pending() > 0 ? 1 : 50;
  if (auto earliest = index_.earliest_deadline()) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*earliest - now()).count();
    best = std::min<int>(best, ms < 0 ? 0 : int(ms));
  }
  if (auto due = index_.next_session_due()) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*due - now()).count();
    best = std::min<int>(best, ms < 0 ? 0 : int(ms));
  }
  if (auto due = trunks_.next_due()) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*due - now()).count();
    best = std::min<int>(best, ms < 0 ? 0 : int(ms));
  }
  return best;
}

void Gateway::poll_media() {
  bool restarted = false;
  auto events = media_.poll(&restarted);
  if (restarted) {
    ++stats_.dataplane_restarts;
    std::vector<std::string> ids;
    for (const auto& [id, c] : calls_) ids.push_back(id);
    for (const auto& id : ids)
      if (Call* c = call_by_id(id)) dispatch(*c, CallEvent::dataplane_restart);
  }
  for (const auto& e : events) {
    // Every refused or unacknowledged modify or add, whether or not its
    // call is still there to hear of it.
    if (e.kind == MediaEvent::Kind::flow_update_failed || e.kind == MediaEvent::Kind::flow_add_failed)
      ++stats_.media_errors;
    auto id = index_.call_of_flow(e.flow_id);
    Call* c = id ? call_by_id(*id) : nullptr;
    if (!c || c->flow_id() != e.flow_id) continue;
    switch (e.kind) {
      case MediaEvent::Kind::latched: ++stats_.latched_events; break;
      case MediaEvent::Kind::dtmf: ++stats_.dtmf_events; break;
      case MediaEvent::Kind::media_timeout:
        ++stats_.media_timeouts;
        dispatch(*c, CallEvent::media_timeout);
        break;
      case MediaEvent::Kind::flow_update_failed:
        // A later command for the flow (the call's next modify, its delete,
        // another call's add of the id) decides what the flow is now.
        if (!e.superseded) dispatch(*c, CallEvent::flow_update_failed, {.detail = e.detail});
        break;
      case MediaEvent::Kind::flow_added:
      case MediaEvent::Kind::flow_add_failed:
        // Superseded: the call ended (a delete followed) or added the flow
        // again (a restart); that command's answer is the one it waits for.
        if (!e.superseded)
          dispatch(*c, e.kind == MediaEvent::Kind::flow_added ? CallEvent::flow_ready : CallEvent::flow_refused,
                   {.detail = e.detail});
        break;
    }
  }
}

bool Gateway::hangup(const std::string& call_id) {
  Call* c = call_by_id(call_id);
  if (!c) return false;
  dispatch(*c, CallEvent::hangup);
  return true;
}

}  // namespace msgw::control
