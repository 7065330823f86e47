// SPDX-License-Identifier: GPL-3.0-or-later
// Transaction timers through the stack that test_core_transaction.cpp does
// not reach: D, K and J (the waits of a completed transaction for
// retransmissions of what ended it), their zero length over TCP, and B and F
// in the states where they do and do not apply.  Timing assertions use lower
// bounds a slow machine cannot violate (a timer never fires early) and
// generous upper bounds.
#include <gtest/gtest.h>

#include "test_core_util.hpp"

namespace msgw::sip {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::build_response;
using test::new_request;
constexpr auto kT1 = 25ms;
constexpr auto kT4 = 5 * kT1;
constexpr auto kSlack = 150ms;  // scheduling jitter allowed on a loaded 2-core box

StackConfig short_timers() {
  StackConfig c;
  c.timers.t1 = kT1;
  c.timers.t2 = 8 * kT1;
  c.timers.t4 = kT4;
  c.send_100_trying = false;
  return c;
}

class Recorder : public Handler {
 public:
  void on_request(Stack& st, const ServerRequest& r) override {
    requests.push_back(r.txn);
    if (auto_status) st.respond(r.txn, auto_status);
  }
  void on_response(Stack&, TxnId, MessageRef resp, Dialog*) override { codes.push_back(resp->status_code); }
  void on_timeout(Stack&, TxnId) override { timed_out_at = Clock::now(); }
  std::vector<TxnId> requests;
  std::vector<int> codes;
  int auto_status = 0;
  std::optional<Clock::time_point> timed_out_at;
};

const Endpoint kCarrier = *Endpoint::from("192.0.2.50", 5060);

Inbound tcp_from_carrier() {
  Inbound in = test::udp_from("192.0.2.50", 5060);
  in.proto = Proto::Tcp;
  return in;
}

// Pumps until the stack holds no transaction; returns when that happened.
Clock::time_point pump_until_empty(Stack& st, std::chrono::milliseconds limit) {
  test::pump(st, limit, [&] { return st.transaction_count() == 0; });
  return Clock::now();
}

// ICT: a non-2xx final is ACKed by the transaction, which then absorbs
// retransmissions of it (ACKing each) until Timer D, 64*T1 here.
TEST(CoreTimers, InviteClientWaitsOutTimerDAfterANon2xxFinal) {
  test::CaptureTransport tp;
  Recorder app;
  Stack st(short_timers(), &app, &tp);
  ASSERT_NE(st.send_request(new_request("INVITE"), kCarrier), kNoTxn);
  const std::string invite = tp.sent.back().bytes;
  const std::string busy = build_response(invite, 486, "c1");
  const auto completed = Clock::now();
  st.receive(test::udp_from("192.0.2.50", 5060), busy);
  EXPECT_EQ(app.codes, (std::vector<int>{486}));
  EXPECT_EQ(tp.count_starting("ACK "), 1u);
  test::pump(st, 32 * kT1);
  ASSERT_EQ(st.transaction_count(), 1u) << "Timer D fired early";
  st.receive(test::udp_from("192.0.2.50", 5060), busy);  // our ACK was lost
  EXPECT_EQ(tp.count_starting("ACK "), 2u) << "retransmitted final not ACKed again";
  EXPECT_EQ(app.codes.size(), 1u) << "a retransmitted final is not a new response";
  const auto gone = pump_until_empty(st, 64 * kT1 + 1s);
  EXPECT_EQ(st.transaction_count(), 0u) << "Timer D never fired";
  EXPECT_GE(gone - completed, 64 * kT1 - 1ms);
  EXPECT_LT(gone - completed, 64 * kT1 + kSlack);
  EXPECT_EQ(tp.count_starting("INVITE "), 1u) << "INVITE retransmitted after its final response";
  EXPECT_FALSE(app.timed_out_at) << "Timer D is not a timeout";
  EXPECT_EQ(st.stats().transactions_timed_out, 0u);
}

// NICT: after the final response the transaction absorbs its
// retransmissions for Timer K (T4), then ends.
TEST(CoreTimers, NonInviteClientWaitsOutTimerK) {
  test::CaptureTransport tp;
  Recorder app;
  Stack st(short_timers(), &app, &tp);
  ASSERT_NE(st.send_request(new_request("OPTIONS"), kCarrier), kNoTxn);
  const std::string ok = build_response(tp.sent.back().bytes, 200, "c2");
  const auto completed = Clock::now();
  st.receive(test::udp_from("192.0.2.50", 5060), ok);
  EXPECT_EQ(app.codes, (std::vector<int>{200}));
  ASSERT_EQ(st.transaction_count(), 1u) << "Timer K did not wait";
  st.receive(test::udp_from("192.0.2.50", 5060), ok);  // oSIP2's NICT drops it silently
  EXPECT_EQ(app.codes.size(), 1u) << "a retransmitted final is not a new response";
  EXPECT_EQ(st.stats().stray_responses, 0u) << "retransmitted final not matched to its transaction";
  const auto gone = pump_until_empty(st, kT4 + 1s);
  EXPECT_EQ(st.transaction_count(), 0u) << "Timer K never fired";
  EXPECT_GE(gone - completed, kT4 - 1ms);
  EXPECT_LT(gone - completed, kT4 + kSlack);
  EXPECT_EQ(tp.count_starting("OPTIONS "), 1u);
  EXPECT_FALSE(app.timed_out_at);
}

// NIST: after the final response, retransmitted requests get it again
// (without reaching the TU) until Timer J, 64*T1.
TEST(CoreTimers, NonInviteServerAnswersRetransmissionsUntilTimerJ) {
  test::CaptureTransport tp;
  Recorder app;
  app.auto_status = 200;
  Stack st(short_timers(), &app, &tp);
  const std::string options =
      "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-j1\r\n"
      "From: <sip:spa1@192.0.2.1>;tag=fj\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c-timer-j\r\nCSeq: 3 OPTIONS\r\n"
      "Content-Length: 0\r\n\r\n";
  const auto completed = Clock::now();
  st.receive(test::udp_from(), options);
  ASSERT_EQ(tp.response_codes(), (std::vector<int>{200}));
  test::pump(st, 32 * kT1);
  ASSERT_EQ(st.transaction_count(), 1u) << "Timer J fired early";
  st.receive(test::udp_from(), options);
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{200, 200})) << "retransmission not answered from the NIST";
  EXPECT_EQ(app.requests.size(), 1u);
  const auto gone = pump_until_empty(st, 64 * kT1 + 1s);
  EXPECT_EQ(st.transaction_count(), 0u) << "Timer J never fired";
  EXPECT_GE(gone - completed, 64 * kT1 - 1ms);
  EXPECT_LT(gone - completed, 64 * kT1 + kSlack);
  // After J the same request is new again (a new transaction, a new answer).
  st.receive(test::udp_from(), options);
  EXPECT_EQ(app.requests.size(), 2u);
}

// Over TCP nothing is retransmitted to absorb: D, K and J are zero and the
// transactions end as soon as the timers run.
TEST(CoreTimers, ReliableTransportEndsCompletedTransactionsAtOnce) {
  test::CaptureTransport tp;
  tp.tcp = true;
  Recorder app;
  app.auto_status = 200;
  Stack st(short_timers(), &app, &tp);
  ASSERT_NE(st.send_request(new_request("INVITE"), kCarrier, Proto::Tcp), kNoTxn);
  st.receive(tcp_from_carrier(), build_response(tp.sent.back().bytes, 486, "c3"));
  EXPECT_EQ(tp.count_starting("ACK "), 1u);
  pump_until_empty(st, 10 * kT1);
  EXPECT_EQ(st.transaction_count(), 0u) << "Timer D not zero over TCP";

  ASSERT_NE(st.send_request(new_request("OPTIONS"), kCarrier, Proto::Tcp), kNoTxn);
  st.receive(tcp_from_carrier(), build_response(tp.sent.back().bytes, 200, "c4"));
  pump_until_empty(st, 10 * kT1);
  EXPECT_EQ(st.transaction_count(), 0u) << "Timer K not zero over TCP";

  Inbound phone = test::udp_from();
  phone.proto = Proto::Tcp;
  st.receive(phone,
             "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/TCP 198.51.100.7:5062;branch=z9hG4bK-j2\r\n"
             "From: <sip:spa1@192.0.2.1>;tag=fj2\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c-timer-j2\r\n"
             "CSeq: 4 OPTIONS\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(tp.response_codes().back(), 200);
  pump_until_empty(st, 10 * kT1);
  EXPECT_EQ(st.transaction_count(), 0u) << "Timer J not zero over TCP";
  EXPECT_EQ(app.codes, (std::vector<int>{486, 200}));
  EXPECT_FALSE(app.timed_out_at);
}

// Timer B applies in Calling only: once a provisional arrived the INVITE
// client transaction waits for the final response however long it takes
// (the TU's own timer ends such a call).
TEST(CoreTimers, InviteClientInProceedingHasNoTimerB) {
  test::CaptureTransport tp;
  Recorder app;
  Stack st(short_timers(), &app, &tp);
  ASSERT_NE(st.send_request(new_request("INVITE"), kCarrier), kNoTxn);
  const std::string invite = tp.sent.back().bytes;
  st.receive(test::udp_from("192.0.2.50", 5060), build_response(invite, 180, "c5"));
  test::pump(st, 64 * kT1 + 4 * kT1);
  EXPECT_FALSE(app.timed_out_at) << "Timer B fired in Proceeding";
  EXPECT_EQ(st.transaction_count(), 1u);
  EXPECT_EQ(tp.count_starting("INVITE "), 1u) << "Timer A fired in Proceeding";
  st.receive(test::udp_from("192.0.2.50", 5060), build_response(invite, 200, "c5"));
  EXPECT_EQ(app.codes, (std::vector<int>{180, 200}));
}

// Timer F applies in Proceeding too: a non-INVITE answered only by 100 still
// times out at 64*T1.
TEST(CoreTimers, NonInviteClientInProceedingTimesOutWithTimerF) {
  test::CaptureTransport tp;
  Recorder app;
  Stack st(short_timers(), &app, &tp);
  const auto start = Clock::now();
  ASSERT_NE(st.send_request(new_request("OPTIONS"), kCarrier), kNoTxn);
  st.receive(test::udp_from("192.0.2.50", 5060), build_response(tp.sent.back().bytes, 100, ""));
  EXPECT_EQ(app.codes, (std::vector<int>{100}));
  test::pump(st, 64 * kT1 + 1s, [&] { return app.timed_out_at.has_value(); });
  ASSERT_TRUE(app.timed_out_at) << "Timer F never fired in Proceeding";
  EXPECT_GE(*app.timed_out_at - start, 64 * kT1 - 1ms);
  EXPECT_LT(*app.timed_out_at - start, 64 * kT1 + kSlack);
  EXPECT_EQ(st.stats().transactions_timed_out, 1u);
  EXPECT_EQ(st.transaction_count(), 0u);
}

}  // namespace
}  // namespace msgw::sip
