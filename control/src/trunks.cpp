// SPDX-License-Identifier: GPL-3.0-or-later
// The trunks between calls: configuration, digest clients, OPTIONS health
// checks and what `msgwctl show trunks` prints (registration:
// trunk_registration.cpp). Setup/control code: runs per SIP message or timer.
#include "msgw/control/trunks.hpp"

#include <algorithm>

#include "msgw/common/log.hpp"

namespace msgw::control {

namespace {

std::optional<sip::DigestAccount> account_of(const config::TrunkSection& c) {
  if (!c.has_credentials()) return std::nullopt;
  sip::DigestAccount a;
  a.username = c.username;
  a.password = c.password;
  if (!c.ha1.empty()) a.ha1 = sip::Ha1::from_hex(c.ha1);
  a.realm = c.realm;
  return a;
}

bool same_peer(const config::TrunkSection& a, const config::TrunkSection& b) {
  return a.address.host == b.address.host && a.address.port == b.address.port && a.transport == b.transport &&
         a.username == b.username && a.password == b.password && a.ha1 == b.ha1 && a.realm == b.realm &&
         a.from_domain == b.from_domain && a.from_user == b.from_user;
}

int64_t seconds_until(Trunks::Clock::time_point t, Trunks::Clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::seconds>(t - now).count();
}

}  // namespace

void Trunks::configure(const config::Config& cfg) {
  std::map<std::string, Trunk> next;
  for (const auto& c : cfg.trunks) {
    auto old = trunks_.find(c.name);
    Trunk t;
    if (old != trunks_.end() && same_peer(old->second.cfg, c)) t = std::move(old->second);
    t.cfg = c;
    t.dest = sip::Endpoint::from(c.address.host, c.address.port);
    t.proto = c.transport == "tcp" ? sip::Proto::Tcp : sip::Proto::Udp;
    if (auto acct = account_of(c)) {
      if (!t.call_auth) t.call_auth.emplace(*acct);
      if (!t.reg_auth) t.reg_auth.emplace(*acct);
    }
    if (c.ping_interval_s == 0) {
      // No health check: whatever it was, the trunk is routed to.
      t.health = TrunkHealth::up;
      t.run = 0;
      t.next_ping.reset();
      t.ping_deadline.reset();
    } else if (!t.next_ping) {
      t.next_ping = Clock::time_point{};  // at the next tick, whatever the caller's clock
    }
    if (c.register_ && t.reg == RegState::off && !t.reg_due) t.reg_due = Clock::time_point{};
    if (!c.register_) {
      t.reg = RegState::off;
      t.reg_due.reset();
      t.reg_expires.reset();
    }
    next.emplace(c.name, std::move(t));
  }
  // Answers to requests of trunks that are gone (or restarted) are no longer ours to act on.
  for (auto it = txns_.begin(); it != txns_.end();) {
    auto t = next.find(it->second.first);
    const bool live = t != next.end() &&
                      (it->first == t->second.ping_txn || it->first == t->second.reg_txn);
    it = live ? std::next(it) : txns_.erase(it);
  }
  trunks_ = std::move(next);
}

bool Trunks::routable(const std::string& name) const {
  auto it = trunks_.find(name);
  return it == trunks_.end() || control::routable(it->second.health);
}

sip::DigestClient* Trunks::call_auth(const std::string& name) {
  auto it = trunks_.find(name);
  return it == trunks_.end() || !it->second.call_auth ? nullptr : &*it->second.call_auth;
}

const config::TrunkSection* Trunks::section(const std::string& name) const {
  auto it = trunks_.find(name);
  return it == trunks_.end() ? nullptr : &it->second.cfg;
}

TrunkHealth Trunks::health(const std::string& name) const {
  auto it = trunks_.find(name);
  return it == trunks_.end() ? TrunkHealth::up : it->second.health;
}

RegState Trunks::registration(const std::string& name) const {
  auto it = trunks_.find(name);
  return it == trunks_.end() ? RegState::off : it->second.reg;
}

void Trunks::tick(Clock::time_point now) {
  for (auto& [name, t] : trunks_) {
    if (t.ping_deadline && *t.ping_deadline <= now) {
      // No answer in time: a missed ping. A late answer is not ours any more.
      txns_.erase(t.ping_txn);
      t.ping_txn = sip::kNoTxn;
      t.ping_deadline.reset();
      health_event(t, TrunkHealthEvent::ping_failed, 0, now);
    }
    if (t.next_ping && *t.next_ping <= now && t.ping_txn == sip::kNoTxn) ping(t, now);
    if (t.reg_due && *t.reg_due <= now) {
      t.reg_due.reset();
      reg_event(t, RegEvent::due, now);
    }
  }
}

std::optional<Trunks::Clock::time_point> Trunks::next_due() const {
  std::optional<Clock::time_point> best;
  auto take = [&](const std::optional<Clock::time_point>& t) {
    if (t && (!best || *t < *best)) best = t;
  };
  for (const auto& [name, t] : trunks_) {
    take(t.ping_deadline);
    if (t.ping_txn == sip::kNoTxn) take(t.next_ping);
    take(t.reg_due);
  }
  return best;
}

std::optional<sip::Endpoint> Trunks::destination(const Trunk& t) const {
  if (t.dest) return t.dest;
  return lookup_ ? lookup_(t.cfg) : std::nullopt;
}

void Trunks::ping(Trunk& t, Clock::time_point now) {
  const auto interval = std::chrono::seconds(t.cfg.ping_interval_s);
  t.next_ping = now + interval;
  const auto dest = destination(t);
  if (!stack_ || !dest) return;
  const std::string uri = "sip:" + t.cfg.address.to_string();
  const std::string user = t.cfg.from_user.empty() ? (t.cfg.username.empty() ? "msgw" : t.cfg.username) : t.cfg.from_user;
  sip::Message m = sip::Message::request("OPTIONS", uri, "<sip:" + user + "@" + domain_of(t.cfg) + ">;tag=" + sip::random_token(10),
                                         "<" + uri + ">", sip::random_token(20) + "@msgw", 1);
  if (!m) return;
  m.add_header("Accept", "application/sdp");
  const sip::TxnId txn = stack_->send_request(std::move(m), *dest, t.proto);
  ++t.pings;
  ++stats_.trunk_pings;
  if (txn == sip::kNoTxn) {
    health_event(t, TrunkHealthEvent::ping_failed, 0, now);
    return;
  }
  t.ping_txn = txn;
  // A ping is missed when it is not answered before the next one is due
  // (at most 5 s: the transaction's own timeout, 64·T1, is far too long).
  t.ping_deadline = now + std::min<Clock::duration>(interval, std::chrono::seconds(5));
  txns_[txn] = {t.cfg.name, Kind::ping};
}

void Trunks::health_event(Trunk& t, TrunkHealthEvent e, int status, Clock::time_point now) {
  (void)now;
  if (e == TrunkHealthEvent::ping_failed) {
    ++t.ping_failures;
    ++stats_.trunk_ping_failures;
  }
  t.last_ping_status = status;
  const HealthTransition& row = health_transition(t.health, e);
  // A run counts like outcomes in a row; a state whose row changes the kind
  // of outcome it waits for starts a new run.
  const bool counts_failures = e == TrunkHealthEvent::ping_failed;
  const bool same_run = (counts_failures && (t.health == TrunkHealth::failing || t.health == TrunkHealth::down)) ||
                        (!counts_failures && (t.health == TrunkHealth::recovering || t.health == TrunkHealth::up));
  t.run = same_run ? t.run + 1 : 1;
  const uint32_t threshold = counts_failures ? t.cfg.down_after : t.cfg.up_after;
  const TrunkHealth before = t.health;
  t.health = t.run >= threshold ? row.at_threshold : row.next;
  if (t.health == before) return;
  if (t.health == TrunkHealth::down) {
    ++stats_.trunks_down;
    MSGW_LOG(warn, "trunk down", {"trunk", t.cfg.name}, {"peer", t.cfg.address.to_string()},
             {"failed_pings", t.run}, {"status", status});
  } else if (t.health == TrunkHealth::up && !control::routable(before)) {
    ++stats_.trunks_up;
    MSGW_LOG(info, "trunk up", {"trunk", t.cfg.name}, {"peer", t.cfg.address.to_string()}, {"good_pings", t.run});
  } else {
    MSGW_LOG(debug, "trunk health", {"trunk", t.cfg.name}, {"from", health_name(before)},
             {"to", health_name(t.health)}, {"event", health_event_name(e)});
  }
}

bool Trunks::on_response(sip::TxnId txn, sip::MessageRef resp, Clock::time_point now) {
  auto it = txns_.find(txn);
  if (it == txns_.end()) return false;
  const int code = resp.status();
  if (code < 200) return true;
  const auto [name, kind] = it->second;
  txns_.erase(it);
  auto tt = trunks_.find(name);
  if (tt == trunks_.end()) return true;
  Trunk& t = tt->second;
  if (kind == Kind::ping) {
    t.ping_txn = sip::kNoTxn;
    t.ping_deadline.reset();
    health_event(t, code >= 500 ? TrunkHealthEvent::ping_failed : TrunkHealthEvent::ping_ok, code, now);
    return true;
  }
  if (txn == t.reg_txn) on_register_answer(t, resp, now);
  return true;
}

bool Trunks::on_timeout(sip::TxnId txn, Clock::time_point now) {
  auto it = txns_.find(txn);
  if (it == txns_.end()) return false;
  const auto [name, kind] = it->second;
  txns_.erase(it);
  auto tt = trunks_.find(name);
  if (tt == trunks_.end()) return true;
  Trunk& t = tt->second;
  if (kind == Kind::ping) {
    t.ping_txn = sip::kNoTxn;
    t.ping_deadline.reset();
    health_event(t, TrunkHealthEvent::ping_failed, 408, now);
  } else if (txn == t.reg_txn) {
    t.reg_txn = sip::kNoTxn;
    reg_event(t, RegEvent::refused, now, 408, "no answer");
  }
  return true;
}

nlohmann::json Trunks::show(Clock::time_point now) const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [name, t] : trunks_) {
    nlohmann::json r;
    r["trunk"] = name;
    r["address"] = t.cfg.address.to_string();
    r["health"] = t.cfg.ping_interval_s ? health_name(t.health) : std::string_view("unchecked");
    r["routable"] = control::routable(t.health);
    r["pings"] = t.pings;
    r["ping_failures"] = t.ping_failures;
    r["last_ping_status"] = t.last_ping_status;
    r["registration"] = reg_state_name(t.reg);
    r["expires_in_s"] = t.reg == RegState::registered && t.reg_expires ? seconds_until(*t.reg_expires, now) : 0;
    r["last_register_status"] = t.last_reg_status;
    r["last_register_cause"] = t.last_reg_cause;
    r["auth_realm"] = t.call_auth ? t.call_auth->realm() : std::string();
    r["nonce_count"] = t.call_auth ? t.call_auth->nonce_count() : 0;
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace msgw::control
