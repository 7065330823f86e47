// SPDX-License-Identifier: GPL-3.0-or-later
// Transactions under loss, with a shortened T1 and a transport that drops
// chosen packets: retransmission schedules, timeouts, 2xx retransmission
// until ACK, and absorption of duplicate requests. Timing assertions use
// lower bounds that cannot be violated by a slow machine (a timer never fires
// early) and generous upper bounds.
#include <gtest/gtest.h>

#include "test_core_util.hpp"

namespace msgw::sip {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::build_response;
using test::new_request;
using test::Sent;
constexpr auto kT1 = 50ms;
constexpr auto kSlack = 150ms;  // scheduling jitter allowed on a loaded 2-core box

StackConfig short_timers() {
  StackConfig c;
  c.timers.t1 = kT1;
  c.timers.t2 = 8 * kT1;
  c.timers.t4 = 5 * kT1;
  return c;
}

class Recorder : public Handler {
 public:
  void on_request(Stack& st, const ServerRequest& r) override {
    requests.push_back(r.txn);
    if (auto_status) st.respond(r.txn, auto_status, {}, {}, auto_status == 200 && MSG_IS_INVITE(r.msg) ? "application/sdp" : "",
                                auto_status == 200 && MSG_IS_INVITE(r.msg) ? "v=0\r\n" : "");
  }
  void on_ack(Stack&, MessageRef, Dialog*) override { ++acks; }
  void on_response(Stack& st, TxnId, MessageRef resp, Dialog* d) override {
    codes.push_back(resp->status_code);
    if (ack_2xx && d && resp->status_code >= 200 && resp->status_code < 300 && resp.cseq_method() == "INVITE")
      st.send_ack(*d, resp.cseq_number());
  }
  void on_timeout(Stack&, TxnId) override { timed_out_at = Clock::now(); }
  void on_ack_timeout(Stack&, Dialog*) override { ack_timeout_at = Clock::now(); }
  std::vector<TxnId> requests;
  std::vector<int> codes;
  int acks = 0;
  int auto_status = 0;
  bool ack_2xx = true;
  std::optional<Clock::time_point> timed_out_at, ack_timeout_at;
};

std::vector<Clock::duration> gaps(const std::vector<Sent>& s, std::string_view prefix) {
  std::vector<Clock::time_point> at;
  for (auto& x : s)
    if (x.bytes.rfind(prefix, 0) == 0) at.push_back(x.at);
  std::vector<Clock::duration> g;
  for (std::size_t i = 1; i < at.size(); ++i) g.push_back(at[i] - at[i - 1]);
  return g;
}

// ICT: INVITE sent at 0, T1, 3T1, 7T1... (intervals T1, 2T1, 4T1, ...), then
// Timer B at 64*T1 reports the timeout.
TEST(CoreTransaction, InviteRetransmitsAndTimesOutUnderTotalLoss) {
  test::CaptureTransport tp;
  tp.drop = [](const Sent&) { return true; };
  Recorder app;
  Stack st(short_timers(), &app, &tp);
  auto start = Clock::now();
  TxnId id = st.send_request(new_request("INVITE"), *Endpoint::from("192.0.2.50", 5060));
  ASSERT_NE(id, kNoTxn);
  test::pump(st, 64 * kT1 + 1s, [&] { return app.timed_out_at.has_value(); });
  ASSERT_TRUE(app.timed_out_at) << "Timer B never fired";
  auto g = gaps(tp.sent, "INVITE ");
  ASSERT_GE(g.size(), 5u) << "too few retransmissions";
  ASSERT_LE(g.size(), 6u);
  for (std::size_t i = 0; i < g.size(); ++i) {
    auto expect = kT1 * (1 << i);
    EXPECT_GE(g[i], expect - 1ms) << "retransmission " << i + 1 << " early";
    EXPECT_LT(g[i], expect + kSlack) << "retransmission " << i + 1 << " late";
  }
  auto b = *app.timed_out_at - start;
  EXPECT_GE(b, 64 * kT1 - 1ms);
  EXPECT_LT(b, 64 * kT1 + kSlack);
  EXPECT_EQ(st.stats().transactions_timed_out, 1u);
  EXPECT_EQ(st.transaction_count(), 0u);
}

// NICT: Timer E doubles up to T2, Timer F at 64*T1.
TEST(CoreTransaction, NonInviteRetransmitsCappedAtT2AndTimesOut) {
  test::CaptureTransport tp;
  tp.drop = [](const Sent&) { return true; };
  Recorder app;
  StackConfig cfg = short_timers();
  Stack st(cfg, &app, &tp);
  auto start = Clock::now();
  st.send_request(new_request("OPTIONS"), *Endpoint::from("192.0.2.50", 5060));
  test::pump(st, 64 * kT1 + 1s, [&] { return app.timed_out_at.has_value(); });
  ASSERT_TRUE(app.timed_out_at);
  auto g = gaps(tp.sent, "OPTIONS ");
  // T1, 2T1, 4T1, then T2 = 8T1 each: 0,1,3,7,15,23,31,...,63 T1 -> 10 gaps.
  ASSERT_GE(g.size(), 8u);
  ASSERT_LE(g.size(), 10u);
  for (std::size_t i = 0; i < g.size(); ++i) {
    auto expect = i < 3 ? kT1 * (1 << i) : 8 * kT1;
    EXPECT_GE(g[i], expect - 1ms) << i;
    EXPECT_LT(g[i], expect + kSlack) << i;
  }
  EXPECT_GE(*app.timed_out_at - start, 64 * kT1 - 1ms);
  EXPECT_LT(*app.timed_out_at - start, 64 * kT1 + kSlack);
}

// The first two INVITEs are lost; the third gets through and is answered.
// Retransmission stops at the 1xx; the 2xx is ACKed end to end and a
// retransmitted 2xx gets the same ACK again.
TEST(CoreTransaction, LossThenAnswerStopsRetransmissionAndAcks2xxRetransmissions) {
  test::CaptureTransport tp;
  int invites = 0;
  tp.drop = [&](const Sent& s) { return s.bytes.rfind("INVITE ", 0) == 0 && ++invites <= 2; };
  Recorder app;
  Stack st(short_timers(), &app, &tp);
  st.send_request(new_request("INVITE"), *Endpoint::from("192.0.2.50", 5060));
  test::pump(st, 10 * kT1, [&] { return tp.count_starting("INVITE ") == 3; });
  ASSERT_EQ(tp.count_starting("INVITE "), 3u);
  const std::string invite = tp.sent.back().bytes;
  Inbound from_carrier = test::udp_from("192.0.2.50", 5060);
  st.receive(from_carrier, build_response(invite, 180, "c1"));
  test::pump(st, 8 * kT1);
  EXPECT_EQ(tp.count_starting("INVITE "), 3u) << "retransmitted after a provisional response";
  std::string ok = build_response(invite, 200, "c1");
  st.receive(from_carrier, ok);
  EXPECT_EQ(app.codes, (std::vector<int>{180, 200}));
  EXPECT_EQ(tp.count_starting("ACK "), 1u);
  EXPECT_EQ(st.dialog_count(), 1u);
  st.receive(from_carrier, ok);  // the carrier did not get our ACK
  EXPECT_EQ(tp.count_starting("ACK "), 2u);
  EXPECT_EQ(app.codes.size(), 2u) << "a retransmitted 2xx is not a new response";
}

// UAS: the 2xx is retransmitted at T1, 2T1, 4T1 (capped at T2) until the ACK.
TEST(CoreTransaction, ServerRetransmits2xxUntilAck) {
  test::CaptureTransport tp;
  Recorder app;
  app.auto_status = 200;
  StackConfig cfg = short_timers();
  cfg.send_100_trying = false;
  Stack st(cfg, &app, &tp);
  Inbound phone = test::udp_from("198.51.100.7", 5062);
  const std::string invite =
      "INVITE sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-aa1;rport\r\n"
      "From: <sip:spa1@192.0.2.1>;tag=f1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c-2xx@198.51.100.7\r\n"
      "CSeq: 1 INVITE\r\nContact: <sip:spa1@198.51.100.7:5062>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  st.receive(phone, invite);
  ASSERT_EQ(tp.response_codes(), (std::vector<int>{200}));
  test::pump(st, 7 * kT1 + 30ms);
  auto g = gaps(tp.sent, "SIP/2.0 200");
  ASSERT_GE(g.size(), 2u);
  EXPECT_GE(g[0], kT1 - 1ms);
  EXPECT_LT(g[0], kT1 + kSlack);
  EXPECT_GE(g[1], 2 * kT1 - 1ms);
  // The INVITE retransmitted after the 2xx (IST already gone) is absorbed
  // and answered with the same 2xx, not delivered again.
  std::size_t before_dup = tp.count_starting("SIP/2.0 200");
  st.receive(phone, invite);
  EXPECT_EQ(app.requests.size(), 1u);
  EXPECT_EQ(tp.count_starting("SIP/2.0 200"), before_dup + 1);
  std::size_t before_ack = tp.count_starting("SIP/2.0 200");
  auto resp = parse_message(tp.sent[0].bytes, false, Limits{});
  std::string ack = "ACK sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-ack1\r\n"
                    "From: <sip:spa1@192.0.2.1>;tag=f1\r\nTo: <sip:100@192.0.2.1>;tag=" +
                    to_tag(resp.msg.get()) +
                    "\r\nCall-ID: c-2xx@198.51.100.7\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  st.receive(phone, ack);
  EXPECT_EQ(app.acks, 1);
  st.receive(phone, ack);  // retransmitted ACK is absorbed
  EXPECT_EQ(app.acks, 1);
  test::pump(st, 16 * kT1);
  EXPECT_EQ(tp.count_starting("SIP/2.0 200"), before_ack) << "2xx retransmitted after the ACK";
  EXPECT_FALSE(app.ack_timeout_at);
}

// UAS: a 2xx that is never ACKed is given up after 64*T1 and reported.
TEST(CoreTransaction, Unacked2xxIsReported) {
  test::CaptureTransport tp;
  Recorder app;
  app.auto_status = 200;
  StackConfig cfg = short_timers();
  cfg.send_100_trying = false;
  Stack st(cfg, &app, &tp);
  auto start = Clock::now();
  st.receive(test::udp_from(),
             "INVITE sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-nack\r\n"
             "From: <sip:spa1@192.0.2.1>;tag=f2\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c-nack\r\nCSeq: 1 INVITE\r\n"
             "Contact: <sip:spa1@198.51.100.7:5062>\r\nContent-Length: 0\r\n\r\n");
  test::pump(st, 64 * kT1 + 1s, [&] { return app.ack_timeout_at.has_value(); });
  ASSERT_TRUE(app.ack_timeout_at);
  EXPECT_GE(*app.ack_timeout_at - start, 64 * kT1 - 1ms);
  // Doubling capped at T2 = 8*T1: T1,2,4,8,8,8... within 64*T1 -> at least 9 copies.
  EXPECT_GE(tp.count_starting("SIP/2.0 200"), 9u);
}

// Duplicate requests reach the application once; the transaction answers
// them with its last response.
TEST(CoreTransaction, DuplicateRequestsAreAbsorbed) {
  test::CaptureTransport tp;
  Recorder app;
  StackConfig cfg = short_timers();
  Stack st(cfg, &app, &tp);
  const std::string invite =
      "INVITE sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-dup1\r\n"
      "From: <sip:spa1@192.0.2.1>;tag=f3\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c-dup\r\nCSeq: 1 INVITE\r\n"
      "Contact: <sip:spa1@198.51.100.7:5062>\r\nContent-Length: 0\r\n\r\n";
  st.receive(test::udp_from(), invite);
  st.receive(test::udp_from(), invite);
  st.receive(test::udp_from(), invite);
  EXPECT_EQ(app.requests.size(), 1u);
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{100, 100, 100}));  // 100 Trying resent per copy
  st.respond(app.requests[0], 486);
  st.receive(test::udp_from(), invite);
  EXPECT_EQ(tp.response_codes().back(), 486);
  EXPECT_EQ(app.requests.size(), 1u);

  const std::string options =
      "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-dup2\r\n"
      "From: <sip:spa1@192.0.2.1>;tag=f4\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c-dup2\r\nCSeq: 7 OPTIONS\r\n"
      "Content-Length: 0\r\n\r\n";
  app.auto_status = 200;
  st.receive(test::udp_from(), options);
  st.receive(test::udp_from(), options);
  EXPECT_EQ(app.requests.size(), 2u);
  EXPECT_EQ(tp.response_codes().back(), 200);
  EXPECT_GE(st.stats().retransmissions_absorbed, 3u);
}

// The 100 Trying (written by the stack, not through oSIP2): Via as stamped
// on arrival (received, rport value), the request's own From/To/Call-ID/CSeq
// text (compact forms expanded), Timestamp echoed, no To-tag, sent to the
// NATed source per rport; every Via of the request is kept, in order.
TEST(CoreTransaction, TryingCopiesTheRequestAndFollowsRport) {
  test::CaptureTransport tp;
  Recorder app;
  StackConfig cfg = short_timers();
  Stack st(cfg, &app, &tp);
  const std::string invite =
      "INVITE sip:100@192.0.2.1 SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.9:5062;rport;branch=z9hG4bK-try1\r\n"
      "Via: SIP/2.0/UDP 10.9.9.9:5070;branch=z9hG4bK-up\r\n"
      "f: \"Good Body\" <sip:spa1@192.0.2.1>;tag=ft\r\nt: <sip:100@192.0.2.1>\r\ni: c-try\r\n"
      "CSeq: 102 INVITE\r\nTimestamp: 54.2\r\nContact: <sip:spa1@10.0.0.9:5062>\r\nContent-Length: 0\r\n\r\n";
  st.receive(test::udp_from("203.0.113.5", 40000), invite);
  ASSERT_EQ(tp.response_codes(), (std::vector<int>{100}));
  const test::Sent& s = tp.sent.front();
  EXPECT_EQ(s.dst.ip(), "203.0.113.5");
  EXPECT_EQ(s.dst.port(), 40000);
  ParseResult r = parse_message(s.bytes, false, Limits{});
  ASSERT_TRUE(r.msg) << s.bytes;
  EXPECT_EQ(r.msg->status_code, 100);
  ASSERT_EQ(osip_list_size(&r.msg->vias), 2) << s.bytes;
  auto* top = static_cast<osip_via_t*>(osip_list_get(&r.msg->vias, 0));
  osip_generic_param_t *rport = nullptr, *received = nullptr;
  osip_via_param_get_byname(top, const_cast<char*>("rport"), &rport);
  osip_via_param_get_byname(top, const_cast<char*>("received"), &received);
  ASSERT_TRUE(rport && rport->gvalue && received && received->gvalue) << s.bytes;
  EXPECT_STREQ(rport->gvalue, "40000");
  EXPECT_STREQ(received->gvalue, "203.0.113.5");
  EXPECT_EQ(via_branch(r.msg.get()), "z9hG4bK-try1");
  auto* second = static_cast<osip_via_t*>(osip_list_get(&r.msg->vias, 1));
  EXPECT_STREQ(second->host, "10.9.9.9");
  EXPECT_NE(s.bytes.find("From: \"Good Body\" <sip:spa1@192.0.2.1>;tag=ft\r\n"), std::string::npos) << s.bytes;
  EXPECT_NE(s.bytes.find("To: <sip:100@192.0.2.1>\r\n"), std::string::npos) << s.bytes;
  EXPECT_NE(s.bytes.find("Call-ID: c-try\r\n"), std::string::npos);
  EXPECT_NE(s.bytes.find("CSeq: 102 INVITE\r\n"), std::string::npos);
  EXPECT_NE(s.bytes.find("Timestamp: 54.2\r\n"), std::string::npos);
  EXPECT_EQ(st.stats().responses_by_class[1], 1u);
  // A copy of the INVITE from a new NAT binding gets the 100 there.
  st.receive(test::udp_from("203.0.113.5", 40001), invite);
  ASSERT_EQ(tp.response_codes(), (std::vector<int>{100, 100}));
  EXPECT_EQ(tp.sent.back().dst.port(), 40001);
  // Once the TU answered, copies get that answer from oSIP2, not the 100.
  st.respond(app.requests.at(0), 180);
  st.receive(test::udp_from("203.0.113.5", 40000), invite);
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{100, 100, 180, 180}));
}

// UAS non-2xx final: retransmitted (Timer G) until the ACK, which the IST
// absorbs; without the ACK, Timer H ends the transaction.
TEST(CoreTransaction, FinalResponseRetransmittedUntilAckThenTimerH) {
  test::CaptureTransport tp;
  Recorder app;
  app.auto_status = 486;
  StackConfig cfg = short_timers();
  cfg.send_100_trying = false;
  Stack st(cfg, &app, &tp);
  auto invite = [](const char* branch) {
    return std::string("INVITE sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=") + branch +
           "\r\nFrom: <sip:spa1@192.0.2.1>;tag=f5\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c-g-" + branch +
           "\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  };
  st.receive(test::udp_from(), invite("z9hG4bK-g1"));
  test::pump(st, 3 * kT1 + 30ms);
  auto g = gaps(tp.sent, "SIP/2.0 486");
  ASSERT_GE(g.size(), 1u);
  EXPECT_GE(g[0], kT1 - 1ms);
  auto resp = parse_message(tp.sent[0].bytes, false, Limits{});
  std::string ack = "ACK sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-g1\r\n"
                    "From: <sip:spa1@192.0.2.1>;tag=f5\r\nTo: <sip:100@192.0.2.1>;tag=" +
                    to_tag(resp.msg.get()) + "\r\nCall-ID: c-g-z9hG4bK-g1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
  st.receive(test::udp_from(), ack);
  std::size_t n = tp.count_starting("SIP/2.0 486");
  test::pump(st, 8 * kT1);
  EXPECT_EQ(tp.count_starting("SIP/2.0 486"), n) << "486 retransmitted after its ACK";
  EXPECT_EQ(app.acks, 0) << "ACK of a non-2xx belongs to the transaction, not the TU";
  test::pump(st, 10 * kT1, [&] { return st.transaction_count() == 0; });
  EXPECT_EQ(st.transaction_count(), 0u) << "Timer I did not end the transaction";

  tp.sent.clear();
  st.receive(test::udp_from(), invite("z9hG4bK-g2"));
  test::pump(st, 64 * kT1 + 1s, [&] { return st.transaction_count() == 0; });
  EXPECT_EQ(st.transaction_count(), 0u) << "Timer H did not end the transaction";
  EXPECT_GE(tp.count_starting("SIP/2.0 486"), 5u);
}

}  // namespace
}  // namespace msgw::sip
