// SPDX-License-Identifier: GPL-3.0-or-later
// Answers with no transaction (Handler::answer_statelessly, the stateless
// 400/503s): nothing is kept, a retransmission is answered again, the
// response follows the Via as the IST's would, and the ACK of such a
// response is dropped from the pre-scan, unparsed; other ACKs are not.
#include <gtest/gtest.h>

#include "test_core_util.hpp"

namespace msgw::sip {
namespace {

std::string invite(const std::string& branch, const std::string& call_id, const std::string& to_tag = "",
                   const std::string& method = "INVITE") {
  return method + " sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bK" + branch +
         ";rport\r\nFrom: <sip:spa1@192.0.2.1>;tag=f-" + call_id + "\r\nTo: <sip:100@192.0.2.1>" +
         (to_tag.empty() ? "" : ";tag=" + to_tag) + "\r\nCall-ID: " + call_id + "\r\nCSeq: 1 " + method +
         "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
}

// Challenges every INVITE statelessly when `stateless`; the rest reach on_request.
class Challenger : public Handler {
 public:
  void on_request(Stack& st, const ServerRequest& r) override {
    ++requests;
    st.respond(r.txn, 200);
  }
  void on_ack(Stack&, MessageRef, Dialog*) override { ++acks; }
  Message answer_statelessly(Stack& st, const ServerRequest& r) override {
    ++asked;
    EXPECT_EQ(r.txn, kNoTxn);
    if (!stateless || r.msg.method() != "INVITE") return {};
    Message resp = st.stateless_response(r.msg, 407);
    if (resp) osip_message_set_header(const_cast<osip_message*>(resp.get()), "Proxy-Authenticate", "Digest x");
    return resp;
  }
  bool stateless = true;
  int requests = 0, acks = 0, asked = 0;
};

// The To tag as sent (the 400 below is not a message the parser takes back).
std::string to_tag_of(const std::string& bytes) {
  const std::size_t to = bytes.find("\r\nTo: ");
  const std::size_t tag = to == std::string::npos ? to : bytes.find(";tag=", to);
  if (tag == std::string::npos) return {};
  return bytes.substr(tag + 5, bytes.find("\r\n", tag) - tag - 5);
}

TEST(CoreStateless, AnswerKeepsNoStateAndARetransmissionIsAnsweredAgain) {
  test::CaptureTransport tp;
  Challenger app;
  Stack st(StackConfig{}, &app, &tp);  // 100 Trying on: the stateless answer goes alone
  const std::string inv = invite("-s1", "s1");
  st.receive(test::udp_from("198.51.100.7", 6000), inv);
  ASSERT_EQ(tp.sent.size(), 1u);
  EXPECT_EQ(tp.response_codes(), std::vector<int>{407});
  EXPECT_NE(tp.sent[0].bytes.find("Proxy-Authenticate: Digest x"), std::string::npos);
  EXPECT_NE(tp.sent[0].bytes.find("rport=6000;received=198.51.100.7"), std::string::npos) << tp.sent[0].bytes;
  EXPECT_EQ(tp.sent[0].dst.str(), "198.51.100.7:6000") << "rport: where the request came from (RFC 3581)";
  EXPECT_EQ(to_tag_of(tp.sent[0].bytes).rfind("sl-", 0), 0u);
  EXPECT_EQ(st.transaction_count(), 0u);
  EXPECT_EQ(st.dialog_count(), 0u);
  EXPECT_EQ(app.requests, 0);
  st.receive(test::udp_from("198.51.100.7", 6000), inv);
  ASSERT_EQ(tp.sent.size(), 2u);
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{407, 407}));
  EXPECT_EQ(st.stats().stateless_answers, 2u);
  EXPECT_EQ(st.stats().tx_responses_by_status[407 - kFirstCountedStatus], 2u);
  EXPECT_EQ(st.transaction_count(), 0u);
}

TEST(CoreStateless, TheAckOfAStatelessAnswerIsDroppedUnparsed) {
  test::CaptureTransport tp;
  Challenger app;
  Stack st(StackConfig{}, &app, &tp);
  st.receive(test::udp_from(), invite("-s2", "s2"));
  ASSERT_EQ(tp.sent.size(), 1u);
  const std::string tag = to_tag_of(tp.sent[0].bytes);
  const uint64_t parsed = st.stats().rx_requests, stray = st.stats().stray_acks;
  st.receive(test::udp_from(), invite("-s2", "s2", tag, "ACK"));
  EXPECT_EQ(tp.sent.size(), 1u);
  EXPECT_EQ(st.stats().stateless_acks_absorbed, 1u);
  EXPECT_EQ(st.stats().rx_requests, parsed) << "never parsed";
  EXPECT_EQ(st.stats().stray_acks, stray);
  EXPECT_EQ(app.acks, 0);
  // An ACK with another tag takes the ordinary path (here: a stray ACK).
  st.receive(test::udp_from(), invite("-s3", "s3", "abc123", "ACK"));
  EXPECT_EQ(st.stats().stateless_acks_absorbed, 1u);
  EXPECT_EQ(st.stats().rx_requests, parsed + 1);
  EXPECT_EQ(st.stats().stray_acks, stray + 1);
}

TEST(CoreStateless, InDialogRequestsAndOtherMethodsTakeTheOrdinaryPath) {
  test::CaptureTransport tp;
  Challenger app;
  Stack st(StackConfig{}, &app, &tp);
  // A To tag: never offered to the handler (481: no such dialog).
  st.receive(test::udp_from(), invite("-s4", "s4", "abc123"));
  EXPECT_EQ(app.asked, 0);
  EXPECT_EQ(tp.response_codes(), std::vector<int>{481});
  // The handler declines: a transaction, the 100 Trying, on_request.
  app.stateless = false;
  st.receive(test::udp_from(), invite("-s5", "s5"));
  EXPECT_EQ(app.asked, 1);
  EXPECT_EQ(app.requests, 1);
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{481, 100, 200}));
  EXPECT_EQ(to_tag_of(tp.sent.back().bytes).rfind("sl-", 0), std::string::npos) << "a transaction's own tag";
  EXPECT_EQ(st.stats().stateless_answers, 0u);
}

TEST(CoreStateless, TheAckOfAStateless400IsDroppedToo) {
  test::CaptureTransport tp;
  Challenger app;
  Stack st(StackConfig{}, &app, &tp);
  std::string bad = invite("-s6", "s6");
  bad.replace(bad.find("CSeq: 1 INVITE"), 14, "CSeq: x INVITE");  // refused by the pre-scan: 400
  st.receive(test::udp_from(), bad);
  ASSERT_EQ(tp.response_codes(), std::vector<int>{400});
  const std::string tag = to_tag_of(tp.sent[0].bytes);
  EXPECT_EQ(tag.rfind("sl-", 0), 0u) << tp.sent[0].bytes;
  st.receive(test::udp_from(), invite("-s6", "s6", tag, "ACK"));
  EXPECT_EQ(st.stats().stateless_acks_absorbed, 1u);
  EXPECT_EQ(tp.sent.size(), 1u);
}

}  // namespace
}  // namespace msgw::sip
