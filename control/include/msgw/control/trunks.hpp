// SPDX-License-Identifier: GPL-3.0-or-later
// The carrier trunks as the gateway keeps them between calls: each trunk's
// digest clients (one for its calls, one for its registration: a carrier's
// proxy and registrar may challenge with different realms), its health
// (OPTIONS every ping_interval_s, trunk_state.hpp's health table) and its
// registration (REGISTER with auth, refreshed at half the expiry the
// registrar granted our Contact, raised to the registrar's Min-Expires after
// a 423, retried with doubling back-off; the registration table).
//
// Driven by the Gateway: tick() sends what is due, on_response()/on_timeout()
// take the answers to the requests sent here (false: not ours). The clock is
// the caller's (Gateway::now), so tests run it without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "msgw/config/config.hpp"
#include "msgw/control/gateway_stats.hpp"
#include "msgw/control/trunk_state.hpp"
#include "msgw/sip/digest_client.hpp"
#include "msgw/sip/stack.hpp"

namespace msgw::control {

class Trunks {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Trunks(GatewayStats& stats) : stats_(stats) {}
  void set_stack(sip::Stack* stack) { stack_ = stack; }
  // Where a trunk given by DNS name is pinged and registered: its first
  // resolved target now (RFC 3263 order), nullopt while it has none.
  using DestinationLookup = std::function<std::optional<sip::Endpoint>(const config::TrunkSection&)>;
  void set_destination_lookup(DestinationLookup lookup) { lookup_ = std::move(lookup); }

  // Takes the configuration's trunks. A trunk whose address, transport and
  // credentials did not change keeps its health, registration and cached
  // nonces; others start afresh (up, unregistered).
  // Pings and first REGISTERs are due at the next tick().
  void configure(const config::Config& cfg);

  void tick(Clock::time_point now);
  std::optional<Clock::time_point> next_due() const;
  bool on_response(sip::TxnId txn, sip::MessageRef resp, Clock::time_point now);
  bool on_timeout(sip::TxnId txn, Clock::time_point now);

  // Routing may use the trunk (unknown names are routable: not ours to judge).
  bool routable(const std::string& name) const;
  // The digest client for the trunk's calls; null when it has no credentials.
  sip::DigestClient* call_auth(const std::string& name);
  // From user/domain the trunk wants in our requests ("" when not set).
  const config::TrunkSection* section(const std::string& name) const;

  TrunkHealth health(const std::string& name) const;
  RegState registration(const std::string& name) const;
  nlohmann::json show(Clock::time_point now) const;

 private:
  enum class Kind : uint8_t { ping, reg };
  struct Trunk;
  // The trunk's address literal, else the lookup's answer for its name.
  std::optional<sip::Endpoint> destination(const Trunk& t) const;
  struct Trunk {
    config::TrunkSection cfg;
    std::optional<sip::Endpoint> dest;
    sip::Proto proto = sip::Proto::Udp;
    std::optional<sip::DigestClient> call_auth, reg_auth;
    // health
    TrunkHealth health = TrunkHealth::up;
    uint32_t run = 0;  // like outcomes in a row toward the row's threshold
    std::optional<Clock::time_point> next_ping, ping_deadline;
    sip::TxnId ping_txn = sip::kNoTxn;
    uint64_t pings = 0, ping_failures = 0;
    int last_ping_status = 0;
    // registration
    RegState reg = RegState::off;
    std::optional<Clock::time_point> reg_due;
    std::optional<Clock::time_point> reg_expires;
    sip::TxnId reg_txn = sip::kNoTxn;
    std::string reg_contact;       // the Contact URI the REGISTER in flight carries
    uint32_t reg_asked_s = 0;      // the expiry it asks for
    uint32_t reg_min_expires_s = 0;  // the registrar's Min-Expires (423), a floor from then on
    std::string reg_call_id, reg_tag;
    uint32_t reg_cseq = 0;
    bool reg_retry = false;  // the REGISTER in flight answered a challenge
    std::chrono::seconds backoff{0};
    int last_reg_status = 0;
    std::string last_reg_cause;
  };

  void ping(Trunk& t, Clock::time_point now);
  void health_event(Trunk& t, TrunkHealthEvent e, int status, Clock::time_point now);
  // trunk_registration.cpp
  void reg_event(Trunk& t, RegEvent e, Clock::time_point now, int status = 0, const std::string& cause = {});
  bool send_register(Trunk& t);
  void on_register_answer(Trunk& t, sip::MessageRef resp, Clock::time_point now);
  static std::string domain_of(const config::TrunkSection& c);
  // The lifetime a REGISTER's 2xx grants the binding of `our_contact`, at
  // most `asked` seconds; 0 when the registrar removed it.
  static uint32_t granted_expires(sip::MessageRef resp, std::string_view our_contact, uint32_t asked);

  GatewayStats& stats_;
  sip::Stack* stack_ = nullptr;
  DestinationLookup lookup_;
  std::map<std::string, Trunk> trunks_;
  std::unordered_map<sip::TxnId, std::pair<std::string, Kind>> txns_;
};

}  // namespace msgw::control
