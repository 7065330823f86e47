// SPDX-License-Identifier: GPL-3.0-or-later
// The map from SIP and dataplane identifiers to calls: each leg's Call-ID,
// A's INVITE server transaction, the client transactions the gateway sent
// (by kind, not by magic number), flow ids, and the earliest answer
// deadline. Calls are named by id (A's Call-ID), never by pointer, so an
// entry that outlives its call resolves to nothing instead of dangling.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "msgw/control/call_model.hpp"
#include "msgw/sip/transaction.hpp"
#include "msgw/sip/transport.hpp"

namespace msgw::control {

// What a client transaction the gateway started is for.
enum class ClientTxnKind : uint8_t {
  b_invite,          // B's initial INVITE: its answers are call events
  reinvite,          // a re-INVITE on `leg` (hold/resume toward the other side)
  bye,               // a BYE: the answer ends the transaction (a trunk's challenge is answered once)
  cancel,            // a CANCEL of B's INVITE: a challenge to it cannot be answered (RFC 3261 §9.2)
  abandoned_invite,  // an INVITE we cancelled or gave up on: a late 2xx gets ACK + BYE
  relayed,           // an in-dialog request (INFO) passed on from the other leg: its final
                     // answer goes back to that leg's request (`origin`)
};

// Where a request stands with digest authentication: a trunk's 401/407 to a
// request that answered no challenge gets one answer (the request again with
// credentials, CSeq + 1); a 401/407 to that answer ends the request (RFC
// 3261 §22.2: the credentials just sent were refused).
enum class TxnAuth : uint8_t { unanswered, answered };

struct ClientTxn {
  ClientTxn() = default;
  ClientTxn(std::string call_id, ClientTxnKind k, LegId l) : call(std::move(call_id)), kind(k), leg(l) {}

  std::string call;
  ClientTxnKind kind = ClientTxnKind::b_invite;
  LegId leg = LegId::b;
  TxnAuth auth = TxnAuth::unanswered;
  std::string trunk;  // the trunk the request went to ("" : a subscriber); outlives the call
  sip::Endpoint peer;  // where it went: a BYE answered with credentials goes there again
  sip::Proto proto = sip::Proto::Udp;
  sip::TxnId origin = sip::kNoTxn;  // relayed: the server transaction of the request passed on
};

class CallIndex {
 public:
  using Clock = std::chrono::steady_clock;

  void bind_leg(const std::string& sip_call_id, const std::string& call, LegId leg);
  void unbind_leg(const std::string& sip_call_id);
  // The call and leg a SIP Call-ID belongs to.
  std::optional<std::pair<std::string, LegId>> leg_of(const std::string& sip_call_id) const;

  void bind_server_invite(sip::TxnId txn, const std::string& call);
  void unbind_server_invite(sip::TxnId txn);
  std::optional<std::string> call_of_server_invite(sip::TxnId txn) const;

  void bind_client(sip::TxnId txn, ClientTxn what);
  const ClientTxn* client(sip::TxnId txn) const;
  void forget_client(sip::TxnId txn);
  // A call's pending B INVITE is no longer its: its answers are handled as
  // an abandoned INVITE's.
  void abandon(sip::TxnId txn);

  // Flow ids: the dataplane's flow table has `limit` slots; ids are handed
  // out round-robin so a freed id is not reused at once.
  std::optional<uint32_t> allocate_flow(uint32_t limit, const std::string& call);
  void reserve_flow(uint32_t id, const std::string& call);  // restore
  void release_flow(uint32_t id);
  std::optional<std::string> call_of_flow(uint32_t id) const;

  // Answer deadlines: the earliest one that may be due, so the event loop
  // scans the calls only when one can be (a cleared deadline may leave it
  // stale, which costs one scan).
  void schedule(Clock::time_point deadline);
  std::optional<Clock::time_point> earliest_deadline() const { return earliest_; }
  void reset_earliest(std::optional<Clock::time_point> t) { earliest_ = t; }

  std::size_t client_count() const { return clients_.size(); }

  // Session timers (RFC 4028): a call has a leg's timer due then. Entries
  // go stale when a refresh re-arms; the call checks what is really due.
  void schedule_session(Clock::time_point due, const std::string& call);
  // The calls with an entry due by `now` (each once), their entries removed.
  std::vector<std::string> take_due_sessions(Clock::time_point now);
  std::optional<Clock::time_point> next_session_due() const;

 private:
  std::unordered_map<std::string, std::pair<std::string, LegId>> legs_;
  std::unordered_map<sip::TxnId, std::string> server_invites_;
  std::unordered_map<sip::TxnId, ClientTxn> clients_;
  std::set<uint32_t> flows_in_use_;
  std::unordered_map<uint32_t, std::string> flow_calls_;
  uint32_t next_flow_ = 0;
  std::optional<Clock::time_point> earliest_;
  using SessionEntry = std::pair<Clock::time_point, std::string>;
  std::priority_queue<SessionEntry, std::vector<SessionEntry>, std::greater<>> sessions_;
};

}  // namespace msgw::control
