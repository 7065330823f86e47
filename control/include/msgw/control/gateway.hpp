// The B2BUA: every call is an A leg (the side that called us, UAS) and a B
// leg (the side we call, UAC) plus one dataplane flow anchoring the media.
//
// Gateway is the SIP stack's Handler and owns all signalling state; it holds
// no sockets and starts no threads, so the daemon (main.cpp) drives it from
// one epoll loop and unit tests drive it with the stack's external transport
// and a fake MediaBackend. Outbound: an authenticated subscriber INVITE is
// routed by the dial plan to a trunk (failover on timeout/408/503). Inbound:
// an INVITE from a configured trunk's address to a DID goes to the registered
// contact of the subscriber that owns the DID.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "msgw/config/config.hpp"
#include "msgw/control/auth_guard.hpp"
#include "msgw/control/dialplan.hpp"
#include "msgw/control/media.hpp"
#include "msgw/control/port_allocator.hpp"
#include "msgw/control/state_store.hpp"
#include "msgw/sip/digest.hpp"
#include "msgw/sip/registrar.hpp"
#include "msgw/sip/sdp.hpp"
#include "msgw/sip/stack.hpp"

namespace msgw::control {

struct GatewayStats {
  uint64_t calls_attempted = 0, calls_answered = 0, calls_failed = 0, calls_cancelled = 0,
           calls_active = 0, calls_restored = 0, inbound_calls = 0, outbound_calls = 0,
           auth_challenges = 0, auth_failures = 0, auth_blocked_403 = 0, registrations = 0,
           options = 0, failovers = 0, media_timeouts = 0, media_errors = 0, reinvites = 0,
           dataplane_restarts = 0, flows_reprogrammed = 0, transcoded_calls = 0, relayed_calls = 0,
           dtmf_events = 0, latched_events = 0, loops_refused = 0, reloads = 0, reloads_refused = 0;
};

class Gateway final : public sip::Handler {
 public:
  using Clock = std::chrono::steady_clock;

  // `store` may be null (no durability, tests). Throws std::runtime_error
  // when the configuration cannot be served (no access port, registrar DB).
  Gateway(config::Config cfg, MediaBackend& media, StateStore* store);
  ~Gateway() override;
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // The stack is created with this Gateway as its handler, then given back.
  void set_stack(sip::Stack* stack) { stack_ = stack; }

  // sip::Handler
  void on_request(sip::Stack& stack, const sip::ServerRequest& req) override;
  void on_ack(sip::Stack&, const osip_message_t* ack, sip::Dialog* dialog) override;
  void on_cancel(sip::Stack&, sip::TxnId invite_txn) override;
  void on_response(sip::Stack&, sip::TxnId txn, const osip_message_t* resp, sip::Dialog* dialog) override;
  void on_timeout(sip::Stack&, sip::TxnId txn) override;
  void on_ack_timeout(sip::Stack&, sip::Dialog* dialog) override;
  bool adopts_dialogless(sip::Stack&, const osip_message_t* req) override;

  // Timer work: trunk answer deadlines (failover), dataplane events, stats.
  void tick();
  int next_timeout_ms() const;
  void poll_media();

  // Calls that were live when a previous process died (from the state store):
  // their flows are still in the dataplane; they can be listed and hung up.
  void restore();

  // What the management verbs show (mgmt/src/verbs.cpp; the "data" of
  // their answers): arrays of rows, stats one object.
  nlohmann::json show_calls() const;
  nlohmann::json show_registrations() const;
  nlohmann::json show_flows() const;
  nlohmann::json show_stats() const;
  nlohmann::json show_cdrs(int limit) const;
  // Re-reads cfg_.file and reload()s it; false (and why) when the file
  // cannot be loaded or used, nothing changed.
  bool reload_from_file(std::string* error);
  // Applies a new configuration to new calls; false (nothing changed) when
  // it cannot be used.
  bool reload(const config::Config& cfg, std::string* error);
  // Ends a call with BYE on both legs (or CANCEL / error before answer).
  bool hangup(const std::string& call_id, const std::string& reason);

  const GatewayStats& stats() const { return stats_; }
  size_t active_calls() const { return calls_.size(); }
  const config::Config& config() const { return cfg_; }
  sip::Registrar& registrar() { return *registrar_; }
  // For tests: the clock the trunk timeouts and the auth guard use.
  std::function<Clock::time_point()> now = [] { return Clock::now(); };

  struct Leg;
  struct Call;

 private:
  void handle_options(const sip::ServerRequest& req);
  void handle_register(const sip::ServerRequest& req);
  void handle_invite(const sip::ServerRequest& req);
  void handle_in_dialog(const sip::ServerRequest& req);
  // The call and leg a dialog-less in-dialog request belongs to: only a
  // restored call, and only with both tags of that leg.
  Call* restored_call_for(const osip_message_t* req, int* leg);
  void handle_reinvite(Call& c, int leg, const sip::ServerRequest& req);
  bool authenticate(const sip::ServerRequest& req, std::string* user);
  void start_outbound(const sip::ServerRequest& req, const std::string& user);
  void start_inbound(const sip::ServerRequest& req, const config::TrunkSection& trunk);
  bool try_next_trunk(Call& c);
  bool send_b_invite(Call& c, const std::string& ruri, const sip::Endpoint& dst, sip::Proto proto,
                     const std::vector<codecs::CodecId>& codecs);
  bool apply_b_answer(Call& c, const osip_message_t* resp, std::string* why);
  bool program_flow(Call& c, std::string* why);
  void b_failed(Call& c, int status, const std::string& why);
  void end_call(Call& c, int result, const std::string& reason, bool bye_a, bool bye_b);
  void send_bye(Call& c, int leg, const std::string& reason);
  bool respond_a(Call& c, int status, const std::string& body = {}, const sip::Headers& headers = {});
  void persist(const Call& c);
  void erase_call(const std::string& id);
  Call* call_by_sip_call_id(const std::string& sip_call_id, int* leg);
  std::optional<uint32_t> alloc_flow_id();
  const config::TrunkSection* trunk_by_name(const std::string& name) const;
  const config::TrunkSection* trunk_by_source(const sip::Endpoint& src) const;
  int port_index_for_trunk(const config::TrunkSection& t) const;
  void apply_config();
  nlohmann::json call_json(const Call& c) const;

  config::Config cfg_;
  MediaBackend& media_;
  StateStore* store_;
  sip::Stack* stack_ = nullptr;
  sip::InMemoryCredentialStore creds_;
  std::unique_ptr<sip::DigestAuthenticator> auth_;
  std::unique_ptr<sip::Registrar> registrar_;
  std::unique_ptr<AuthGuard> guard_;
  std::unique_ptr<DialPlan> dialplan_;
  int access_port_ = 0;
  std::map<int, std::unique_ptr<PortAllocator>> ports_;  // per dataplane port index
  std::map<std::string, std::unique_ptr<Call>> calls_;    // by public id (A-leg Call-ID)
  std::unordered_map<std::string, std::pair<std::string, int>> by_sip_call_id_;  // -> (call, leg)
  std::unordered_map<sip::TxnId, std::pair<std::string, int>> txns_;             // client txns -> (call, what)
  std::unordered_map<sip::TxnId, std::string> a_invites_;                        // server INVITE txn -> call
  std::set<uint32_t> flows_in_use_;
  std::unordered_map<uint32_t, std::string> flow_calls_;  // flow id -> call id, for media events
  uint32_t next_flow_ = 0;
  GatewayStats stats_;
  // Earliest trunk-answer deadline set since the last scan (may be stale:
  // a deadline cleared by a provisional leaves it), so tick() walks the
  // calls only when one can be due, not on every pass of the event loop.
  std::optional<Clock::time_point> earliest_b_deadline_;
};

}  // namespace msgw::control
