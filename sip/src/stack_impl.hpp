// SPDX-License-Identifier: GPL-3.0-or-later
// Stack::Impl: the SIP stack's state (transports + oSIP2 transactions +
// dialogs), implemented one concern per file:
//   stack.cpp               the public Stack, forwarding to Impl
//   stack_transactions.cpp  the transaction table: oSIP2 instances and their
//                           callbacks, indexes, freeing finished transactions
//   stack_timers.cpp        RFC 3261 timer values, the deadline heap, run_timers
//   osip_timers.cpp         which oSIP2 timer is due, as oSIP2's timeout event
//   stack_uas_receive.cpp   inbound bytes: checks, dispatch, CANCEL matching
//   stack_uas_respond.cpp   server transactions: creation, 100 Trying, responses
//   stack_uac.cpp           client transactions: requests, CANCEL, responses
//   stack_2xx.cpp           2xx retransmission and ACK matching (both sides),
//                           RFC 6026 "Accepted" INVITEs
//   stack_completed.cpp     transactions past their final response, kept as
//                           the bytes they resend instead of oSIP2 state
//   stack_dialogs.cpp       dialogs made, confirmed and ended by responses
//   stack_admission.cpp     overload shedding and per-source blocks, before parsing
// One thread.  oSIP2 callbacks only record what happened (notes, dead) and
// settle() acts on it once the state machine has returned, so handlers may
// call back into the stack freely.
#pragma once

#include <sys/time.h>  // before osip.h, whose structs hold timevals
#include <time.h>

#include <osip2/osip.h>

#include <array>
#include <chrono>
#include <cstdlib>  // osip_malloc may expand to malloc
#include <cstring>  // oSIP2's MSG_IS_* macros use strcmp
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "msgw/common/ascii.hpp"
#include "msgw/sip/stack.hpp"
#include "osip_message.hpp"
#include "osip_timers.hpp"

namespace msgw::sip {

// ASCII case-insensitive equality (method names, URI schemes, media types).
using common::iequals;

// Stack::Impl::server_key of a request known only by its pre-scan ("" when
// it has no Via); stack_admission.cpp.
std::string scanned_server_key(const ScanResult& scan);

struct Stack::Impl {
  using Clock = std::chrono::steady_clock;
  static constexpr int64_t kAnyTime = std::numeric_limits<int64_t>::min();

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
    // What a completed transaction resends for a retransmission: the final
    // response (NIST) or the ACK (ICT), and where it went; stack_completed.cpp.
    std::string resend;
    Endpoint resend_dst;
    int resend_status = 0;
    int64_t armed_us = kNever;  // deadline of its entry in txn_timers
    bool own = false;  // client: sent by the stack itself (a PRACK), not the TU's
  };
  // What an oSIP2 message callback reported, delivered by settle().
  struct Note {
    int type;
    TxnId id;
    osip_message_t* msg;
  };
  // A 2xx to an INVITE, resent by the TU until the ACK (RFC 3261 §13.3.1.4).
  using Pending2xxKey = std::pair<std::string, uint32_t>;  // (dialog key, INVITE CSeq)
  struct Pending2xx {
    std::string bytes;
    Proto proto;
    Endpoint dst;
    uint64_t socket;
    std::chrono::milliseconds interval;
    Clock::time_point next, give_up;
  };
  // The ACK we sent for a 2xx, resent for each retransmission of that 2xx.
  struct SentAck {
    uint32_t cseq;
    std::string bytes;
    Proto proto;
    Endpoint dst;
  };
  // INVITEs answered 2xx: oSIP2's IST ends at the 2xx, so retransmissions of
  // the INVITE are recognised here for 64*T1 (RFC 6026 "Accepted" state).
  struct Accepted {
    Pending2xxKey pending;
    Clock::time_point until;
  };
  // Timer indexes (see stack_timers.cpp): due times with the key they were
  // armed for; an entry whose owner has since been re-armed or removed is
  // skipped.
  struct TxnTimer {
    int64_t due_us;
    TxnId id;
    bool operator>(const TxnTimer& o) const { return due_us > o.due_us; }
  };
  // A UDP transaction past its final response whose remaining duty is only
  // to answer retransmissions (NIST Completed, IST Confirmed, NICT and ICT
  // Completed): `resend` again for each (NIST: the final response; ICT: the
  // ACK), nothing for the others, until its oSIP2 timer (J, I, K, D) would
  // have ended it.  stack_completed.cpp says why.
  struct Completed {
    std::string resend;
    int status = 0;  // of `resend` when it is a response
    Endpoint dst;
    uint64_t socket = 0;
    int64_t until_us = 0;
    std::string merge_key, branch;  // server, out of dialog: still merges (§8.2.2.2)
  };
  struct CompletedTimer {
    int64_t due_us;
    bool server;
    std::string key;
    bool operator>(const CompletedTimer& o) const { return due_us > o.due_us; }
  };
  struct Timer2xx {
    Clock::time_point due;
    Pending2xxKey key;
    bool operator>(const Timer2xx& o) const { return due > o.due; }
  };

  Stack& self;
  StackConfig cfg;
  Handler* handler;
  Stats stats;
  SourceLimiter sources{cfg.admission};  // admission.hpp; refer to cfg.admission
  OverloadGate overload{cfg.admission};
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

  // --- transaction table
  std::unordered_map<TxnId, Txn> txns;
  std::unordered_map<std::string, TxnId> server_index, client_index, merge_index;
  // Client INVITE transactions by Call-ID and CSeq: where the ACK for their
  // 2xx goes (was a walk over every live transaction per ACK).
  std::unordered_map<std::string, TxnId> client_invites;
  std::vector<TxnId> dead;
  std::vector<TxnId> completing;  // reached a state stack_completed.cpp keeps more cheaply
  std::unordered_map<std::string, Completed> completed_server, completed_client;  // by server / client key
  std::unordered_map<std::string, std::string> completed_merges;  // merge key -> completed_server key
  std::priority_queue<CompletedTimer, std::vector<CompletedTimer>, std::greater<>> completed_timers;
  std::deque<Note> notes;
  std::priority_queue<TxnTimer, std::vector<TxnTimer>, std::greater<>> txn_timers;

  // --- dialogs, 2xx retransmission, ACKs
  std::unordered_map<std::string, std::unique_ptr<Dialog>> dialogs;
  std::map<Pending2xxKey, Pending2xx> pending_2xx;
  std::priority_queue<Timer2xx, std::vector<Timer2xx>, std::greater<>> timers_2xx;
  std::unordered_map<std::string, SentAck> sent_acks;  // dialog key
  std::unordered_map<std::string, Accepted> accepted;  // server key
  std::deque<std::pair<Clock::time_point, std::string>> accepted_expiry;  // same lifetime: FIFO
  // Our INVITEs answered 2xx, for 64*T1 (RFC 6026's "Accepted" client
  // state): a 2xx from another branch of a forking proxy is recognised by
  // the INVITE's Via branch, ACKed at the INVITE's next hop and ended.
  struct NextHop {
    Endpoint dst;
    Proto proto = Proto::Udp;
    Clock::time_point until;
  };
  std::unordered_map<std::string, NextHop> forkable_invites;  // client key
  std::deque<std::pair<Clock::time_point, std::string>> forkable_expiry;  // same lifetime: FIFO

  Impl(Stack& s, StackConfig c, Handler* h);
  ~Impl();

  // --- transaction table (stack_transactions.cpp)
  static Impl* of(osip_transaction_t* tr);
  // Our id, unique across the oSIP2 instances (theirs is per instance).
  static TxnId id_of(osip_transaction_t* tr);
  osip_t* shard_for(const std::string& key);
  TxnId adopt(osip_transaction_t* tr);
  static int cb_send(osip_transaction_t* tr, osip_message_t* msg, char* host, int port, int);
  static void cb_message(int type, osip_transaction_t* tr, osip_message_t* msg);
  static void cb_kill(int, osip_transaction_t* tr);
  static void cb_transport_error(int type, osip_transaction_t* tr, int);
  // `txn`: the transaction oSIP2 sends for (kNoTxn for the stack's own
  // sends); a late failure of a batched datagram fails it (late_send_failure).
  bool transmit(Proto proto, const Endpoint& dst, uint64_t socket, std::string_view bytes, TxnId txn = kNoTxn);
  // A datagram of `txn` refused when its send batch was flushed: what oSIP2
  // does on a refused send (transport error, transaction killed), late.
  void late_send_failure(TxnId txn);
  // Opens / closes a send batch of the own transport (transport.hpp);
  // closing flushes it and settles what late failures recorded.
  void begin_send_batch();
  void end_send_batch();
  bool send_for(osip_transaction_t* tr, osip_message_t* msg, const char* host, int port);
  static std::string server_key(const osip_message_t* m);
  static std::string client_key(const osip_message_t* m);
  static std::string invite_key(const osip_message_t* m);
  static bool rfc3261_branch(const osip_message_t* m);
  Txn* find_server(const osip_message_t* m);
  static osip_event_t* incoming_event(osip_message_t* m);
  void execute(osip_transaction_t* tr, osip_event_t* ev);
  void settle();
  // Transactions alive: oSIP2's and the completed ones kept here.
  std::size_t live_transactions() const { return txns.size() + completed_server.size() + completed_client.size(); }
  // What max_transactions bounds: oSIP2's transactions (the Completed
  // entries have max_completed of their own).
  std::size_t running_transactions() const { return txns.size(); }

  // --- completed transactions (stack_completed.cpp)
  static bool only_absorbs(const osip_transaction_t* tr);
  void keep_resend(Txn& t, const osip_message_t* msg, std::string&& bytes, const char* host, int port);
  void complete_transactions();
  bool absorb_completed_request(const osip_message_t* m);
  bool absorb_completed_response(const osip_message_t* m);
  // The merged-request check (§8.2.2.2) against completed transactions:
  // true when `merge_key` belongs to one with another branch.
  bool completed_merge_conflict(const std::string& merge_key, const osip_message_t* m) const;
  bool completed_invite(const std::string& invite_server_key) const;
  void expire_completed(int64_t now_us);

  // --- timers (stack_timers.cpp)
  void apply_timers(osip_transaction_t* tr, bool reliable);
  void rearm(osip_transaction_t* tr);
  void run_event(osip_transaction_t* tr, osip_event_t* ev, int64_t after = kAnyTime);
  void arm(TxnId id, int64_t after = kAnyTime);
  int next_timeout_ms() const;
  void run_transaction_timers();
  void run_timers();

  // --- admission (stack_admission.cpp): false when the message was shed
  // (503) or dropped (blocked source) and goes no further. `lm` is
  // limited_method(bytes), which receive() computes once and counts with too.
  bool admit(const Inbound& in, std::string_view bytes, LimitedMethod lm);
  // After a pass over the sockets: shedding ends once nothing was received
  // for the resume age (OverloadGate::idle).
  void admission_idle();

  // --- UAS, inbound (stack_uas_receive.cpp)
  void receive(const Inbound& in, std::string_view bytes);
  static void stamp_via(osip_message_t* m, const Inbound& in);
  void on_request(const Inbound& in, osip_message_t* m, const ScanResult& scan);
  void reject(osip_message_t* m, const Inbound& in, int status, const std::string& reason, const Headers& h = {});
  std::string allow_value() const;
  void on_cancel(const Inbound& in, osip_message_t* m);

  // --- UAS, server transactions and responses (stack_uas_respond.cpp)
  TxnId create_server(osip_message_t* m, const Inbound& in);
  bool send_server_bytes(const Inbound& in, const char* host, int port, std::string_view bytes, TxnId txn = kNoTxn);
  // Handler::answer_statelessly's response: built, then sent with no transaction.
  MessagePtr build_stateless(const osip_message_t* req, int status, std::string_view reason);
  // A response to req with this To tag and our Server header (build_response, build_stateless).
  MessagePtr server_response(const osip_message_t* req, int status, std::string_view reason, std::string_view tag);
  // Content-Length from the body when the TU set none.
  static void default_content_length(osip_message_t* resp);
  void send_stateless(const Inbound& in, MessagePtr resp);
  void send_trying(TxnId id, const osip_message_t* m, const ScanResult& scan);
  void send_trying_bytes(const Txn& t, const osip_via_t* top);
  MessagePtr build_response(TxnId id, int status, std::string_view reason);
  bool respond(TxnId id, int status, std::string_view reason = {}, const Headers& headers = {},
               std::string_view ctype = {}, std::string_view body = {});
  bool send_response(TxnId id, MessagePtr resp);

  // --- UAC (stack_uac.cpp)
  TxnId send_request(MessagePtr req, const Endpoint& dst, Proto proto);
  TxnId cancel(TxnId inv);
  void on_response(const Inbound& in, osip_message_t* m);
  void deliver(const Note& n);
  // RFC 3262 UAC: PRACKs a reliable provisional response to `t`'s INVITE in
  // its early dialog. False when the response is not for the TU (a
  // retransmission or out of order).
  bool prack_reliable_provisional(const Txn& t, const osip_message_t* resp, Dialog& d);

  // --- 2xx retransmission and ACKs (stack_2xx.cpp)
  void remember_2xx(std::string bytes, const Inbound& in, const osip_message_t* invite, const std::string& dialog_key,
                    uint32_t cseq);
  bool absorb_accepted_invite(const osip_message_t* invite);
  void on_ack(osip_message_t* m);
  // `hop`: where the ACK goes when the dialog's INVITE transaction is gone.
  bool send_ack(Dialog& d, uint32_t cseq, std::string_view ctype, std::string_view body,
                const NextHop* hop = nullptr);
  bool resend_ack_for(const osip_message_t* resp);
  // A 2xx to our INVITE from a branch the TU did not take (another To-tag
  // after the first 2xx): ACKed and ended with a BYE (RFC 3261 §13.2.2.4).
  bool release_forked_2xx(const osip_message_t* resp);
  void remember_forkable_invite(const Txn& t);
  void erase_pending_2xx(const std::string& dialog_key);
  void run_2xx_timers(Clock::time_point now);

  // --- dialogs (stack_dialogs.cpp)
  Dialog* track_uac_dialog(const osip_message_t* resp);
  Dialog* track_uas_dialog(const Txn& t, const osip_message_t* req, osip_message_t* resp);
  // A 2xx to an in-dialog UPDATE: target refresh and our Contact.
  void refresh_update_target(const Txn& t, const osip_message_t* req, osip_message_t* resp);
  // Our Contact on a response that needs one and has none (the address the
  // request came in on; the transport's for a wildcard listener).
  void add_local_contact(const Txn& t, osip_message_t* resp);
  Dialog* find_dialog(const std::string& key);
  void remove_dialog_key(const std::string& key);
};

}  // namespace msgw::sip
