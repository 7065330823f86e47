// SPDX-License-Identifier: GPL-3.0-or-later
// CallIndex: identifiers to calls (see call_index.hpp).
#include "msgw/control/call_index.hpp"

#include <algorithm>

namespace msgw::control {

void CallIndex::bind_leg(const std::string& sip_call_id, const std::string& call, LegId leg) {
  legs_[sip_call_id] = {call, leg};
}

void CallIndex::unbind_leg(const std::string& sip_call_id) { legs_.erase(sip_call_id); }

std::optional<std::pair<std::string, LegId>> CallIndex::leg_of(const std::string& sip_call_id) const {
  auto it = legs_.find(sip_call_id);
  if (it == legs_.end()) return std::nullopt;
  return it->second;
}

void CallIndex::bind_server_invite(sip::TxnId txn, const std::string& call) { server_invites_[txn] = call; }

void CallIndex::unbind_server_invite(sip::TxnId txn) { server_invites_.erase(txn); }

std::optional<std::string> CallIndex::call_of_server_invite(sip::TxnId txn) const {
  auto it = server_invites_.find(txn);
  if (it == server_invites_.end()) return std::nullopt;
  return it->second;
}

void CallIndex::bind_client(sip::TxnId txn, ClientTxn what) {
  if (txn != sip::kNoTxn) clients_[txn] = std::move(what);
}

const ClientTxn* CallIndex::client(sip::TxnId txn) const {
  auto it = clients_.find(txn);
  return it == clients_.end() ? nullptr : &it->second;
}

void CallIndex::forget_client(sip::TxnId txn) { clients_.erase(txn); }

void CallIndex::abandon(sip::TxnId txn) {
  auto it = clients_.find(txn);
  if (it != clients_.end()) it->second.kind = ClientTxnKind::abandoned_invite;
}

std::optional<uint32_t> CallIndex::allocate_flow(uint32_t limit, const std::string& call) {
  if (flows_in_use_.size() >= limit) return std::nullopt;
  for (uint32_t i = 0; i < limit; ++i) {
    uint32_t id = (next_flow_ + i) % limit;
    if (!flows_in_use_.count(id)) {
      flows_in_use_.insert(id);
      flow_calls_[id] = call;
      next_flow_ = (id + 1) % limit;
      return id;
    }
  }
  return std::nullopt;
}

void CallIndex::reserve_flow(uint32_t id, const std::string& call) {
  flows_in_use_.insert(id);
  flow_calls_[id] = call;
}

void CallIndex::release_flow(uint32_t id) {
  flows_in_use_.erase(id);
  flow_calls_.erase(id);
}

std::optional<std::string> CallIndex::call_of_flow(uint32_t id) const {
  auto it = flow_calls_.find(id);
  if (it == flow_calls_.end()) return std::nullopt;
  return it->second;
}

void CallIndex::schedule(Clock::time_point deadline) {
  if (!earliest_ || deadline < *earliest_) earliest_ = deadline;
}

void CallIndex::schedule_session(Clock::time_point due, const std::string& call) { sessions_.emplace(due, call); }

std::vector<std::string> CallIndex::take_due_sessions(Clock::time_point now) {
  std::vector<std::string> due;
  while (!sessions_.empty() && sessions_.top().first <= now) {
    if (std::find(due.begin(), due.end(), sessions_.top().second) == due.end()) due.push_back(sessions_.top().second);
    sessions_.pop();
  }
  return due;
}

std::optional<CallIndex::Clock::time_point> CallIndex::next_session_due() const {
  if (sessions_.empty()) return std::nullopt;
  return sessions_.top().first;
}

}  // namespace msgw::control
