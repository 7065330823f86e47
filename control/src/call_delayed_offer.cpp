// SPDX-License-Identifier: GPL-3.0-or-later
// A call whose INVITE carried no offer (RFC 3261 §13.2.1, RFC 3264 §5 "the
// offer in the 2xx, the answer in the ACK"), as carriers' delayed-offer
// trunks and some PBXs place them. B still gets an offer of ours at once
// (A's codec policy stands in for A's offer), so B's leg is an ordinary
// one; A's 2xx carries our offer for A's leg and A's ACK its answer, which
// the flow waits for. The rows these act on: `offering` in call_model.cpp.
#include <algorithm>

#include "call_detail.hpp"
#include "msgw/control/call.hpp"
#include "msgw/control/offer.hpp"

namespace msgw::control {

namespace sdp = msgw::sip::sdp;
using call_detail::maxptime_of;
using call_detail::read_answer;
using call_detail::reason;
using call_detail::take_stream;
using codecs::CodecId;

void Call::offer_to_a() {
  Leg& a = leg(LegId::a);
  const Leg& b = leg(LegId::b);
  // B's codec first: A answering with it lets the dataplane relay the call.
  std::vector<CodecId> order;
  if (std::find(a_usable.begin(), a_usable.end(), b.codec.id) != a_usable.end()) order.push_back(b.codec.id);
  for (CodecId c : a_usable)
    if (std::find(order.begin(), order.end(), c) == order.end()) order.push_back(c);
  sdp::LocalPolicy lp;
  lp.codecs = order;
  lp.address = config::format_ipv4(a.local_ip);
  lp.port = a.local_port;
  lp.telephone_event = true;
  // As for an answer: no Annex B toward A when B's G.729 refused it.
  lp.g729_annexb = svc_.config->codecs.g729_annexb && !(b.codec.id == CodecId::G729 && !b.codec.g729_annexb);
  lp.session_id = a.sdp_session_id;
  lp.session_version = ++a.sdp_version;
  a.sdp_body = sdp::build(sdp::make_offer(lp));  // the offer the ACK answers (read_answer)
  ack_b();
  early_relay_ = 0;
  respond_a(200, a.sdp_body);
  state_ = CallState::offering;
}

std::optional<Call::Failure> Call::apply_a_answer(sip::MessageRef ack) {
  Leg& a = leg(LegId::a);
  sdp::SessionDescription ans;
  sdp::NegotiatedStream ns;
  if (auto why = read_answer(ack, a, ans, ns)) return Failure{CallError::ack_answer_unusable, *why};
  take_stream(a, ns, maxptime_of(ans, ns.media_index), peer_media_of(LegId::a));
  a.hold = ns.remote_hold;
  return std::nullopt;
}

void Call::on_ack(const Input& in) {
  if (state_ == CallState::answered) {
    take_reinvite_ack_answer(in);
    return;
  }
  // Offering. A second ACK of the same 2xx never reaches the call (the
  // stack absorbs it); an answer already taken stays.
  if (in.leg != LegId::a || flow_posted()) return;
  std::optional<Failure> failure = apply_a_answer(in.msg);
  if (failure) ++svc_.stats->ack_answers_unusable;
  if (!failure) failure = program_flow();
  if (failure) drop_offering(*failure);
  // The add is posted: flow_ready answers the call, flow_refused ends it.
}

void Call::drop_offering(const Failure& failure) {
  const ErrorInfo& info = error_info(failure.error);
  log_event(log::Level::info, "call failed", std::nullopt, std::string(info.name) + ": " + failure.detail,
            info.status);
  ++svc_.stats->calls_failed;
  ++svc_.stats->failures_by_cause[size_t(failure.error)];
  end(info.status, std::string(info.name) + ": " + failure.detail, true, true, reason(info.status, failure.detail));
}

}  // namespace msgw::control
