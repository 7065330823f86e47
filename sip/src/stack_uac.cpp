// SPDX-License-Identifier: GPL-3.0-or-later
// Client transactions: requests the TU sends (ICT/NICT), CANCEL of a pending
// INVITE, and the responses matched to them, delivered to the handler.
#include <algorithm>
#include <cstdlib>

#include "stack_impl.hpp"

namespace msgw::sip {

TxnId Stack::Impl::send_request(MessagePtr req, const Endpoint& dst, Proto proto) {
  osip_message_t* m = req.get();
  if (m == nullptr || m->sip_method == nullptr || m->cseq == nullptr) return kNoTxn;
  const std::string method = m->sip_method;
  auto build_via = [&](Proto p) -> bool {
    auto local = tp->local_for(p, dst);
    if (!local) return false;
    while (osip_list_size(&m->vias) > 0) {
      auto* v = static_cast<osip_via_t*>(osip_list_get(&m->vias, 0));
      osip_list_remove(&m->vias, 0);
      osip_via_free(v);
    }
    std::string via = std::string("SIP/2.0/") + proto_name(p) + " " + local->host_str() + ":" +
                      std::to_string(local->port()) + ";branch=z9hG4bK" + random_token(16) + ";rport";
    osip_message_set_via(m, via.c_str());
    if (osip_list_size(&m->contacts) == 0 && (method == "INVITE" || method == "SUBSCRIBE" || method == "REGISTER")) {
      std::string user = (m->from && m->from->url && m->from->url->username) ? m->from->url->username : "";
      std::string c = "<sip:" + (user.empty() ? "" : user + "@") + local->host_str() + ":" +
                      std::to_string(local->port()) + (p == Proto::Tcp ? ";transport=tcp>" : ">");
      osip_message_set_contact(m, c.c_str());
    }
    return true;
  };
  if (!build_via(proto)) return kNoTxn;
  osip_header_t* mf = nullptr;
  if (osip_message_get_max_forwards(m, 0, &mf) < 0 || mf == nullptr) osip_message_set_max_forwards(m, "70");
  if (!cfg.user_agent.empty()) osip_message_set_user_agent(m, cfg.user_agent.c_str());
  if (m->content_length == nullptr) {
    osip_body_t* b = static_cast<osip_body_t*>(osip_list_get(&m->bodies, 0));
    osip_message_set_content_length(m, std::to_string(b ? b->length : 0).c_str());
  }
  if (proto == Proto::Udp && tp->supports(Proto::Tcp)) {
    osip_uri_param_t* tparam = nullptr;
    if (m->req_uri) osip_uri_uparam_get_byname(m->req_uri, const_cast<char*>("transport"), &tparam);
    const bool pinned_udp = tparam && tparam->gvalue && iequals(tparam->gvalue, "udp");
    if (!pinned_udp && serialize(m).size() > cfg.udp_size_threshold) {
      proto = Proto::Tcp;
      if (!build_via(proto)) return kNoTxn;
    }
  }
  osip_transaction_t* tr = nullptr;
  const bool invite = method == "INVITE";
  if (method == "ACK") return kNoTxn;  // use send_ack
  std::string key = client_key(m);
  if (osip_transaction_init(&tr, invite ? ICT : NICT, shard_for(key), m) != 0) return kNoTxn;
  apply_timers(tr, proto == Proto::Tcp);
  Txn t;
  t.tr = tr;
  t.server = false;
  t.proto = proto;
  t.dst = dst;
  t.key = std::move(key);
  TxnId id = adopt(tr);
  client_index[t.key] = id;
  if (invite) client_invites[invite_key(m)] = id;
  txns.emplace(id, std::move(t));
  ++stats.transactions_created;
  osip_event_t* ev = osip_new_outgoing_sipmessage(req.release());
  ev->transactionid = tr->transactionid;
  execute(tr, ev);
  return id;
}

TxnId Stack::Impl::cancel(TxnId inv) {
  auto it = txns.find(inv);
  if (it == txns.end() || it->second.server || it->second.tr->orig_request == nullptr) return kNoTxn;
  Txn& t = it->second;
  if (t.final_received) return kNoTxn;
  const osip_message_t* o = t.tr->orig_request;
  osip_message_t* c = nullptr;
  osip_message_init(&c);
  MessagePtr cm(c);
  osip_message_set_method(c, osip_strdup("CANCEL"));
  osip_message_set_version(c, osip_strdup("SIP/2.0"));
  osip_uri_clone(o->req_uri, &c->req_uri);
  osip_from_clone(o->from, &c->from);
  osip_to_clone(o->to, &c->to);
  osip_call_id_clone(o->call_id, &c->call_id);
  osip_cseq_clone(o->cseq, &c->cseq);
  osip_free(c->cseq->method);
  c->cseq->method = osip_strdup("CANCEL");
  // Same Via (same branch) as the INVITE, so the UAS can match it (§9.1).
  osip_list_clone(&o->vias, &c->vias, reinterpret_cast<int (*)(void*, void**)>(&osip_via_clone));
  osip_list_clone(&o->routes, &c->routes, reinterpret_cast<int (*)(void*, void**)>(&osip_route_clone));
  osip_message_set_max_forwards(c, "70");
  osip_message_set_content_length(c, "0");
  osip_transaction_t* tr = nullptr;
  std::string key = client_key(c);
  if (osip_transaction_init(&tr, NICT, shard_for(key), c) != 0) return kNoTxn;
  apply_timers(tr, t.proto == Proto::Tcp);
  Txn nt;
  nt.tr = tr;
  nt.proto = t.proto;
  nt.dst = t.dst;
  nt.key = std::move(key);
  TxnId id = adopt(tr);
  client_index[nt.key] = id;
  txns.emplace(id, std::move(nt));
  osip_event_t* ev = osip_new_outgoing_sipmessage(cm.release());
  ev->transactionid = tr->transactionid;
  execute(tr, ev);
  return id;
}

void Stack::Impl::on_response(const Inbound& in, osip_message_t* m) {
  (void)in;
  auto it = client_index.find(client_key(m));
  if (it == client_index.end()) {
    if (absorb_completed_response(m)) {
      osip_message_free(m);
      return;
    }
    // A 2xx retransmitted after the ICT ended: the ACK goes again (§13.2.2.4).
    if (resend_ack_for(m)) {
      osip_message_free(m);
      return;
    }
    // Another branch's 2xx: ACKed, then BYE (§13.2.2.4).
    if (release_forked_2xx(m)) {
      osip_message_free(m);
      return;
    }
    ++stats.stray_responses;
    osip_message_free(m);
    return;
  }
  execute(txns.at(it->second).tr, incoming_event(m));
}

// A response or timeout an oSIP2 callback recorded, now handed to the TU.
void Stack::Impl::deliver(const Note& n) {
  auto it = txns.find(n.id);
  if (it == txns.end()) return;
  const bool own = it->second.own;  // the stack's PRACK or forked-2xx BYE: nothing for the TU
  const bool timeout = n.type == OSIP_ICT_STATUS_TIMEOUT || n.type == OSIP_NICT_STATUS_TIMEOUT;
  if (own && (timeout || (n.msg != nullptr && n.msg->status_code >= 200))) {
    // The BYE that ended a forked branch's dialog is answered (or never
    // will be): the dialog goes.
    const osip_message_t* req = it->second.tr ? it->second.tr->orig_request : nullptr;
    if (req != nullptr && MSG_IS_BYE(req)) remove_dialog_key(Dialog::key_for_response(req));
  }
  if (timeout) {
    ++stats.transactions_timed_out;
    if (handler && !own) handler->on_timeout(self, n.id);
    return;
  }
  const osip_message_t* resp = n.msg;
  if (resp == nullptr || own) return;
  Dialog* d = track_uac_dialog(resp);
  if (resp->status_code >= 200) it->second.final_received = true;
  if (resp->status_code >= 200 && resp->status_code < 300) remember_forkable_invite(it->second);
  if (d && resp->status_code > 100 && resp->status_code < 200 && !prack_reliable_provisional(it->second, resp, *d))
    return;
  if (handler) handler->on_response(self, n.id, resp, d);
  if (d && d->state() == Dialog::State::Terminated) remove_dialog_key(d->key());
}

bool Stack::Impl::prack_reliable_provisional(const Txn& t, const osip_message_t* resp, Dialog& d) {
  if (cseq_method(resp) != "INVITE") return true;
  const std::vector<std::string> required = option_tags(resp, "require");
  if (std::none_of(required.begin(), required.end(), [](const std::string& t) { return iequals(t, "100rel"); }))
    return true;
  osip_header_t* h = nullptr;
  if (osip_message_header_get_byname(resp, "rseq", 0, &h) < 0 || h == nullptr || h->hvalue == nullptr) return true;
  // RSeq is 1 to 2**31 - 1 (RFC 3262 §7.1); without a usable one the
  // response cannot be acknowledged and passes as an unreliable one.
  char* end = nullptr;
  const unsigned long rseq = std::strtoul(h->hvalue, &end, 10);
  if (end == h->hvalue || rseq == 0 || rseq > 0x7fffffffUL) return true;
  if (!d.accept_rseq(static_cast<uint32_t>(rseq))) {
    ++stats.reliable_provisionals_discarded;
    return false;
  }
  Message prack = d.make_request("PRACK");
  if (!prack) return true;
  prack.add_header("RAck", std::to_string(rseq) + " " + std::to_string(cseq_number(resp)) + " INVITE");
  if (handler) handler->on_own_request(self, d, prack);
  // Where the INVITE went: the early dialog's next hop is the same.
  const Endpoint dst = t.dst;
  const Proto proto = t.proto;
  const TxnId id = send_request(std::move(prack), dst, proto);
  if (id == kNoTxn) return true;
  txns.at(id).own = true;
  ++stats.pracks_sent;
  return true;
}

}  // namespace msgw::sip
