// SPDX-License-Identifier: GPL-3.0-or-later
// The B2BUA's dispatcher: the SIP stack's Handler, routing, and the map
// from dialogs, transactions and flows to calls (call.hpp holds what a call
// does). Every call is an A leg (the side that called us, UAS) and a B leg
// (the side we call, UAC) plus one dataplane flow anchoring the media.
//
// Gateway holds no sockets and starts no threads, so the daemon (main.cpp)
// drives it from one epoll loop and unit tests drive it with the stack's
// external transport and a fake MediaBackend. Outbound: an authenticated
// subscriber INVITE is routed by the dial plan to a trunk (failover on
// timeout/408/503). Inbound: an INVITE from a configured trunk's address to a
// DID goes to the registered contact of the subscriber that owns the DID.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "msgw/config/reload.hpp"

#include <nlohmann/json.hpp>

#include "msgw/config/config.hpp"
#include "msgw/control/admission_rate.hpp"
#include "msgw/control/auth_guard.hpp"
#include "msgw/control/call.hpp"
#include "msgw/control/call_index.hpp"
#include "msgw/control/dialplan.hpp"
#include "msgw/control/gateway_stats.hpp"
#include "msgw/control/media.hpp"
#include "msgw/control/nonce_keys.hpp"
#include "msgw/control/port_allocator.hpp"
#include "msgw/control/state_store.hpp"
#include "msgw/control/trunks.hpp"
#include "msgw/control/trunk_resolver.hpp"
#include "msgw/sip/digest.hpp"
#include "msgw/sip/registrar.hpp"
#include "msgw/sip/stack.hpp"

namespace msgw::control {

class Gateway final : public sip::Handler {
 public:
  using Clock = control::Clock;

  // `store` may be null (no durability, tests). Throws std::runtime_error
  // when the configuration cannot be served (no access port, registrar DB).
  Gateway(config::Config cfg, MediaBackend& media, StateStore* store);
  ~Gateway() override;
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // The stack is created with this Gateway as its handler, then given back.
  // msgw-control's --instance: the name a reload keeps (the file's is not a change).
  void set_instance_override(std::string name) { instance_override_ = std::move(name); }
  void set_stack(sip::Stack* stack) {
    stack_ = stack;
    services_.stack = stack;
    trunks_.set_stack(stack);
    if (stack) {
      stack->set_admission(admission_config());
      stack->add_supported("timer");  // RFC 4028 session timers: call_session_timer.cpp
    }
  }
  // [sip] overload and per-source settings for the stack; trunks exempt.
  sip::AdmissionConfig admission_config() const;
  // Resolves trunks given by name (trunk_resolver.hpp); without one such
  // trunks are skipped (logged, counted). Tracks the configuration's names.
  void set_resolver(TrunkResolver* resolver);
  // The overload rate controller msgw-control's loop runs (shown in
  // /metrics; none: its gauges read 0).
  void set_admission_rate(const AdmissionRateController* controller) { admission_rate_ = controller; }

  // sip::Handler
  void on_request(sip::Stack& stack, const sip::ServerRequest& req) override;
  void on_cancel(sip::Stack&, sip::TxnId invite_txn) override;
  void on_response(sip::Stack&, sip::TxnId txn, sip::MessageRef resp, sip::Dialog* dialog) override;
  void on_timeout(sip::Stack&, sip::TxnId txn) override;
  void on_ack(sip::Stack&, sip::MessageRef ack, sip::Dialog* dialog) override;
  void on_own_request(sip::Stack&, const sip::Dialog& dialog, sip::Message& request) override;
  void on_ack_timeout(sip::Stack&, sip::Dialog* dialog) override;
  bool adopts_dialogless(sip::Stack&, sip::MessageRef req) override;
  // A new INVITE or REGISTER without credentials from a phone: its 407/401
  // challenge, sent with no transaction (the rest take the ordinary path).
  sip::Message answer_statelessly(sip::Stack&, const sip::ServerRequest& req) override;

  // Timer work: trunk answer deadlines (failover), dataplane events, registrar purge.
  void tick();
  int next_timeout_ms() const;
  void poll_media();

  // Calls that were live when a previous process died (from the state store):
  // their flows are still in the dataplane; they can be listed and hung up.
  void restore();

  // Management (the verbs of msgwctl).
  nlohmann::json show_calls() const;
  nlohmann::json show_registrations() const;
  nlohmann::json show_flows() const;
  nlohmann::json show_stats() const;
  // Newest first, at most `limit`, started at or after since_ms (wall clock).
  nlohmann::json show_cdrs(int limit, int64_t since_ms = 0) const;
  // A new digest nonce key (nonce_keys.hpp), stored; the old one keeps
  // verifying for one nonce lifetime. The answer says until when.
  nlohmann::json rotate_nonce_key();
  nlohmann::json show_trunks() const { return trunks_.show(now()); }
  // Re-reads the configuration file; false (old configuration kept) when it
  // cannot be used, with *error saying why.
  bool reload_from_file(std::string* error, std::vector<config::ConfigChange>* changes = nullptr);
  // Applies a new configuration: each key as config/reload.hpp classifies it
  // (live ones to new calls, transactions, registrations; the others keep
  // their running value), each changed key in *changes; false (nothing
  // changed) when it cannot be used.
  bool reload(const config::Config& cfg, std::string* error,
              std::vector<config::ConfigChange>* changes = nullptr);
  // Ends a call with BYE on both legs (or 480 before answer).
  bool hangup(const std::string& call_id);

  // /metrics: every family of gateway_metrics.hpp but the HTTP server's own.
  void write_metrics(metrics::Writer& w) const;
  const GatewayStats& stats() const { return stats_; }
  size_t active_calls() const { return calls_.size(); }
  const config::Config& config() const { return cfg_; }
  sip::Registrar& registrar() { return *registrar_; }
  const Trunks& trunks() const { return trunks_; }
  // For tests: the clock the trunk timeouts and the auth guard use.
  std::function<Clock::time_point()> now = [] { return Clock::now(); };

 private:
  void handle_options(const sip::ServerRequest& req);
  void handle_register(const sip::ServerRequest& req);
  void handle_invite(const sip::ServerRequest& req);
  void handle_in_dialog(const sip::ServerRequest& req);
  // The call and leg a dialog-less in-dialog request belongs to: only a
  // restored call, and only with both tags of that leg.
  Call* restored_call_for(sip::MessageRef req, LegId* leg);
  bool authenticate(const sip::ServerRequest& req, std::string* user);
  // The challenge headers for `resp` (a 401/407 to req): the claimed user's
  // algorithms, stale when `r` says so; counted.
  void add_challenge(sip::Message& resp, const sip::ServerRequest& req, const sip::AuthResult& r);
  // The checks a new INVITE meets before its caller is known, in order: one
  // definition for handle_invite and answer_statelessly.
  enum class InviteIntake { too_many_hops, loop, from_trunk, from_phone };
  InviteIntake classify_invite(const sip::ServerRequest& req, const config::TrunkSection** trunk = nullptr);
  void start_outbound(const sip::ServerRequest& req, const std::string& user);
  void start_inbound(const sip::ServerRequest& req, const config::TrunkSection& trunk);
  // A call attempt refused before a call exists: the error's status, reason
  // and (for offer problems) a Warning.
  void refuse(const sip::ServerRequest& req, CallError error, const std::string& warning = {},
              const sip::Headers& extra = {});
  // A new INVITE from a UA that supports session timers asking for less
  // than our Min-SE: 422 with it (RFC 4028 §9); true when refused.
  bool refuse_short_session(const sip::ServerRequest& req);
  // The CDR of an INVITE refused before a call existed: its status and cause.
  void record_refusal(const sip::ServerRequest& req, int status, std::string_view cause);
  // The digest algorithms challenged to `user`: its own, or [sip]'s for a
  // user that is no subscriber.
  const std::vector<sip::DigestAlgorithm>& algorithms_for(std::string_view user) const;
  // A Request-URI host the gateway serves: its addresses, listen hosts,
  // host name and [sip] domains (outbound-proxy phones use a domain there).
  bool is_local_host(std::string_view host) const;
  std::unique_ptr<Call> new_call(const sip::ServerRequest& req, CallDirection direction);
  void launch(std::unique_ptr<Call> call, CallError no_target_error, const std::string& why);
  // Feeds an event to a call and erases the call if it ended.
  bool dispatch(Call& call, CallEvent event, const Call::Input& input = {});
  Call* call_by_id(const std::string& id);
  Call* call_by_sip_call_id(const std::string& sip_call_id, LegId* leg);
  // The trunk's targets in failover order: its address, or each address its
  // name resolves to (none yet: skipped, logged and counted).
  void add_trunk_targets(const config::TrunkSection& t, const std::string& number, std::vector<CalleeTarget>& out);
  void track_trunk_names();
  const config::TrunkSection* trunk_by_name(const std::string& name) const;
  const config::TrunkSection* trunk_by_source(const sip::Endpoint& src) const;
  // A trunk's 401/407 to a BYE (the call has ended) or a CANCEL we sent.
  void on_bye_challenge(const ClientTxn& t, sip::MessageRef resp, sip::Dialog* dialog);
  void on_cancel_challenge(const ClientTxn& t, sip::MessageRef resp);
  // The final answer to a request passed on from the other leg (INFO), or
  // none (`resp` empty: it timed out): back to the request it came from.
  void on_relayed_answer(sip::TxnId txn, const ClientTxn& t, sip::MessageRef resp, sip::Dialog* dialog);
  // A trunk's 401/407 to it: the request again with credentials, once.
  bool resend_relayed_with_credentials(sip::TxnId txn, const ClientTxn& t, sip::MessageRef resp, sip::Dialog* dialog);
  int port_index_for_trunk(const config::TrunkSection& t) const;
  PortAllocator* ports(int port_index);
  void apply_config();

  config::Config cfg_;
  MediaBackend& media_;
  StateStore* store_;
  sip::Stack* stack_ = nullptr;
  std::string instance_override_;
  sip::InMemoryCredentialStore creds_;
  std::unique_ptr<sip::DigestAuthenticator> auth_;
  // The keys nonces are MACed with: from the state database (made at the
  // first start), kept across reloads and restarts, so nonces the phones
  // cached stay valid; rotated by msgwctl.
  NonceKeys nonce_keys_;
  std::vector<sip::DigestAlgorithm> default_algorithms_;
  std::unordered_map<std::string, std::vector<sip::DigestAlgorithm>> subscriber_algorithms_;
  std::vector<std::string> local_hosts_;  // lower case
  std::unique_ptr<sip::Registrar> registrar_;
  std::unique_ptr<AuthGuard> guard_;
  std::unique_ptr<DialPlan> dialplan_;
  int access_port_ = 0;
  std::map<int, std::unique_ptr<PortAllocator>> ports_;  // per dataplane port index
  std::map<std::string, std::unique_ptr<Call>> calls_;    // by id (A's Call-ID)
  CallIndex index_;
  TrunkResolver* resolver_ = nullptr;
  const AdmissionRateController* admission_rate_ = nullptr;
  GatewayStats stats_;
  Trunks trunks_{stats_};  // health, registration and credentials of the carrier trunks
  CallServices services_;
  Clock::time_point last_purge_{};
};

}  // namespace msgw::control
