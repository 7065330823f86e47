// SPDX-License-Identifier: GPL-3.0-or-later
// The SIP stack: transports + transactions (oSIP2's state machines) + dialogs, driven from one
// non-threaded event loop. Embed it in an epoll loop with fd() and
// next_timeout_ms(), call process() when fd() is readable or the timeout
// expires. Every inbound byte sequence ends either in a response (400 with a
// reason naming the problem, 405, 415, 416, 420, 481, 482, 483, 501, 505,
// 513, ...) or in a counted silent drop.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "msgw/sip/datagram_path.hpp"
#include "msgw/sip/dialog.hpp"
#include "msgw/sip/limits.hpp"
#include "msgw/sip/message.hpp"
#include "msgw/sip/transaction.hpp"
#include "msgw/sip/transport.hpp"

namespace msgw::sip {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct StackConfig {
  Limits limits;
  Timers timers;
  std::string user_agent = "msgw";
  // Methods the application handles; others get 405 (known) or 501.
  std::vector<std::string> allow = {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER",
                                    "INFO", "NOTIFY", "UPDATE"};
  std::vector<std::string> supported;  // option tags accepted in Require
  bool send_100_trying = true;         // for INVITE, before the TU answers
  // Requests the stack sends that are bigger than this go over TCP when the
  // transport has it (RFC 3261 §18.1.1).
  std::size_t udp_size_threshold = 1300;
  std::chrono::milliseconds tcp_idle{std::chrono::seconds(64)};
  AdmissionConfig admission;           // overload shedding, per-source limits
};

class Stack;

struct ServerRequest {
  TxnId txn = kNoTxn;
  MessageRef msg;
  Inbound source;
  Dialog* dialog = nullptr;  // set for in-dialog requests
};

class Handler {
 public:
  virtual ~Handler() = default;
  // A new request (retransmissions are absorbed by the transaction). The
  // handler answers with Stack::respond, now or later.
  virtual void on_request(Stack& stack, const ServerRequest& req) = 0;
  // ACK for a 2xx we sent (the INVITE transaction is over by then).
  virtual void on_ack(Stack&, MessageRef /*ack*/, Dialog* /*dialog*/) {}
  // CANCEL matched a pending INVITE: 200 (CANCEL) and 487 (INVITE) already sent.
  virtual void on_cancel(Stack&, TxnId /*invite_txn*/) {}
  // A response for a request we sent. `dialog` is set once the response
  // created or belongs to a dialog.
  virtual void on_response(Stack&, TxnId /*txn*/, MessageRef /*resp*/, Dialog* /*dialog*/) {}
  // Timer B/F fired or the transport failed.
  virtual void on_timeout(Stack&, TxnId /*txn*/) {}
  // A 2xx we sent got no ACK within 64*T1 (RFC 3261 §13.3.1.4: end the dialog).
  virtual void on_ack_timeout(Stack&, Dialog* /*dialog*/) {}
  // An in-dialog request (To-tag present) matching no dialog the stack holds.
  // True passes it to on_request with dialog == nullptr: a call the handler
  // restored from persisted state after a restart, whose dialogs this stack
  // never saw.  False (the default) answers 481.
  virtual bool adopts_dialogless(Stack&, MessageRef /*req*/) { return false; }
  // A new request out of any dialog (no To tag; req.txn is kNoTxn), before
  // the stack keeps any state for it.  A handler that answers it at once and
  // needs nothing back (the digest challenge of a request without
  // credentials, RFC 3261 §22.3) returns that response, made by
  // Stack::stateless_response: the stack sends it with no transaction, as a
  // stateless server does (RFC 3261 §16.11): no 100 Trying before it, a
  // retransmitted request is answered again, the ACK of a final response is
  // dropped unparsed (is_stateless_ack).  An empty Message (the default) takes
  // the ordinary path: a server transaction and on_request.
  virtual Message answer_statelessly(Stack&, const ServerRequest& /*req*/) { return {}; }
  // A request the stack sends on its own in a dialog (the PRACK of a
  // reliable provisional, the BYE ending a forked branch's 2xx), just
  // before it goes: the handler may add what its peer wants on every
  // request, such as credentials from a trunk's cached digest challenge.
  virtual void on_own_request(Stack&, const Dialog& /*dialog*/, Message& /*request*/) {}
};

class Stack {
 public:
  // Uses its own SocketTransport; add listeners with listen().
  Stack(StackConfig config, Handler* handler);
  // Uses an external transport (tests capture or drop packets there) and
  // receives through receive().
  Stack(StackConfig config, Handler* handler, Transport* transport);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  std::optional<Endpoint> listen(Proto proto, std::string_view ip, uint16_t port, std::string* error = nullptr);
  int fd() const;              // -1 with an external transport
  // SIP over UDP through `path` too (SocketTransport::set_datagram_path);
  // nothing with an external transport.
  void set_datagram_path(DatagramPath* path);
  // SocketTransport::set_route_probe (tests); nothing with an external transport.
  void set_route_probe(SocketTransport::RouteProbe probe);
  // Around the owner's blocking wait on fd(): prepare_wait() false = work
  // is already waiting (wait with timeout 0); after_wait() once the wait is
  // over, whatever prepare_wait() said.
  bool prepare_wait();
  void after_wait();
  int next_timeout_ms() const; // -1: nothing scheduled
  void process(int timeout_ms = 0);
  void begin_send_batch();  // batch_sends()'s halves; nest like brackets
  void end_send_batch();
  void run_timers();
  // Runs `work` (the application's own part of a loop pass: answers to the
  // dataplane's acks) with its UDP sends leaving in one batch at its end, as
  // a process() pass's do.
  template <class Work>
  void batch_sends(Work&& work) {
    begin_send_batch();
    work();
    end_send_batch();
  }
  // Entry point for inbound bytes (the socket transport calls it; tests too).
  void receive(const Inbound& in, std::string_view bytes);

  // --- UAS
  // Builds the response from the transaction's request, adds headers/body,
  // and sends it through the transaction (creating/confirming dialogs).
  bool respond(TxnId txn, int status, std::string_view reason = {}, const Headers& headers = {},
               std::string_view content_type = {}, std::string_view body = {});
  // For responses the application fills itself (registrar contacts, auth
  // challenges): built with the transaction's To-tag, sent with respond().
  Message response_for(TxnId txn, int status, std::string_view reason = {});
  bool respond(TxnId txn, Message response);
  MessageRef request_of(TxnId txn) const;  // empty when the transaction is gone
  // A response to `request` for Handler::answer_statelessly: its To tag a
  // stateless_to_tag(), the Server header as response_for's.
  Message stateless_response(MessageRef request, int status, std::string_view reason = {});

  // --- UAC
  // Adds Via (with a fresh branch and rport), Max-Forwards, User-Agent and,
  // when missing, Contact; starts an ICT/NICT. kNoTxn on failure.
  TxnId send_request(Message request, const Endpoint& destination, Proto proto = Proto::Udp);
  // ACK for a 2xx (end to end, no transaction); resent on each retransmitted 2xx.
  bool send_ack(Dialog& dialog, uint32_t invite_cseq, std::string_view content_type = {},
                std::string_view body = {});
  // CANCEL for a pending INVITE client transaction.
  TxnId cancel(TxnId invite_txn);

  Dialog* find_dialog(const std::string& key);
  void remove_dialog(Dialog* dialog);
  std::size_t dialog_count() const;
  std::size_t transaction_count() const;

  const Stats& stats() const;
  const StackConfig& config() const;
  // The Allow header's value: the methods of StackConfig::allow.
  std::string allow_header() const;
  // An option tag the TU implements: a request that requires it is no
  // longer refused 420 (RFC 3261 §8.2.2.3).
  void add_supported(std::string option_tag);
  // A reload: transactions started from now on use these timers; running
  // ones keep the timers they were armed with.
  void set_timers(const Timers& timers);
  // A reload: thresholds apply from the next message; the per-source table
  // is forgotten when the exempt list or the rates change.
  void set_admission(const AdmissionConfig& admission);
  // Off while an admission rate upstream of the stack holds new requests
  // (OverloadGate::set_hysteresis): the stack then sheds only what reaches
  // it older than the shed age.
  void set_shedding_hysteresis(bool on);
  SocketTransport* sockets();  // nullptr with an external transport

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace msgw::sip
