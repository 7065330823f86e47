// SPDX-License-Identifier: GPL-3.0-or-later
// The transaction table: oSIP2 instances and their callbacks (which only
// record), transaction keys and indexes, and settle(), which delivers what
// the callbacks recorded and frees finished transactions.
#include <algorithm>
#include <cstdlib>  // osip_malloc may expand to malloc
#include <cstring>

#include "stack_impl.hpp"

namespace msgw::sip {
namespace {

std::string method_class(std::string_view m) {
  // An ACK for a non-2xx belongs to the INVITE server transaction.
  return m == "ACK" ? std::string("INVITE") : std::string(m);
}

}  // namespace

Stack::Impl::Impl(Stack& s, StackConfig c, Handler* h) : self(s), cfg(std::move(c)), handler(h) {
  ensure_parser_init();
  for (auto& osip : osips) {
    osip_init(&osip);
    osip_set_application_context(osip, this);
    osip_set_cb_send_message(osip, &Impl::cb_send);
    for (int t = 0; t < OSIP_MESSAGE_CALLBACK_COUNT; ++t) osip_set_message_callback(osip, t, &Impl::cb_message);
    for (int t = 0; t < OSIP_KILL_CALLBACK_COUNT; ++t) osip_set_kill_transaction_callback(osip, t, &Impl::cb_kill);
    for (int t = 0; t < OSIP_TRANSPORT_ERROR_CALLBACK_COUNT; ++t)
      osip_set_transport_error_callback(osip, t, &Impl::cb_transport_error);
  }
}

Stack::Impl::~Impl() {
  for (auto& [id, t] : txns) osip_transaction_free(t.tr);
  txns.clear();
  dialogs.clear();
  for (auto* osip : osips) osip_release(osip);
}

Stack::Impl* Stack::Impl::of(osip_transaction_t* tr) {
  return static_cast<Impl*>(osip_get_application_context(static_cast<osip_t*>(tr->config)));
}

TxnId Stack::Impl::id_of(osip_transaction_t* tr) {
  return static_cast<TxnId>(reinterpret_cast<intptr_t>(osip_transaction_get_your_instance(tr)));
}

osip_t* Stack::Impl::shard_for(const std::string& key) { return osips[std::hash<std::string>{}(key) % kShards]; }

TxnId Stack::Impl::adopt(osip_transaction_t* tr) {
  TxnId id = next_id++;
  osip_transaction_set_your_instance(tr, reinterpret_cast<void*>(static_cast<intptr_t>(id)));
  return id;
}

// ---- oSIP2 callbacks: record only.
int Stack::Impl::cb_send(osip_transaction_t* tr, osip_message_t* msg, char* host, int port, int) {
  Impl* self = tr ? of(tr) : nullptr;
  if (self == nullptr) return -1;
  return self->send_for(tr, msg, host, port) ? 0 : -1;
}

void Stack::Impl::cb_message(int type, osip_transaction_t* tr, osip_message_t* msg) {
  Impl* self = of(tr);
  switch (type) {
    case OSIP_NICT_REQUEST_SENT_AGAIN:
    case OSIP_IST_STATUS_3456XX_SENT_AGAIN:
      self->rearm(tr);
      ++self->stats.retransmissions_sent;
      return;
    case OSIP_ICT_INVITE_SENT_AGAIN:
    case OSIP_NIST_STATUS_2XX_SENT_AGAIN:
    case OSIP_NIST_STATUS_3456XX_SENT_AGAIN:
    case OSIP_ICT_ACK_SENT_AGAIN:
      ++self->stats.retransmissions_sent;
      return;
    case OSIP_IST_INVITE_RECEIVED_AGAIN:
    case OSIP_NIST_REQUEST_RECEIVED_AGAIN:
    case OSIP_IST_ACK_RECEIVED_AGAIN:
    case OSIP_ICT_STATUS_3456XX_RECEIVED_AGAIN:
    case OSIP_NICT_STATUS_3456XX_RECEIVED_AGAIN:
    case OSIP_NICT_STATUS_2XX_RECEIVED_AGAIN:
      ++self->stats.retransmissions_absorbed;
      return;
    case OSIP_ICT_STATUS_1XX_RECEIVED:
    case OSIP_ICT_STATUS_2XX_RECEIVED:
    case OSIP_ICT_STATUS_3XX_RECEIVED:
    case OSIP_ICT_STATUS_4XX_RECEIVED:
    case OSIP_ICT_STATUS_5XX_RECEIVED:
    case OSIP_ICT_STATUS_6XX_RECEIVED:
    case OSIP_NICT_STATUS_1XX_RECEIVED:
    case OSIP_NICT_STATUS_2XX_RECEIVED:
    case OSIP_NICT_STATUS_3XX_RECEIVED:
    case OSIP_NICT_STATUS_4XX_RECEIVED:
    case OSIP_NICT_STATUS_5XX_RECEIVED:
    case OSIP_NICT_STATUS_6XX_RECEIVED:
    case OSIP_ICT_STATUS_TIMEOUT:
    case OSIP_NICT_STATUS_TIMEOUT:
      self->notes.push_back({type, id_of(tr), msg});
      return;
    default:
      return;
  }
}

void Stack::Impl::cb_kill(int, osip_transaction_t* tr) { of(tr)->dead.push_back(id_of(tr)); }

void Stack::Impl::cb_transport_error(int type, osip_transaction_t* tr, int) {
  Impl* self = of(tr);
  ++self->stats.tx_errors;
  if (type == OSIP_ICT_TRANSPORT_ERROR || type == OSIP_NICT_TRANSPORT_ERROR)
    self->notes.push_back({OSIP_NICT_STATUS_TIMEOUT, id_of(tr), nullptr});
}

// ---- sending
bool Stack::Impl::transmit(Proto proto, const Endpoint& dst, uint64_t socket, std::string_view bytes, TxnId txn) {
  bool sent = false;
  if (own) {
    switch (own->submit(proto, dst, socket, bytes, txn)) {
      case SocketTransport::SendOutcome::Queued: return true;  // counted when it leaves
      case SocketTransport::SendOutcome::Sent: sent = true; break;
      case SocketTransport::SendOutcome::Failed: break;
    }
  } else {
    sent = tp->send(proto, dst, socket, bytes);
  }
  if (sent) {
    ++stats.tx_messages;
    return true;
  }
  ++stats.tx_errors;
  return false;
}

// oSIP2 answers a refused send with its transport error (counted, and for a
// client transaction reported as a timeout, cb_transport_error) and kills
// the transaction.  A batched datagram is refused after oSIP2 returned, so
// the same is done here; settle() delivers it.
void Stack::Impl::late_send_failure(TxnId txn) {
  auto it = txns.find(txn);
  if (txn == kNoTxn || it == txns.end()) return;
  if (std::find(dead.begin(), dead.end(), txn) != dead.end()) return;  // already failed or ended
  ++stats.tx_errors;
  if (!it->second.server) notes.push_back({OSIP_NICT_STATUS_TIMEOUT, txn, nullptr});
  dead.push_back(txn);
}

void Stack::Impl::begin_send_batch() {
  if (own) own->begin_batch();
}

void Stack::Impl::end_send_batch() {
  if (!own) return;
  own->end_batch();
  settle();
}

bool Stack::Impl::send_for(osip_transaction_t* tr, osip_message_t* msg, const char* host, int port) {
  auto it = txns.find(id_of(tr));
  if (it == txns.end()) return false;
  Txn& t = it->second;
  std::string bytes = serialize(msg);
  if (bytes.empty()) return false;
  if (MSG_IS_RESPONSE(msg)) stats.count_sent(msg->status_code);
  const bool sent = t.server ? send_server_bytes(t.in, host, port, bytes, it->first)
                             : transmit(t.proto, t.dst, t.socket, bytes, it->first);
  if (sent) keep_resend(t, msg, std::move(bytes), host, port);
  return sent;
}

// ---- keys and lookup
std::string Stack::Impl::server_key(const osip_message_t* m) {
  osip_via_t* via = static_cast<osip_via_t*>(osip_list_get(&m->vias, 0));
  std::string k = via_branch(m);
  k += '|';
  if (via && via->host) k += via->host;
  k += ':';
  if (via && via->port) k += via->port;
  k += '|';
  k += method_class(m->sip_method ? m->sip_method : "");
  return k;
}

std::string Stack::Impl::client_key(const osip_message_t* m) {
  return via_branch(m) + "|" + method_class(cseq_method(m));
}

std::string Stack::Impl::invite_key(const osip_message_t* m) {
  std::string k = call_id(m);
  if (k.empty()) return k;
  (k += '|') += std::to_string(cseq_number(m));
  return k;
}

bool Stack::Impl::rfc3261_branch(const osip_message_t* m) {
  std::string b = via_branch(m);
  return b.size() > 7 && b.compare(0, 7, "z9hG4bK") == 0;
}

Stack::Impl::Txn* Stack::Impl::find_server(const osip_message_t* m) {
  if (rfc3261_branch(m)) {
    auto it = server_index.find(server_key(m));
    return it == server_index.end() ? nullptr : &txns.at(it->second);
  }
  // RFC 2543 peers: oSIP2's §17.2.3 matching on the full header set.
  osip_event_t ev{};
  ev.type = MSG_IS_INVITE(m) ? RCV_REQINVITE : MSG_IS_ACK(m) ? RCV_REQACK : RCV_REQUEST;
  ev.sip = const_cast<osip_message_t*>(m);
  bool inv = MSG_IS_INVITE(m) || MSG_IS_ACK(m);
  for (auto* osip : osips) {
    osip_transaction_t* tr =
        osip_transaction_find(inv ? &osip->osip_ist_transactions : &osip->osip_nist_transactions, &ev);
    if (tr == nullptr) continue;
    auto it = txns.find(id_of(tr));
    return it == txns.end() ? nullptr : &it->second;
  }
  return nullptr;
}

// ---- events
osip_event_t* Stack::Impl::incoming_event(osip_message_t* m) {
  auto* ev = static_cast<osip_event_t*>(osip_malloc(sizeof(osip_event_t)));
  std::memset(ev, 0, sizeof *ev);
  if (MSG_IS_REQUEST(m)) ev->type = MSG_IS_INVITE(m) ? RCV_REQINVITE : MSG_IS_ACK(m) ? RCV_REQACK : RCV_REQUEST;
  else if (MSG_IS_STATUS_1XX(m)) ev->type = RCV_STATUS_1XX;
  else if (MSG_IS_STATUS_2XX(m)) ev->type = RCV_STATUS_2XX;
  else ev->type = RCV_STATUS_3456XX;
  ev->sip = m;
  return ev;
}

void Stack::Impl::execute(osip_transaction_t* tr, osip_event_t* ev) {
  run_event(tr, ev);
  settle();
}

// Delivers recorded notes to the handler, then frees dead transactions.
void Stack::Impl::settle() {
  while (!notes.empty()) {
    Note n = notes.front();
    notes.pop_front();
    deliver(n);
  }
  for (TxnId id : dead) {
    auto it = txns.find(id);
    if (it == txns.end()) continue;
    auto& idx = it->second.server ? server_index : client_index;
    auto k = idx.find(it->second.key);
    if (k != idx.end() && k->second == id) idx.erase(k);
    auto mk = merge_index.find(it->second.merge_key);
    if (mk != merge_index.end() && mk->second == id) merge_index.erase(mk);
    if (!it->second.server && it->second.tr->orig_request && MSG_IS_INVITE(it->second.tr->orig_request)) {
      auto ci = client_invites.find(invite_key(it->second.tr->orig_request));
      if (ci != client_invites.end() && ci->second == id) client_invites.erase(ci);
    }
    osip_transaction_free(it->second.tr);
    txns.erase(it);
  }
  dead.clear();
  if (!completing.empty()) complete_transactions();
  stats.transactions_live = live_transactions();
  stats.dialogs_live = dialogs.size();
}

}  // namespace msgw::sip
