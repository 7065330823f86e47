// SPDX-License-Identifier: GPL-3.0-or-later
// Transactions past their final response, kept as what they resend.
//
// Over UDP a transaction outlives its final response only to answer
// retransmissions (RFC 3261 §17): a non-INVITE server transaction resends
// its final response for 64*T1 (Timer J, 32 s), an INVITE server
// transaction absorbs ACKs for T4 once confirmed (Timer I), a non-INVITE
// client transaction absorbs responses for T4 (Timer K), an INVITE client
// transaction resends its ACK for every retransmitted non-2xx for 32 s
// (Timer D).  oSIP2 keeps the whole transaction for that: a 15 KiB struct
// (most of it a DNS SRV record this stack never uses), the request and the
// last response parsed, on a per-instance list it appends to by walking it.
// At 1,000 calls a second every call's BYE leaves one for 32 s: tens of
// thousands alive, half a gigabyte, and every new transaction was cut from
// memory the cache had long lost (memset and page faults were ~12 % of
// msgw-control's CPU in a profile at that rate).
//
// So once oSIP2 has moved a UDP transaction into one of those states (seen
// after each event, run_event), settle() frees it and keeps a Completed
// entry here instead: the bytes to resend, where to, and until when (the
// deadline of the oSIP2 timer that would have ended it).  Retransmissions
// arriving for it are matched by the same keys (server_key / client_key)
// and get what oSIP2 would have given them.  RFC 2543 transactions (no
// z9hG4bK branch), matched by oSIP2's own header comparison, stay in oSIP2.
#include "stack_impl.hpp"

namespace msgw::sip {

bool Stack::Impl::only_absorbs(const osip_transaction_t* tr) {
  switch (tr->state) {
    case NIST_COMPLETED:
    case IST_CONFIRMED:
    case NICT_COMPLETED:
    case ICT_COMPLETED: return true;
    default: return false;
  }
}

// Called by send_for after a send: a final response of a server
// transaction or the ACK of an INVITE client transaction is what a
// retransmission gets again.
void Stack::Impl::keep_resend(Txn& t, const osip_message_t* msg, std::string&& bytes, const char* host, int port) {
  if (t.server ? !(MSG_IS_RESPONSE(msg) && msg->status_code >= 200) : !MSG_IS_ACK(msg)) return;
  t.resend_status = t.server ? msg->status_code : 0;
  if (t.server) {
    auto dst = Endpoint::from(host ? host : "", static_cast<uint16_t>(port));
    t.resend_dst = dst ? *dst : t.in.peer;
  } else {
    t.resend_dst = t.dst;
  }
  t.resend = std::move(bytes);
}

// From settle(): the transactions run_event saw reach a state that only
// absorbs retransmissions become Completed entries.
void Stack::Impl::complete_transactions() {
  for (TxnId id : completing) {
    auto it = txns.find(id);
    if (it == txns.end()) continue;  // ended meanwhile
    Txn& t = it->second;
    osip_transaction_t* tr = t.tr;
    const Proto proto = t.server ? t.in.proto : t.proto;
    if (proto != Proto::Udp || !only_absorbs(tr) || tr->orig_request == nullptr || !rfc3261_branch(tr->orig_request))
      continue;
    const int64_t until = next_timer_deadline(tr);
    if (until == kNever) continue;  // oSIP2 ends it on its own
    // NIST: resend the final response; ICT: resend the ACK (oSIP2's ICT
    // builds it; a missing one means the send failed and is not resent).
    const bool resends = tr->state == NIST_COMPLETED || tr->state == ICT_COMPLETED;
    if (resends && t.resend.empty()) continue;
    Completed c;
    if (resends) c.resend = std::move(t.resend);
    c.status = t.resend_status;
    c.dst = t.resend_dst;
    c.socket = t.server ? t.in.socket : t.socket;
    c.until_us = until;
    auto& idx = t.server ? server_index : client_index;
    auto k = idx.find(t.key);
    if (k != idx.end() && k->second == id) idx.erase(k);
    auto mk = merge_index.find(t.merge_key);
    if (mk != merge_index.end() && mk->second == id) {
      merge_index.erase(mk);
      c.merge_key = t.merge_key;
      c.branch = via_branch(tr->orig_request);
      completed_merges[c.merge_key] = t.key;
    }
    if (!t.server && MSG_IS_INVITE(tr->orig_request)) {
      auto ci = client_invites.find(invite_key(tr->orig_request));
      if (ci != client_invites.end() && ci->second == id) client_invites.erase(ci);
    }
    completed_timers.push({until, t.server, t.key});
    (t.server ? completed_server : completed_client)[t.key] = std::move(c);
    osip_transaction_free(tr);
    txns.erase(it);
  }
  completing.clear();
}

// A request matching a completed server transaction: a non-INVITE one gets
// its final response again, an INVITE or ACK for a confirmed INVITE
// transaction is absorbed.
bool Stack::Impl::absorb_completed_request(const osip_message_t* m) {
  if (completed_server.empty() || !rfc3261_branch(m)) return false;
  auto it = completed_server.find(server_key(m));
  if (it == completed_server.end()) return false;
  ++stats.retransmissions_absorbed;
  if (!it->second.resend.empty()) {
    stats.count_sent(it->second.status);
    ++stats.retransmissions_sent;
    transmit(Proto::Udp, it->second.dst, it->second.socket, it->second.resend);
  }
  return true;
}

// A response matching a completed client transaction: a retransmitted
// non-2xx final to an INVITE gets the ACK again; anything else is absorbed.
bool Stack::Impl::absorb_completed_response(const osip_message_t* m) {
  if (completed_client.empty()) return false;
  auto it = completed_client.find(client_key(m));
  if (it == completed_client.end()) return false;
  ++stats.retransmissions_absorbed;
  if (!it->second.resend.empty() && m->status_code >= 300) {
    ++stats.retransmissions_sent;
    transmit(Proto::Udp, it->second.dst, it->second.socket, it->second.resend);
  }
  return true;
}

bool Stack::Impl::completed_merge_conflict(const std::string& merge_key, const osip_message_t* m) const {
  auto mk = completed_merges.find(merge_key);
  if (mk == completed_merges.end()) return false;
  auto c = completed_server.find(mk->second);
  return c != completed_server.end() && c->second.branch != via_branch(m);
}

bool Stack::Impl::completed_invite(const std::string& invite_server_key) const {
  return completed_server.count(invite_server_key) != 0;
}

// Also past max_completed entries, soonest deadline first: an entry only
// answers a retransmission, so losing one early costs at most a 481 to a
// retransmitted request (counted), where refusing new calls for the last
// 32 s of BYEs would cap the call rate at max / 32 s.
void Stack::Impl::expire_completed(int64_t now_us) {
  auto over_limit = [this] {
    return completed_server.size() + completed_client.size() > cfg.limits.max_completed;
  };
  while (!completed_timers.empty() && (completed_timers.top().due_us < now_us || over_limit())) {
    const bool early = completed_timers.top().due_us >= now_us;
    const CompletedTimer e = completed_timers.top();
    completed_timers.pop();
    auto& map = e.server ? completed_server : completed_client;
    auto it = map.find(e.key);
    if (it == map.end() || it->second.until_us != e.due_us) continue;  // superseded
    if (!it->second.merge_key.empty()) {
      auto mk = completed_merges.find(it->second.merge_key);
      if (mk != completed_merges.end() && mk->second == e.key) completed_merges.erase(mk);
    }
    map.erase(it);
    if (early) ++stats.completed_evicted;
  }
}

}  // namespace msgw::sip
