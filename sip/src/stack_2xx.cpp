// SPDX-License-Identifier: GPL-3.0-or-later
// 2xx to INVITE and its ACK, which live outside oSIP2's transactions (its
// IST and ICT end at the 2xx, RFC 3261 §13.3.1.4 / §13.2.2.4):
//   UAS: the 2xx is resent at T1, 2T1, ... (capped at T2) until the ACK, and
//        given up after 64*T1 (on_ack_timeout); a retransmitted INVITE gets
//        the 2xx again for 64*T1 (RFC 6026 "Accepted").
//   UAC: the ACK is sent end to end, and again for each retransmitted 2xx.
#include <algorithm>
#include <cstdlib>

#include "stack_impl.hpp"

namespace msgw::sip {

void Stack::Impl::remember_2xx(std::string bytes, const Inbound& in, const osip_message_t* invite,
                               const std::string& dialog_key, uint32_t cseq) {
  Pending2xx p;
  p.bytes = std::move(bytes);
  p.proto = in.proto;
  p.socket = in.socket;
  osip_via_t* via = static_cast<osip_via_t*>(osip_list_get(&invite->vias, 0));
  p.dst = in.peer;
  if (via) {
    osip_generic_param_t *rec = nullptr, *rp = nullptr;
    osip_via_param_get_byname(via, const_cast<char*>("received"), &rec);
    osip_via_param_get_byname(via, const_cast<char*>("rport"), &rp);
    std::string host = rec && rec->gvalue ? rec->gvalue : (via->host ? via->host : "");
    int port = rp && rp->gvalue ? std::atoi(rp->gvalue) : (via->port ? std::atoi(via->port) : 5060);
    if (auto e = Endpoint::from(host, static_cast<uint16_t>(port))) p.dst = *e;
  }
  auto now = Clock::now();
  p.interval = cfg.timers.t1;
  p.next = now + cfg.timers.t1;
  p.give_up = now + 64 * cfg.timers.t1;
  timers_2xx.push({p.next, {dialog_key, cseq}});
  pending_2xx[{dialog_key, cseq}] = std::move(p);
  if (rfc3261_branch(invite)) {
    std::string sk = server_key(invite);
    accepted_expiry.emplace_back(now + 64 * cfg.timers.t1, sk);
    accepted[std::move(sk)] = Accepted{{dialog_key, cseq}, now + 64 * cfg.timers.t1};
  }
}

// A retransmission of an INVITE we answered 2xx: the 2xx goes again (if
// still unacknowledged) and the INVITE is absorbed.
bool Stack::Impl::absorb_accepted_invite(const osip_message_t* invite) {
  auto a = accepted.find(server_key(invite));
  if (a == accepted.end()) return false;
  ++stats.retransmissions_absorbed;
  auto p = pending_2xx.find(a->second.pending);
  if (p != pending_2xx.end()) transmit(p->second.proto, p->second.dst, p->second.socket, p->second.bytes);
  return true;
}

void Stack::Impl::on_ack(osip_message_t* m) {
  // ACK for a 2xx: end to end, matched to the dialog and the 2xx's CSeq.
  MessagePtr ack(m);
  std::string key = Dialog::key_for_incoming(ack.get());
  Dialog* dialog = find_dialog(key);
  if (dialog == nullptr) {
    ++stats.stray_acks;
    return;
  }
  auto p = pending_2xx.find({key, cseq_number(ack.get())});
  if (p == pending_2xx.end()) {
    ++stats.retransmissions_absorbed;  // ACK retransmission
    return;
  }
  pending_2xx.erase(p);
  if (handler) handler->on_ack(self, ack.get(), dialog);
  settle();
}

bool Stack::Impl::send_ack(Dialog& d, uint32_t cseq, std::string_view ctype, std::string_view body,
                           const NextHop* hop) {
  MessagePtr ack = d.make_ack(cseq);
  if (!ack) return false;
  // The 2xx's ICT knew the next hop; reuse it from the INVITE that
  // created this dialog when possible, else the remote target.
  Endpoint dst;
  Proto proto = Proto::Udp;
  bool found = false;
  if (hop != nullptr) {
    dst = hop->dst;
    proto = hop->proto;
    found = true;
  } else if (auto ci = client_invites.find(invite_key(ack.get())); ci != client_invites.end()) {
    auto t = txns.find(ci->second);
    if (t != txns.end()) {
      dst = t->second.dst;
      proto = t->second.proto;
      found = true;
    }
  }
  if (!found) {
    auto it = sent_acks.find(d.key());
    if (it != sent_acks.end()) {
      dst = it->second.dst;
      proto = it->second.proto;
      found = true;
    }
  }
  if (!found && ack->req_uri && ack->req_uri->host) {
    auto e = Endpoint::from(ack->req_uri->host,
                            static_cast<uint16_t>(ack->req_uri->port ? std::atoi(ack->req_uri->port) : 5060));
    if (e) {
      dst = *e;
      found = true;
    }
  }
  if (!found) return false;
  auto local = tp->local_for(proto, dst);
  if (!local) return false;
  std::string via = std::string("SIP/2.0/") + proto_name(proto) + " " + local->host_str() + ":" +
                    std::to_string(local->port()) + ";branch=z9hG4bK" + random_token(16) + ";rport";
  osip_message_set_via(ack.get(), via.c_str());
  osip_message_set_max_forwards(ack.get(), "70");
  if (!body.empty()) {
    osip_message_set_body(ack.get(), body.data(), body.size());
    if (!ctype.empty()) osip_message_set_content_type(ack.get(), std::string(ctype).c_str());
  }
  osip_message_set_content_length(ack.get(), std::to_string(body.size()).c_str());
  std::string bytes = serialize(ack.get());
  sent_acks[d.key()] = SentAck{cseq, bytes, proto, dst};
  return transmit(proto, dst, 0, bytes);
}

// A 2xx to INVITE matching no client transaction: if we ACKed that 2xx
// before, the peer did not get the ACK and it goes again.
bool Stack::Impl::resend_ack_for(const osip_message_t* resp) {
  if (!MSG_IS_STATUS_2XX(resp) || cseq_method(resp) != "INVITE") return false;
  auto a = sent_acks.find(Dialog::key_for_response(resp));
  if (a == sent_acks.end() || a->second.cseq != cseq_number(resp)) return false;
  ++stats.retransmissions_absorbed;
  transmit(a->second.proto, a->second.dst, 0, a->second.bytes);
  return true;
}

void Stack::Impl::remember_forkable_invite(const Txn& t) {
  if (t.own || t.server || t.tr == nullptr || t.tr->orig_request == nullptr || !MSG_IS_INVITE(t.tr->orig_request))
    return;
  const auto until = Clock::now() + 64 * cfg.timers.t1;
  if (!forkable_invites.emplace(t.key, NextHop{t.dst, t.proto, until}).second) return;
  forkable_expiry.emplace_back(until, t.key);
}

bool Stack::Impl::release_forked_2xx(const osip_message_t* resp) {
  if (!MSG_IS_STATUS_2XX(resp) || cseq_method(resp) != "INVITE" || to_tag(resp).empty()) return false;
  // Only a 2xx carrying the Via branch of an INVITE we sent: nothing is
  // sent on the word of a response that merely claims to be one.
  auto f = forkable_invites.find(client_key(resp));
  if (f == forkable_invites.end()) return false;
  const std::string key = Dialog::key_for_response(resp);
  if (dialogs.count(key) != 0) return false;  // the TU's dialog: not a fork
  auto made = Dialog::as_uac(resp);
  if (!made) return false;
  Dialog& d = *dialogs.emplace(key, std::move(made)).first->second;
  stats.dialogs_live = dialogs.size();
  const NextHop hop = f->second;
  send_ack(d, cseq_number(resp), {}, {}, &hop);  // its retransmissions are ACKed again (resend_ack_for)
  Message bye = d.make_request("BYE");
  if (bye && handler) handler->on_own_request(self, d, bye);
  if (bye) {
    const TxnId id = send_request(std::move(bye), hop.dst, hop.proto);
    if (id != kNoTxn) txns.at(id).own = true;  // its answer ends the dialog; nothing for the TU
  }
  ++stats.forked_2xx_released;
  return true;
}

void Stack::Impl::erase_pending_2xx(const std::string& dialog_key) {
  for (auto p = pending_2xx.lower_bound({dialog_key, 0}); p != pending_2xx.end() && p->first.first == dialog_key;)
    p = pending_2xx.erase(p);
}

void Stack::Impl::run_2xx_timers(Clock::time_point now) {
  while (!accepted_expiry.empty() && accepted_expiry.front().first <= now) {
    auto a = accepted.find(accepted_expiry.front().second);
    if (a != accepted.end() && a->second.until <= now) accepted.erase(a);
    accepted_expiry.pop_front();
  }
  while (!forkable_expiry.empty() && forkable_expiry.front().first <= now) {
    auto f = forkable_invites.find(forkable_expiry.front().second);
    if (f != forkable_invites.end() && f->second.until <= now) forkable_invites.erase(f);
    forkable_expiry.pop_front();
  }
  std::vector<std::string> timed_out;
  while (!timers_2xx.empty() && timers_2xx.top().due <= now) {
    Timer2xx e = timers_2xx.top();
    timers_2xx.pop();
    auto it = pending_2xx.find(e.key);
    if (it == pending_2xx.end()) continue;
    Pending2xx& p = it->second;
    if (std::min(p.next, p.give_up) != e.due) continue;  // superseded
    if (now >= p.give_up) {
      timed_out.push_back(e.key.first);
      continue;
    }
    ++stats.retransmissions_sent;
    if (p.proto == Proto::Udp) transmit(p.proto, p.dst, p.socket, p.bytes);
    p.interval = std::min(p.interval * 2, std::chrono::milliseconds(cfg.timers.t2));
    p.next = now + p.interval;
    timers_2xx.push({std::min(p.next, p.give_up), e.key});
  }
  for (auto& key : timed_out) {
    erase_pending_2xx(key);
    Dialog* d = find_dialog(key);
    if (d != nullptr && handler) handler->on_ack_timeout(self, d);
  }
}

}  // namespace msgw::sip
