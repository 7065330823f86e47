// SPDX-License-Identifier: GPL-3.0-or-later
// Inbound bytes: parse, then requests through the checks RFC 3261 §8.2 asks
// of a UAS (each failure answered with its status through a server
// transaction), retransmissions to their transaction, CANCEL to the INVITE
// it cancels; responses go to the client side (stack_uac.cpp).
#include <algorithm>
#include <cstring>

#include "stack_impl.hpp"

namespace msgw::sip {
namespace {

bool is_known_method(std::string_view m) { return sip_method_index(m) < kSipMethodCount; }

}  // namespace

void Stack::Impl::receive(const Inbound& in, std::string_view bytes) {
  ++stats.rx_messages;
  stats.rx_bytes += bytes.size();
  const LimitedMethod lm = limited_method(bytes);
  if (!admit(in, bytes, lm)) return;
  const bool stream = in.proto == Proto::Tcp;
  ScanResult scan = scan_message(bytes, stream, cfg.limits);
  // The ACK of a challenge, 400 or 503 we sent with no transaction: nothing
  // waits for it, and the parse would cost more than the rest of its path.
  if (!in.framing_error && is_stateless_ack(scan)) {
    ++stats.stateless_acks_absorbed;
    return;
  }
  ParseResult pr = parse_scanned(bytes, std::move(scan));
  ScanResult& s = pr.scan;
  if (s.over_size) ++stats.oversize_messages;
  if (s.over_headers) ++stats.too_many_headers;
  if (s.over_via) ++stats.via_too_deep;
  if (in.framing_error && s.verdict == Verdict::Ok) {
    s.verdict = s.is_request ? Verdict::Reply : Verdict::Drop;
    s.status = 400;
    s.reason = "Invalid Content-Length";
    pr.msg.reset();
  }
  if (s.verdict != Verdict::Ok) {
    ++stats.bad_messages;
    if (s.verdict == Verdict::Reply) {
      std::string resp = build_stateless_response(s, s.status, s.reason, stateless_to_tag());
      if (!resp.empty()) {
        stats.count_sent(s.status);
        // Stateless answer goes where the packet came from (RFC 3581 spirit).
        transmit(in.proto, in.peer, in.socket, resp);
        return;
      }
    }
    ++stats.dropped_messages;
    return;
  }
  osip_message_t* m = pr.msg.release();
  if (MSG_IS_REQUEST(m)) {
    ++stats.rx_requests;
    ++stats.rx_requests_by_method[sip_method_index(m->sip_method != nullptr ? m->sip_method : "")];
    if (lm != LimitedMethod::none && !has_tag_param(s.to) &&
        !common::carries_credentials(bytes.substr(0, std::min(bytes.size(), s.head_len))))
      ++stats.rx_new_requests;
    on_request(in, m, s);
  } else {
    ++stats.rx_responses;
    if (m->status_code >= kFirstCountedStatus && m->status_code <= kLastCountedStatus)
      ++stats.rx_responses_by_status[m->status_code - kFirstCountedStatus];
    on_response(in, m);
  }
}

// RFC 3261 §18.2.1 received, RFC 3581 rport.
void Stack::Impl::stamp_via(osip_message_t* m, const Inbound& in) {
  osip_via_t* via = static_cast<osip_via_t*>(osip_list_get(&m->vias, 0));
  if (via == nullptr) return;
  std::string ip = in.peer.ip();
  osip_generic_param_t* rport = nullptr;
  osip_via_param_get_byname(via, const_cast<char*>("rport"), &rport);
  if (rport != nullptr) {
    osip_free(rport->gvalue);
    rport->gvalue = osip_strdup(std::to_string(in.peer.port()).c_str());
  }
  osip_generic_param_t* rec = nullptr;
  osip_via_param_get_byname(via, const_cast<char*>("received"), &rec);
  if (via->host == nullptr || ip != via->host || rport != nullptr) {
    if (rec != nullptr) {
      osip_free(rec->gvalue);
      rec->gvalue = osip_strdup(ip.c_str());
    } else {
      osip_via_set_received(via, osip_strdup(ip.c_str()));
    }
  }
  osip_message_force_update(m);
}

// Answers a request that failed a check, through a server transaction so
// its retransmissions get the same answer.
void Stack::Impl::reject(osip_message_t* m, const Inbound& in, int status, const std::string& reason,
                         const Headers& h) {
  if (MSG_IS_ACK(m)) {  // never answered
    osip_message_free(m);
    return;
  }
  TxnId id = create_server(m, in);
  if (id != kNoTxn) respond(id, status, reason, h);
  settle();
}

std::string Stack::Impl::allow_value() const {
  std::string a;
  for (auto& m : cfg.allow) a += (a.empty() ? "" : ", ") + m;
  return a;
}

void Stack::Impl::on_request(const Inbound& in, osip_message_t* m, const ScanResult& scan) {
  stamp_via(m, in);
  const std::string method = m->sip_method ? m->sip_method : "";

  // Retransmission of a request whose transaction exists: oSIP2 resends the
  // last response (or absorbs it); an ACK for a non-2xx ends here too.
  if (method != "CANCEL") {
    if (Txn* t = find_server(m)) {
      ++stats.retransmissions_absorbed;
      if (method == "ACK") --stats.retransmissions_absorbed;
      if (!t->trying.empty() && t->tr->last_response == nullptr && method == "INVITE")
        send_trying_bytes(*t, static_cast<osip_via_t*>(osip_list_get(&m->vias, 0)));
      execute(t->tr, incoming_event(m));
      return;
    }
    if (absorb_completed_request(m)) {
      osip_message_free(m);
      return;
    }
  }
  if (method == "ACK") return on_ack(m);
  if (method == "INVITE" && absorb_accepted_invite(m)) {
    osip_message_free(m);
    return;
  }

  const bool allowed = std::find(cfg.allow.begin(), cfg.allow.end(), method) != cfg.allow.end();
  if (!allowed) {
    Headers h{{"Allow", allow_value()}};
    return reject(m, in, is_known_method(method) ? 405 : 501, {}, h);
  }
  if (method != cseq_method(m)) return reject(m, in, 400, "CSeq Method Does Not Match Request");
  const char* scheme = m->req_uri->scheme;
  if (!(iequals(scheme, "sip") || iequals(scheme, "sips") || iequals(scheme, "tel")))
    return reject(m, in, 416, {});
  if (method == "REGISTER") {
    const char* ts = (m->to && m->to->url && m->to->url->scheme) ? m->to->url->scheme : "";
    if (!(iequals(ts, "sip") || iequals(ts, "sips"))) return reject(m, in, 400, "To Is Not A SIP Address Of Record");
  }
  if (method == "CANCEL") return on_cancel(in, m);

  if (osip_header_t* mf = nullptr; osip_message_get_max_forwards(m, 0, &mf) >= 0 && mf && mf->hvalue &&
                                   method == "INVITE" && std::strtoul(mf->hvalue, nullptr, 10) == 0)
    return reject(m, in, 483, {});

  // Require: every option tag must be one we support (RFC 3261 §8.2.2.3).
  std::string unsupported;
  for (const std::string& tag : option_tags(m, "require"))
    if (std::find(cfg.supported.begin(), cfg.supported.end(), tag) == cfg.supported.end())
      unsupported += (unsupported.empty() ? "" : ", ") + tag;
  if (!unsupported.empty()) return reject(m, in, 420, {}, Headers{{"Unsupported", unsupported}});

  if (method == "INVITE" || method == "UPDATE") {
    if (!offer_body_acceptable(m))
      return reject(m, in, 415, {}, Headers{{"Accept", "application/sdp"}});
    if (osip_list_size(&m->accepts) > 0) {
      bool ok = false;
      for (int i = 0; i < osip_list_size(&m->accepts); ++i) {
        auto* a = static_cast<osip_accept_t*>(osip_list_get(&m->accepts, i));
        if (a == nullptr || a->type == nullptr) { ok = true; break; }  // empty Accept: no constraint
        std::string t = a->type, st = a->subtype ? a->subtype : "";
        if ((iequals(t, "application") && (iequals(st, "sdp") || st == "*")) || (t == "*")) ok = true;
      }
      if (!ok) return reject(m, in, 406, {}, Headers{{"Accept", "application/sdp"}});
    }
  }

  Dialog* dialog = nullptr;
  const std::string ttag = to_tag(m);
  if (!ttag.empty()) {
    dialog = find_dialog(Dialog::key_for_incoming(m));
    if (dialog != nullptr) {
      if (!dialog->accept_remote_cseq(m)) return reject(m, in, 500, "CSeq Out Of Order");
    } else if (!(handler && handler->adopts_dialogless(self, m))) {
      return reject(m, in, 481, {});
    }
  }
  std::string merge_key;
  if (ttag.empty()) {
    // Merged request (RFC 3261 §8.2.2.2): same From-tag/Call-ID/CSeq as a
    // live transaction but another branch means it forked back to us.
    merge_key = Dialog::key_for_incoming(m) + '|' + std::to_string(cseq_number(m)) + '|' + method;
    auto mk = merge_index.find(merge_key);
    if (mk != merge_index.end()) {
      auto t = txns.find(mk->second);
      if (t != txns.end() && t->second.tr->orig_request && via_branch(t->second.tr->orig_request) != via_branch(m))
        return reject(m, in, 482, {});
    } else if (completed_merge_conflict(merge_key, m)) {
      return reject(m, in, 482, {});
    }
  }

  if (ttag.empty() && handler) {
    // Answered at once with no state kept (a challenge): no transaction, no 100.
    MessagePtr stateless = handler->answer_statelessly(self, ServerRequest{kNoTxn, m, in, nullptr});
    if (stateless) {
      send_stateless(in, std::move(stateless));
      osip_message_free(m);
      return;
    }
  }
  TxnId id = create_server(m, in);
  if (id == kNoTxn) return;
  if (!merge_key.empty()) {
    txns.at(id).merge_key = merge_key;
    merge_index.emplace(merge_key, id);
  }
  if (method == "INVITE" && cfg.send_100_trying) send_trying(id, m, scan);
  settle();
  auto it = txns.find(id);
  if (it == txns.end() || it->second.tr->orig_request == nullptr) return;
  ServerRequest sr{id, it->second.tr->orig_request, in, dialog};
  if (handler) handler->on_request(self, sr);
  else respond(id, 501, {});
  settle();
}

void Stack::Impl::on_cancel(const Inbound& in, osip_message_t* m) {
  // The CANCEL matches the INVITE server transaction with the same branch.
  std::string inv_key = server_key(m);
  inv_key.replace(inv_key.rfind('|') + 1, std::string::npos, "INVITE");
  auto it = server_index.find(inv_key);
  if (it == server_index.end()) {
    // Its INVITE transaction completed (final response sent and ACKed): the
    // CANCEL matches it but has nothing left to cancel (§9.2).
    if (!completed_invite(inv_key)) return reject(m, in, 481, {});
    TxnId cid = create_server(m, in);
    if (cid != kNoTxn) respond(cid, 200, {});
    settle();
    return;
  }
  TxnId inv = it->second;
  TxnId cid = create_server(m, in);
  if (cid != kNoTxn) respond(cid, 200, {});
  auto t = txns.find(inv);
  if (t != txns.end() && !t->second.final_sent) {
    respond(inv, 487, {});
    if (handler) handler->on_cancel(self, inv);
  }
  settle();
}

}  // namespace msgw::sip
