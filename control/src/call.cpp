// SPDX-License-Identifier: GPL-3.0-or-later
// A call's behaviour: one action per (event, state) row of the transition
// table that says `act` (setup/control code: runs per SIP message, never
// per packet).
#include "msgw/control/call.hpp"

#include "msgw/common/log.hpp"
#include "msgw/common/wall_clock.hpp"
#include "msgw/control/call_json.hpp"
#include "msgw/control/media_policy.hpp"
#include "msgw/control/offer.hpp"
#include "msgw/sip/dialog.hpp"
#include "msgw/sip/privacy.hpp"
#include "call_detail.hpp"

namespace msgw::control {

using common::wall_ms;

namespace dp = msgw::dataplane;
namespace sdp = msgw::sip::sdp;
using codecs::CodecId;
using sip::kNoTxn;
using sip::TxnId;
using call_detail::maxptime_of;
using call_detail::reason;
using call_detail::take_stream;
using call_detail::warning;

namespace {

// Whether an offer's G.729 (if any) allows Annex B (RFC 4856: absent fmtp = yes).
bool g729_annexb_offered(const sdp::SessionDescription& offer) {
  if (const sdp::MediaDescription* m = first_audio(offer))
    for (const auto& p : m->payloads)
      if (p.codec && p.codec->id == CodecId::G729) return p.codec->g729_annexb;
  return true;
}

}  // namespace

Call::Call(CallServices& services, std::string id, CallDirection direction, CallOrigin origin)
    : svc_(services), id_(std::move(id)), direction_(direction), origin_(origin) {}

// ---------------------------------------------------------------- dispatch

bool Call::handle(CallEvent event, const Input& in) {
  if (event == CallEvent::reinvite_a || event == CallEvent::reinvite_b) ++svc_.stats->reinvites;
  const Transition& t = transition(state_, event);
  if (t.handling == Handling::reject) {
    ++svc_.stats->invalid_events;
    log_event(log::Level::warn, "call event rejected", event, "not valid in this state", t.status);
    if (in.txn != kNoTxn) svc_.stack->respond(in.txn, t.status);
    return false;
  }
  if (t.handling == Handling::ignore) return false;
  const CallState before = state_;
  switch (event) {
    case CallEvent::b_provisional: on_b_provisional(in); break;
    case CallEvent::b_answer: on_b_answer(in); break;
    case CallEvent::b_failure: on_b_failure(in); break;
    case CallEvent::b_challenge: on_b_challenge(in); break;
    case CallEvent::b_timeout: on_b_timeout(in); break;
    case CallEvent::b_deadline: on_b_deadline(); break;
    case CallEvent::a_cancel: on_a_cancel(); break;
    case CallEvent::bye_a:
    case CallEvent::bye_b: on_bye(in, event == CallEvent::bye_a ? LegId::a : LegId::b); break;
    case CallEvent::reinvite_a:
    case CallEvent::reinvite_b: on_reinvite(in, event == CallEvent::reinvite_a ? LegId::a : LegId::b); break;
    case CallEvent::reinvite_answer: on_reinvite_answer(in); break;
    case CallEvent::reinvite_challenge: on_reinvite_challenge(in); break;
    case CallEvent::reinvite_timeout: end_for_dead_dialog(in.leg, 0); break;
    case CallEvent::in_dialog_other: on_in_dialog_other(in); break;
    case CallEvent::info: on_info(in); break;
    case CallEvent::relay_dialog_gone: end_for_dead_dialog(in.leg, in.status, "INFO"); break;
    case CallEvent::ack_timeout:
      if (state_ == CallState::offering) ++svc_.stats->calls_failed;  // never answered end to end
      end(408, "no ACK from caller", true, true);
      break;
    case CallEvent::ack: on_ack(in); break;
    case CallEvent::session_timer: on_session_timer(); break;
    case CallEvent::media_timeout:
      end(200, "media timeout", true, true, reason(408, "media timeout"));
      break;
    case CallEvent::dataplane_restart: on_dataplane_restart(); break;
    case CallEvent::hangup: on_hangup(); break;
    case CallEvent::flow_update_failed: on_flow_update_failed(in); break;
    case CallEvent::flow_ready: on_flow_ready(); break;
    case CallEvent::flow_refused: on_flow_refused(in); break;
  }
  if ((t.to & to_mask(state_)) == 0)
    log_event(log::Level::error, "call transition outside the table", event, "BUG: the action left the call in a state the table does not allow");
  if (state_ != before) log_event(log::Level::debug, "call state", event, std::string(state_name(before)) + " -> " + std::string(state_name(state_)));
  return true;
}

void Call::start(CallError no_target_error, const std::string& why) {
  svc_.index->bind_leg(leg(LegId::a).sip_call_id, id_, LegId::a);
  if (a_txn != kNoTxn) svc_.index->bind_server_invite(a_txn, id_);
  if (!try_next_target()) fail(no_target_error, why);
}

void Call::restore_answered(std::optional<uint32_t> flow_id) {
  state_ = CallState::answered;
  for (LegId l : {LegId::a, LegId::b}) arm_session_timer(l);  // counted from the restart
  flow_id_ = flow_id;
  flow_state_ = flow_id ? FlowState::programmed : FlowState::none;
  if (flow_id) svc_.index->reserve_flow(*flow_id, id_);
  for (LegId l : {LegId::a, LegId::b})
    if (!leg(l).sip_call_id.empty()) svc_.index->bind_leg(leg(l).sip_call_id, id_, l);
}

// ---------------------------------------------------------------- B's INVITE

bool Call::try_next_target(bool redirected) {
  Leg& b = leg(LegId::b);
  while (next_target_ < targets.size()) {
    const CalleeTarget& t = targets[next_target_++];
    if (!t.trunk.empty() && svc_.trunks && !svc_.trunks->routable(t.trunk)) {
      // The health check says it is down: not tried, no timeout waited for.
      ++svc_.stats->trunk_skipped;
      note_attempt_failure("trunk " + t.trunk + " down (health check)");
      continue;
    }
    if (next_target_ > 1 && !redirected) ++svc_.stats->failovers;
    trunk = t.trunk.empty() ? trunk : t.trunk;
    if (b.local_port && b.port != t.port) {
      if (PortAllocator* p = svc_.ports(b.port)) p->release(b.local_port);
      b.local_port = 0;
    }
    b.port = t.port;
    b.local_ip = svc_.config->ports[static_cast<std::size_t>(t.port)].address.addr;
    b.latch = t.latch;
    if (!b.local_port) {
      PortAllocator* p = svc_.ports(t.port);
      auto bp = p ? p->allocate() : std::nullopt;
      if (!bp) return false;
      b.local_port = *bp;
    }
    b.peer = t.destination;
    b.proto = t.proto;
    b_prefs_ = t.codecs;
    b_auth_answers_ = 0;
    b_auth_retry_ = false;
    early_relay_ = 0;  // the failed trunk's early media is not relayed
    arm_deadline(t);
    if (next_target_ > 1) state_ = CallState::routing;  // a new attempt
    if (send_b_invite(t)) return true;
  }
  return false;
}

void Call::arm_deadline(const CalleeTarget& t) {
  if (t.answer_timeout.count() > 0) {
    b_deadline_ = svc_.now() + t.answer_timeout;
    svc_.index->schedule(*b_deadline_);
  } else {
    b_deadline_.reset();
  }
}

bool Call::send_b_invite(const CalleeTarget& t, bool retry) {
  Leg& b = leg(LegId::b);
  if (retry) {
    ++b_invite_cseq_;  // RFC 3261 §22.2: same Call-ID and From tag, CSeq + 1
  } else {
    // A fresh Call-ID per attempt: a failed-over INVITE is a new call to the next trunk.
    if (!b.sip_call_id.empty()) svc_.index->unbind_leg(b.sip_call_id);
    b.sip_call_id = sip::random_token(20) + "@msgw";
    b.local_tag = sip::random_token(12);
    b_invite_cseq_ = 1;
  }
  b.dialog_key.clear();
  b.remote_tag.clear();
  const std::string local_host = config::format_ipv4(b.local_ip);
  const config::TrunkSection* ts = svc_.trunks && !t.trunk.empty() ? svc_.trunks->section(t.trunk) : nullptr;
  const std::string from_user = ts && !ts->from_user.empty() ? ts->from_user : caller_user;
  const std::string from_host = ts && !ts->from_domain.empty() ? ts->from_domain : local_host;
  // A withheld caller is Anonymous in the From (RFC 3323 §4.1.1.3); a
  // trunk in our trust domain still learns who calls from the
  // P-Asserted-Identity (RFC 3325), told by Privacy: id not to pass it on.
  const std::string local_uri =
      caller_withheld ? std::string(sip::kAnonymousFromUri) : "sip:" + from_user + "@" + from_host;
  const std::string from =
      call_detail::name_addr(caller_withheld ? "Anonymous" : caller_display, local_uri) + ";tag=" + b.local_tag;
  const std::string to = "<" + t.request_uri + ">";
  sip::Message m = sip::Message::request("INVITE", t.request_uri, from, to, b.sip_call_id, b_invite_cseq_);
  if (!m) return false;
  m.set_max_forwards(std::max(max_forwards, 1));
  sdp::LocalPolicy lp;
  lp.codecs = trunk_offer(a_usable, b_prefs_);
  lp.address = local_host;
  lp.port = b.local_port;
  lp.telephone_event = true;
  lp.session_id = b.sdp_session_id = static_cast<uint64_t>(wall_ms()) + 1;
  lp.session_version = b.sdp_version = 1;
  // A caller that refused Annex B gets a relayed G.729 leg without it only
  // if the trunk is asked for the same.
  lp.g729_annexb = svc_.config->codecs.g729_annexb && g729_annexb_offered(a_offer);
  b_offer_ = sdp::make_offer(lp);
  b.sdp_body = sdp::build(b_offer_);
  m.set_body("application/sdp", b.sdp_body);
  // RFC 3262: the stack PRACKs the reliable 18x a trunk sends; this asks for them.
  if (ts && ts->prack) m.add_header("Supported", "100rel");
  if (ts && ts->asserted_identity)
    m.add_header("P-Asserted-Identity", call_detail::name_addr(caller_display, "sip:" + caller_user + "@" + from_host));
  if (caller_withheld) m.add_header("Privacy", "id");
  add_trunk_credentials(m, LegId::b, "INVITE");
  b.local_uri = local_uri;
  b.remote_uri = t.request_uri;
  b.remote_target = t.request_uri;
  TxnId txn = svc_.stack->send_request(std::move(m), t.destination, t.proto);
  if (txn == kNoTxn) return false;
  b_txn_ = txn;
  svc_.index->bind_client(txn, {id_, ClientTxnKind::b_invite, LegId::b});
  svc_.index->bind_leg(b.sip_call_id, id_, LegId::b);
  return true;
}

void Call::note_b_dialog(const Input& in) {
  if (!in.dialog) return;
  Leg& b = leg(LegId::b);
  b.dialog_key = in.dialog->key();
  b.remote_tag = in.dialog->remote_tag();
}

void Call::on_b_provisional(const Input& in) {
  if (in.txn != b_txn_) return;
  note_b_dialog(in);
  b_deadline_.reset();  // the far end is alive and working on it
  state_ = CallState::early;
  const int relay = in.msg.status() == 183 ? 183 : 180;
  // A delayed offer's caller has made no offer yet: an SDP in an unreliable
  // provisional cannot be one (RFC 3261 §13.2.1), so A hears no early media.
  if (!in.msg.sdp().empty() && !apply_b_answer(in.msg) && !a_offer_delayed()) {
    // Early media: A hears it once the flow is in the dataplane (flow_ready).
    if (flow_state_ == FlowState::adding) {
      early_relay_ = relay;
      return;
    }
    respond_a(183, leg(LegId::a).sdp_body);
  } else {
    respond_a(relay);
  }
}

void Call::on_b_answer(const Input& in) {
  if (in.txn != b_txn_) return;
  note_b_dialog(in);
  take_session_timer_answer(LegId::b, in.msg);
  svc_.index->forget_client(b_txn_);
  b_txn_ = kNoTxn;
  b_deadline_.reset();
  Leg& b = leg(LegId::b);
  std::optional<Failure> failure;
  if (in.dialog) failure = apply_b_answer(in.msg);
  else failure = Failure{CallError::answer_unusable, "answer without a dialog"};
  if (in.dialog) {
    b.remote_target = in.dialog->remote_target();
    b.cseq = in.dialog->local_cseq();
  }
  if (failure) {
    refuse_answer(*failure);
    return;
  }
  if (a_offer_delayed()) {
    offer_to_a();
    return;
  }
  // The flow is in the dataplane before the ACK goes out: the callee may
  // start its media the moment the ACK arrives, and a packet that beats the
  // flow into the dataplane is lost to the exception path (seen as the
  // first 20 ms missing from the reference call's carrier -> phone audio).
  // Its add is posted, not awaited: the call waits for it in connecting,
  // the loop goes on (flow_ready finishes the answer).
  if (flow_state_ == FlowState::adding) {
    state_ = CallState::connecting;
    return;
  }
  finish_answer();
}

void Call::ack_b() {
  const Leg& b = leg(LegId::b);
  if (b_acked_cseq_ == b_invite_cseq_) return;  // once per 2xx; the stack answers its retransmissions
  if (sip::Dialog* d = b.dialog_key.empty() ? nullptr : svc_.stack->find_dialog(b.dialog_key)) {
    svc_.stack->send_ack(*d, b_invite_cseq_);
    b_acked_cseq_ = b_invite_cseq_;
  }
}

void Call::refuse_answer(const Failure& failure) {
  ack_b();
  send_bye(LegId::b, reason(488, failure.detail));
  fail(failure.error, failure.detail);
}

void Call::finish_answer() {
  ack_b();
  early_relay_ = 0;  // the 200 carries the media
  respond_a(200, leg(LegId::a).sdp_body);
  mark_answered();
}

void Call::mark_answered() {
  state_ = CallState::answered;
  answer_ms = wall_ms();
  if (svc_.now && invite_received != Clock::time_point{})
    svc_.stats->call_setup_seconds.observe(std::chrono::duration<double>(svc_.now() - invite_received).count());
  ++svc_.stats->calls_answered;
  ++svc_.stats->calls_active;
  if (transcoding()) ++svc_.stats->transcoded_calls;
  else ++svc_.stats->relayed_calls;
  persist();
}

void Call::on_b_failure(const Input& in) {
  if (in.txn != b_txn_) return;
  svc_.index->forget_client(b_txn_);
  b_txn_ = kNoTxn;
  b_deadline_.reset();
  const int code = in.msg.status();
  // Fail over on timeout/overload; anything else is the callee's answer.
  if (direction_ == CallDirection::outbound && (code == 408 || code == 503) && try_next_target()) return;
  if (direction_ == CallDirection::outbound && code >= 300 && code <= 302 && follow_redirect(in.msg)) return;
  fail(CallError::callee_failed,
       std::to_string(code) + " from " + (direction_ == CallDirection::inbound ? "subscriber" : trunk),
       relay_status(code));
}

bool Call::follow_redirect(sip::MessageRef resp) {
  // A trunk's redirect (a number moved, a carrier's routing server): the
  // Contact becomes the next attempt's Request-URI, sent to the same
  // trunk's next hop with its settings and credentials (never to a host a
  // response names: that would let a trunk point our calls anywhere).
  // Bounded, so that redirects cannot loop.
  if (redirects_ >= kMaxRedirects || next_target_ == 0) return false;
  std::string uri;
  for (std::size_t i = 0; i < resp.contact_count() && uri.empty(); ++i) {
    const std::string c = resp.contact_uri(i);
    if (c.rfind("sip:", 0) == 0 || c.rfind("sips:", 0) == 0) uri = c;
  }
  if (uri.empty()) return false;
  CalleeTarget next = targets[next_target_ - 1];
  next.request_uri = uri;
  ++redirects_;
  ++svc_.stats->redirects_followed;
  note_attempt_failure(std::to_string(resp.status()) + " from " + trunk + " to " + uri);
  targets.insert(targets.begin() + static_cast<std::ptrdiff_t>(next_target_), std::move(next));
  return try_next_target(true);
}

void Call::on_b_timeout(const Input& in) {
  if (in.txn != b_txn_) return;
  b_txn_ = kNoTxn;
  b_deadline_.reset();
  if (direction_ == CallDirection::outbound && try_next_target()) return;
  fail(CallError::callee_timeout, "no answer from " + trunk);
}

void Call::on_b_deadline() {
  if (!b_deadline_ || *b_deadline_ > svc_.now() || b_txn_ == kNoTxn) return;
  // The trunk did not answer in time: abandon that INVITE (CANCEL) and fail over.
  abandon_b_invite();
  b_deadline_.reset();
  if (direction_ == CallDirection::outbound && try_next_target()) return;
  fail(CallError::callee_timeout, "trunk " + trunk + " did not answer in time");
}

void Call::abandon_b_invite() {
  if (b_txn_ == kNoTxn) return;
  const TxnId cancel = svc_.stack->cancel(b_txn_);
  if (cancel != kNoTxn) svc_.index->bind_client(cancel, client_txn(ClientTxnKind::cancel, LegId::b));
  svc_.index->bind_client(b_txn_, {id_, ClientTxnKind::abandoned_invite, LegId::b});
  b_txn_ = kNoTxn;
}

std::optional<Call::Failure> Call::apply_b_answer(sip::MessageRef resp) {
  Leg& a = leg(LegId::a);
  Leg& b = leg(LegId::b);
  const std::string body = resp.sdp();
  if (body.empty()) {
    // 200 after an early answer (183 with SDP)
    if (flow_posted() || (a_offer_delayed() && b.has_codec)) return std::nullopt;
    return Failure{CallError::answer_unusable, "answer without SDP"};
  }
  std::string why;
  sdp::SessionDescription ans;
  if (sdp::parse(body, ans, &why) != sdp::SdpError::ok) return Failure{CallError::answer_unusable, why};
  sdp::NegotiatedStream ns;
  if (sdp::process_answer(b_offer_, ans, ns, &why) != sdp::SdpError::ok)
    return Failure{CallError::answer_unusable, why};
  auto plan = plan_answer(a_usable, ns.codec.id);
  if (!plan) return Failure{CallError::answer_unusable, "no codec for the A leg"};
  if (a_offer_delayed()) {  // A answers our offer in its ACK: the flow waits for it
    take_stream(b, ns, maxptime_of(ans, ns.media_index), peer_media_of(LegId::b));
    return std::nullopt;
  }
  if (a.sdp_body.empty() || !a.has_codec || a.codec.id != plan->a_codec) {
    sdp::LocalPolicy lp;
    lp.codecs = {plan->a_codec};
    lp.address = config::format_ipv4(a.local_ip);
    lp.port = a.local_port;
    lp.telephone_event = true;
    // G.729 relayed to a trunk that said annexb=no: the caller is told the
    // same, so neither side sends Annex B silence frames the other refused
    // and the dataplane can relay the leg unchanged.
    lp.g729_annexb = svc_.config->codecs.g729_annexb &&
                     !(plan->a_codec == CodecId::G729 && ns.codec.id == CodecId::G729 && !ns.codec.g729_annexb);
    lp.session_id = a.sdp_session_id;
    lp.session_version = ++a.sdp_version;
    sdp::AnswerResult ar;
    if (sdp::make_answer(a_offer, lp, ar, &why) != sdp::SdpError::ok || !ar.active)
      return Failure{CallError::answer_unusable, why.empty() ? "no answer for the A leg" : why};
    const auto& st = ar.streams[*ar.active];
    take_stream(a, st, maxptime_of(a_offer, st.media_index), peer_media_of(LegId::a));
    a.sdp_body = sdp::build(ar.answer);
  }
  take_stream(b, ns, maxptime_of(ans, ns.media_index), peer_media_of(LegId::b));
  return program_flow();
}

// ---------------------------------------------------------------- in dialog

void Call::on_bye(const Input& in, LegId from) {
  svc_.stack->respond(in.txn, 200);
  leg(from).dialog_key.clear();
  if (state_ == CallState::answered) {
    end(200, from == LegId::a ? "caller BYE" : "callee BYE", from == LegId::b, from == LegId::a);
    return;
  }
  if (state_ == CallState::offering) {  // both legs have their 2xx: the other one gets a BYE
    ++svc_.stats->calls_failed;
    end(487, from == LegId::a ? "caller BYE before its answer" : "callee BYE before the caller's answer",
        from == LegId::b, from == LegId::a);
    return;
  }
  if (from == LegId::b) {  // the callee gave up during early media
    fail(CallError::callee_bye_before_answer, "callee BYE before answer");
    return;
  }
  abandon_b_invite();
  respond_a(487);
  // Connecting: B answered; its 2xx is ACKed and its dialog ended.
  const bool b_answered = state_ == CallState::connecting;
  if (b_answered) ack_b();
  end(487, "caller BYE before answer", false, b_answered);
}

void Call::on_hangup() {
  static const std::string kReason = "hangup by operator";
  if (state_ != CallState::answered && state_ != CallState::offering) {
    respond_a(error_info(CallError::operator_hangup).status, {},
              {{"Reason", reason(480, kReason)}});
    // Connecting: B answered; its 2xx is ACKed and its dialog ended.
    const bool b_answered = state_ == CallState::connecting;
    if (b_answered) ack_b();
    end(error_info(CallError::operator_hangup).status, kReason, false, b_answered);
    return;
  }
  end(200, kReason, true, true);
}

void Call::on_a_cancel() {
  // The stack answered the CANCEL and sent 487 for the INVITE.
  svc_.index->unbind_server_invite(a_txn);
  a_txn = kNoTxn;
  abandon_b_invite();
  ++svc_.stats->calls_cancelled;
  // Connecting: B answered; its 2xx is ACKed and its dialog ended.
  const bool b_answered = state_ == CallState::connecting;
  if (b_answered) ack_b();
  end(487, "CANCEL", false, b_answered);
}

// ---------------------------------------------------------------- ending

bool Call::respond_a(int status, const std::string& body, const sip::Headers& headers, std::string_view reason) {
  if (a_txn == kNoTxn) return false;
  const TxnId txn = a_txn;
  sip::Message resp = svc_.stack->response_for(txn, status, reason);
  if (!resp) return false;
  for (const auto& [n, v] : headers) resp.add_header(n, v);
  if (status >= 200 && status < 300)  // A's INVITE is its first session refresh request (RFC 4028)
    for (const auto& [n, v] : accept_session_timer(LegId::a, svc_.stack->request_of(txn))) resp.add_header(n, v);
  if (!body.empty()) resp.set_body("application/sdp", body);
  Leg& a = leg(LegId::a);
  if (status > 100 && status < 300) {
    a.local_tag = resp.to_tag();
    a.dialog_key = sip::Dialog::key_for_incoming(resp);
  }
  if (status >= 200) {
    svc_.index->unbind_server_invite(txn);
    a_txn = kNoTxn;
  }
  return svc_.stack->respond(txn, std::move(resp));
}

void Call::fail(CallError error, const std::string& why, int callee_status) {
  const ErrorInfo& info = error_info(error);
  const int status = info.status != 0 ? info.status : callee_status;
  log_event(log::Level::info, "call failed", std::nullopt, std::string(info.name) + ": " + why, status);
  respond_a(status, {}, {{"Warning", warning(why)}}, info.status != 0 ? info.reason : std::string_view{});
  ++svc_.stats->calls_failed;
  ++svc_.stats->failures_by_cause[size_t(error)];
  end(status, why, false, false);
}

void Call::send_bye(LegId which, const std::string& reason_header) {
  Leg& l = leg(which);
  sip::Message m;
  if (sip::Dialog* d = l.dialog_key.empty() ? nullptr : svc_.stack->find_dialog(l.dialog_key)) {
    m = d->make_request("BYE");
  } else if (origin_ == CallOrigin::restored && !l.remote_tag.empty()) {
    // The stack of this process never saw the dialog: rebuild it from the
    // fields persisted with the call.
    const std::string from = "<" + l.local_uri + ">;tag=" + l.local_tag;
    const std::string to = "<" + l.remote_uri + ">;tag=" + l.remote_tag;
    m = sip::Message::request("BYE", l.remote_target.empty() ? l.remote_uri : l.remote_target, from, to,
                              l.sip_call_id, ++l.cseq + 100);
  }
  l.dialog_key.clear();
  if (!m) return;
  if (!reason_header.empty()) m.add_header("Reason", reason_header);
  add_trunk_credentials(m, which, "BYE");
  TxnId txn = svc_.stack->send_request(std::move(m), l.peer, l.proto);
  svc_.index->bind_client(txn, client_txn(ClientTxnKind::bye, which));
}

void Call::end(int result, const std::string& reason, bool bye_a, bool bye_b,
               const std::string& reason_header) {
  if (bye_a) send_bye(LegId::a, reason_header);
  if (bye_b) send_bye(LegId::b, reason_header);
  abandon_b_invite();
  CallRecord r = call_record(*this);
  r.end_ms = wall_ms();
  r.result_code = answer_ms ? 200 : result;
  r.end_reason = attempt_failures.empty() ? reason : reason + " (after: " + attempt_failures + ")";
  if (flow_id_ && flow_posted()) {
    if (flow_programmed()) {
      auto sa = svc_.media->stats(*flow_id_, 0), sb = svc_.media->stats(*flow_id_, 1);
      r.a = {sa.packets, sa.lost, double(sa.jitter) / 8.0};
      r.b = {sb.packets, sb.lost, double(sb.jitter) / 8.0};
    }
    // An add still waiting for its ack is followed by the delete (FIFO):
    // the dataplane ends with no flow either way.
    std::string err;
    if (!svc_.media->remove(*flow_id_, &err)) log_event(log::Level::warn, "flow delete failed", std::nullopt, err);
  }
  if (state_ == CallState::answered && svc_.stats->calls_active) --svc_.stats->calls_active;
  if (svc_.store) {
    try {
      svc_.store->write_cdr(r);
      svc_.store->delete_live(id_);
    } catch (const std::exception& e) {
      log_event(log::Level::error, "CDR write failed", std::nullopt, e.what());
    }
  }
  // Release what the call holds; its BYE and abandoned INVITE transactions
  // stay in the index until their answers arrive.
  for (LegId l : {LegId::a, LegId::b}) {
    Leg& x = leg(l);
    if (x.local_port)
      if (PortAllocator* p = svc_.ports(x.port)) p->release(x.local_port);
    x.local_port = 0;
    if (!x.sip_call_id.empty()) svc_.index->unbind_leg(x.sip_call_id);
  }
  if (flow_id_) svc_.index->release_flow(*flow_id_);
  flow_state_ = FlowState::none;
  if (a_txn != kNoTxn) svc_.index->unbind_server_invite(a_txn);
  state_ = CallState::ended;
}

void Call::persist() const {
  if (!svc_.store || state_ != CallState::answered) return;
  try {
    svc_.store->put_live(id_, live_state_text(*this));
  } catch (const std::exception& e) {
    log_event(log::Level::error, "live state write failed", std::nullopt, e.what());
  }
}

void Call::log_event(log::Level level, std::string_view what, std::optional<CallEvent> event,
                     const std::string& detail, int status) const {
  if (!log::enabled(level)) return;
  // Peers can make calls fail at any rate: one site, bounded.
  static log::RateLimiter limiter("call", 100, 500);
  log::write_limited(limiter, level, what,
                     {{"call", id_}, {"state", state_name(state_)},
                      {"event", event ? event_name(*event) : std::string_view("-")}, {"status", status},
                      {"detail", detail}});
}

}  // namespace msgw::control
