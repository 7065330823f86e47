// SPDX-License-Identifier: GPL-3.0-or-later
// A trunk's registration (register = true): REGISTER with the trunk's
// credentials, refreshed at half the granted expiry, retried with doubling
// back-off after a refusal or a timeout. Its states and the valid events in
// each are trunk_state.hpp's registration table; this file acts on them.
#include <algorithm>
#include <cstdlib>

#include "msgw/common/log.hpp"
#include "msgw/control/trunks.hpp"

namespace msgw::control {

namespace {

constexpr std::chrono::seconds kFirstBackoff{2}, kMaxBackoff{300};

// The expiry the registrar granted: its Expires header, else what we asked
// for. (A Contact's expires parameter is not read: sip/ has no accessor for
// it yet; registrars that send only that are refreshed at our own half.)
uint32_t granted_expires(sip::MessageRef resp, uint32_t asked) {
  const std::string e = resp.header("Expires");
  if (!e.empty()) {
    long v = std::strtol(e.c_str(), nullptr, 10);
    if (v > 0 && v <= long(asked)) return static_cast<uint32_t>(v);
  }
  return asked;
}

}  // namespace

std::string Trunks::domain_of(const config::TrunkSection& c) {
  return c.from_domain.empty() ? c.address.to_string() : c.from_domain;
}

void Trunks::reg_event(Trunk& t, RegEvent e, Clock::time_point now, int status, const std::string& cause) {
  const RegTransition& row = reg_transition(t.reg, e);
  if (!row.valid) {
    MSGW_LOG(debug, "trunk registration event dropped", {"trunk", t.cfg.name}, {"state", reg_state_name(t.reg)},
             {"event", reg_event_name(e)});
    return;
  }
  const RegState before = t.reg;
  t.reg = row.to;
  switch (e) {
    case RegEvent::due:
      t.reg_retry = false;
      if (!send_register(t)) reg_event(t, RegEvent::refused, now, 0, "REGISTER could not be sent");
      return;
    case RegEvent::challenged:
      if (!send_register(t)) reg_event(t, RegEvent::refused, now, 0, "REGISTER could not be sent");
      return;
    case RegEvent::accepted:
      t.backoff = std::chrono::seconds(0);
      t.last_reg_status = status;
      t.last_reg_cause.clear();
      ++stats_.trunk_registrations;
      if (before != RegState::registered)
        MSGW_LOG(info, "trunk registered", {"trunk", t.cfg.name}, {"peer", t.cfg.address.to_string()});
      return;
    case RegEvent::refused:
      t.reg_txn = sip::kNoTxn;
      t.last_reg_status = status;
      t.last_reg_cause = cause;
      t.reg_expires.reset();
      t.backoff = t.backoff.count() == 0 ? kFirstBackoff : std::min(t.backoff * 2, kMaxBackoff);
      t.reg_due = now + t.backoff;
      ++stats_.trunk_registration_failures;
      MSGW_LOG(warn, "trunk registration failed", {"trunk", t.cfg.name}, {"peer", t.cfg.address.to_string()},
               {"status", status}, {"cause", cause}, {"retry_in_s", int64_t(t.backoff.count())});
      return;
  }
}

bool Trunks::send_register(Trunk& t) {
  const auto dest = destination(t);
  if (!stack_ || !dest) return false;
  const std::string domain = domain_of(t.cfg);
  const std::string user = t.cfg.from_user.empty() ? t.cfg.username : t.cfg.from_user;
  const std::string aor = "<sip:" + user + "@" + domain + ">";
  const std::string ruri = "sip:" + domain;
  // One Call-ID per registration (RFC 3261 §10.2.4: refreshes keep it),
  // CSeq counting up across refreshes and challenges.
  if (t.reg_call_id.empty()) {
    t.reg_call_id = sip::random_token(20) + "@msgw";
    t.reg_tag = sip::random_token(10);
  }
  sip::Message m = sip::Message::request("REGISTER", ruri, aor + ";tag=" + t.reg_tag, aor, t.reg_call_id, ++t.reg_cseq);
  if (!m) return false;
  m.add_header("Expires", std::to_string(t.cfg.register_expires_s));
  if (t.reg_auth)
    if (auto h = t.reg_auth->authorization("REGISTER", ruri)) m.add_header(h->name, h->value);
  const sip::TxnId txn = stack_->send_request(std::move(m), *dest, t.proto);
  if (txn == sip::kNoTxn) return false;
  t.reg_txn = txn;
  txns_[txn] = {t.cfg.name, Kind::reg};
  return true;
}

void Trunks::on_register_answer(Trunk& t, sip::MessageRef resp, Clock::time_point now) {
  t.reg_txn = sip::kNoTxn;
  const int code = resp.status();
  if (code >= 200 && code < 300) {
    const uint32_t expires = granted_expires(resp, t.cfg.register_expires_s);
    t.reg_expires = now + std::chrono::seconds(expires);
    // Refresh at half the expiry: room for a lost REGISTER and a challenge.
    t.reg_due = now + std::chrono::milliseconds(expires * 500);
    reg_event(t, RegEvent::accepted, now, code);
    return;
  }
  if ((code == 401 || code == 407) && t.reg_auth) {
    const sip::ChallengeOutcome o = t.reg_auth->take_challenge(resp, t.reg_retry);
    if (o == sip::ChallengeOutcome::answer) {
      ++stats_.trunk_challenges;
      t.reg_retry = true;
      reg_event(t, RegEvent::challenged, now, code);
      return;
    }
    ++stats_.trunk_auth_failures;
    reg_event(t, RegEvent::refused, now, code, std::string(sip::to_string(o)));
    return;
  }
  reg_event(t, RegEvent::refused, now, code,
            code == 401 || code == 407 ? "challenged, no credentials configured" : resp.reason_phrase());
}

}  // namespace msgw::control
