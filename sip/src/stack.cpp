// Stack: inbound validation and dispatch, oSIP2 transaction glue, dialogs,
// 2xx retransmission. One thread; oSIP2 callbacks only record what happened
// and the stack acts on it once the state machine has returned, so handlers
// may call back into the stack freely.
#include "msgw/sip/stack.hpp"

#include <sys/time.h>
#include <time.h>

#include <osip2/osip.h>
#include <osip2/osip_time.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <queue>
#include <unordered_map>

// oSIP2's own per-transaction timer checks (exported by libosip2 but declared
// only in its private headers): the same calls its osip_timers_*_execute walks
// make, so a timer fires under exactly oSIP2's state conditions.
extern "C" {
osip_event_t* __osip_ict_need_timer_a_event(osip_ict_t*, state_t, int);
osip_event_t* __osip_ict_need_timer_b_event(osip_ict_t*, state_t, int);
osip_event_t* __osip_ict_need_timer_d_event(osip_ict_t*, state_t, int);
osip_event_t* __osip_ist_need_timer_g_event(osip_ist_t*, state_t, int);
osip_event_t* __osip_ist_need_timer_h_event(osip_ist_t*, state_t, int);
osip_event_t* __osip_ist_need_timer_i_event(osip_ist_t*, state_t, int);
osip_event_t* __osip_nict_need_timer_e_event(osip_nict_t*, state_t, int);
osip_event_t* __osip_nict_need_timer_f_event(osip_nict_t*, state_t, int);
osip_event_t* __osip_nict_need_timer_k_event(osip_nict_t*, state_t, int);
osip_event_t* __osip_nist_need_timer_j_event(osip_nist_t*, state_t, int);
}

namespace msgw::sip {
namespace {

using Clock = std::chrono::steady_clock;

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  return true;
}

constexpr std::string_view kKnownMethods[] = {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER",
                                              "INFO", "NOTIFY", "UPDATE", "PRACK", "SUBSCRIBE",
                                              "REFER", "MESSAGE", "PUBLISH"};

bool is_known_method(std::string_view m) {
  return std::find(std::begin(kKnownMethods), std::end(kKnownMethods), m) != std::end(kKnownMethods);
}

std::string method_class(std::string_view m) {
  // An ACK for a non-2xx belongs to the INVITE server transaction.
  return m == "ACK" ? std::string("INVITE") : std::string(m);
}

void add_ms(timeval& tv, long ms) { add_gettimeofday(&tv, static_cast<int>(ms)); }

// oSIP2's clock (osip_gettimeofday), in microseconds: its timer deadlines are
// timevals on that clock.
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
int64_t to_us(const timeval& tv) { return int64_t(tv.tv_sec) * 1000000 + tv.tv_usec; }
int64_t osip_now_us() {
  timeval tv{};
  osip_gettimeofday(&tv, nullptr);
  return to_us(tv);
}

// Earliest armed oSIP2 timer of a transaction later than `after` (kNever if
// none).  oSIP2 disarms a timer by tv_sec = -1; a timer left armed in a state
// where it cannot fire is checked once when due and skipped afterwards.
int64_t next_osip_deadline(const osip_transaction_t* tr, int64_t after) {
  int64_t best = kNever;
  auto take = [&](const timeval& tv) {
    if (tv.tv_sec == -1) return;
    const int64_t d = to_us(tv);
    if (d > after && d < best) best = d;
  };
  if (const auto* c = tr->ict_context) take(c->timer_a_start), take(c->timer_b_start), take(c->timer_d_start);
  if (const auto* c = tr->ist_context) take(c->timer_g_start), take(c->timer_h_start), take(c->timer_i_start);
  if (const auto* c = tr->nict_context) take(c->timer_e_start), take(c->timer_f_start), take(c->timer_k_start);
  if (const auto* c = tr->nist_context) take(c->timer_j_start);
  return best;
}

// The event of the first due timer, in oSIP2's own order for each kind.
osip_event_t* due_osip_timer(osip_transaction_t* tr) {
  const state_t st = tr->state;
  const int id = tr->transactionid;
  osip_event_t* ev = nullptr;
  if (auto* c = tr->ict_context) {
    if (!(ev = __osip_ict_need_timer_b_event(c, st, id)) && !(ev = __osip_ict_need_timer_a_event(c, st, id)))
      ev = __osip_ict_need_timer_d_event(c, st, id);
  } else if (auto* c = tr->ist_context) {
    if (!(ev = __osip_ist_need_timer_i_event(c, st, id)) && !(ev = __osip_ist_need_timer_h_event(c, st, id)))
      ev = __osip_ist_need_timer_g_event(c, st, id);
  } else if (auto* c = tr->nict_context) {
    if (!(ev = __osip_nict_need_timer_k_event(c, st, id)) && !(ev = __osip_nict_need_timer_f_event(c, st, id)))
      ev = __osip_nict_need_timer_e_event(c, st, id);
  } else if (auto* c = tr->nist_context) {
    ev = __osip_nist_need_timer_j_event(c, st, id);
  }
  return ev;
}

}  // namespace

struct Stack::Impl {
  struct Txn {
    osip_transaction_t* tr = nullptr;
    bool server = false;
    std::string key;
    Inbound in;            // server: where the request came from
    Proto proto = Proto::Udp;
    Endpoint dst;          // client: next hop
    uint64_t socket = 0;
    bool final_sent = false;
    bool final_received = false;
    long rtx_ms = 0;  // current E / G interval (oSIP2 hard-codes 500/4000 ms steps)
    std::string merge_key;  // server, out of dialog: Call-ID/From-tag/CSeq
    std::string trying;     // server INVITE: the 100 Trying sent outside oSIP2
    int64_t armed_us = kNever;  // deadline of its entry in txn_timers
  };
  struct Pending2xx {
    std::string bytes;
    Proto proto;
    Endpoint dst;
    uint64_t socket;
    std::chrono::milliseconds interval;
    Clock::time_point next, give_up;
  };
  struct SentAck {
    uint32_t cseq;
    std::string bytes;
    Proto proto;
    Endpoint dst;
  };
  struct Note {
    int type;
    TxnId id;
    osip_message_t* msg;
  };

  Stack& self;
  StackConfig cfg;
  Handler* handler;
  Stats stats;
  std::unique_ptr<SocketTransport> own;
  Transport* tp = nullptr;
  // oSIP2 keeps each transaction kind in a plain list that it appends to by
  // walking to its end and removes from by searching it; spreading
  // transactions over many instances (by branch hash) keeps those walks short
  // with tens of thousands alive (16 instances left the append at 17 % of
  // msgw-control's CPU at 1,000 calls/s).  An instance is a few hundred bytes.
  static constexpr std::size_t kShards = 1024;
  std::array<osip_t*, kShards> osips{};
  TxnId next_id = 1;

  std::unordered_map<TxnId, Txn> txns;
  std::unordered_map<std::string, TxnId> server_index, client_index, merge_index;
  std::vector<TxnId> dead;
  std::deque<Note> notes;
  std::unordered_map<std::string, std::unique_ptr<Dialog>> dialogs;
  std::map<std::pair<std::string, uint32_t>, Pending2xx> pending_2xx;  // (dialog key, cseq)
  std::unordered_map<std::string, SentAck> sent_acks;                 // dialog key
  // INVITEs answered 2xx: oSIP2's IST ends at the 2xx, so retransmissions of
  // the INVITE are recognised here for 64*T1 (RFC 6026 "Accepted" state).
  struct Accepted {
    std::pair<std::string, uint32_t> pending;  // key into pending_2xx
    Clock::time_point until;
  };
  std::unordered_map<std::string, Accepted> accepted;  // server key
  // Timer indexes (see run_timers): due times with the key they were armed
  // for; an entry whose owner has since been re-armed or removed is skipped.
  struct TxnTimer {
    int64_t due_us;
    TxnId id;
    bool operator>(const TxnTimer& o) const { return due_us > o.due_us; }
  };
  std::priority_queue<TxnTimer, std::vector<TxnTimer>, std::greater<>> txn_timers;
  struct Timer2xx {
    Clock::time_point due;
    std::pair<std::string, uint32_t> key;
    bool operator>(const Timer2xx& o) const { return due > o.due; }
  };
  std::priority_queue<Timer2xx, std::vector<Timer2xx>, std::greater<>> timers_2xx;
  std::deque<std::pair<Clock::time_point, std::string>> accepted_expiry;  // same lifetime: FIFO
  // Client INVITE transactions by Call-ID and CSeq: where the ACK for their
  // 2xx goes (was a walk over every live transaction per ACK).
  std::unordered_map<std::string, TxnId> client_invites;
  static std::string invite_key(const osip_message_t* m) {
    std::string k = call_id(m);
    if (k.empty()) return k;
    (k += '|') += std::to_string(cseq_number(m));
    return k;
  }

  Impl(Stack& s, StackConfig c, Handler* h) : self(s), cfg(std::move(c)), handler(h) {
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

  ~Impl() {
    for (auto& [id, t] : txns) osip_transaction_free(t.tr);
    txns.clear();
    dialogs.clear();
    for (auto* osip : osips) osip_release(osip);
  }

  static Impl* of(osip_transaction_t* tr) {
    return static_cast<Impl*>(osip_get_application_context(static_cast<osip_t*>(tr->config)));
  }
  // Our id, unique across the oSIP2 instances (theirs is per instance).
  static TxnId id_of(osip_transaction_t* tr) {
    return static_cast<TxnId>(reinterpret_cast<intptr_t>(osip_transaction_get_your_instance(tr)));
  }
  osip_t* shard_for(const std::string& key) { return osips[std::hash<std::string>{}(key) % kShards]; }
  TxnId adopt(osip_transaction_t* tr) {
    TxnId id = next_id++;
    osip_transaction_set_your_instance(tr, reinterpret_cast<void*>(static_cast<intptr_t>(id)));
    return id;
  }

  // ---- oSIP2 callbacks: record only.
  static int cb_send(osip_transaction_t* tr, osip_message_t* msg, char* host, int port, int) {
    Impl* self = tr ? of(tr) : nullptr;
    if (self == nullptr) return -1;
    return self->send_for(tr, msg, host, port) ? 0 : -1;
  }
  static void cb_message(int type, osip_transaction_t* tr, osip_message_t* msg) {
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
  static void cb_kill(int, osip_transaction_t* tr) { of(tr)->dead.push_back(id_of(tr)); }
  static void cb_transport_error(int type, osip_transaction_t* tr, int) {
    Impl* self = of(tr);
    ++self->stats.tx_errors;
    if (type == OSIP_ICT_TRANSPORT_ERROR || type == OSIP_NICT_TRANSPORT_ERROR)
      self->notes.push_back({OSIP_NICT_STATUS_TIMEOUT, id_of(tr), nullptr});
  }

  // ---- sending
  bool transmit(Proto proto, const Endpoint& dst, uint64_t socket, std::string_view bytes) {
    if (tp->send(proto, dst, socket, bytes)) {
      ++stats.tx_messages;
      return true;
    }
    ++stats.tx_errors;
    return false;
  }

  bool send_for(osip_transaction_t* tr, osip_message_t* msg, const char* host, int port) {
    auto it = txns.find(id_of(tr));
    if (it == txns.end()) return false;
    Txn& t = it->second;
    std::string bytes = serialize(msg);
    if (bytes.empty()) return false;
    if (MSG_IS_RESPONSE(msg) && msg->status_code >= 100 && msg->status_code < 700)
      ++stats.responses_by_class[msg->status_code / 100];
    if (t.server) return send_server_bytes(t, host, port, bytes);
    return transmit(t.proto, t.dst, t.socket, bytes);
  }

  bool send_server_bytes(const Txn& t, const char* host, int port, std::string_view bytes) {
    // Responses follow the Via (received/rport filled in on arrival); on
    // TCP they go back on the request's connection while it is open.
    if (t.in.proto == Proto::Tcp) {
      Endpoint dst = t.in.peer;
      if (auto e = Endpoint::from(host ? host : "", static_cast<uint16_t>(port))) dst = *e;
      return transmit(Proto::Tcp, dst, t.in.socket, bytes);
    }
    auto dst = Endpoint::from(host ? host : "", static_cast<uint16_t>(port));
    return transmit(Proto::Udp, dst ? *dst : t.in.peer, t.in.socket, bytes);
  }

  // 100 Trying for a new INVITE, written directly instead of cloned into an
  // oSIP2 message and serialised: that was ~20 % of an authenticated INVITE
  // transaction (tests/perf/sip_bench).  Via comes from the request as
  // stamped on arrival (received/rport), From/To/Call-ID/CSeq are the
  // request's own text (RFC 3261 8.2.6.2: copied), with Timestamp echoed
  // (8.2.6.1).  oSIP2's IST keeps no last response for it, so a
  // retransmitted INVITE gets these bytes again from on_request until the TU
  // responds through the transaction.
  void send_trying(TxnId id, const osip_message_t* m, const ScanResult& scan) {
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

  void send_trying_bytes(const Txn& t, const osip_via_t* top) {
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
    ++stats.responses_by_class[1];
    send_server_bytes(t, host, port, t.trying);
  }

  void apply_timers(osip_transaction_t* tr, bool reliable) {
    const long t1 = cfg.timers.t1.count(), t4 = cfg.timers.t4.count();
    timeval now{};
    osip_gettimeofday(&now, nullptr);
    if (auto* c = tr->ict_context) {
      if (c->timer_a_length > 0) {
        c->timer_a_length = static_cast<int>(t1);
        c->timer_a_start = now;
        add_ms(c->timer_a_start, t1);
      }
      c->timer_b_length = static_cast<int>(64 * t1);
      c->timer_b_start = now;
      add_ms(c->timer_b_start, 64 * t1);
      c->timer_d_length = reliable ? 0 : static_cast<int>(std::max<long>(64 * t1, std::min<long>(32000, 64 * t1)));
    }
    if (auto* c = tr->nict_context) {
      if (c->timer_e_length > 0) {
        c->timer_e_length = static_cast<int>(t1);
        c->timer_e_start = now;
        add_ms(c->timer_e_start, t1);
      }
      c->timer_f_length = static_cast<int>(64 * t1);
      c->timer_f_start = now;
      add_ms(c->timer_f_start, 64 * t1);
      c->timer_k_length = reliable ? 0 : static_cast<int>(t4);
    }
    if (auto* c = tr->ist_context) {
      if (c->timer_g_length > 0) c->timer_g_length = static_cast<int>(t1);
      c->timer_h_length = static_cast<int>(64 * t1);
      c->timer_i_length = reliable ? 0 : static_cast<int>(t4);
    }
    if (auto* c = tr->nist_context) c->timer_j_length = reliable ? 0 : static_cast<int>(64 * t1);
  }

  // Timers E and G: oSIP2 steps them with its compile-time T1/T2 (and adds
  // 500 ms to values under T1); the RFC 3261 schedule with the configured
  // T1/T2 is restored after each firing: E doubles to T2 (T2 once a
  // provisional arrived), G doubles to T2.
  void rearm(osip_transaction_t* tr) {
    auto it = txns.find(id_of(tr));
    if (it == txns.end()) return;
    const long t2 = cfg.timers.t2.count();
    long& rtx = it->second.rtx_ms;
    if (rtx <= 0) rtx = cfg.timers.t1.count();
    timeval now{};
    osip_gettimeofday(&now, nullptr);
    if (auto* c = tr->nict_context; c && c->timer_e_length > 0) {
      rtx = tr->state == NICT_TRYING ? std::min(2 * rtx, t2) : t2;
      c->timer_e_length = static_cast<int>(rtx);
      c->timer_e_start = now;
      add_ms(c->timer_e_start, rtx);
    } else if (auto* g = tr->ist_context; g && g->timer_g_length > 0) {
      rtx = std::min(2 * rtx, t2);
      g->timer_g_length = static_cast<int>(rtx);
      g->timer_g_start = now;
      add_ms(g->timer_g_start, rtx);
    }
  }

  // ---- transaction bookkeeping
  static std::string server_key(const osip_message_t* m) {
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
  static std::string client_key(const osip_message_t* m) {
    return via_branch(m) + "|" + method_class(cseq_method(m));
  }
  static bool rfc3261_branch(const osip_message_t* m) {
    std::string b = via_branch(m);
    return b.size() > 7 && b.compare(0, 7, "z9hG4bK") == 0;
  }

  Txn* find_server(const osip_message_t* m) {
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

  void execute(osip_transaction_t* tr, osip_event_t* ev) {
    run_event(tr, ev);
    settle();
  }

  // Every event goes through here so the transaction's next timer deadline
  // is indexed from whatever the state machine just armed.
  void run_event(osip_transaction_t* tr, osip_event_t* ev, int64_t after = std::numeric_limits<int64_t>::min()) {
    if (ev != nullptr) osip_transaction_execute(tr, ev);
    arm(id_of(tr), after);
  }
  void arm(TxnId id, int64_t after = std::numeric_limits<int64_t>::min()) {
    auto it = txns.find(id);
    if (it == txns.end()) return;
    const int64_t due = next_osip_deadline(it->second.tr, after);
    if (due == it->second.armed_us) return;
    it->second.armed_us = due;
    if (due != kNever) txn_timers.push({due, id});
  }

  static osip_event_t* incoming_event(osip_message_t* m) {
    auto* ev = static_cast<osip_event_t*>(osip_malloc(sizeof(osip_event_t)));
    std::memset(ev, 0, sizeof *ev);
    if (MSG_IS_REQUEST(m)) ev->type = MSG_IS_INVITE(m) ? RCV_REQINVITE : MSG_IS_ACK(m) ? RCV_REQACK : RCV_REQUEST;
    else if (MSG_IS_STATUS_1XX(m)) ev->type = RCV_STATUS_1XX;
    else if (MSG_IS_STATUS_2XX(m)) ev->type = RCV_STATUS_2XX;
    else ev->type = RCV_STATUS_3456XX;
    ev->sip = m;
    return ev;
  }

  // Delivers recorded notes to the handler, then frees dead transactions.
  void settle() {
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
    stats.transactions_live = txns.size();
    stats.dialogs_live = dialogs.size();
  }

  void deliver(const Note& n) {
    auto it = txns.find(n.id);
    if (it == txns.end()) return;
    if (n.type == OSIP_ICT_STATUS_TIMEOUT || n.type == OSIP_NICT_STATUS_TIMEOUT) {
      ++stats.transactions_timed_out;
      if (handler) handler->on_timeout(self, n.id);
      return;
    }
    const osip_message_t* resp = n.msg;
    if (resp == nullptr) return;
    Dialog* d = nullptr;
    const bool invite = cseq_method(resp) == "INVITE";
    if (invite && resp->status_code > 100 && resp->status_code < 300 && !to_tag(resp).empty()) {
      std::string key = Dialog::key_for_response(resp);
      auto dit = dialogs.find(key);
      if (dit == dialogs.end()) {
        if (auto nd = Dialog::as_uac(resp)) dit = dialogs.emplace(key, std::move(nd)).first;
      } else if (resp->status_code >= 200) {
        dit->second->update_from_2xx(resp);
      }
      if (dit != dialogs.end()) d = dit->second.get();
    } else if (invite && resp->status_code >= 300) {
      dialogs.erase(Dialog::key_for_response(resp));
    } else if (!invite) {
      auto dit = dialogs.find(Dialog::key_for_response(resp));
      if (dit != dialogs.end()) {
        d = dit->second.get();
        // A BYE answered (or refused as unknown) ends the dialog.
        if (cseq_method(resp) == "BYE" && resp->status_code >= 200) d->terminate();
      }
    }
    if (resp->status_code >= 200) it->second.final_received = true;
    if (handler) handler->on_response(self, n.id, resp, d);
    if (d && d->state() == Dialog::State::Terminated) remove_dialog_key(d->key());
  }

  void remove_dialog_key(const std::string& key) {
    auto it = dialogs.find(key);
    if (it == dialogs.end()) return;
    erase_pending_2xx(key);
    sent_acks.erase(key);
    dialogs.erase(it);
    stats.dialogs_live = dialogs.size();
  }

  // ---- inbound
  void receive(const Inbound& in, std::string_view bytes) {
    ++stats.rx_messages;
    stats.rx_bytes += bytes.size();
    const bool stream = in.proto == Proto::Tcp;
    ParseResult pr = parse_message(bytes, stream, cfg.limits);
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
        std::string resp = build_stateless_response(s, s.status, s.reason, random_token(10));
        if (!resp.empty()) {
          ++stats.responses_by_class[s.status / 100];
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
      on_request(in, m, s);
    } else {
      ++stats.rx_responses;
      on_response(in, m);
    }
  }

  // RFC 3261 §18.2.1 received, RFC 3581 rport.
  static void stamp_via(osip_message_t* m, const Inbound& in) {
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

  TxnId create_server(osip_message_t* m, const Inbound& in) {
    if (txns.size() >= cfg.limits.max_transactions) {
      // Shed load statelessly: the 503 costs no state (RFC 3261 §21.5.4).
      ++stats.overload_rejections;
      MessagePtr r = make_response(m, 503, "Too Many Transactions", random_token(10));
      osip_message_set_header(r.get(), "Retry-After", "5");
      osip_message_set_content_length(r.get(), "0");
      if (!MSG_IS_ACK(m)) {
        ++stats.responses_by_class[5];
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

  void reject(osip_message_t* m, const Inbound& in, int status, const std::string& reason, const Headers& h = {}) {
    if (MSG_IS_ACK(m)) {  // never answered
      osip_message_free(m);
      return;
    }
    TxnId id = create_server(m, in);
    if (id != kNoTxn) respond(id, status, reason, h);
    settle();
  }

  std::string allow_value() const {
    std::string a;
    for (auto& m : cfg.allow) a += (a.empty() ? "" : ", ") + m;
    return a;
  }

  void on_request(const Inbound& in, osip_message_t* m, const ScanResult& scan) {
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
    }
    if (method == "ACK") return on_ack(m);
    if (method == "INVITE") {
      auto a = accepted.find(server_key(m));
      if (a != accepted.end()) {
        ++stats.retransmissions_absorbed;
        auto p = pending_2xx.find(a->second.pending);
        if (p != pending_2xx.end()) transmit(p->second.proto, p->second.dst, p->second.socket, p->second.bytes);
        osip_message_free(m);
        return;
      }
    }

    const bool allowed = std::find(cfg.allow.begin(), cfg.allow.end(), method) != cfg.allow.end();
    if (!allowed) {
      Headers h{{"Allow", allow_value()}};
      return reject(m, in, is_known_method(method) ? 405 : 501, {}, h);
    }
    if (method != cseq_method(m)) return reject(m, in, 400, "CSeq Method Does Not Match Request");
    const char* scheme = m->req_uri->scheme;
    if (!(ieq(scheme, "sip") || ieq(scheme, "sips") || ieq(scheme, "tel")))
      return reject(m, in, 416, {});
    if (method == "REGISTER") {
      const char* ts = (m->to && m->to->url && m->to->url->scheme) ? m->to->url->scheme : "";
      if (!(ieq(ts, "sip") || ieq(ts, "sips"))) return reject(m, in, 400, "To Is Not A SIP Address Of Record");
    }
    if (method == "CANCEL") return on_cancel(in, m);

    if (osip_header_t* mf = nullptr; osip_message_get_max_forwards(m, 0, &mf) >= 0 && mf && mf->hvalue &&
                                     method == "INVITE" && std::strtoul(mf->hvalue, nullptr, 10) == 0)
      return reject(m, in, 483, {});

    // Require: every option tag must be one we support (RFC 3261 §8.2.2.3).
    std::string unsupported;
    osip_header_t* req_hdr = nullptr;
    for (int i = 0; osip_message_header_get_byname(m, "require", i, &req_hdr) >= 0 && req_hdr; ++i) {
      std::string v = req_hdr->hvalue ? req_hdr->hvalue : "";
      std::size_t p = 0;
      while (p <= v.size()) {
        std::size_t c = v.find(',', p);
        std::string tag = v.substr(p, c == std::string::npos ? std::string::npos : c - p);
        tag.erase(0, tag.find_first_not_of(" \t"));
        tag.erase(tag.find_last_not_of(" \t") + 1);
        if (!tag.empty() && std::find(cfg.supported.begin(), cfg.supported.end(), tag) == cfg.supported.end())
          unsupported += (unsupported.empty() ? "" : ", ") + tag;
        if (c == std::string::npos) break;
        p = c + 1;
      }
      i = i;  // next header instance
      req_hdr = nullptr;
      if (i > 64) break;
    }
    if (!unsupported.empty()) return reject(m, in, 420, {}, Headers{{"Unsupported", unsupported}});

    if (method == "INVITE" || method == "UPDATE") {
      if (osip_list_size(&m->bodies) > 0 && m->content_type && m->content_type->type && m->content_type->subtype &&
          !(ieq(m->content_type->type, "application") && ieq(m->content_type->subtype, "sdp")))
        return reject(m, in, 415, {}, Headers{{"Accept", "application/sdp"}});
      if (osip_list_size(&m->accepts) > 0) {
        bool ok = false;
        for (int i = 0; i < osip_list_size(&m->accepts); ++i) {
          auto* a = static_cast<osip_accept_t*>(osip_list_get(&m->accepts, i));
          if (a == nullptr || a->type == nullptr) { ok = true; break; }  // empty Accept: no constraint
          std::string t = a->type, st = a->subtype ? a->subtype : "";
          if ((ieq(t, "application") && (ieq(st, "sdp") || st == "*")) || (t == "*")) ok = true;
        }
        if (!ok) return reject(m, in, 406, {}, Headers{{"Accept", "application/sdp"}});
      }
    }

    Dialog* dialog = nullptr;
    const std::string ttag = to_tag(m);
    if (!ttag.empty()) {
      auto it = dialogs.find(Dialog::key_for_incoming(m));
      if (it != dialogs.end()) {
        dialog = it->second.get();
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

  void on_ack(osip_message_t* m) {
    // ACK for a 2xx: end to end, matched to the dialog and the 2xx's CSeq.
    MessagePtr ack(m);
    std::string key = Dialog::key_for_incoming(ack.get());
    auto it = dialogs.find(key);
    if (it == dialogs.end()) {
      ++stats.stray_acks;
      return;
    }
    auto p = pending_2xx.find({key, cseq_number(ack.get())});
    if (p == pending_2xx.end()) {
      ++stats.retransmissions_absorbed;  // ACK retransmission
      return;
    }
    pending_2xx.erase(p);
    if (handler) handler->on_ack(self, ack.get(), it->second.get());
    settle();
  }

  void on_cancel(const Inbound& in, osip_message_t* m) {
    // The CANCEL matches the INVITE server transaction with the same branch.
    std::string inv_key = server_key(m);
    inv_key.replace(inv_key.rfind('|') + 1, std::string::npos, "INVITE");
    auto it = server_index.find(inv_key);
    if (it == server_index.end()) return reject(m, in, 481, {});
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

  void on_response(const Inbound& in, osip_message_t* m) {
    (void)in;
    auto it = client_index.find(client_key(m));
    if (it == client_index.end()) {
      // A 2xx retransmitted after the ICT ended: the ACK goes again (§13.2.2.4).
      if (MSG_IS_STATUS_2XX(m) && cseq_method(m) == "INVITE") {
        auto a = sent_acks.find(Dialog::key_for_response(m));
        if (a != sent_acks.end() && a->second.cseq == cseq_number(m)) {
          ++stats.retransmissions_absorbed;
          transmit(a->second.proto, a->second.dst, 0, a->second.bytes);
          osip_message_free(m);
          return;
        }
      }
      ++stats.stray_responses;
      osip_message_free(m);
      return;
    }
    execute(txns.at(it->second).tr, incoming_event(m));
  }

  // ---- UAS responses
  MessagePtr build_response(TxnId id, int status, std::string_view reason) {
    auto it = txns.find(id);
    if (it == txns.end() || !it->second.server || it->second.tr->orig_request == nullptr) return {};
    Txn& t = it->second;
    if (t.final_sent) return {};
    // One To-tag per transaction, reused by every response it sends.
    std::string tag;
    if (t.tr->last_response) tag = to_tag(t.tr->last_response);
    if (tag.empty()) tag = random_token(12);
    MessagePtr resp = make_response(t.tr->orig_request, status, reason, tag);
    if (resp && !cfg.user_agent.empty()) osip_message_set_header(resp.get(), "Server", cfg.user_agent.c_str());
    return resp;
  }

  bool respond(TxnId id, int status, std::string_view reason = {}, const Headers& headers = {},
               std::string_view ctype = {}, std::string_view body = {}) {
    MessagePtr resp = build_response(id, status, reason);
    if (!resp) return false;
    for (auto& [n, v] : headers) osip_message_set_header(resp.get(), n.c_str(), v.c_str());
    if (!body.empty()) {
      osip_message_set_body(resp.get(), body.data(), body.size());
      if (!ctype.empty()) osip_message_set_content_type(resp.get(), std::string(ctype).c_str());
    }
    return send_response(id, std::move(resp));
  }

  bool send_response(TxnId id, MessagePtr resp) {
    auto it = txns.find(id);
    if (!resp || it == txns.end() || !it->second.server || it->second.tr->orig_request == nullptr) return false;
    Txn& t = it->second;
    if (t.final_sent || resp->status_code < 100 || resp->status_code > 699) return false;
    const int status = resp->status_code;
    osip_message_t* req = t.tr->orig_request;
    const std::string tag = to_tag(resp.get());
    if (resp->content_length == nullptr) {
      osip_body_t* b = static_cast<osip_body_t*>(osip_list_get(&resp->bodies, 0));
      osip_message_set_content_length(resp.get(), std::to_string(b ? b->length : 0).c_str());
    }
    const bool invite = MSG_IS_INVITE(req);
    const std::string method = req->sip_method ? req->sip_method : "";
    Dialog* d = nullptr;
    std::string dkey;
    if (invite && status > 100 && status < 300) {
      dkey = std::string(req->call_id->number ? req->call_id->number : "") +
             (req->call_id->host ? std::string("@") + req->call_id->host : "") + '\x1f' + to_tag(resp.get()) + '\x1f' +
             from_tag(req);
      auto dit = dialogs.find(dkey);
      if (dit == dialogs.end()) {
        if (auto nd = Dialog::as_uas(req, resp.get())) dit = dialogs.emplace(dkey, std::move(nd)).first;
      } else if (status >= 200) {
        dit->second->confirm();
      }
      if (dit != dialogs.end()) d = dit->second.get();
      // Contact is mandatory in a dialog-creating response.
      if (osip_list_size(&resp->contacts) == 0) {
        std::optional<Endpoint> local;
        if (t.in.local.valid()) local = t.in.local;
        // A wildcard listener has no address to give: ask the transport.
        if (!local || local->ip() == "0.0.0.0" || local->ip() == "::") local = tp->local_for(t.in.proto, t.in.peer);
        if (local) {
          std::string c = "<sip:" + local->host_str() + ":" + std::to_string(local->port()) +
                          (t.in.proto == Proto::Tcp ? ";transport=tcp>" : ">");
          osip_message_set_contact(resp.get(), c.c_str());
        }
      }
    }
    if (invite && status >= 300) {
      dialogs.erase(std::string(req->call_id->number ? req->call_id->number : "") +
                    (req->call_id->host ? std::string("@") + req->call_id->host : "") + '\x1f' + tag + '\x1f' +
                    from_tag(req));
    }
    if (status >= 200) t.final_sent = true;

    std::string bytes2xx;
    if (invite && status >= 200 && status < 300) bytes2xx = serialize(resp.get());
    const uint32_t cseq = cseq_number(req);
    Inbound in = t.in;
    osip_event_t* ev = osip_new_outgoing_sipmessage(resp.release());
    ev->transactionid = t.tr->transactionid;
    run_event(t.tr, ev);

    if (!bytes2xx.empty() && d) {
      // The TU retransmits its 2xx until the ACK arrives (RFC 3261 §13.3.1.4):
      // oSIP2's IST is already terminated by now.
      Pending2xx p;
      p.bytes = std::move(bytes2xx);
      p.proto = in.proto;
      p.socket = in.socket;
      osip_via_t* via = static_cast<osip_via_t*>(osip_list_get(&req->vias, 0));
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
      timers_2xx.push({p.next, {d->key(), cseq}});
      pending_2xx[{d->key(), cseq}] = std::move(p);
      if (rfc3261_branch(req)) {
        std::string sk = server_key(req);
        accepted_expiry.emplace_back(now + 64 * cfg.timers.t1, sk);
        accepted[std::move(sk)] = Accepted{{d->key(), cseq}, now + 64 * cfg.timers.t1};
      }
    }
    if (method == "BYE" && status >= 200 && status < 300) {
      std::string key = Dialog::key_for_incoming(req);
      remove_dialog_key(key);
    }
    return true;
  }

  // ---- UAC
  TxnId send_request(MessagePtr req, const Endpoint& dst, Proto proto) {
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
      const bool pinned_udp = tparam && tparam->gvalue && ieq(tparam->gvalue, "udp");
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

  bool send_ack(Dialog& d, uint32_t cseq, std::string_view ctype, std::string_view body) {
    MessagePtr ack = d.make_ack(cseq);
    if (!ack) return false;
    // The 2xx's ICT knew the next hop; reuse it from the INVITE that
    // created this dialog when possible, else the remote target.
    Endpoint dst;
    Proto proto = Proto::Udp;
    bool found = false;
    if (auto ci = client_invites.find(invite_key(ack.get())); ci != client_invites.end()) {
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

  TxnId cancel(TxnId inv) {
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

  // ---- timers
  // oSIP2 finds due timers by walking every live transaction (and polls each
  // one's event queue in a second walk); at 1,000 calls a second some 35,000
  // are alive (a BYE's server transaction waits out Timer J, 32 s) and those
  // walks were over half of msgw-control's CPU in a bench-calls profile.  So
  // the stack indexes deadlines instead: after every event a transaction's
  // earliest armed timer goes into a heap, and only transactions whose
  // deadline passed are checked, with oSIP2's own checks and events.  The
  // TU's 2xx retransmissions and the RFC 6026 "Accepted" entries are indexed
  // the same way.
  void erase_pending_2xx(const std::string& dialog_key) {
    for (auto p = pending_2xx.lower_bound({dialog_key, 0});
         p != pending_2xx.end() && p->first.first == dialog_key;)
      p = pending_2xx.erase(p);
  }

  int next_timeout_ms() const {
    long best = -1;
    auto consider = [&best](long ms) {
      ms = std::max<long>(0, ms);
      if (best < 0 || ms < best) best = ms;
    };
    // Rounded up: never wake before the deadline.
    if (!txn_timers.empty()) consider(long((txn_timers.top().due_us - osip_now_us() + 999) / 1000));
    auto until = [](Clock::time_point t) {
      return long(std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count()) + 1;
    };
    if (!timers_2xx.empty()) consider(until(timers_2xx.top().due));
    if (!accepted_expiry.empty()) consider(until(accepted_expiry.front().first));
    if (own) {
      int t = own->next_timeout_ms();
      if (t >= 0) consider(t);
    }
    return static_cast<int>(std::min<long>(best, 3600L * 1000));
  }

  void run_transaction_timers() {
    // Take what is due now first: an event may re-arm a timer that is already
    // past, and that one waits for the next pass as it would in oSIP2's walk.
    const int64_t now = osip_now_us();
    std::vector<TxnId> due;
    while (!txn_timers.empty() && txn_timers.top().due_us < now) {
      const TxnTimer e = txn_timers.top();
      txn_timers.pop();
      auto it = txns.find(e.id);
      if (it == txns.end() || it->second.armed_us != e.due_us) continue;  // superseded
      it->second.armed_us = kNever;
      due.push_back(e.id);
    }
    for (TxnId id : due) {
      auto it = txns.find(id);
      if (it == txns.end()) continue;
      osip_transaction_t* tr = it->second.tr;
      const int64_t checked = osip_now_us();
      osip_event_t* ev = due_osip_timer(tr);
      // Nothing fired: every timer due before `checked` is one oSIP2 ignores
      // in this state; index only later ones.
      run_event(tr, ev, ev != nullptr ? std::numeric_limits<int64_t>::min() : checked - 1);
      settle();
    }
  }

  void run_timers() {
    run_transaction_timers();
    settle();
    auto now = Clock::now();
    while (!accepted_expiry.empty() && accepted_expiry.front().first <= now) {
      auto a = accepted.find(accepted_expiry.front().second);
      if (a != accepted.end() && a->second.until <= now) accepted.erase(a);
      accepted_expiry.pop_front();
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
      auto d = dialogs.find(key);
      if (d != dialogs.end() && handler) handler->on_ack_timeout(self, d->second.get());
    }
    if (own) own->run_timers();
  }
};

Stack::Stack(StackConfig config, Handler* handler) : impl_(std::make_unique<Impl>(*this, std::move(config), handler)) {
  impl_->own = std::make_unique<SocketTransport>(
      impl_->cfg.limits, impl_->stats, [this](const Inbound& in, std::string_view b) { impl_->receive(in, b); });
  impl_->own->set_idle_timeout(impl_->cfg.tcp_idle);
  impl_->tp = impl_->own.get();
}

Stack::Stack(StackConfig config, Handler* handler, Transport* transport)
    : impl_(std::make_unique<Impl>(*this, std::move(config), handler)) {
  impl_->tp = transport;
}

Stack::~Stack() = default;

std::optional<Endpoint> Stack::listen(Proto proto, std::string_view ip, uint16_t port, std::string* error) {
  if (!impl_->own) {
    if (error) *error = "stack uses an external transport";
    return std::nullopt;
  }
  return impl_->own->listen(proto, ip, port, error);
}

int Stack::fd() const { return impl_->own ? impl_->own->fd() : -1; }
int Stack::next_timeout_ms() const { return impl_->next_timeout_ms(); }

void Stack::process(int timeout_ms) {
  if (impl_->own) impl_->own->process(timeout_ms);
  impl_->run_timers();
}

void Stack::run_timers() { impl_->run_timers(); }
void Stack::receive(const Inbound& in, std::string_view bytes) {
  impl_->receive(in, bytes);
  if (in.framing_error) impl_->tp->close_socket(in.socket);
}

bool Stack::respond(TxnId txn, int status, std::string_view reason, const Headers& headers,
                    std::string_view content_type, std::string_view body) {
  bool ok = impl_->respond(txn, status, reason, headers, content_type, body);
  impl_->settle();
  return ok;
}

MessagePtr Stack::response_for(TxnId txn, int status, std::string_view reason) {
  return impl_->build_response(txn, status, reason);
}

bool Stack::respond(TxnId txn, MessagePtr response) {
  bool ok = impl_->send_response(txn, std::move(response));
  impl_->settle();
  return ok;
}

const osip_message_t* Stack::request_of(TxnId txn) const {
  auto it = impl_->txns.find(txn);
  return it == impl_->txns.end() ? nullptr : it->second.tr->orig_request;
}

TxnId Stack::send_request(MessagePtr request, const Endpoint& destination, Proto proto) {
  return impl_->send_request(std::move(request), destination, proto);
}

bool Stack::send_ack(Dialog& dialog, uint32_t invite_cseq, std::string_view content_type, std::string_view body) {
  return impl_->send_ack(dialog, invite_cseq, content_type, body);
}

TxnId Stack::cancel(TxnId invite_txn) { return impl_->cancel(invite_txn); }

Dialog* Stack::find_dialog(const std::string& key) {
  auto it = impl_->dialogs.find(key);
  return it == impl_->dialogs.end() ? nullptr : it->second.get();
}

void Stack::remove_dialog(Dialog* d) {
  if (d) impl_->remove_dialog_key(d->key());
}

std::size_t Stack::dialog_count() const { return impl_->dialogs.size(); }
std::size_t Stack::transaction_count() const { return impl_->txns.size(); }
const Stats& Stack::stats() const { return impl_->stats; }
const StackConfig& Stack::config() const { return impl_->cfg; }
SocketTransport* Stack::sockets() { return impl_->own.get(); }

}  // namespace msgw::sip
