// SPDX-License-Identifier: GPL-3.0-or-later
// A trunk's registration (register = true): REGISTER with the trunk's
// credentials, refreshed at half the expiry the registrar granted, sent
// again with the registrar's Min-Expires after a 423, retried with doubling
// back-off after a refusal or a timeout. Its states and the valid events in
// each are trunk_state.hpp's registration table; this file acts on them.
#include <algorithm>
#include <charconv>
#include <optional>

#include "msgw/common/ascii.hpp"
#include "msgw/common/log.hpp"
#include "msgw/common/text.hpp"
#include "msgw/control/trunks.hpp"

namespace msgw::control {

namespace {

constexpr std::chrono::seconds kFirstBackoff{2}, kMaxBackoff{300};
// A registrar asking (423) for more than a day between refreshes is not
// followed: that is no carrier's policy, and it bounds a 423 loop.
constexpr uint32_t kMaxMinExpires = 86400;

// delta-seconds (RFC 3261 §25.1), larger values saturating as §20.19 says.
std::optional<uint32_t> delta_seconds(std::string_view v) {
  v = common::trim_lws(v);
  if (v.empty()) return std::nullopt;
  uint64_t n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (p != v.data() + v.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return UINT32_MAX;
  if (ec != std::errc()) return std::nullopt;
  return static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX));
}

// Two Contact URIs name the same binding: scheme and host compared without
// case, user exactly, an absent port as the scheme's default (§19.1.4; URI
// parameters are not compared: registrars add their own, e.g. ;ob).
bool same_contact(std::string_view a, std::string_view b) {
  const auto ua = sip::parse_uri(a), ub = sip::parse_uri(b);
  if (!ua || !ub) return false;
  auto port = [](const sip::Uri& u) -> uint16_t {
    return u.port != 0 ? u.port : common::iequals(u.scheme, "sips") ? 5061 : 5060;
  };
  return common::iequals(ua->scheme, ub->scheme) && ua->user == ub->user && common::iequals(ua->host, ub->host) &&
         port(*ua) == port(*ub);
}

}  // namespace

// The lifetime a 2xx gives our binding (RFC 3261 §10.2.4): the expires
// parameter of the Contact that is ours (the registrar lists every binding
// of the AOR), else the Expires header, else what we asked for. Never more
// than we asked (refreshing early is harmless). 0: our binding is gone.
uint32_t Trunks::granted_expires(sip::MessageRef resp, std::string_view our_contact, uint32_t asked) {
  for (std::size_t i = 0; i < resp.contact_count(); ++i) {
    if (our_contact.empty() || !same_contact(resp.contact_uri(i), our_contact)) continue;
    if (auto v = delta_seconds(resp.contact_param(i, "expires"))) return std::min(*v, asked);
    break;  // ours, without a usable parameter: the header decides
  }
  if (auto v = delta_seconds(resp.header("Expires")); v && *v > 0) return std::min(*v, asked);
  return asked;
}

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
    case RegEvent::too_brief:
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
  t.reg_asked_s = std::max(t.cfg.register_expires_s, t.reg_min_expires_s);
  m.add_header("Expires", std::to_string(t.reg_asked_s));
  if (t.reg_auth)
    if (auto h = t.reg_auth->authorization("REGISTER", ruri)) m.add_header(h->name, h->value);
  const sip::TxnId txn = stack_->send_request(std::move(m), *dest, t.proto);
  if (txn == sip::kNoTxn) return false;
  t.reg_txn = txn;
  t.reg_contact = stack_->request_of(txn).contact_uri(0);  // the stack filled it in
  txns_[txn] = {t.cfg.name, Kind::reg};
  return true;
}

void Trunks::on_register_answer(Trunk& t, sip::MessageRef resp, Clock::time_point now) {
  t.reg_txn = sip::kNoTxn;
  const int code = resp.status();
  if (code >= 200 && code < 300) {
    const uint32_t expires = granted_expires(resp, t.reg_contact, t.reg_asked_s);
    if (expires == 0) {
      reg_event(t, RegEvent::refused, now, code, "registrar granted our Contact expires=0");
      return;
    }
    t.reg_expires = now + std::chrono::seconds(expires);
    // Refresh at half the expiry: room for a lost REGISTER and a challenge.
    t.reg_due = now + std::chrono::milliseconds(uint64_t(expires) * 500);
    reg_event(t, RegEvent::accepted, now, code);
    return;
  }
  if (code == 423) {
    // Interval Too Brief (§10.2.8): ask again at once for the registrar's
    // minimum, and keep it as the floor of every later REGISTER. A 423 that
    // does not raise the expiry would loop: that is a refusal.
    const auto min = delta_seconds(resp.header("Min-Expires"));
    if (min && *min > t.reg_asked_s && *min <= kMaxMinExpires) {
      t.reg_min_expires_s = *min;
      t.reg_retry = false;  // the next REGISTER may be challenged afresh
      MSGW_LOG(info, "trunk registration interval raised", {"trunk", t.cfg.name}, {"min_expires_s", int64_t(*min)});
      reg_event(t, RegEvent::too_brief, now, code);
      return;
    }
    reg_event(t, RegEvent::refused, now, code,
              !min ? std::string("423 without a usable Min-Expires")
              : *min > kMaxMinExpires
                  ? "Min-Expires " + std::to_string(*min) + " above the " + std::to_string(kMaxMinExpires) + " s followed"
                  : "Min-Expires " + std::to_string(*min) + " does not raise the " + std::to_string(t.reg_asked_s) +
                        " s asked for");
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
