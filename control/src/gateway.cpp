// SPDX-License-Identifier: GPL-3.0-or-later
// The B2BUA's dispatcher: requests and responses to calls, routing of new
// calls, registrations, OPTIONS and timers (setup/control code: runs per SIP
// message, never per packet). What a call does is in call.cpp.
#include "msgw/control/gateway.hpp"
#include "msgw/config/reload.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "msgw/common/ascii.hpp"
#include "msgw/common/log.hpp"
#include "msgw/common/wall_clock.hpp"
#include "msgw/control/call_json.hpp"
#include "msgw/control/offer.hpp"
#include "msgw/sip/dialog.hpp"

namespace msgw::control {

using common::wall_s;
using common::wall_ms;

using sip::kNoTxn;
using sip::TxnId;

namespace {

constexpr const char* kAllow = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO";

std::optional<sip::Endpoint> endpoint_from_uri(const std::string& uri_text) {
  auto u = sip::parse_uri(uri_text);
  if (!u || u->host.empty()) return std::nullopt;
  return sip::Endpoint::from(u->host, u->port ? u->port : 5060);
}

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
CallEvent in_dialog_event(const std::string& method, LegId from) {
  if (method == "BYE") return from == LegId::a ? CallEvent::bye_a : CallEvent::bye_b;
  if (method == "INVITE") return from == LegId::a ? CallEvent::reinvite_a : CallEvent::reinvite_b;
  return CallEvent::in_dialog_other;  // INFO (DTMF), UPDATE without SDP, NOTIFY: acknowledged, not relayed
}

}  // namespace

Gateway::Gateway(config::Config cfg, MediaBackend& media, StateStore* store)
    : cfg_(std::move(cfg)), media_(media), store_(store) {
  services_.media = &media_;
  services_.store = store_;
  services_.stats = &stats_;
  services_.index = &index_;
  services_.config = &cfg_;
  services_.ports = [this](int port) { return ports(port); };
  services_.now = [this] { return now(); };
  services_.trunks = &trunks_;
  nonce_keys_ = load_or_create_nonce_keys(store_);
  apply_config();
  sip::RegistrarConfig rc;
  rc.min_expires = cfg_.sip.min_expires_s;
  rc.max_expires = cfg_.sip.max_expires_s;
  rc.db_path = store_ ? cfg_.sip.state_db + ".registrar" : "";
  std::string err;
  registrar_ = sip::Registrar::open(rc, &err, wall_s());
  if (!registrar_) throw std::runtime_error("registrar: " + err);
}

Gateway::~Gateway() = default;

void Gateway::apply_config() {
  creds_ = sip::InMemoryCredentialStore();
  auto algorithms = [](const std::vector<std::string>& names) {
    std::vector<sip::DigestAlgorithm> out;
    for (const auto& a : names)
      if (auto alg = sip::parse_digest_algorithm(a)) out.push_back(*alg);
    return out;
  };
  default_algorithms_ = algorithms(cfg_.sip.digest_algorithms);
  subscriber_algorithms_.clear();
  sip::AuthConfig ac;
  ac.algorithms = default_algorithms_;  // answers are accepted in any algorithm challenged to anyone
  for (const auto& s : cfg_.subscribers) {
    if (!s.password.empty()) {
      creds_.add_password(s.user, cfg_.sip.realm, s.password);
    } else if (auto h = sip::Ha1::from_hex(s.ha1)) {
      creds_.add_ha1(s.user, cfg_.sip.realm, *h);
      if (auto h256 = sip::Ha1::from_hex(s.ha1_sha256)) creds_.add_ha1(s.user, cfg_.sip.realm, *h256);
    }
    auto& mine = subscriber_algorithms_[s.user] = algorithms(s.digest_algorithms);
    for (auto a : mine)
      if (std::find(ac.algorithms.begin(), ac.algorithms.end(), a) == ac.algorithms.end()) ac.algorithms.push_back(a);
  }
  ac.realm = cfg_.sip.realm;
  ac.nonce_lifetime_s = cfg_.sip.nonce_ttl_s;
  ac.nonce_key = nonce_keys_.current;
  ac.previous_nonce_key = nonce_keys_.previous;
  ac.previous_key_grace_until_s = nonce_keys_.previous_grace_until_s;
  local_hosts_.clear();
  for (const auto& p : cfg_.ports) local_hosts_.push_back(config::format_ipv4(p.address.addr));
  for (const auto& l : cfg_.sip.listen) local_hosts_.push_back(common::ascii_lowered(l.host));
  for (const auto& d : cfg_.sip.domains) local_hosts_.push_back(common::ascii_lowered(d));
  if (char name[256] = {}; gethostname(name, sizeof name - 1) == 0 && name[0] != '\0')
    local_hosts_.push_back(common::ascii_lowered(name));
  auth_ = std::make_unique<sip::DigestAuthenticator>(ac, creds_);
  if (!guard_)
    guard_ = std::make_unique<AuthGuard>(cfg_.sip.max_auth_failures, std::chrono::seconds(60),
                                         std::chrono::seconds(300));
  guard_->set_max_failures(cfg_.sip.max_auth_failures);
  if (registrar_) registrar_->set_expiry_bounds(cfg_.sip.min_expires_s, cfg_.sip.max_expires_s);

  dialplan_ = std::make_unique<DialPlan>(cfg_.routes);
  trunks_.configure(cfg_);
  track_trunk_names();
  access_port_ = -1;
  for (size_t i = 0; i < cfg_.ports.size(); ++i) {
    if (cfg_.ports[i].role == config::PortRole::access && access_port_ < 0) access_port_ = int(i);
    if (!ports_.count(int(i)))
      ports_[int(i)] = std::make_unique<PortAllocator>(cfg_.media.port_min, cfg_.media.port_max);
    else  // new calls draw from the new range; calls in progress keep their ports
      ports_[int(i)]->set_range(cfg_.media.port_min, cfg_.media.port_max);
  }
  if (access_port_ < 0) throw std::runtime_error(cfg_.file + ": no [[port]] with role = \"access\"");
}

bool Gateway::reload(const config::Config& cfg, std::string* error, std::vector<config::ConfigChange>* changes) {
  auto refuse = [&](const std::string& why) {
    if (error) *error = why;
    ++stats_.reloads_refused;
    return false;
  };
  // Each key as config/src/reload.cpp classifies it: the live ones apply to
  // what starts after this (calls, transactions, registrations); the others
  // keep their running value until the daemon that reads them restarts.
  config::ReloadPlan plan = config::plan_reload(cfg_, cfg);
  // The file is valid alone; what runs must be too (a trunk may name a
  // [[port]] that exists only after a restart).
  if (auto errors = config::check_whole(plan.apply, config::Scope::deployment, nullptr); !errors.empty())
    return refuse(errors.front().key + ": " + errors.front().message +
                  " (with the running values of what needs a restart)");
  for (const auto& c : plan.changes)
    if (!c.live)
      MSGW_LOG(warn, "reload: needs a restart", {"key", c.key}, {"msgw-control", c.restart_control},
               {"msgw-dataplane", c.restart_dataplane});
  config::Config old = cfg_;
  cfg_ = std::move(plan.apply);
  try {
    apply_config();
  } catch (const std::exception& e) {
    cfg_ = std::move(old);
    apply_config();
    return refuse(e.what());
  }
  if (stack_ && old.sip.t1_ms != cfg_.sip.t1_ms) {  // new transactions; running ones keep theirs
    sip::Timers timers = stack_->config().timers;
    timers.t1 = std::chrono::milliseconds(cfg_.sip.t1_ms);
    stack_->set_timers(timers);
  }
  if (stack_) stack_->set_admission(admission_config());
  ++stats_.reloads;
  if (changes) *changes = std::move(plan.changes);
  return true;
}

sip::AdmissionConfig Gateway::admission_config() const {
  const auto& s = cfg_.sip;
  sip::AdmissionConfig a;
  a.shed_queue_age_ms = s.overload_queue_age_ms;
  a.resume_queue_age_ms = s.overload_resume_age_ms;
  a.retry_after_s = s.overload_retry_after_s;
  a.source_invite_rate = s.source_invite_rate;
  a.source_register_rate = s.source_register_rate;
  a.source_burst = s.source_burst;
  a.source_block_s = s.source_block_s;
  a.source_table_size = s.source_table_size;
  for (const auto& text : s.source_limit_exempt)
    if (sip::SourcePrefix p; sip::parse_source_prefix(text, p)) a.exempt.push_back(p);
  // A carrier sends a whole network's calls from a few addresses it is
  // trusted by already: trunks are never limited per source (shedding
  // still applies to them).
  a.exempt_source = [this](const sip::SourceAddr& src) {
    static constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (std::memcmp(src.data(), kV4Mapped, sizeof kV4Mapped) != 0) return false;
    const uint32_t ip = uint32_t(src[12]) << 24 | uint32_t(src[13]) << 16 | uint32_t(src[14]) << 8 | src[15];
    auto ep = sip::Endpoint::from(config::format_ipv4(ip), 0);
    return ep && trunk_by_source(*ep) != nullptr;
  };
  return a;
}

PortAllocator* Gateway::ports(int port_index) {
  auto it = ports_.find(port_index);
  return it == ports_.end() ? nullptr : it->second.get();
}

Call* Gateway::call_by_id(const std::string& id) {
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : it->second.get();
}

Call* Gateway::call_by_sip_call_id(const std::string& sip_call_id, LegId* leg) {
  auto where = index_.leg_of(sip_call_id);
  if (!where) return nullptr;
  Call* c = call_by_id(where->first);
  if (c && leg) *leg = where->second;
  return c;
}

bool Gateway::dispatch(Call& call, CallEvent event, const Call::Input& input) {
  const bool acted = call.handle(event, input);
  if (call.state() == CallState::ended) calls_.erase(call.id());
  return acted;
}

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
    dispatch(*c, in_dialog_event(method, leg), {req.txn, req.msg, nullptr, leg});
    return;
  }
  if (method == "OPTIONS") return handle_options(req);
  if (method == "REGISTER") return handle_register(req);
  if (method == "INVITE") return handle_invite(req);
  if (method == "BYE") {
    stack_->respond(req.txn, 481);
    return;
  }
  stack_->respond(req.txn, 405, {}, {{"Allow", kAllow}});
}

void Gateway::handle_in_dialog(const sip::ServerRequest& req) {
  LegId leg = LegId::a;
  Call* c = call_by_sip_call_id(req.dialog->call_id(), &leg);
  if (!c) {
    stack_->respond(req.txn, 481);
    return;
  }
  dispatch(*c, in_dialog_event(req.msg.method(), leg), {req.txn, req.msg, req.dialog, leg});
}

void Gateway::handle_options(const sip::ServerRequest& req) {
  ++stats_.options;
  stack_->respond(req.txn, 200, {}, {{"Allow", kAllow}, {"Accept", "application/sdp"}});
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
  auto kind = sip::challenge_kind_for(req.msg.method());
  sip::Message resp = stack_->response_for(req.txn, sip::challenge_status(kind));
  if (!resp) return false;
  // The claimed user's algorithms: from its credentials, else the AOR.
  const std::string claimed = !r.username.empty()             ? std::string(r.username)
                              : kind == sip::ChallengeKind::www ? req.msg.to_user()
                                                                : req.msg.from_user();
  auth_->add_challenges(resp, kind, r.stale, algorithms_for(claimed));
  ++stats_.auth_challenges;
  stack_->respond(req.txn, std::move(resp));
  return false;
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

void Gateway::refuse(const sip::ServerRequest& req, CallError error, const std::string& warning) {
  const ErrorInfo& info = error_info(error);
  sip::Headers h;
  if (!warning.empty()) h.push_back({"Warning", warning});
  stack_->respond(req.txn, info.status, info.reason, h);
  record_refusal(req, info.status, info.name);
  ++stats_.failures_by_cause[size_t(error)];
}

void Gateway::handle_invite(const sip::ServerRequest& req) {
  // Max-Forwards and loops: a request we sent that came back to us.
  if (req.msg.max_forwards().value_or(70) <= 1) {
    ++stats_.loops_refused;
    refuse(req, CallError::too_many_hops);
    return;
  }
  LegId leg = LegId::a;
  if (call_by_sip_call_id(req.msg.call_id(), &leg) && leg == LegId::b) {
    ++stats_.loops_refused;
    refuse(req, CallError::loop_detected);
    return;
  }
  if (const auto* trunk = trunk_by_source(req.source.peer)) {
    start_inbound(req, *trunk);
    return;
  }
  std::string user;
  if (!authenticate(req, &user)) return;
  start_outbound(req, user);
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
  if (auto problem = take_offer(req.msg, sub->codecs, c->a_offer, c->a_usable))
    return failed(problem->error, problem->warning);
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
  launch(std::move(c), CallError::subscriber_unreachable, "cannot send INVITE to the subscriber");
}

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
  if (t.kind != ClientTxnKind::b_invite) return;
  if (Call* c = call_by_id(t.call)) dispatch(*c, CallEvent::b_timeout, {txn, {}, nullptr, LegId::b});
}

void Gateway::on_cancel(sip::Stack&, TxnId invite_txn) {
  auto id = index_.call_of_server_invite(invite_txn);
  if (!id) return;
  if (Call* c = call_by_id(*id)) dispatch(*c, CallEvent::a_cancel);
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

// ---------------------------------------------------------------- durability

void Gateway::restore() {
  if (!store_) return;
  for (const auto& [id, text] : store_->live()) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    std::string error;
    auto c = j.is_discarded() ? nullptr : restore_call(services_, id, j, &error);
    if (!c) {
      MSGW_LOG(warn, "live state unreadable: dropped", {"call", id}, {"why", j.is_discarded() ? "not JSON" : error});
      store_->delete_live(id);
      continue;
    }
    ++stats_.calls_restored;
    ++stats_.calls_active;
    calls_[id] = std::move(c);
  }
}

}  // namespace msgw::control
