// B2BUA call logic (setup/control code: runs per SIP message, never per packet).
#include "msgw/control/gateway.hpp"

#include <osipparser2/osip_message.h>
#include <osipparser2/osip_port.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "msgw/control/media_policy.hpp"
#include "msgw/sip/dialog.hpp"

namespace msgw::control {

namespace dp = msgw::dataplane;
namespace sdp = msgw::sip::sdp;
using codecs::CodecId;
using sip::TxnId;
using sip::kNoTxn;

struct Gateway::Leg {
  int port = 0;              // dataplane port index
  uint32_t local_ip = 0;     // host order
  uint16_t local_port = 0;   // 0: none allocated
  uint32_t remote_ip = 0;
  uint16_t remote_port = 0;
  codecs::CodecParams codec{};
  bool has_codec = false;
  uint8_t dtmf_pt = dp::kNoPayloadType;
  uint16_t ptime = 20;
  bool latch = false;
  bool hold = false;
  std::string sip_call_id;
  std::string dialog_key;
  sip::Endpoint peer;
  sip::Proto proto = sip::Proto::Udp;
  // Enough of the dialog to end it after a control-plane restart, when the
  // stack no longer knows it.
  std::string local_tag, remote_tag, local_uri, remote_uri, remote_target;
  uint32_t cseq = 0;
  uint64_t sdp_session_id = 0, sdp_version = 0;
  std::string sdp_body;  // last SDP the gateway sent on this leg
};

struct Gateway::Call {
  enum class State { routing, early, answered };
  std::string id;  // A-leg Call-ID: the id operators see
  bool inbound = false;
  State state = State::routing;
  Leg a, b;
  TxnId a_txn = kNoTxn, b_txn = kNoTxn;
  bool a_final_sent = false;
  uint32_t b_invite_cseq = 1;
  sdp::SessionDescription a_offer, b_offer;
  std::vector<CodecId> a_usable;   // what the A leg offered that its policy allows
  std::vector<CodecId> b_prefs;    // the B side's codec policy
  std::vector<std::string> trunks; // outbound failover list
  size_t next_trunk = 0;
  std::string trunk, subscriber, from_uri, to_uri, number;
  std::optional<uint32_t> flow_id;
  bool flow_programmed = false;
  bool transcode = false;
  int64_t start_ms = 0, answer_ms = 0;
  std::optional<Clock::time_point> b_deadline;
  bool restored = false;
  int max_forwards = 70;
  std::string caller_display, caller_user;
  std::string callee_ruri;  // inbound: the registered contact
};

namespace {

enum TxnKind { kBInvite = 0, kReinviteA = 10, kReinviteB = 11, kBye = 20, kOrphanInvite = 30 };

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}
int64_t wall_s() { return wall_ms() / 1000; }

std::string uri_str(const osip_uri_t* u) {
  if (u == nullptr) return {};
  char* s = nullptr;
  if (osip_uri_to_str(u, &s) != 0 || s == nullptr) return {};
  std::string out(s);
  osip_free(s);
  return out;
}

std::string uri_user(const osip_uri_t* u) { return u && u->username ? u->username : ""; }

std::string ip_str(uint32_t ip) { return config::format_ipv4(ip); }

std::string codec_name(CodecId c) { return std::string(codecs::codec_info(c).sdp_name); }

std::vector<CodecId> parse_codec_list(const std::vector<std::string>& names) {
  std::vector<CodecId> out;
  for (const auto& n : names)
    if (auto id = codecs::codec_from_sdp_name(n)) out.push_back(*id);
  return out;
}

// First audio RTP m-line, if any.
const sdp::MediaDescription* first_audio(const sdp::SessionDescription& s) {
  for (const auto& m : s.media)
    if (m.media == "audio" && m.is_rtp() && m.port != 0) return &m;
  return nullptr;
}

void offered(const sdp::MediaDescription& m, std::vector<CodecId>* codecs, bool* te) {
  *te = false;
  for (const auto& p : m.payloads) {
    if (p.telephone_event) *te = true;
    if (p.codec && std::find(codecs->begin(), codecs->end(), p.codec->id) == codecs->end())
      codecs->push_back(p.codec->id);
  }
}

std::optional<sip::Endpoint> endpoint_from_uri(const std::string& uri_text) {
  osip_uri_t* u = nullptr;
  if (osip_uri_init(&u) != 0) return std::nullopt;
  std::optional<sip::Endpoint> e;
  if (osip_uri_parse(u, uri_text.c_str()) == 0 && u->host)
    e = sip::Endpoint::from(u->host, static_cast<uint16_t>(u->port ? std::atoi(u->port) : 5060));
  osip_uri_free(u);
  return e;
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
  return std::string(sip::proto_name(in.proto)) == "TCP" ? "tcp:" + in.peer.str() : "udp:" + in.peer.str();
}

// A request built from saved dialog fields (the stack no longer has the dialog).
sip::MessagePtr build_request(const std::string& method, const std::string& ruri, const std::string& from,
                              const std::string& to, const std::string& call_id, uint32_t cseq) {
  osip_message_t* m = nullptr;
  if (osip_message_init(&m) != 0) return {};
  sip::MessagePtr p(m);
  osip_message_set_method(m, osip_strdup(method.c_str()));
  osip_message_set_version(m, osip_strdup("SIP/2.0"));
  osip_uri_t* u = nullptr;
  osip_uri_init(&u);
  if (osip_uri_parse(u, ruri.c_str()) != 0) {
    osip_uri_free(u);
    return {};
  }
  osip_message_set_uri(m, u);
  if (osip_message_set_from(m, from.c_str()) != 0 || osip_message_set_to(m, to.c_str()) != 0 ||
      osip_message_set_call_id(m, call_id.c_str()) != 0)
    return {};
  osip_message_set_cseq(m, (std::to_string(cseq) + " " + method).c_str());
  return p;
}

void set_sdp_body(osip_message_t* m, const std::string& body) {
  if (body.empty()) return;
  osip_message_set_body(m, body.data(), body.size());
  osip_message_set_content_type(m, "application/sdp");
}

// What the A leg hears when the B leg failed with `code` (RFC 3261 §16.7
// style: authentication and redirection problems of the trunk are ours).
int map_error(int code) {
  if (code == 401 || code == 407) return 503;
  if (code >= 300 && code < 400) return 502;
  if (code == 482 || code == 483) return code;
  return code;
}

}  // namespace

Gateway::Gateway(config::Config cfg, MediaBackend& media, StateStore* store)
    : cfg_(std::move(cfg)), media_(media), store_(store) {
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
  for (const auto& s : cfg_.subscribers) {
    if (!s.password.empty()) {
      creds_.add_password(s.user, cfg_.sip.realm, s.password);
    } else if (auto h = sip::Ha1::from_hex(s.ha1)) {
      creds_.add_ha1(s.user, cfg_.sip.realm, *h);
    }
  }
  sip::AuthConfig ac;
  ac.realm = cfg_.sip.realm;
  ac.nonce_lifetime_s = cfg_.sip.nonce_ttl_s;
  if (!cfg_.sip.digest_algorithms.empty()) {
    ac.algorithms.clear();
    for (const auto& a : cfg_.sip.digest_algorithms)
      if (auto alg = sip::parse_digest_algorithm(a)) ac.algorithms.push_back(*alg);
  }
  // Keep the nonce key across reloads so nonces phones cached stay valid.
  static std::optional<std::array<uint8_t, 32>> key;
  if (!key) {
    std::array<uint8_t, 32> k{};
    std::string r = sip::random_token(64);
    for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(r[i] ^ r[i + 32] ^ (i * 131));
    key = k;
  }
  ac.nonce_key = key;
  auth_ = std::make_unique<sip::DigestAuthenticator>(ac, creds_);
  if (!guard_)
    guard_ = std::make_unique<AuthGuard>(cfg_.sip.max_auth_failures, std::chrono::seconds(60),
                                         std::chrono::seconds(300));
  dialplan_ = std::make_unique<DialPlan>(cfg_.routes);
  access_port_ = -1;
  for (size_t i = 0; i < cfg_.ports.size(); ++i) {
    if (cfg_.ports[i].role == config::PortRole::access && access_port_ < 0) access_port_ = int(i);
    if (!ports_.count(int(i)))
      ports_[int(i)] = std::make_unique<PortAllocator>(cfg_.media.port_min, cfg_.media.port_max);
  }
  if (access_port_ < 0) throw std::runtime_error(cfg_.file + ": no [[port]] with role = \"access\"");
}

bool Gateway::reload(const config::Config& cfg, std::string* error) {
  // Ports cannot move under live flows; everything else applies to new calls.
  if (cfg.ports.size() != cfg_.ports.size()) {
    if (error) *error = "reload cannot add or remove [[port]] sections: restart msgw-dataplane and msgw-control";
    ++stats_.reloads_refused;
    return false;
  }
  for (size_t i = 0; i < cfg.ports.size(); ++i) {
    if (cfg.ports[i].address.addr != cfg_.ports[i].address.addr) {
      if (error) *error = "reload cannot change port[" + std::to_string(i) + "].address: restart needed";
      ++stats_.reloads_refused;
      return false;
    }
  }
  config::Config old = cfg_;
  cfg_ = cfg;
  try {
    apply_config();
  } catch (const std::exception& e) {
    cfg_ = std::move(old);
    apply_config();
    if (error) *error = e.what();
    ++stats_.reloads_refused;
    return false;
  }
  ++stats_.reloads;
  return true;
}

const config::TrunkSection* Gateway::trunk_by_name(const std::string& name) const {
  for (const auto& t : cfg_.trunks)
    if (t.name == name) return &t;
  return nullptr;
}

const config::TrunkSection* Gateway::trunk_by_source(const sip::Endpoint& src) const {
  for (const auto& t : cfg_.trunks)
    if (t.address.host == src.ip()) return &t;  // trusted by address; any source port
  return nullptr;
}

int Gateway::port_index_for_trunk(const config::TrunkSection& t) const {
  for (size_t i = 0; i < cfg_.ports.size(); ++i)
    if (cfg_.ports[i].name == t.port) return int(i);
  for (size_t i = 0; i < cfg_.ports.size(); ++i)
    if (cfg_.ports[i].role == config::PortRole::trunk) return int(i);
  return access_port_;
}

namespace {
// The A leg (the side that sent the INVITE) as that request defines it, for
// outbound and inbound calls alike.
void init_a_leg(Gateway::Call& c, const sip::ServerRequest& req, int port, uint32_t local_ip) {
  c.a.port = port;
  c.a.local_ip = local_ip;
  c.a.peer = req.source.peer;
  c.a.proto = req.source.proto;
  c.a.remote_tag = sip::from_tag(req.msg);
  c.a.remote_uri = c.from_uri;
  c.a.local_uri = req.msg->to ? uri_str(req.msg->to->url) : c.to_uri;
  if (osip_contact_t* ct = static_cast<osip_contact_t*>(osip_list_get(&req.msg->contacts, 0)); ct && ct->url)
    c.a.remote_target = uri_str(ct->url);
  c.a.sdp_session_id = static_cast<uint64_t>(wall_ms());
}
}  // namespace

std::optional<uint32_t> Gateway::alloc_flow_id() {
  uint32_t limit = media_.max_flows();
  if (limit == 0) limit = cfg_.dataplane.flow_capacity / 2;
  if (flows_in_use_.size() >= limit) return std::nullopt;
  for (uint32_t i = 0; i < limit; ++i) {
    uint32_t id = (next_flow_ + i) % limit;
    if (!flows_in_use_.count(id)) {
      flows_in_use_.insert(id);
      next_flow_ = (id + 1) % limit;
      return id;
    }
  }
  return std::nullopt;
}

Gateway::Call* Gateway::call_by_sip_call_id(const std::string& sip_call_id, int* leg) {
  auto it = by_sip_call_id_.find(sip_call_id);
  if (it == by_sip_call_id_.end()) return nullptr;
  auto c = calls_.find(it->second.first);
  if (c == calls_.end()) return nullptr;
  if (leg) *leg = it->second.second;
  return c->second.get();
}

// ---------------------------------------------------------------- requests

Gateway::Call* Gateway::restored_call_for(const osip_message_t* req, int* leg) {
  if (req == nullptr) return nullptr;
  Call* c = call_by_sip_call_id(sip::call_id(req), leg);
  if (c == nullptr || !c->restored) return nullptr;
  const Leg& l = *leg == 0 ? c->a : c->b;
  if (l.local_tag.empty() || sip::to_tag(req) != l.local_tag || sip::from_tag(req) != l.remote_tag) return nullptr;
  return c;
}

bool Gateway::adopts_dialogless(sip::Stack&, const osip_message_t* req) {
  int leg = 0;
  return restored_call_for(req, &leg) != nullptr;
}

void Gateway::on_request(sip::Stack&, const sip::ServerRequest& req) {
  const std::string method = req.msg->sip_method ? req.msg->sip_method : "";
  if (req.dialog) return handle_in_dialog(req);
  int leg = 0;
  if (Call* c = restored_call_for(req.msg, &leg)) {
    // A restored call's dialogs live in its persisted legs, not in this
    // (new) stack: a BYE from either party ends it as it would have before
    // the restart; anything else cannot be served without the dialog.
    if (method != "BYE") {
      stack_->respond(req.txn, 481);
      return;
    }
    stack_->respond(req.txn, 200);
    end_call(*c, 200, leg == 0 ? "caller BYE" : "callee BYE", leg == 1, leg == 0);
    return;
  }
  if (method == "OPTIONS") return handle_options(req);
  if (method == "REGISTER") return handle_register(req);
  if (method == "INVITE") return handle_invite(req);
  if (method == "BYE") {
    stack_->respond(req.txn, 481);
    return;
  }
  stack_->respond(req.txn, 405, {}, {{"Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO"}});
}

void Gateway::handle_options(const sip::ServerRequest& req) {
  ++stats_.options;
  stack_->respond(req.txn, 200, {},
                  {{"Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO"},
                   {"Accept", "application/sdp"}});
}

bool Gateway::authenticate(const sip::ServerRequest& req, std::string* user) {
  const std::string src = req.source.peer.ip();
  const auto t = now();
  if (guard_->blocked(src, t)) {
    ++stats_.auth_blocked_403;
    stack_->respond(req.txn, 403, "Too Many Authentication Failures");
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
      return false;
    }
  }
  auto kind = sip::challenge_kind_for(req.msg->sip_method ? req.msg->sip_method : "");
  auto resp = stack_->response_for(req.txn, sip::challenge_status(kind));
  if (!resp) return false;
  auth_->add_challenges(resp.get(), kind, r.stale);
  ++stats_.auth_challenges;
  stack_->respond(req.txn, std::move(resp));
  return false;
}

void Gateway::handle_register(const sip::ServerRequest& req) {
  std::string user;
  if (!authenticate(req, &user)) return;
  // The authenticated user may register its own AOR only.
  if (req.msg->to == nullptr || uri_user(req.msg->to->url) != user) {
    stack_->respond(req.txn, 403, "Credentials Do Not Match The AOR");
    return;
  }
  auto result = registrar_->handle(req.msg, source_key(req.source), wall_s());
  auto resp = stack_->response_for(req.txn, result.status,
                                   result.status == 200 ? std::string_view{} : std::string_view(result.reason));
  if (!resp) return;
  sip::Registrar::fill_response(resp.get(), result, wall_s());
  if (result.status == 200) ++stats_.registrations;
  stack_->respond(req.txn, std::move(resp));
}

void Gateway::handle_invite(const sip::ServerRequest& req) {
  // Max-Forwards and loops: a request we sent that came back to us.
  osip_header_t* mf = nullptr;
  int max_forwards = 70;
  if (osip_message_get_max_forwards(req.msg, 0, &mf) >= 0 && mf && mf->hvalue) max_forwards = std::atoi(mf->hvalue);
  if (max_forwards <= 1) {
    ++stats_.loops_refused;
    stack_->respond(req.txn, 483);
    return;
  }
  const std::string sip_call_id = sip::call_id(req.msg);
  int leg = 0;
  if (auto* c = call_by_sip_call_id(sip_call_id, &leg); c && leg == 1) {
    ++stats_.loops_refused;
    stack_->respond(req.txn, 482);
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

namespace {
bool parse_offer(const osip_message_t* msg, sdp::SessionDescription& out, std::string* why) {
  std::string body = sip::body_of(msg);
  if (body.empty()) {
    *why = "INVITE without SDP offer is not supported";
    return false;
  }
  if (sdp::parse(body, out, why) != sdp::SdpError::ok) return false;
  if (!first_audio(out)) {
    *why = "no audio stream in the offer";
    return false;
  }
  return true;
}

// The A leg's offer, for both call directions: parsed into `offer`, and the
// offered codecs that `allowed` permits into `usable`. On failure, the
// Warning to send with the 488.
std::optional<std::string> take_offer(const osip_message_t* msg,
                                      const std::vector<std::string>& allowed,
                                      sdp::SessionDescription& offer, std::vector<CodecId>& usable) {
  std::string why;
  if (!parse_offer(msg, offer, &why)) return "399 msgw \"" + why + "\"";
  std::vector<CodecId> offered_codecs;
  bool telephone_event = false;  // negotiated per leg later, from the offer itself
  offered(*first_audio(offer), &offered_codecs, &telephone_event);
  usable = usable_offer(offered_codecs, parse_codec_list(allowed));
  if (usable.empty()) return std::string("305 msgw \"no codec of the offer is allowed\"");
  return std::nullopt;
}
}  // namespace

void Gateway::start_outbound(const sip::ServerRequest& req, const std::string& user) {
  const config::SubscriberSection* sub = nullptr;
  for (const auto& s : cfg_.subscribers)
    if (s.user == user) sub = &s;
  if (!sub) {
    stack_->respond(req.txn, 403);
    return;
  }
  ++stats_.calls_attempted;
  ++stats_.outbound_calls;
  auto c = std::make_unique<Call>();
  c->a_txn = req.txn;
  c->a.sip_call_id = sip::call_id(req.msg);
  c->id = c->a.sip_call_id;
  if (calls_.count(c->id)) {
    stack_->respond(req.txn, 482);
    return;
  }
  c->subscriber = user;
  c->start_ms = wall_ms();
  c->from_uri = req.msg->from ? uri_str(req.msg->from->url) : "";
  c->to_uri = uri_str(req.msg->req_uri);
  c->caller_display = sub->display_name;
  c->caller_user = sub->dids.empty() ? sub->user : sub->dids.front();
  osip_header_t* mf = nullptr;
  if (osip_message_get_max_forwards(req.msg, 0, &mf) >= 0 && mf && mf->hvalue) c->max_forwards = std::atoi(mf->hvalue) - 1;

  if (auto warning = take_offer(req.msg, sub->codecs, c->a_offer, c->a_usable)) {
    stack_->respond(req.txn, 488, "Not Acceptable Here", {{"Warning", *warning}});
    ++stats_.calls_failed;
    return;
  }
  auto number = normalize_number(uri_user(req.msg->req_uri));
  if (!number) {
    stack_->respond(req.txn, 484, "Address Incomplete");
    ++stats_.calls_failed;
    return;
  }
  c->number = *number;
  auto route = dialplan_->route(*number);
  if (!route || route->trunks.empty()) {
    stack_->respond(req.txn, 404, "No Route");
    ++stats_.calls_failed;
    return;
  }
  c->trunks = route->trunks;
  // A leg media: the access port.
  init_a_leg(*c, req, access_port_, cfg_.ports[access_port_].address.addr);
  c->a.latch = true;
  auto ap = ports_[access_port_]->allocate();
  if (!ap) {
    stack_->respond(req.txn, 503, "Out Of Media Ports");
    ++stats_.calls_failed;
    return;
  }
  c->a.local_port = *ap;
  Call& call = *c;
  by_sip_call_id_[c->a.sip_call_id] = {c->id, 0};
  a_invites_[req.txn] = c->id;
  calls_[c->id] = std::move(c);
  if (!try_next_trunk(call)) {
    b_failed(call, 503, "no trunk could be tried");
  }
}

bool Gateway::try_next_trunk(Call& c) {
  while (c.next_trunk < c.trunks.size()) {
    const config::TrunkSection* t = trunk_by_name(c.trunks[c.next_trunk++]);
    if (!t) continue;
    if (c.next_trunk > 1) ++stats_.failovers;
    auto dst = sip::Endpoint::from(t->address.host, t->address.port);
    if (!dst) continue;
    c.trunk = t->name;
    int port = port_index_for_trunk(*t);
    if (c.b.local_port && c.b.port != port) {
      ports_[c.b.port]->release(c.b.local_port);
      c.b.local_port = 0;
    }
    c.b.port = port;
    c.b.local_ip = cfg_.ports[port].address.addr;
    c.b.latch = cfg_.ports[port].role == config::PortRole::access;
    if (!c.b.local_port) {
      auto bp = ports_[port]->allocate();
      if (!bp) return false;
      c.b.local_port = *bp;
    }
    c.b.peer = *dst;
    c.b.proto = t->transport == "tcp" ? sip::Proto::Tcp : sip::Proto::Udp;
    c.b_prefs = parse_codec_list(t->codecs);
    std::string ruri = "sip:" + c.number + "@" + t->address.to_string();
    c.b_deadline = now() + std::chrono::milliseconds(t->timeout_ms);
    if (!earliest_b_deadline_ || *c.b_deadline < *earliest_b_deadline_) earliest_b_deadline_ = c.b_deadline;
    if (send_b_invite(c, ruri, *dst, c.b.proto, trunk_offer(c.a_usable, c.b_prefs))) return true;
  }
  return false;
}

bool Gateway::send_b_invite(Call& c, const std::string& ruri, const sip::Endpoint& dst, sip::Proto proto,
                            const std::vector<CodecId>& codecs) {
  // A fresh Call-ID per attempt: a failed-over INVITE is a new call to the next trunk.
  if (!c.b.sip_call_id.empty()) by_sip_call_id_.erase(c.b.sip_call_id);
  c.b.sip_call_id = sip::random_token(20) + "@msgw";
  c.b.local_tag = sip::random_token(12);
  c.b.dialog_key.clear();
  c.b.remote_tag.clear();
  const std::string local_host = ip_str(c.b.local_ip);
  std::string from = (c.caller_display.empty() ? std::string() : "\"" + c.caller_display + "\" ") + "<sip:" +
                     c.caller_user + "@" + local_host + ">;tag=" + c.b.local_tag;
  std::string to = "<" + ruri + ">";
  auto m = build_request("INVITE", ruri, from, to, c.b.sip_call_id, c.b_invite_cseq);
  if (!m) return false;
  osip_message_set_max_forwards(m.get(), std::to_string(std::max(c.max_forwards, 1)).c_str());
  sdp::LocalPolicy lp;
  lp.codecs = codecs;
  lp.address = local_host;
  lp.port = c.b.local_port;
  lp.telephone_event = true;
  lp.session_id = c.b.sdp_session_id = static_cast<uint64_t>(wall_ms()) + 1;
  lp.session_version = c.b.sdp_version = 1;
  lp.g729_annexb = cfg_.codecs.g729_annexb;
  c.b_offer = sdp::make_offer(lp);
  c.b.sdp_body = sdp::build(c.b_offer);
  set_sdp_body(m.get(), c.b.sdp_body);
  c.b.local_uri = "sip:" + c.caller_user + "@" + local_host;
  c.b.remote_uri = ruri;
  c.b.remote_target = ruri;
  TxnId t = stack_->send_request(std::move(m), dst, proto);
  if (t == kNoTxn) return false;
  c.b_txn = t;
  txns_[t] = {c.id, kBInvite};
  by_sip_call_id_[c.b.sip_call_id] = {c.id, 1};
  return true;
}

void Gateway::start_inbound(const sip::ServerRequest& req, const config::TrunkSection& trunk) {
  ++stats_.calls_attempted;
  ++stats_.inbound_calls;
  auto c = std::make_unique<Call>();
  c->inbound = true;
  c->a_txn = req.txn;
  c->a.sip_call_id = sip::call_id(req.msg);
  c->id = c->a.sip_call_id;
  if (calls_.count(c->id)) {
    stack_->respond(req.txn, 482);
    return;
  }
  c->trunk = trunk.name;
  c->start_ms = wall_ms();
  c->from_uri = req.msg->from ? uri_str(req.msg->from->url) : "";
  c->to_uri = uri_str(req.msg->req_uri);
  osip_header_t* mf = nullptr;
  if (osip_message_get_max_forwards(req.msg, 0, &mf) >= 0 && mf && mf->hvalue) c->max_forwards = std::atoi(mf->hvalue) - 1;
  auto number = normalize_number(uri_user(req.msg->req_uri));
  const config::SubscriberSection* sub = nullptr;
  if (number)
    for (const auto& s : cfg_.subscribers)
      for (const auto& d : s.dids)
        if (normalize_number(d) == number) sub = &s;
  if (!sub) {
    stack_->respond(req.txn, 404, "No Such DID");
    ++stats_.calls_failed;
    return;
  }
  c->subscriber = sub->user;
  c->number = *number;
  if (auto warning = take_offer(req.msg, trunk.codecs, c->a_offer, c->a_usable)) {
    stack_->respond(req.txn, 488, "Not Acceptable Here", {{"Warning", *warning}});
    ++stats_.calls_failed;
    return;
  }
  // The registered contact of the subscriber (any AOR host: phones register
  // to whatever address they were given for the gateway).
  std::optional<sip::Binding> binding;
  for (auto& b : registrar_->all(wall_s())) {
    auto at = b.aor.find('@');
    std::string u = b.aor.substr(4, at == std::string::npos ? std::string::npos : at - 4);
    if (u == sub->user && (!binding || b.q_milli > binding->q_milli)) binding = b;
  }
  if (!binding) {
    stack_->respond(req.txn, 480, "Subscriber Not Registered");
    ++stats_.calls_failed;
    return;
  }
  sip::Proto proto = sip::Proto::Udp;
  auto dst = endpoint_from_source(binding->source, &proto);
  if (!dst) dst = endpoint_from_uri(binding->contact);
  if (!dst) {
    stack_->respond(req.txn, 480, "Unreachable Contact");
    ++stats_.calls_failed;
    return;
  }
  int tport = port_index_for_trunk(trunk);
  init_a_leg(*c, req, tport, cfg_.ports[tport].address.addr);
  c->b.port = access_port_;
  c->b.local_ip = cfg_.ports[access_port_].address.addr;
  c->b.latch = true;
  c->b.peer = *dst;
  c->b.proto = proto;
  c->b_prefs = parse_codec_list(sub->codecs);
  auto ap = ports_[tport]->allocate();
  auto bp = ports_[access_port_]->allocate();
  if (!ap || !bp) {
    if (ap) ports_[tport]->release(*ap);
    if (bp) ports_[access_port_]->release(*bp);
    stack_->respond(req.txn, 503, "Out Of Media Ports");
    ++stats_.calls_failed;
    return;
  }
  c->a.local_port = *ap;
  c->b.local_port = *bp;
  c->caller_user = uri_user(req.msg->from ? req.msg->from->url : nullptr);
  if (req.msg->from && req.msg->from->displayname) {
    c->caller_display = req.msg->from->displayname;
    if (c->caller_display.size() >= 2 && c->caller_display.front() == '"')
      c->caller_display = c->caller_display.substr(1, c->caller_display.size() - 2);
  }
  c->callee_ruri = binding->contact;
  // No answer deadline: an inbound call rings until the trunk cancels it.
  Call& call = *c;
  by_sip_call_id_[c->a.sip_call_id] = {c->id, 0};
  a_invites_[req.txn] = c->id;
  calls_[c->id] = std::move(c);
  if (!send_b_invite(call, call.callee_ruri, *dst, proto, trunk_offer(call.a_usable, call.b_prefs)))
    b_failed(call, 480, "cannot send INVITE to the subscriber");
}

// ---------------------------------------------------------------- responses

bool Gateway::respond_a(Call& c, int status, const std::string& body, const sip::Headers& headers) {
  if (c.a_final_sent || c.a_txn == kNoTxn) return false;
  auto resp = stack_->response_for(c.a_txn, status);
  if (!resp) return false;
  for (const auto& [n, v] : headers) osip_message_set_header(resp.get(), n.c_str(), v.c_str());
  set_sdp_body(resp.get(), body);
  if (status > 100 && status < 300) {
    c.a.local_tag = sip::to_tag(resp.get());
    c.a.dialog_key = sip::Dialog::key_for_incoming(resp.get());
  }
  if (status >= 200) c.a_final_sent = true;
  return stack_->respond(c.a_txn, std::move(resp));
}

bool Gateway::program_flow(Call& c, std::string* why) {
  if (!c.flow_id) {
    c.flow_id = alloc_flow_id();
    if (!c.flow_id) {
      *why = "dataplane flow table full";
      return false;
    }
    flow_calls_[*c.flow_id] = c.id;
  }
  auto spec = [](const Leg& l) {
    dp::LegSpec s{};
    s.local_ip = l.local_ip;
    s.remote_ip = l.remote_ip;
    s.port = static_cast<uint16_t>(l.port);
    s.local_port = l.local_port;
    s.remote_port = l.remote_port;
    s.codec = static_cast<uint8_t>(l.codec.id);  // the ring carries codecs::CodecId
    s.payload_type = l.codec.payload_type;
    s.dtmf_pt = l.dtmf_pt;
    s.ptime_ms = static_cast<uint8_t>(l.ptime);
    s.flags = uint8_t((l.latch ? dp::kLegLatch : 0) | (l.hold ? dp::kLegHold : 0));
    return s;
  };
  bool ok = c.flow_programmed ? media_.modify(*c.flow_id, spec(c.a), spec(c.b), why)
                              : media_.add(*c.flow_id, spec(c.a), spec(c.b), why);
  if (!ok) {
    ++stats_.media_errors;
    return false;
  }
  c.flow_programmed = true;
  return true;
}

bool Gateway::apply_b_answer(Call& c, const osip_message_t* resp, std::string* why) {
  std::string body = sip::body_of(resp);
  if (body.empty()) {
    if (c.flow_programmed) return true;  // 200 after an early answer (183 with SDP)
    *why = "answer without SDP";
    return false;
  }
  sdp::SessionDescription ans;
  if (sdp::parse(body, ans, why) != sdp::SdpError::ok) return false;
  sdp::NegotiatedStream ns;
  if (sdp::process_answer(c.b_offer, ans, ns, why) != sdp::SdpError::ok) return false;
  auto plan = plan_answer(c.a_usable, ns.codec.id);
  if (!plan) {
    *why = "no codec for the A leg";
    return false;
  }
  if (c.a.sdp_body.empty() || !c.a.has_codec || c.a.codec.id != plan->a_codec) {
    sdp::LocalPolicy lp;
    lp.codecs = {plan->a_codec};
    lp.address = ip_str(c.a.local_ip);
    lp.port = c.a.local_port;
    lp.telephone_event = true;
    lp.g729_annexb = cfg_.codecs.g729_annexb;
    lp.session_id = c.a.sdp_session_id;
    lp.session_version = ++c.a.sdp_version;
    sdp::AnswerResult ar;
    if (sdp::make_answer(c.a_offer, lp, ar, why) != sdp::SdpError::ok || !ar.active) return false;
    const auto& st = ar.streams[*ar.active];
    c.a.codec = st.codec;
    c.a.has_codec = true;
    c.a.dtmf_pt = st.telephone_event_pt.value_or(dp::kNoPayloadType);
    c.a.remote_ip = config::parse_ipv4(st.remote_address).value_or(0);
    c.a.remote_port = st.remote_port;
    c.a.ptime = st.remote_ptime_ms ? st.remote_ptime_ms : codecs::codec_info(st.codec.id).default_ptime_ms;
    c.a.sdp_body = sdp::build(ar.answer);
  }
  c.b.codec = ns.codec;
  c.b.has_codec = true;
  c.b.dtmf_pt = ns.telephone_event_pt.value_or(dp::kNoPayloadType);
  c.b.remote_ip = config::parse_ipv4(ns.remote_address).value_or(0);
  c.b.remote_port = ns.remote_port;
  c.b.ptime = ns.remote_ptime_ms ? ns.remote_ptime_ms : codecs::codec_info(ns.codec.id).default_ptime_ms;
  c.transcode = plan->transcode;
  return program_flow(c, why);
}

void Gateway::on_response(sip::Stack&, TxnId txn, const osip_message_t* resp, sip::Dialog* dialog) {
  auto it = txns_.find(txn);
  if (it == txns_.end()) return;
  const std::string cid = it->second.first;
  const int kind = it->second.second;
  const int code = resp->status_code;
  if (kind == kOrphanInvite) {
    // Answered after we gave up on it (CANCEL race, failover): ACK and BYE.
    if (code >= 200 && code < 300 && dialog) {
      stack_->send_ack(*dialog, sip::cseq_number(resp));
      auto bye = dialog->make_request("BYE");
      if (auto dst = endpoint_from_uri(dialog->remote_target()))
        if (TxnId t = stack_->send_request(std::move(bye), *dst); t != kNoTxn) txns_[t] = {cid, kBye};
    }
    if (code >= 200) txns_.erase(txn);
    return;
  }
  if (kind == kBye) {
    if (code >= 200) txns_.erase(txn);
    return;
  }
  auto cit = calls_.find(cid);
  if (cit == calls_.end()) {
    if (code >= 200) txns_.erase(txn);
    return;
  }
  Call& c = *cit->second;
  if (kind == kReinviteA || kind == kReinviteB) {
    if (code >= 200) txns_.erase(txn);
    if (code >= 200 && code < 300 && dialog) {
      // The peer's answer may move its media (resume from c=0.0.0.0, new
      // port): re-programmed before the ACK, which may release its media.
      Leg& l = kind == kReinviteA ? c.a : c.b;
      sdp::SessionDescription ans;
      std::string body = sip::body_of(resp), why;
      if (!body.empty() && sdp::parse(body, ans, &why) == sdp::SdpError::ok) {
        if (const auto* m = first_audio(ans); m && !m->is_hold_address()) {
          auto ip = config::parse_ipv4(m->address);
          if (ip && (*ip != l.remote_ip || m->port != l.remote_port)) {
            l.remote_ip = *ip;
            l.remote_port = m->port;
            program_flow(c, &why);
          }
        }
      }
      stack_->send_ack(*dialog, sip::cseq_number(resp));
    }
    return;
  }
  // kBInvite
  if (code == 100) return;
  if (dialog) {
    c.b.dialog_key = dialog->key();
    c.b.remote_tag = dialog->remote_tag() ? dialog->remote_tag() : "";
  }
  if (code < 200) {
    c.b_deadline.reset();  // the far end is alive and working on it
    c.state = Call::State::early;
    std::string why;
    if (!sip::body_of(resp).empty() && apply_b_answer(c, resp, &why)) {
      respond_a(c, 183, c.a.sdp_body);
    } else {
      respond_a(c, code == 183 ? 183 : 180);
    }
    return;
  }
  txns_.erase(txn);
  c.b_txn = kNoTxn;
  c.b_deadline.reset();
  if (code < 300) {
    // The flow is programmed before the ACK goes out: the callee may start
    // its media the moment the ACK arrives, and a packet that beats the flow
    // into the dataplane is lost to the exception path (seen as the first
    // 20 ms missing from the reference call's carrier -> phone audio).
    std::string why;
    const bool usable = dialog && apply_b_answer(c, resp, &why);
    if (dialog) {
      stack_->send_ack(*dialog, c.b_invite_cseq);
      c.b.remote_target = dialog->remote_target();
      c.b.cseq = dialog->local_cseq();
    }
    if (!usable) {
      std::fprintf(stderr, "msgw-control: call %s: B-leg answer unusable: %s\n", c.id.c_str(), why.c_str());
      send_bye(c, 1, "SIP;cause=488;text=\"" + why + "\"");
      c.b.dialog_key.clear();
      b_failed(c, c.flow_programmed || why.find("dataplane") == std::string::npos ? 488 : 503, why);
      return;
    }
    respond_a(c, 200, c.a.sdp_body);
    c.state = Call::State::answered;
    c.answer_ms = wall_ms();
    ++stats_.calls_answered;
    ++stats_.calls_active;
    if (c.transcode) ++stats_.transcoded_calls; else ++stats_.relayed_calls;
    persist(c);
    return;
  }
  // A failure: fail over on timeout/overload, otherwise tell the caller.
  if (!c.inbound && (code == 408 || code == 503) && try_next_trunk(c)) return;
  b_failed(c, map_error(code), std::to_string(code) + " from " + (c.inbound ? "subscriber" : c.trunk));
}

void Gateway::on_timeout(sip::Stack&, TxnId txn) {
  auto it = txns_.find(txn);
  if (it == txns_.end()) return;
  auto [cid, kind] = it->second;
  txns_.erase(it);
  if (kind != kBInvite) return;
  auto cit = calls_.find(cid);
  if (cit == calls_.end()) return;
  Call& c = *cit->second;
  if (c.b_txn != txn) return;
  c.b_txn = kNoTxn;
  if (!c.inbound && try_next_trunk(c)) return;
  b_failed(c, 408, "no answer from " + c.trunk);
}

void Gateway::b_failed(Call& c, int status, const std::string& why) {
  std::fprintf(stderr, "msgw-control: call %s failed: %s\n", c.id.c_str(), why.c_str());
  respond_a(c, status, {}, {{"Warning", "399 msgw \"" + why + "\""}});
  ++stats_.calls_failed;
  end_call(c, status, why, false, false);
}

void Gateway::tick() {
  poll_media();
  const auto t = now();
  std::vector<std::string> expired;
  if (earliest_b_deadline_ && *earliest_b_deadline_ <= t) {
    earliest_b_deadline_.reset();
    for (auto& [id, c] : calls_) {
      if (!c->b_deadline || c->b_txn == kNoTxn) continue;
      if (*c->b_deadline <= t) expired.push_back(id);
      else if (!earliest_b_deadline_ || *c->b_deadline < *earliest_b_deadline_) earliest_b_deadline_ = c->b_deadline;
    }
  }
  for (const auto& id : expired) {
    auto it = calls_.find(id);
    if (it == calls_.end()) continue;
    Call& c = *it->second;
    // The trunk did not answer in time: abandon that INVITE (CANCEL) and fail over.
    TxnId old = c.b_txn;
    stack_->cancel(old);
    txns_[old] = {c.id, kOrphanInvite};
    c.b_txn = kNoTxn;
    c.b_deadline.reset();
    if (!c.inbound && try_next_trunk(c)) continue;
    b_failed(c, 408, "trunk " + c.trunk + " did not answer in time");
  }
  static auto last_purge = t;
  if (t - last_purge > std::chrono::seconds(30)) {
    registrar_->purge_expired(wall_s());
    last_purge = t;
  }
}

int Gateway::next_timeout_ms() const {
  int best = 50;  // the dataplane event ring has no fd: poll it on this period
  if (earliest_b_deadline_) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*earliest_b_deadline_ - now()).count();
    best = std::min<int>(best, ms < 0 ? 0 : int(ms));
  }
  return best;
}

// ---------------------------------------------------------------- in dialog

void Gateway::handle_in_dialog(const sip::ServerRequest& req) {
  const std::string method = req.msg->sip_method ? req.msg->sip_method : "";
  int leg = 0;
  Call* c = call_by_sip_call_id(req.dialog->call_id() ? req.dialog->call_id() : "", &leg);
  if (!c) {
    stack_->respond(req.txn, 481);
    return;
  }
  if (method == "BYE") {
    stack_->respond(req.txn, 200);
    if (leg == 0) c->a.dialog_key.clear(); else c->b.dialog_key.clear();
    const bool answered = c->state == Call::State::answered;
    if (!answered && leg == 1) {
      // The callee gave up during early media.
      b_failed(*c, 487, "callee BYE before answer");
      return;
    }
    if (!answered && leg == 0) {
      if (c->b_txn != kNoTxn) {
        stack_->cancel(c->b_txn);
        txns_[c->b_txn] = {c->id, kOrphanInvite};
        c->b_txn = kNoTxn;
      }
      respond_a(*c, 487);
      end_call(*c, 487, "caller BYE before answer", false, false);
      return;
    }
    end_call(*c, 200, leg == 0 ? "caller BYE" : "callee BYE", leg == 1, leg == 0);
    return;
  }
  if (method == "INVITE") {
    handle_reinvite(*c, leg, req);
    return;
  }
  // INFO (SIP INFO DTMF), UPDATE without SDP, NOTIFY: acknowledged, not relayed.
  stack_->respond(req.txn, 200);
}

void Gateway::handle_reinvite(Call& c, int leg, const sip::ServerRequest& req) {
  ++stats_.reinvites;
  if (c.state != Call::State::answered) {
    stack_->respond(req.txn, 491, "Request Pending");
    return;
  }
  Leg& me = leg == 0 ? c.a : c.b;
  Leg& other = leg == 0 ? c.b : c.a;
  std::string body = sip::body_of(req.msg);
  if (body.empty()) {
    // Offerless re-INVITE: offer what we have; the ACK's answer is not needed
    // to keep media flowing, so the current session stays.
    stack_->respond(req.txn, 200, {}, {}, "application/sdp", me.sdp_body);
    return;
  }
  sdp::SessionDescription offer;
  std::string why;
  if (sdp::parse(body, offer, &why) != sdp::SdpError::ok || !first_audio(offer)) {
    stack_->respond(req.txn, 488, "Not Acceptable Here", {{"Warning", "399 msgw \"" + why + "\""}});
    return;
  }
  const sdp::MediaDescription& m = *first_audio(offer);
  std::vector<CodecId> cand;
  bool te = false;
  offered(m, &cand, &te);
  // Keep the codec in use when still offered; else the best one this side allows.
  std::vector<CodecId> prefs = leg == 0 ? c.a_usable : c.b_prefs;
  std::vector<CodecId> order;
  if (std::find(cand.begin(), cand.end(), me.codec.id) != cand.end()) order.push_back(me.codec.id);
  for (CodecId x : usable_offer(cand, prefs.empty() ? cand : prefs))
    if (std::find(order.begin(), order.end(), x) == order.end()) order.push_back(x);
  if (order.empty()) {
    stack_->respond(req.txn, 488, "Not Acceptable Here");
    return;
  }
  sdp::LocalPolicy lp;
  lp.codecs = {order.front()};
  lp.address = ip_str(me.local_ip);
  lp.port = me.local_port;
  lp.telephone_event = true;
  lp.session_id = me.sdp_session_id;
  lp.session_version = ++me.sdp_version;
  sdp::AnswerResult ar;
  if (sdp::make_answer(offer, lp, ar, &why) != sdp::SdpError::ok || !ar.active) {
    stack_->respond(req.txn, 488, "Not Acceptable Here");
    return;
  }
  const auto& st = ar.streams[*ar.active];
  const bool hold = st.remote_hold;
  me.codec = st.codec;
  me.dtmf_pt = st.telephone_event_pt.value_or(dp::kNoPayloadType);
  if (!m.is_hold_address()) {
    me.remote_ip = config::parse_ipv4(st.remote_address).value_or(me.remote_ip);
    me.remote_port = st.remote_port;
  }
  if (st.remote_ptime_ms) me.ptime = st.remote_ptime_ms;
  me.hold = hold;
  me.sdp_body = sdp::build(ar.answer);
  // Re-program: a new address or codec takes effect in the dataplane now.
  if (!program_flow(c, &why)) {
    stack_->respond(req.txn, 500, "Media Update Failed");
    return;
  }
  c.transcode = me.codec.id != other.codec.id;
  stack_->respond(req.txn, 200, {}, {}, "application/sdp", me.sdp_body);
  persist(c);
  // Tell the other side about hold / resume with its own re-INVITE; its codec
  // and our address on that leg do not change.
  sip::Dialog* od = stack_->find_dialog(other.dialog_key);
  if (!od || !other.has_codec) return;
  sdp::LocalPolicy olp;
  olp.codecs = {other.codec.id};
  olp.address = ip_str(other.local_ip);
  olp.port = other.local_port;
  olp.telephone_event = other.dtmf_pt != dp::kNoPayloadType;
  olp.telephone_event_pt = other.dtmf_pt != dp::kNoPayloadType ? other.dtmf_pt : 101;
  olp.session_id = other.sdp_session_id;
  olp.session_version = ++other.sdp_version;
  olp.direction = m.direction == sdp::Direction::sendonly ? sdp::Direction::sendonly
                  : m.direction == sdp::Direction::inactive || m.is_hold_address() ? sdp::Direction::inactive
                                                                                  : sdp::Direction::sendrecv;
  auto o = sdp::make_offer(olp);
  // Keep the PT the other side already uses for the codec.
  for (auto& md : o.media)
    for (auto& p : md.payloads)
      if (p.codec && p.codec->id == other.codec.id && p.pt != other.codec.payload_type) {
        for (auto& f : md.formats)
          if (f == std::to_string(p.pt)) f = std::to_string(other.codec.payload_type);
        p.pt = other.codec.payload_type;
      }
  std::string obody = sdp::build(o);
  auto rq = od->make_request("INVITE");
  if (!rq) return;
  set_sdp_body(rq.get(), obody);
  other.sdp_body = obody;
  TxnId t = stack_->send_request(std::move(rq), other.peer, other.proto);
  if (t != kNoTxn) txns_[t] = {c.id, leg == 0 ? kReinviteB : kReinviteA};
}

void Gateway::on_ack(sip::Stack&, const osip_message_t*, sip::Dialog*) {}

void Gateway::on_cancel(sip::Stack&, TxnId invite_txn) {
  auto it = a_invites_.find(invite_txn);
  if (it == a_invites_.end()) return;
  auto cit = calls_.find(it->second);
  if (cit == calls_.end()) return;
  Call& c = *cit->second;
  c.a_final_sent = true;  // the stack sent 487
  if (c.b_txn != kNoTxn) {
    stack_->cancel(c.b_txn);
    txns_[c.b_txn] = {c.id, kOrphanInvite};
    c.b_txn = kNoTxn;
  }
  ++stats_.calls_cancelled;
  end_call(c, 487, "CANCEL", false, false);
}

void Gateway::on_ack_timeout(sip::Stack&, sip::Dialog* dialog) {
  if (!dialog) return;
  int leg = 0;
  Call* c = call_by_sip_call_id(dialog->call_id() ? dialog->call_id() : "", &leg);
  if (!c) return;
  end_call(*c, 408, "no ACK from caller", true, true);
}

// ---------------------------------------------------------------- ending

void Gateway::send_bye(Call& c, int leg, const std::string& reason) {
  Leg& l = leg == 0 ? c.a : c.b;
  sip::MessagePtr m;
  if (sip::Dialog* d = l.dialog_key.empty() ? nullptr : stack_->find_dialog(l.dialog_key)) {
    m = d->make_request("BYE");
  } else if (c.restored && !l.remote_tag.empty()) {
    std::string from = "<" + l.local_uri + ">;tag=" + l.local_tag;
    std::string to = "<" + l.remote_uri + ">;tag=" + l.remote_tag;
    m = build_request("BYE", l.remote_target.empty() ? l.remote_uri : l.remote_target, from, to, l.sip_call_id,
                      ++l.cseq + 100);
  }
  if (!m) return;
  if (!reason.empty()) osip_message_set_header(m.get(), "Reason", reason.c_str());
  TxnId t = stack_->send_request(std::move(m), l.peer, l.proto);
  if (t != kNoTxn) txns_[t] = {c.id, kBye};
  l.dialog_key.clear();
}

void Gateway::end_call(Call& c, int result, const std::string& reason, bool bye_a, bool bye_b) {
  const std::string why_header = reason == "media timeout" ? "SIP;cause=408;text=\"media timeout\"" : "";
  if (bye_a) send_bye(c, 0, why_header);
  if (bye_b) send_bye(c, 1, why_header);
  if (c.b_txn != kNoTxn) {
    stack_->cancel(c.b_txn);
    txns_[c.b_txn] = {c.id, kOrphanInvite};
    c.b_txn = kNoTxn;
  }
  CallRecord r;
  r.call_id = c.id;
  r.from_uri = c.from_uri;
  r.to_uri = c.to_uri;
  r.trunk = c.trunk;
  r.direction = c.inbound ? "inbound" : "outbound";
  r.start_ms = c.start_ms;
  r.answer_ms = c.answer_ms;
  r.end_ms = wall_ms();
  r.result_code = c.answer_ms ? 200 : result;
  r.end_reason = reason;
  if (c.a.has_codec) r.a_codec = codec_name(c.a.codec.id);
  if (c.b.has_codec) r.b_codec = codec_name(c.b.codec.id);
  if (c.flow_id && c.flow_programmed) {
    auto sa = media_.stats(*c.flow_id, 0), sb = media_.stats(*c.flow_id, 1);
    r.a = {sa.packets, sa.lost, double(sa.jitter) / 8.0};
    r.b = {sb.packets, sb.lost, double(sb.jitter) / 8.0};
    std::string err;
    if (!media_.remove(*c.flow_id, &err))
      std::fprintf(stderr, "msgw-control: call %s: flow %u delete: %s\n", c.id.c_str(), *c.flow_id, err.c_str());
  }
  if (c.state == Call::State::answered && stats_.calls_active) --stats_.calls_active;
  if (store_) {
    try {
      store_->write_cdr(r);
      store_->delete_live(c.id);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "msgw-control: CDR for %s: %s\n", c.id.c_str(), e.what());
    }
  }
  erase_call(c.id);
}

void Gateway::erase_call(const std::string& id) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Call& c = *it->second;
  if (c.a.local_port && ports_.count(c.a.port)) ports_[c.a.port]->release(c.a.local_port);
  if (c.b.local_port && ports_.count(c.b.port)) ports_[c.b.port]->release(c.b.local_port);
  if (c.flow_id) {
    flows_in_use_.erase(*c.flow_id);
    flow_calls_.erase(*c.flow_id);
  }
  by_sip_call_id_.erase(c.a.sip_call_id);
  if (!c.b.sip_call_id.empty()) by_sip_call_id_.erase(c.b.sip_call_id);
  if (c.a_txn != kNoTxn) a_invites_.erase(c.a_txn);
  for (auto t = txns_.begin(); t != txns_.end();)
    t = (t->second.first == id && t->second.second == kBInvite) ? txns_.erase(t) : std::next(t);
  calls_.erase(it);
}

bool Gateway::hangup(const std::string& call_id, const std::string& reason) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return false;
  Call& c = *it->second;
  if (c.state != Call::State::answered) {
    respond_a(c, 480, {}, {{"Reason", "SIP;cause=480;text=\"" + reason + "\""}});
    end_call(c, 480, reason, false, false);
    return true;
  }
  end_call(c, 200, reason, true, true);
  return true;
}

// ---------------------------------------------------------------- media events

void Gateway::poll_media() {
  bool restarted = false;
  auto events = media_.poll(&restarted);
  if (restarted) {
    // A new dataplane generation has no flows: program every live one again.
    ++stats_.dataplane_restarts;
    for (auto& [id, c] : calls_) {
      if (!c->flow_programmed) continue;
      c->flow_programmed = false;
      std::string why;
      if (program_flow(*c, &why)) ++stats_.flows_reprogrammed;
      else std::fprintf(stderr, "msgw-control: call %s: re-programming flow: %s\n", id.c_str(), why.c_str());
    }
  }
  for (const auto& e : events) {
    Call* c = nullptr;
    if (auto f = flow_calls_.find(e.flow_id); f != flow_calls_.end()) {
      auto it = calls_.find(f->second);
      if (it != calls_.end() && it->second->flow_id && *it->second->flow_id == e.flow_id) c = it->second.get();
    }
    if (!c) continue;
    switch (e.kind) {
      case MediaEvent::Kind::latched: ++stats_.latched_events; break;
      case MediaEvent::Kind::dtmf: ++stats_.dtmf_events; break;
      case MediaEvent::Kind::media_timeout:
        ++stats_.media_timeouts;
        if (c->state == Call::State::answered) end_call(*c, 200, "media timeout", true, true);
        break;
    }
  }
}

// ---------------------------------------------------------------- durability

void Gateway::persist(const Call& c) {
  if (!store_ || c.state != Call::State::answered) return;
  nlohmann::json j = call_json(c);
  auto leg = [](const Leg& l) {
    return nlohmann::json{{"port", l.port}, {"local_ip", l.local_ip}, {"local_port", l.local_port},
                          {"remote_ip", l.remote_ip}, {"remote_port", l.remote_port},
                          {"codec", int(l.codec.id)}, {"pt", l.codec.payload_type}, {"dtmf_pt", l.dtmf_pt},
                          {"ptime", l.ptime}, {"latch", l.latch}, {"hold", l.hold}, {"call_id", l.sip_call_id},
                          {"local_tag", l.local_tag}, {"remote_tag", l.remote_tag}, {"local_uri", l.local_uri},
                          {"remote_uri", l.remote_uri}, {"remote_target", l.remote_target},
                          {"cseq", l.cseq}, {"peer_ip", l.peer.ip()}, {"peer_port", l.peer.port()},
                          {"tcp", l.proto == sip::Proto::Tcp}};
  };
  j["legs"] = {leg(c.a), leg(c.b)};
  j["flow_id"] = c.flow_id ? int64_t(*c.flow_id) : -1;
  j["start_ms"] = c.start_ms;
  j["answer_ms"] = c.answer_ms;
  j["inbound"] = c.inbound;
  try {
    store_->put_live(c.id, j.dump());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "msgw-control: live state of %s: %s\n", c.id.c_str(), e.what());
  }
}

void Gateway::restore() {
  if (!store_) return;
  for (const auto& [id, text] : store_->live()) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("legs") || !j["legs"].is_array() || j["legs"].size() != 2) {
      std::fprintf(stderr, "msgw-control: live state of %s unreadable: dropped\n", id.c_str());
      store_->delete_live(id);
      continue;
    }
    auto c = std::make_unique<Call>();
    c->id = id;
    c->restored = true;
    c->state = Call::State::answered;
    c->a_final_sent = true;
    try {
      c->inbound = j.value("inbound", false);
      c->from_uri = j.value("from", "");
      c->to_uri = j.value("to", "");
      c->trunk = j.value("trunk", "");
      c->start_ms = j.value("start_ms", int64_t(0));
      c->answer_ms = j.value("answer_ms", int64_t(0));
      int64_t fid = j.value("flow_id", int64_t(-1));
      if (fid >= 0) {
        c->flow_id = uint32_t(fid);
        c->flow_programmed = true;
        flows_in_use_.insert(uint32_t(fid));
        flow_calls_[uint32_t(fid)] = c->id;
      }
      for (int i = 0; i < 2; ++i) {
        const auto& lj = j["legs"][i];
        Leg& l = i == 0 ? c->a : c->b;
        l.port = lj.at("port");
        l.local_ip = lj.at("local_ip");
        l.local_port = lj.at("local_port");
        l.remote_ip = lj.at("remote_ip");
        l.remote_port = lj.at("remote_port");
        l.codec.id = CodecId(lj.at("codec").get<int>());
        l.codec.payload_type = lj.at("pt");
        l.has_codec = true;
        l.dtmf_pt = lj.at("dtmf_pt");
        l.ptime = lj.at("ptime");
        l.latch = lj.at("latch");
        l.hold = lj.value("hold", false);
        l.sip_call_id = lj.at("call_id");
        l.local_tag = lj.at("local_tag");
        l.remote_tag = lj.at("remote_tag");
        l.local_uri = lj.at("local_uri");
        l.remote_uri = lj.at("remote_uri");
        l.remote_target = lj.at("remote_target");
        l.cseq = lj.at("cseq");
        l.proto = lj.value("tcp", false) ? sip::Proto::Tcp : sip::Proto::Udp;
        if (auto e = sip::Endpoint::from(lj.at("peer_ip").get<std::string>(), lj.at("peer_port").get<uint16_t>()))
          l.peer = *e;
        if (ports_.count(l.port)) ports_[l.port]->reserve(l.local_port);
        by_sip_call_id_[l.sip_call_id] = {id, i};
      }
      c->transcode = c->a.codec.id != c->b.codec.id;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "msgw-control: live state of %s unreadable (%s): dropped\n", id.c_str(), e.what());
      continue;
    }
    ++stats_.calls_restored;
    ++stats_.calls_active;
    calls_[id] = std::move(c);
  }
}

// ---------------------------------------------------------------- management

nlohmann::json Gateway::call_json(const Call& c) const {
  const char* st = c.state == Call::State::answered ? "answered" : c.state == Call::State::early ? "early" : "routing";
  auto now_ms = wall_ms();
  return nlohmann::json{{"call", c.id},
                        {"direction", c.inbound ? "inbound" : "outbound"},
                        {"from", c.from_uri},
                        {"to", c.to_uri},
                        {"trunk", c.trunk},
                        {"state", st},
                        {"a_codec", c.a.has_codec ? codec_name(c.a.codec.id) : ""},
                        {"b_codec", c.b.has_codec ? codec_name(c.b.codec.id) : ""},
                        {"media", c.flow_programmed ? (c.transcode ? "transcode" : "relay") : "none"},
                        {"hold", c.a.hold || c.b.hold},
                        {"seconds", c.answer_ms ? (now_ms - c.answer_ms) / 1000 : 0},
                        {"restored", c.restored}};
}

nlohmann::json Gateway::manage(const nlohmann::json& req) {
  const std::string cmd = req.value("cmd", "");
  if (cmd == "show") {
    const std::string what = req.value("what", "");
    nlohmann::json data = nlohmann::json::array();
    if (what == "calls") {
      for (const auto& [id, c] : calls_) data.push_back(call_json(*c));
    } else if (what == "registrations") {
      auto n = wall_s();
      for (const auto& b : registrar_->all(n))
        data.push_back({{"aor", b.aor}, {"contact", b.contact}, {"expires", b.remaining(n)},
                        {"source", b.source}, {"user_agent", b.user_agent}});
    } else if (what == "flows") {
      for (const auto& [id, c] : calls_) {
        if (!c->flow_id) continue;
        for (int i = 0; i < 2; ++i) {
          const Leg& l = i == 0 ? c->a : c->b;
          auto s = media_.stats(*c->flow_id, uint8_t(i));
          data.push_back({{"flow", *c->flow_id}, {"leg", i == 0 ? "A" : "B"}, {"call", id},
                          {"local", ip_str(l.local_ip) + ":" + std::to_string(l.local_port)},
                          {"remote", ip_str(l.remote_ip) + ":" + std::to_string(l.remote_port)},
                          {"codec", l.has_codec ? codec_name(l.codec.id) + "/" + std::to_string(l.ptime) : ""},
                          {"pt", l.codec.payload_type}, {"rx_packets", s.packets}, {"tx_packets", s.sent},
                          {"lost", s.lost}, {"dropped", s.dropped}});
        }
      }
    } else if (what == "stats") {
      const auto& s = stats_;
      data = nlohmann::json{
          {"calls_attempted", s.calls_attempted}, {"calls_answered", s.calls_answered},
          {"calls_failed", s.calls_failed}, {"calls_cancelled", s.calls_cancelled},
          {"calls_active", calls_.size()}, {"calls_restored", s.calls_restored},
          {"inbound_calls", s.inbound_calls}, {"outbound_calls", s.outbound_calls},
          {"relayed_calls", s.relayed_calls}, {"transcoded_calls", s.transcoded_calls},
          {"auth_challenges", s.auth_challenges}, {"auth_failures", s.auth_failures},
          {"auth_blocked_403", s.auth_blocked_403}, {"registrations", s.registrations},
          {"options", s.options}, {"failovers", s.failovers}, {"reinvites", s.reinvites},
          {"media_timeouts", s.media_timeouts}, {"media_errors", s.media_errors},
          {"dataplane_up", media_.up()}, {"dataplane_restarts", s.dataplane_restarts},
          {"flows_reprogrammed", s.flows_reprogrammed}, {"dtmf_events", s.dtmf_events},
          {"latched_events", s.latched_events}, {"loops_refused", s.loops_refused},
          {"reloads", s.reloads}, {"reloads_refused", s.reloads_refused},
          {"sip_rx_messages", stack_ ? stack_->stats().rx_messages : 0},
          {"sip_bad_messages", stack_ ? stack_->stats().bad_messages : 0},
          {"sip_transactions_live", stack_ ? stack_->stats().transactions_live : 0},
          {"sip_dialogs_live", stack_ ? stack_->stats().dialogs_live : 0}};
    } else if (what == "cdrs") {
      if (store_)
        for (const auto& r : store_->cdrs(req.value("limit", 100)))
          data.push_back({{"call", r.call_id}, {"direction", r.direction}, {"from", r.from_uri}, {"to", r.to_uri},
                          {"trunk", r.trunk}, {"result", r.result_code}, {"end_reason", r.end_reason},
                          {"a_codec", r.a_codec}, {"b_codec", r.b_codec}, {"start_ms", r.start_ms},
                          {"answer_ms", r.answer_ms}, {"end_ms", r.end_ms}, {"a_packets", r.a.packets},
                          {"a_lost", r.a.lost}, {"a_jitter_ms", r.a.jitter_ms}, {"b_packets", r.b.packets},
                          {"b_lost", r.b.lost}, {"b_jitter_ms", r.b.jitter_ms}});
    } else {
      return {{"ok", false}, {"error", "show what? (calls | registrations | flows | stats | cdrs)"}};
    }
    return {{"ok", true}, {"data", data}};
  }
  if (cmd == "hangup") {
    const std::string id = req.value("call", "");
    if (!hangup(id, "hangup by operator")) return {{"ok", false}, {"error", "no such call: " + id}};
    return {{"ok", true}};
  }
  if (cmd == "reload") {
    auto r = config::load_file(cfg_.file);
    if (!r.ok()) {
      std::string msg = r.errors.empty() ? "cannot load " + cfg_.file : r.errors.front().to_string();
      if (r.errors.size() > 1) msg += " (and " + std::to_string(r.errors.size() - 1) + " more)";
      ++stats_.reloads_refused;
      return {{"ok", false}, {"error", "reload refused, old configuration kept: " + msg}};
    }
    std::string err;
    if (!reload(*r.config, &err)) return {{"ok", false}, {"error", "reload refused, old configuration kept: " + err}};
    return {{"ok", true}};
  }
  return {{"ok", false}, {"error", "unknown command: " + cmd}};
}

}  // namespace msgw::control
