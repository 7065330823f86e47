// SPDX-License-Identifier: GPL-3.0-or-later
// A call's in-dialog work after its answer: offers from either leg (a
// re-INVITE, or an UPDATE with an offer) answered and passed on as hold or
// resume, glare, answers to our own re-INVITEs, other in-dialog requests, and
// the target refresh they bring. The rows they act on: call_model.cpp.
#include <optional>
#include <utility>

#include "call_detail.hpp"
#include "msgw/control/call.hpp"
#include "msgw/control/offer.hpp"
#include "msgw/sip/dialog.hpp"

namespace msgw::control {

namespace dp = msgw::dataplane;
namespace sdp = msgw::sip::sdp;
using call_detail::pass_on;
using call_detail::read_answer;
using call_detail::reason;
using call_detail::take_stream;
using call_detail::warning;
using codecs::CodecId;
using sip::kNoTxn;
using sip::TxnId;

void Call::on_reinvite(const Input& in, LegId from) {
  if (reinvite_pending(from)) {
    // Both sides offered at once: the offers cross. Each side retries after
    // its random wait (RFC 3261 §14.1); ours is the one in flight.
    svc_.stack->respond(in.txn, 491);
    return;
  }
  if (refuse_short_session(in)) return;
  Leg& me = leg(from);
  Leg& other_leg = leg(other(from));
  const std::string body = in.msg.sdp();
  if (body.empty()) {
    // Offerless re-INVITE: the 2xx offers the session as it is (RFC 3264
    // §8: an unchanged offer is one); the ACK's answer may move the leg's
    // media (take_reinvite_ack_answer).
    // (The request is read before the 2xx: answering it ends its transaction.)
    const uint32_t cseq = in.msg.cseq_number();
    if (svc_.stack->respond(in.txn, 200, {}, accept_session_timer(from, in.msg), "application/sdp", me.sdp_body))
      offer_in_2xx_cseq_[index(from)] = cseq;
    return;
  }
  auto refuse = [&](CallError e, const std::string& why) {
    const ErrorInfo& info = error_info(e);
    sip::Headers h;
    if (!why.empty()) h.push_back({"Warning", warning(why)});
    svc_.stack->respond(in.txn, info.status, info.reason, h);
  };
  sdp::SessionDescription offer;
  std::string why;
  if (sdp::parse(body, offer, &why) != sdp::SdpError::ok || !first_audio(offer)) {
    refuse(CallError::offer_unusable, why);
    return;
  }
  const sdp::MediaDescription& m = *first_audio(offer);
  const std::vector<CodecId> cand = offered_codecs(m);
  // Keep the codec in use when still offered; else the best one this side allows.
  const std::vector<CodecId>& prefs = from == LegId::a ? a_usable : b_prefs_;
  std::vector<CodecId> order;
  if (std::find(cand.begin(), cand.end(), me.codec.id) != cand.end()) order.push_back(me.codec.id);
  for (CodecId x : usable_offer(cand, prefs.empty() ? cand : prefs))
    if (std::find(order.begin(), order.end(), x) == order.end()) order.push_back(x);
  if (order.empty()) {
    refuse(CallError::no_allowed_codec, {});
    return;
  }
  sdp::LocalPolicy lp;
  lp.codecs = {order.front()};
  lp.address = config::format_ipv4(me.local_ip);
  lp.port = me.local_port;
  lp.telephone_event = true;
  // As for the first answer: no Annex B on a G.729 leg relayed to one without.
  lp.g729_annexb = svc_.config->codecs.g729_annexb &&
                   !(order.front() == CodecId::G729 && other_leg.has_codec && other_leg.codec.id == CodecId::G729 &&
                     !other_leg.codec.g729_annexb);
  lp.session_id = me.sdp_session_id;
  lp.session_version = ++me.sdp_version;
  sdp::AnswerResult ar;
  if (sdp::make_answer(offer, lp, ar, &why) != sdp::SdpError::ok || !ar.active) {
    refuse(CallError::offer_unusable, {});
    return;
  }
  const bool was_holding = me.hold;
  take_renegotiated_stream(from, ar.streams[*ar.active], m);
  me.sdp_body = sdp::build(ar.answer);
  // Re-program: a new address or codec takes effect in the dataplane now.
  if (program_flow()) {
    refuse(CallError::media_update_failed, {});
    return;
  }
  svc_.stack->respond(in.txn, 200, {}, accept_session_timer(from, in.msg), "application/sdp", me.sdp_body);
  take_target_refresh(from);
  persist();
  // The other side hears of a hold or a resume only: a new address, codec
  // or a session refresh (RFC 4028) changes nothing for it (the media is
  // anchored here), and a re-INVITE it need not see is one glare less.
  if (me.hold != was_holding) pass_on_direction(from, m);
}

void Call::pass_on_direction(LegId from, const sdp::MediaDescription& m) {
  // Tell the other side about hold / resume with its own re-INVITE.
  const sdp::Direction dir = m.direction == sdp::Direction::sendonly ? sdp::Direction::sendonly
                             : m.direction == sdp::Direction::inactive || m.is_hold_address()
                                 ? sdp::Direction::inactive
                                 : sdp::Direction::sendrecv;
  if (reinvite_pending(other(from))) {
    // One INVITE transaction at a time in a dialog (RFC 3261 §14.1): the
    // latest direction goes when the pending one has its final response.
    direction_to_relay_[index(other(from))] = dir;
    return;
  }
  relay_direction(other(from), dir);
}

void Call::relay_direction(LegId to, sdp::Direction dir) {
  // Its codec and our address on that leg do not change.
  Leg& other_leg = leg(to);
  sip::Dialog* od = other_leg.dialog_key.empty() ? nullptr : svc_.stack->find_dialog(other_leg.dialog_key);
  if (!od || !other_leg.has_codec) return;
  sdp::LocalPolicy olp;
  olp.codecs = {other_leg.codec.id};
  olp.address = config::format_ipv4(other_leg.local_ip);
  olp.port = other_leg.local_port;
  olp.telephone_event = other_leg.dtmf_pt != dp::kNoPayloadType;
  olp.telephone_event_pt = other_leg.dtmf_pt != dp::kNoPayloadType ? other_leg.dtmf_pt : 101;
  olp.session_id = other_leg.sdp_session_id;
  olp.session_version = ++other_leg.sdp_version;
  olp.direction = dir;
  auto o = sdp::make_offer(olp);
  // Keep the PT the other side already uses for the codec.
  for (auto& md : o.media)
    for (auto& p : md.payloads)
      if (p.codec && p.codec->id == other_leg.codec.id && p.pt != other_leg.codec.payload_type) {
        for (auto& f : md.formats)
          if (f == std::to_string(p.pt)) f = std::to_string(other_leg.codec.payload_type);
        p.pt = other_leg.codec.payload_type;
      }
  other_leg.sdp_body = sdp::build(o);
  send_reinvite(to);
}

bool Call::send_reinvite(LegId to, TxnAuth auth) {
  Leg& l = leg(to);
  sip::Dialog* d = l.dialog_key.empty() ? nullptr : svc_.stack->find_dialog(l.dialog_key);
  sip::Message rq = d ? d->make_request("INVITE") : sip::Message();
  if (!rq) return false;
  rq.set_body("application/sdp", l.sdp_body);
  add_session_timer(rq, to);
  add_trunk_credentials(rq, to, "INVITE");
  const TxnId txn = svc_.stack->send_request(std::move(rq), l.peer, l.proto);
  if (txn == kNoTxn) return false;
  svc_.index->bind_client(txn, client_txn(ClientTxnKind::reinvite, to, auth));
  reinvite_out_[index(to)] = txn;
  return true;
}

void Call::relay_queued_direction(LegId to) {
  if (auto dir = std::exchange(direction_to_relay_[index(to)], std::nullopt)) relay_direction(to, *dir);
}

void Call::end_for_dead_dialog(LegId which, int code, std::string_view request) {
  // RFC 3261 §12.2.1.2 / RFC 5057: a request in the dialog (our re-INVITE,
  // an INFO passed on) answered 481 or 408, or never answered, means the
  // dialog is gone; the call ends on both legs.
  const std::string what = code ? std::to_string(code) : std::string("no answer");
  end(200, std::string(request) + " to " + std::string(leg_name(which)) + ": " + what, true, true,
      reason(code ? code : 408, std::string(request) + " " + what));
}

bool Call::reinvite_pending(LegId which) const {
  const TxnId txn = reinvite_out_[index(which)];
  if (txn == kNoTxn) return false;
  const ClientTxn* t = svc_.index->client(txn);
  return t != nullptr && t->kind == ClientTxnKind::reinvite && t->leg == which && t->call == id_;
}

void Call::take_renegotiated_stream(LegId which, const sdp::NegotiatedStream& st, const sdp::MediaDescription& m) {
  Leg& me = leg(which);
  const uint32_t kept_ip = me.remote_ip;
  const uint16_t kept_port = me.remote_port, kept_ptime = me.ptime;
  take_stream(me, st, m.maxptime_ms, peer_media_of(which));
  if (m.is_hold_address()) {
    me.remote_ip = kept_ip;
    me.remote_port = kept_port;
  } else if (me.remote_ip == 0) {
    me.remote_ip = kept_ip;
  }
  // No a=ptime in a new offer or answer: the packet time stays (within a new a=maxptime).
  if (!st.remote_ptime_ms) me.ptime = me.codec.ptime_ms = leg_ptime(kept_ptime, m.maxptime_ms, kept_ptime);
  me.hold = st.remote_hold;
}

void Call::take_reinvite_ack_answer(const Input& in) {
  uint32_t& offered = offer_in_2xx_cseq_[index(in.leg)];
  if (offered == 0 || in.msg.cseq_number() != offered) return;  // no offer of ours pending
  offered = 0;
  Leg& me = leg(in.leg);
  // A missing or unusable answer leaves the session as it was: the call
  // is up and its media flowing; ending it would punish the caller for a
  // peer's mistake (counted and logged).
  auto keep_session = [&](const std::string& why) {
    ++svc_.stats->ack_answers_unusable;
    log_event(log::Level::warn, "answer in ACK not usable: session kept", CallEvent::ack, why);
  };
  sdp::SessionDescription ans;
  sdp::NegotiatedStream ns;
  if (auto why = read_answer(in.msg, me, ans, ns)) return keep_session(*why);
  const bool was_holding = me.hold;
  take_renegotiated_stream(in.leg, ns, ans.media[ns.media_index]);
  if (auto failure = program_flow()) {
    // As a modify the dataplane refused: the legs were told of media it does not carry.
    Input refused;
    refused.detail = failure->detail;
    on_flow_update_failed(refused);
    return;
  }
  take_target_refresh(in.leg);
  persist();
  // A hold or resume answered in the ACK (a peer that re-INVITEs without an
  // offer to hold) is passed on as one in a re-INVITE's offer is.
  if (me.hold != was_holding) pass_on_direction(in.leg, ans.media[ns.media_index]);
}

void Call::on_in_dialog_other(const Input& in) {
  // NOTIFY, OPTIONS, an UPDATE without an offer (a session refresh):
  // acknowledged, not relayed. An OPTIONS keepalive learns what we allow;
  // an UPDATE refreshes the leg's session timer (RFC 4028).
  const std::string method = in.msg.method();
  if (method == "OPTIONS") {
    svc_.stack->respond(in.txn, 200, {}, {{"Allow", svc_.stack->allow_header()}, {"Accept", "application/sdp"}});
  } else if (method == "UPDATE") {
    if (refuse_short_session(in)) return;
    svc_.stack->respond(in.txn, 200, {}, accept_session_timer(in.leg, in.msg));
  } else {
    svc_.stack->respond(in.txn, 200);
  }
  if (take_target_refresh(in.leg)) persist();
}

void Call::on_info(const Input& in) {
  // A B2BUA passes INFO on (RFC 6086): DTMF by SIP INFO from a phone set
  // to send it (application/dtmf-relay), a carrier's INFO package. Its
  // answer comes back to this request when the other leg answers, so the
  // sender learns whether it arrived.
  const LegId to = other(in.leg);
  Leg& out = leg(to);
  sip::Dialog* d = out.dialog_key.empty() ? nullptr : svc_.stack->find_dialog(out.dialog_key);
  if (d == nullptr) {
    // Before B's first answer with a tag there is no dialog to carry it.
    ++svc_.stats->info_unrelayed;
    svc_.stack->respond(in.txn, 200);
    return;
  }
  sip::Message rq = pass_on(*d, in.msg);
  if (!rq) {
    svc_.stack->respond(in.txn, 500);
    return;
  }
  add_trunk_credentials(rq, to, "INFO");
  const TxnId txn = svc_.stack->send_request(std::move(rq), out.peer, out.proto);
  if (txn == kNoTxn) {
    svc_.stack->respond(in.txn, 500);
    return;
  }
  ClientTxn t = client_txn(ClientTxnKind::relayed, to);
  t.origin = in.txn;
  svc_.index->bind_client(txn, std::move(t));
  ++svc_.stats->info_relayed;
}

bool Call::take_target_refresh(LegId which) {
  Leg& l = leg(which);
  sip::Dialog* d = l.dialog_key.empty() ? nullptr : svc_.stack->find_dialog(l.dialog_key);
  if (d == nullptr) return false;
  std::string target = d->remote_target();
  if (target.empty() || target == l.remote_target) return false;
  l.remote_target = std::move(target);
  return true;
}

void Call::on_reinvite_answer(const Input& in) {
  const int code = in.msg.status();
  if (code < 200) return;
  if (code == 408 || code == 481) return end_for_dead_dialog(in.leg, code);
  if (code >= 300 || !in.dialog) {
    // Refused (488, 491, 500...): the session stays as it was.
    relay_queued_direction(in.leg);
    return;
  }
  // The peer's answer may move its media (resume from c=0.0.0.0, new
  // port): re-programmed before the ACK, which may release its media.
  Leg& l = leg(in.leg);
  sdp::SessionDescription ans;
  std::string why;
  const std::string body = in.msg.sdp();
  if (!body.empty() && sdp::parse(body, ans, &why) == sdp::SdpError::ok) {
    if (const auto* m = first_audio(ans); m && !m->is_hold_address()) {
      auto ip = config::parse_ipv4(m->address);
      if (ip && (*ip != l.remote_ip || m->port != l.remote_port)) {
        l.remote_ip = *ip;
        l.remote_port = m->port;
        if (auto failure = program_flow())
          log_event(log::Level::warn, "flow re-programming failed", CallEvent::reinvite_answer, failure->detail);
      }
    }
  }
  take_session_timer_answer(in.leg, in.msg);
  svc_.stack->send_ack(*in.dialog, in.msg.cseq_number());
  // Its 2xx's Contact is the leg's target from now on (RFC 3261 §12.2.1.2).
  if (take_target_refresh(in.leg)) persist();
  relay_queued_direction(in.leg);
}

}  // namespace msgw::control
