// SPDX-License-Identifier: GPL-3.0-or-later
// The B2BUA's dispatcher, its core: construction, the configuration applied
// and reloaded, the lookups from identifiers to calls, dispatch() (every
// event enters a call there) and the calls restored at start. New requests
// enter in gateway_intake.cpp; responses, timers and media events in
// gateway_events.cpp; what a call does is in call.cpp.
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

namespace msgw::control {

using common::wall_s;

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
