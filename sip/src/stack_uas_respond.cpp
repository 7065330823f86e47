// SPDX-License-Identifier: GPL-3.0-or-later
// Server transactions: creation (or a stateless 503 when full), the 100
// Trying, and the TU's responses sent through oSIP2's IST/NIST.
#include <cstdlib>

#include "stack_impl.hpp"

namespace msgw::sip {

TxnId Stack::Impl::create_server(osip_message_t* m, const Inbound& in) {
  if (running_transactions() >= cfg.limits.max_transactions) {
    // Shed load statelessly: the 503 costs no state (RFC 3261 §21.5.4).
    ++stats.overload_rejections;
    MessagePtr r = make_response(m, 503, "Too Many Transactions", stateless_to_tag());
    osip_message_set_header(r.get(), "Retry-After", "5");
    osip_message_set_content_length(r.get(), "0");
    if (!MSG_IS_ACK(m)) {
      stats.count_sent(503);
      auto dst = Endpoint::from(in.peer.ip(), in.peer.port());
      transmit(in.proto, dst ? *dst : in.peer, in.socket, serialize(r.get()));
    }
    osip_message_free(m);
    return kNoTxn;
  }
  osip_transaction_t* tr = nullptr;
  const bool invite = MSG_IS_INVITE(m);
  std::string key = server_key(m);
  if (osip_transaction_init(&tr, invite ? IST : NIST, shard_for(key), m) != 0) {
    osip_message_free(m);
    return kNoTxn;
  }
  apply_timers(tr, in.proto == Proto::Tcp);
  Txn t;
  t.tr = tr;
  t.server = true;
  t.in = in;
  t.key = std::move(key);
  TxnId id = adopt(tr);
  if (rfc3261_branch(m)) server_index[t.key] = id;
  txns.emplace(id, std::move(t));
  ++stats.transactions_created;
  osip_event_t* ev = incoming_event(m);
  ev->transactionid = tr->transactionid;
  run_event(tr, ev);
  return id;
}

bool Stack::Impl::send_server_bytes(const Inbound& in, const char* host, int port, std::string_view bytes,
                                     TxnId txn) {
  // Responses follow the Via (received/rport filled in on arrival); on
  // TCP they go back on the request's connection while it is open.
  if (in.proto == Proto::Tcp) {
    Endpoint dst = in.peer;
    if (auto e = Endpoint::from(host ? host : "", static_cast<uint16_t>(port))) dst = *e;
    return transmit(Proto::Tcp, dst, in.socket, bytes, txn);
  }
  auto dst = Endpoint::from(host ? host : "", static_cast<uint16_t>(port));
  return transmit(Proto::Udp, dst ? *dst : in.peer, in.socket, bytes, txn);
}

MessagePtr Stack::Impl::build_stateless(const osip_message_t* req, int status, std::string_view reason) {
  if (req == nullptr || !MSG_IS_REQUEST(req) || MSG_IS_ACK(req)) return {};
  return server_response(req, status, reason, stateless_to_tag());
}

// Where the IST would send it: the Via's received/rport (stamped on
// arrival), as oSIP2 gives cb_send (osip_response_get_destination).
void Stack::Impl::send_stateless(const Inbound& in, MessagePtr resp) {
  if (!resp || resp->status_code < 100 || resp->status_code > 699) return;
  default_content_length(resp.get());
  const std::string bytes = serialize(resp.get());
  if (bytes.empty()) return;
  char* host = nullptr;
  int port = 0;
  osip_response_get_destination(resp.get(), &host, &port);
  ++stats.stateless_answers;
  stats.count_sent(resp->status_code);
  send_server_bytes(in, host, port, bytes);
  osip_free(host);
}

// 100 Trying for a new INVITE, written directly instead of cloned into an
// oSIP2 message and serialised: that was ~20 % of an authenticated INVITE
// transaction (tests/perf/sip_bench).  Via comes from the request as
// stamped on arrival (received/rport), From/To/Call-ID/CSeq are the
// request's own text (RFC 3261 8.2.6.2: copied), with Timestamp echoed
// (8.2.6.1).  oSIP2's IST keeps no last response for it, so a
// retransmitted INVITE gets these bytes again from on_request until the TU
// responds through the transaction.
void Stack::Impl::send_trying(TxnId id, const osip_message_t* m, const ScanResult& scan) {
  auto it = txns.find(id);
  if (it == txns.end()) return;
  Txn& t = it->second;
  std::string out;
  out.reserve(160 + scan.from.size() + scan.to.size() + scan.call_id.size() + scan.cseq.size());
  out += "SIP/2.0 100 Trying\r\n";
  const osip_via_t* top = nullptr;
  for (int i = 0; i < osip_list_size(&m->vias); ++i) {
    auto* via = static_cast<osip_via_t*>(osip_list_get(&m->vias, i));
    char* v = nullptr;
    if (via == nullptr || osip_via_to_str(via, &v) != 0 || v == nullptr) return;
    if (top == nullptr) top = via;
    out += "Via: ";
    out += v;
    out += "\r\n";
    osip_free(v);
  }
  out += "From: ";
  out += scan.from;
  out += "\r\nTo: ";
  out += scan.to;
  out += "\r\nCall-ID: ";
  out += scan.call_id;
  out += "\r\nCSeq: ";
  out += scan.cseq;
  out += "\r\n";
  osip_header_t* ts = nullptr;
  if (osip_message_header_get_byname(m, "timestamp", 0, &ts) >= 0 && ts && ts->hvalue) {
    out += "Timestamp: ";
    out += ts->hvalue;
    out += "\r\n";
  }
  out += "Content-Length: 0\r\n\r\n";
  t.trying = std::move(out);
  send_trying_bytes(t, top);
}

void Stack::Impl::send_trying_bytes(const Txn& t, const osip_via_t* top) {
  // Where oSIP2 would send a response (osip_response_get_destination):
  // maddr, else received, else sent-by host; rport value, else sent-by port.
  const char* host = nullptr;
  int port = 5060;
  if (top != nullptr) {
    osip_generic_param_t *maddr = nullptr, *received = nullptr, *rport = nullptr;
    osip_via_param_get_byname(const_cast<osip_via_t*>(top), const_cast<char*>("maddr"), &maddr);
    osip_via_param_get_byname(const_cast<osip_via_t*>(top), const_cast<char*>("received"), &received);
    osip_via_param_get_byname(const_cast<osip_via_t*>(top), const_cast<char*>("rport"), &rport);
    host = maddr && maddr->gvalue ? maddr->gvalue : received && received->gvalue ? received->gvalue : top->host;
    if (rport && rport->gvalue) port = std::atoi(rport->gvalue);
    else if (top->port) port = std::atoi(top->port);
  }
  stats.count_sent(100);
  send_server_bytes(t.in, host, port, t.trying);
}

MessagePtr Stack::Impl::build_response(TxnId id, int status, std::string_view reason) {
  auto it = txns.find(id);
  if (it == txns.end() || !it->second.server || it->second.tr->orig_request == nullptr) return {};
  Txn& t = it->second;
  if (t.final_sent) return {};
  // One To-tag per transaction, reused by every response it sends.
  std::string tag;
  if (t.tr->last_response) tag = to_tag(t.tr->last_response);
  if (tag.empty()) tag = random_token(12);
  return server_response(t.tr->orig_request, status, reason, tag);
}

MessagePtr Stack::Impl::server_response(const osip_message_t* req, int status, std::string_view reason,
                                        std::string_view tag) {
  MessagePtr resp = make_response(req, status, reason, tag);
  if (resp && !cfg.user_agent.empty()) osip_message_set_header(resp.get(), "Server", cfg.user_agent.c_str());
  return resp;
}

void Stack::Impl::default_content_length(osip_message_t* resp) {
  if (resp->content_length != nullptr) return;
  osip_body_t* b = static_cast<osip_body_t*>(osip_list_get(&resp->bodies, 0));
  osip_message_set_content_length(resp, std::to_string(b ? b->length : 0).c_str());
}

bool Stack::Impl::respond(TxnId id, int status, std::string_view reason, const Headers& headers,
                          std::string_view ctype, std::string_view body) {
  MessagePtr resp = build_response(id, status, reason);
  if (!resp) return false;
  for (auto& [n, v] : headers) osip_message_set_header(resp.get(), n.c_str(), v.c_str());
  if (!body.empty()) {
    osip_message_set_body(resp.get(), body.data(), body.size());
    if (!ctype.empty()) osip_message_set_content_type(resp.get(), std::string(ctype).c_str());
  }
  return send_response(id, std::move(resp));
}

bool Stack::Impl::send_response(TxnId id, MessagePtr resp) {
  auto it = txns.find(id);
  if (!resp || it == txns.end() || !it->second.server || it->second.tr->orig_request == nullptr) return false;
  Txn& t = it->second;
  if (t.final_sent || resp->status_code < 100 || resp->status_code > 699) return false;
  const int status = resp->status_code;
  osip_message_t* req = t.tr->orig_request;
  default_content_length(resp.get());
  const bool invite = MSG_IS_INVITE(req);
  const std::string method = req->sip_method ? req->sip_method : "";
  Dialog* d = invite ? track_uas_dialog(t, req, resp.get()) : nullptr;
  if (method == "UPDATE") refresh_update_target(t, req, resp.get());
  if (status >= 200) t.final_sent = true;

  std::string bytes2xx;
  if (invite && status >= 200 && status < 300) bytes2xx = serialize(resp.get());
  const uint32_t cseq = cseq_number(req);
  Inbound in = t.in;
  osip_event_t* ev = osip_new_outgoing_sipmessage(resp.release());
  ev->transactionid = t.tr->transactionid;
  run_event(t.tr, ev);

  // oSIP2's IST is terminated by a 2xx: the TU retransmits it from here on.
  if (!bytes2xx.empty() && d) remember_2xx(std::move(bytes2xx), in, req, d->key(), cseq);
  if (method == "BYE" && status >= 200 && status < 300) remove_dialog_key(Dialog::key_for_incoming(req));
  return true;
}

}  // namespace msgw::sip
