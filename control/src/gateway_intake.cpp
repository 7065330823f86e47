// SPDX-License-Identifier: GPL-3.0-or-later
// The Gateway's request intake: a SIP request outside any live dialog of
// the stack (and in-dialog requests handed to their call), answered here or
// turned into a call: OPTIONS, REGISTER (digest authentication and the
// AuthGuard), the BYE of a call restored after a restart, and a new INVITE
// checked (hops, loops), authenticated or matched to its trunk, routed
// (outbound: dial plan to trunk targets; inbound: DID to the registered
// contact), given its media ports and launched, or refused with its CDR.
// Setup code: runs per SIP message, never per packet.
#include <cstdlib>

#include "gateway_internal.hpp"
#include "msgw/common/wall_clock.hpp"
#include "msgw/control/gateway.hpp"
#include "msgw/control/offer.hpp"
#include "msgw/sip/dialog.hpp"
#include "msgw/sip/privacy.hpp"
#include "msgw/sip/session_timer.hpp"

namespace msgw::control {

using common::wall_s;
using common::wall_ms;
using gateway_detail::endpoint_from_uri;

namespace {

// "udp:10.10.0.2:5062" (Binding::source) → endpoint and protocol.
std::optional<sip::Endpoint> endpoint_from_source(const std::string& src, sip::Proto* proto) {
  auto colon = src.find(':');
  if (colon == std::string::npos) return std::nullopt;
  *proto = src.compare(0, colon, "tcp") == 0 ? sip::Proto::Tcp : sip::Proto::Udp;
  std::string rest = src.substr(colon + 1);
  auto pc = rest.rfind(':');
  if (pc == std::string::npos) return std::nullopt;
  std::string host = rest.substr(0, pc);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return sip::Endpoint::from(host, static_cast<uint16_t>(std::atoi(rest.c_str() + pc + 1)));
}

std::string source_key(const sip::Inbound& in) {
  return (in.proto == sip::Proto::Tcp ? "tcp:" : "udp:") + in.peer.str();
}

// The event a request inside a call's dialog is, for the leg that sent it.
// An UPDATE with an offer (RFC 3311) modifies the session as a re-INVITE
// does and is answered the same way, in its 2xx; before the call is
// answered that is a 491, as for a re-INVITE.
CallEvent in_dialog_event(sip::MessageRef req, LegId from) {
  const std::string method = req.method();
  if (method == "BYE") return from == LegId::a ? CallEvent::bye_a : CallEvent::bye_b;
  if (method == "INVITE" || (method == "UPDATE" && !req.sdp().empty()))
    return from == LegId::a ? CallEvent::reinvite_a : CallEvent::reinvite_b;
  if (method == "INFO") return CallEvent::info;  // passed on to the other leg
  return CallEvent::in_dialog_other;  // UPDATE without SDP, NOTIFY, OPTIONS: acknowledged, not relayed
}

}  // namespace

// ---------------------------------------------------------------- requests

Call* Gateway::restored_call_for(sip::MessageRef req, LegId* leg) {
  if (!req) return nullptr;
  Call* c = call_by_sip_call_id(req.call_id(), leg);
  if (c == nullptr || c->origin() != CallOrigin::restored) return nullptr;
  const Leg& l = c->leg(*leg);
  if (l.local_tag.empty() || req.to_tag() != l.local_tag || req.from_tag() != l.remote_tag) return nullptr;
  return c;
}

bool Gateway::adopts_dialogless(sip::Stack&, sip::MessageRef req) {
  LegId leg = LegId::a;
  return restored_call_for(req, &leg) != nullptr;
}

void Gateway::on_request(sip::Stack&, const sip::ServerRequest& req) {
  const std::string method = req.msg.method();
  if (req.dialog) return handle_in_dialog(req);
  LegId leg = LegId::a;
  if (Call* c = restored_call_for(req.msg, &leg)) {
    // A restored call's dialogs live in its persisted legs, not in this
    // (new) stack: a BYE from either party ends it as it would have before
    // the restart; anything else cannot be served without the dialog.
    if (method != "BYE") {
      stack_->respond(req.txn, 481);
      return;
    }
    dispatch(*c, in_dialog_event(req.msg, leg), {req.txn, req.msg, nullptr, leg});
    return;
  }
  if (method == "OPTIONS") return handle_options(req);
  if (method == "REGISTER") return handle_register(req);
  if (method == "INVITE") return handle_invite(req);
  if (method == "BYE" || method == "UPDATE") {  // in-dialog only: no dialog, no call
    stack_->respond(req.txn, 481);
    return;
  }
  stack_->respond(req.txn, 405, {}, {{"Allow", stack_->allow_header()}});
}

void Gateway::handle_in_dialog(const sip::ServerRequest& req) {
  LegId leg = LegId::a;
  Call* c = call_by_sip_call_id(req.dialog->call_id(), &leg);
  if (!c) {
    stack_->respond(req.txn, 481);
    return;
  }
  dispatch(*c, in_dialog_event(req.msg, leg), {req.txn, req.msg, req.dialog, leg});
}

void Gateway::handle_options(const sip::ServerRequest& req) {
  ++stats_.options;
  stack_->respond(req.txn, 200, {}, {{"Allow", stack_->allow_header()}, {"Accept", "application/sdp"}});
}

bool Gateway::authenticate(const sip::ServerRequest& req, std::string* user) {
  const std::string src = req.source.peer.ip();
  const auto t = now();
  if (guard_->blocked(src, t)) {
    ++stats_.auth_blocked_403;
    stack_->respond(req.txn, 403, "Too Many Authentication Failures");
    record_refusal(req, 403, "auth_blocked");
    return false;
  }
  sip::AuthResult r = auth_->verify(req.msg);
  if (r.verdict == sip::AuthVerdict::ok) {
    guard_->success(src, t);
    *user = std::string(r.username);
    return true;
  }
  if (r.status == 400) {
    ++stats_.auth_failures;
    guard_->failure(src, t);
    stack_->respond(req.txn, 400, r.reason.empty() ? std::string_view("Bad Credentials") : r.reason);
    return false;
  }
  // Credentials that were present and wrong count towards the 403; a first
  // request without any (or a stale nonce) is the normal challenge dance.
  const bool failed = r.verdict != sip::AuthVerdict::missing && r.verdict != sip::AuthVerdict::stale &&
                      r.verdict != sip::AuthVerdict::replayed_nc;
  if (failed) {
    ++stats_.auth_failures;
    guard_->failure(src, t);
    if (guard_->blocked(src, t)) {
      ++stats_.auth_blocked_403;
      stack_->respond(req.txn, 403, "Too Many Authentication Failures");
      record_refusal(req, 403, "auth_blocked");
      return false;
    }
  }
  sip::Message resp = stack_->response_for(req.txn, sip::challenge_status(sip::challenge_kind_for(req.msg.method())));
  if (!resp) return false;
  add_challenge(resp, req, r);
  stack_->respond(req.txn, std::move(resp));
  return false;
}

void Gateway::add_challenge(sip::Message& resp, const sip::ServerRequest& req, const sip::AuthResult& r) {
  const auto kind = sip::challenge_kind_for(req.msg.method());
  // The claimed user's algorithms: from its credentials, else the AOR.
  const std::string claimed = !r.username.empty()             ? std::string(r.username)
                              : kind == sip::ChallengeKind::www ? req.msg.to_user()
                                                                : req.msg.from_user();
  auth_->add_challenges(resp, kind, r.stale, algorithms_for(claimed));
  ++stats_.auth_challenges;
}

// Like Kamailio's auth_challenge + sl_send_reply: the first INVITE of every
// call (and REGISTER) costs no transaction, no 100 Trying and no parse of
// its ACK.  Only a request authenticate() would challenge as `missing` comes
// here; blocked sources (403), trunks, loops and requests with credentials
// (verified once, on the ordinary path: verify() counts nonce uses) do not.
sip::Message Gateway::answer_statelessly(sip::Stack& stack, const sip::ServerRequest& req) {
  const std::string method = req.msg.method();
  if (method == "INVITE") {
    if (auth_->carries_credentials(req.msg) || classify_invite(req) != InviteIntake::from_phone) return {};
  } else if (method != "REGISTER" || auth_->carries_credentials(req.msg)) {
    return {};
  }
  if (guard_->blocked(req.source.peer.ip(), now())) return {};
  const sip::AuthResult r = auth_->verify(req.msg);
  if (r.verdict != sip::AuthVerdict::missing) return {};
  sip::Message resp = stack.stateless_response(req.msg, sip::challenge_status(sip::challenge_kind_for(method)));
  if (resp) add_challenge(resp, req, r);
  return resp;
}

void Gateway::handle_register(const sip::ServerRequest& req) {
  std::string user;
  if (!authenticate(req, &user)) return;
  // The authenticated user may register its own AOR only.
  if (req.msg.to_uri().empty() || req.msg.to_user() != user) {
    stack_->respond(req.txn, 403, "Credentials Do Not Match The AOR");
    return;
  }
  auto result = registrar_->handle(req.msg, source_key(req.source), wall_s());
  sip::Message resp = stack_->response_for(
      req.txn, result.status, result.status == 200 ? std::string_view{} : std::string_view(result.reason));
  if (!resp) return;
  sip::Registrar::fill_response(resp, result, wall_s());
  if (result.status == 200) ++stats_.registrations;
  stack_->respond(req.txn, std::move(resp));
}

void Gateway::refuse(const sip::ServerRequest& req, CallError error, const std::string& warning,
                     const sip::Headers& extra) {
  const ErrorInfo& info = error_info(error);
  sip::Headers h = extra;
  if (!warning.empty()) h.push_back({"Warning", warning});
  stack_->respond(req.txn, info.status, info.reason, h);
  record_refusal(req, info.status, info.name);
  ++stats_.failures_by_cause[size_t(error)];
}

Gateway::InviteIntake Gateway::classify_invite(const sip::ServerRequest& req, const config::TrunkSection** trunk) {
  // Max-Forwards and loops: a request we sent that came back to us.
  if (req.msg.max_forwards().value_or(70) <= 1) return InviteIntake::too_many_hops;
  LegId leg = LegId::a;
  if (call_by_sip_call_id(req.msg.call_id(), &leg) && leg == LegId::b) return InviteIntake::loop;
  if (const auto* t = trunk_by_source(req.source.peer)) {
    if (trunk) *trunk = t;
    return InviteIntake::from_trunk;
  }
  return InviteIntake::from_phone;
}

void Gateway::handle_invite(const sip::ServerRequest& req) {
  const config::TrunkSection* trunk = nullptr;
  switch (classify_invite(req, &trunk)) {
    case InviteIntake::too_many_hops:
      ++stats_.loops_refused;
      refuse(req, CallError::too_many_hops);
      return;
    case InviteIntake::loop:
      ++stats_.loops_refused;
      refuse(req, CallError::loop_detected);
      return;
    case InviteIntake::from_trunk:
      if (refuse_short_session(req)) return;
      start_inbound(req, *trunk);
      return;
    case InviteIntake::from_phone:
      break;
  }
  std::string user;
  if (!authenticate(req, &user)) return;
  if (refuse_short_session(req)) return;
  start_outbound(req, user);
}

bool Gateway::refuse_short_session(const sip::ServerRequest& req) {
  if (!sip::session_interval_too_small(sip::session_timer_of(req.msg))) return false;
  ++stats_.session_intervals_too_small;
  refuse(req, CallError::session_interval_too_small, {}, {{"Min-SE", std::to_string(sip::kMinSessionExpires)}});
  return true;
}

std::unique_ptr<Call> Gateway::new_call(const sip::ServerRequest& req, CallDirection direction) {
  const std::string id = req.msg.call_id();
  if (calls_.count(id)) {
    refuse(req, CallError::loop_detected);
    return nullptr;
  }
  auto c = std::make_unique<Call>(services_, id, direction);
  c->a_txn = req.txn;
  c->start_ms = wall_ms();
  c->invite_received = now();
  c->from_uri = req.msg.from_uri();
  c->to_uri = req.msg.request_uri();
  c->max_forwards = req.msg.max_forwards().value_or(70) - 1;
  // The A leg as A's INVITE defines it.
  Leg& a = c->leg(LegId::a);
  a.sip_call_id = id;
  a.peer = req.source.peer;
  a.proto = req.source.proto;
  a.remote_tag = req.msg.from_tag();
  a.remote_uri = c->from_uri;
  a.local_uri = req.msg.to_uri().empty() ? c->to_uri : req.msg.to_uri();
  a.remote_target = req.msg.contact_uri(0);
  a.sdp_session_id = static_cast<uint64_t>(wall_ms());
  return c;
}

void Gateway::launch(std::unique_ptr<Call> call, CallError no_target_error, const std::string& why) {
  Call& c = *call;
  calls_[c.id()] = std::move(call);
  c.start(no_target_error, why);
  if (c.state() == CallState::ended) calls_.erase(c.id());
}

void Gateway::start_outbound(const sip::ServerRequest& req, const std::string& user) {
  const config::SubscriberSection* sub = nullptr;
  for (const auto& s : cfg_.subscribers)
    if (s.user == user) sub = &s;
  if (!sub) {
    refuse(req, CallError::unknown_subscriber);
    return;
  }
  // Only what is addressed to us is ours to route: an outbound-proxy phone
  // names one of [sip] domains, any other phone one of our addresses.
  if (auto ruri = sip::parse_uri(req.msg.request_uri()); !ruri || !is_local_host(ruri->host)) {
    refuse(req, CallError::foreign_domain);
    return;
  }
  ++stats_.calls_attempted;
  ++stats_.outbound_calls;
  auto c = new_call(req, CallDirection::outbound);
  if (!c) return;
  auto failed = [&](CallError e, const std::string& warning = {}) {
    refuse(req, e, warning);
    ++stats_.calls_failed;
  };
  c->subscriber = user;
  c->caller_display = sub->display_name;
  c->caller_user = sub->dids.empty() ? sub->user : sub->dids.front();
  c->caller_withheld = sip::caller_withheld(req.msg);
  if (auto problem = take_offer(req.msg, sub->codecs, c->a_offer, c->a_usable))
    return failed(problem->error, problem->warning);
  if (c->a_offer_delayed()) ++stats_.delayed_offers;
  auto number = normalize_number(req.msg.request_uri_user());
  if (!number) return failed(CallError::address_incomplete);
  c->number = *number;
  auto route = dialplan_->route(*number);
  if (!route || route->trunks.empty()) return failed(CallError::no_route);
  for (const auto& name : route->trunks)
    if (const auto* t = trunk_by_name(name)) add_trunk_targets(*t, c->number, c->targets);
  // A leg media: the access port.
  Leg& a = c->leg(LegId::a);
  a.port = access_port_;
  a.local_ip = cfg_.ports[static_cast<std::size_t>(access_port_)].address.addr;
  a.latch = true;
  auto ap = ports(access_port_)->allocate();
  if (!ap) return failed(CallError::out_of_media_ports);
  a.local_port = *ap;
  launch(std::move(c), CallError::no_trunk_available, "no trunk could be tried");
}

void Gateway::start_inbound(const sip::ServerRequest& req, const config::TrunkSection& trunk) {
  ++stats_.calls_attempted;
  ++stats_.inbound_calls;
  auto c = new_call(req, CallDirection::inbound);
  if (!c) return;
  auto failed = [&](CallError e, const std::string& warning = {}) {
    refuse(req, e, warning);
    ++stats_.calls_failed;
  };
  c->trunk = trunk.name;
  auto number = normalize_number(req.msg.request_uri_user());
  const config::SubscriberSection* sub = nullptr;
  if (number)
    for (const auto& s : cfg_.subscribers)
      for (const auto& d : s.dids)
        if (normalize_number(d) == number) sub = &s;
  if (!sub) return failed(CallError::unknown_did);
  c->subscriber = sub->user;
  c->number = *number;
  if (auto problem = take_offer(req.msg, trunk.codecs, c->a_offer, c->a_usable))
    return failed(problem->error, problem->warning);
  if (c->a_offer_delayed()) ++stats_.delayed_offers;
  // The registered contact of the subscriber (any AOR host: phones register
  // to whatever address they were given for the gateway).
  std::optional<sip::Binding> binding;
  for (auto& b : registrar_->all(wall_s())) {
    auto at = b.aor.find('@');
    std::string u = b.aor.substr(4, at == std::string::npos ? std::string::npos : at - 4);
    if (u == sub->user && (!binding || b.q_milli > binding->q_milli)) binding = b;
  }
  if (!binding) return failed(CallError::not_registered);
  sip::Proto proto = sip::Proto::Udp;
  auto dst = endpoint_from_source(binding->source, &proto);
  if (!dst) dst = endpoint_from_uri(binding->contact);
  if (!dst) return failed(CallError::unreachable_contact);
  const int tport = port_index_for_trunk(trunk);
  Leg& a = c->leg(LegId::a);
  a.port = tport;
  a.local_ip = cfg_.ports[static_cast<std::size_t>(tport)].address.addr;
  CalleeTarget target;  // no answer deadline: an inbound call rings until the trunk cancels it
  target.destination = *dst;
  target.proto = proto;
  target.port = access_port_;
  target.latch = true;
  target.request_uri = binding->contact;
  target.codecs = codec_list(sub->codecs);
  c->targets.push_back(std::move(target));
  auto ap = ports(tport)->allocate();
  auto bp = ports(access_port_)->allocate();
  if (!ap || !bp) {
    if (ap) ports(tport)->release(*ap);
    if (bp) ports(access_port_)->release(*bp);
    return failed(CallError::out_of_media_ports);
  }
  a.local_port = *ap;
  Leg& b = c->leg(LegId::b);
  b.port = access_port_;
  b.local_port = *bp;
  c->caller_user = req.msg.from_user();
  c->caller_display = req.msg.from_display();
  c->caller_withheld = sip::caller_withheld(req.msg);  // the phone is outside the carrier's trust domain
  launch(std::move(c), CallError::subscriber_unreachable, "cannot send INVITE to the subscriber");
}

}  // namespace msgw::control
