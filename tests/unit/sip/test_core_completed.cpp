// SPDX-License-Identifier: GPL-3.0-or-later
// Completed transactions kept as what they resend (stack_completed.cpp):
// what test_core_timers.cpp checks of their timers, here the other duties
// oSIP2's transaction had while it lived — the same bytes for every
// retransmission, the merged-request check (§8.2.2.2), CANCEL and ACK
// against a confirmed INVITE transaction, many at once kept apart.
#include <gtest/gtest.h>

#include "test_core_util.hpp"

namespace msgw::sip {
namespace {

std::string request(const std::string& method, const std::string& branch, const std::string& call_id, int cseq = 1,
                    const std::string& cseq_method = "") {
  return method + " sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK" + branch +
         "\r\nFrom: <sip:spa1@192.0.2.1>;tag=f-" + call_id + "\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: " + call_id +
         "\r\nCSeq: " + std::to_string(cseq) + " " + (cseq_method.empty() ? method : cseq_method) +
         "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
}

class Answerer : public Handler {
 public:
  void on_request(Stack& st, const ServerRequest& r) override {
    ++requests;
    if (status) st.respond(r.txn, status);
  }
  void on_cancel(Stack&, TxnId) override { ++cancels; }
  int status = 200;
  int requests = 0, cancels = 0;
};

StackConfig no_trying() {
  StackConfig c;
  c.send_100_trying = false;
  return c;
}

TEST(CoreCompleted, NonInviteRetransmissionGetsTheSameBytesAgain) {
  test::CaptureTransport tp;
  Answerer app;
  Stack st(no_trying(), &app, &tp);
  const std::string options = request("OPTIONS", "-c1", "cc1");
  st.receive(test::udp_from(), options);
  ASSERT_EQ(tp.sent.size(), 1u);
  ASSERT_EQ(st.transaction_count(), 1u);
  const uint64_t rtx = st.stats().retransmissions_sent;
  st.receive(test::udp_from(), options);
  st.receive(test::udp_from(), options);
  ASSERT_EQ(tp.sent.size(), 3u);
  EXPECT_EQ(tp.sent[1].bytes, tp.sent[0].bytes) << "a retransmission gets the final response as first sent";
  EXPECT_EQ(tp.sent[2].bytes, tp.sent[0].bytes);
  EXPECT_EQ(tp.sent[1].dst.str(), tp.sent[0].dst.str());
  EXPECT_EQ(app.requests, 1) << "retransmissions never reach the TU";
  EXPECT_EQ(st.stats().retransmissions_sent, rtx + 2);
  EXPECT_EQ(st.stats().tx_responses_by_status[200 - kFirstCountedStatus], 3u);
}

TEST(CoreCompleted, MergedRequestIsRefusedAfterTheFirstCompleted) {
  test::CaptureTransport tp;
  Answerer app;
  Stack st(no_trying(), &app, &tp);
  st.receive(test::udp_from(), request("OPTIONS", "-m1", "cm1"));
  ASSERT_EQ(tp.response_codes(), (std::vector<int>{200}));
  // Same From-tag, Call-ID and CSeq through another branch: it forked back.
  st.receive(test::udp_from(), request("OPTIONS", "-m1-fork", "cm1"));
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{200, 482}));
  EXPECT_EQ(app.requests, 1);
  // A new CSeq is a new request.
  st.receive(test::udp_from(), request("OPTIONS", "-m2", "cm1", 2));
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{200, 482, 200}));
  EXPECT_EQ(app.requests, 2);
}

TEST(CoreCompleted, ConfirmedInviteAbsorbsAckAndInviteAndAnswersCancel) {
  test::CaptureTransport tp;
  Answerer app;
  app.status = 486;
  Stack st(no_trying(), &app, &tp);
  const std::string invite = request("INVITE", "-i1", "ci1");
  st.receive(test::udp_from(), invite);
  ASSERT_EQ(tp.response_codes(), (std::vector<int>{486}));
  // The ACK for a non-2xx has the INVITE's branch; it confirms the transaction.
  const std::string ack = request("ACK", "-i1", "ci1", 1);
  st.receive(test::udp_from(), ack);
  ASSERT_EQ(st.transaction_count(), 1u) << "Timer I keeps it";
  const uint64_t stray = st.stats().stray_acks;
  st.receive(test::udp_from(), ack);     // the ACK again
  st.receive(test::udp_from(), invite);  // the INVITE again, late
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{486})) << "absorbed in Confirmed";
  EXPECT_EQ(st.stats().stray_acks, stray);
  EXPECT_EQ(app.requests, 1);
  // A CANCEL matches it, has nothing left to cancel: 200 for the CANCEL alone.
  st.receive(test::udp_from(), request("CANCEL", "-i1", "ci1", 1));
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{486, 200}));
  EXPECT_EQ(app.cancels, 0);
}

TEST(CoreCompleted, ManyAreKeptApart) {
  test::CaptureTransport tp;
  Answerer app;
  Stack st(no_trying(), &app, &tp);
  constexpr int kCount = 500;
  for (int i = 0; i < kCount; ++i) st.receive(test::udp_from(), request("OPTIONS", "-n" + std::to_string(i), "cn" + std::to_string(i)));
  ASSERT_EQ(tp.sent.size(), std::size_t{kCount});
  EXPECT_EQ(st.transaction_count(), std::size_t{kCount});
  EXPECT_EQ(st.stats().transactions_live, std::size_t{kCount});
  for (int i = kCount - 1; i >= 0; i -= 7) {
    st.receive(test::udp_from(), request("OPTIONS", "-n" + std::to_string(i), "cn" + std::to_string(i)));
    EXPECT_EQ(tp.sent.back().bytes, tp.sent[i].bytes) << i;
  }
  EXPECT_EQ(app.requests, kCount);
}

// max_transactions bounds the transactions still running; the Completed
// entries (one per call's BYE for 32 s) have max_completed, past which the
// soonest to expire are forgotten: a call rate is never capped by them.
TEST(CoreCompleted, CompletedEntriesDoNotCountAgainstTheTransactionLimit) {
  test::CaptureTransport tp;
  Answerer app;
  StackConfig c = no_trying();
  c.limits.max_transactions = 2;
  c.limits.max_completed = 3;
  Stack st(c, &app, &tp);
  for (int i = 0; i < 6; ++i) {
    st.receive(test::udp_from(), request("OPTIONS", "-lim" + std::to_string(i), "lim" + std::to_string(i)));
    st.run_timers();
  }
  EXPECT_EQ(tp.response_codes(), std::vector<int>(6, 200)) << "no 503: nothing was running";
  EXPECT_EQ(st.stats().overload_rejections, 0u);
  EXPECT_EQ(st.transaction_count(), 3u) << "the three newest kept";
  EXPECT_EQ(st.stats().completed_evicted, 3u);
  // The newest still gets its response again; the oldest is new to the stack.
  st.receive(test::udp_from(), request("OPTIONS", "-lim5", "lim5"));
  EXPECT_EQ(app.requests, 6);
  st.receive(test::udp_from(), request("OPTIONS", "-lim0", "lim0"));
  EXPECT_EQ(app.requests, 7);
}

}  // namespace
}  // namespace msgw::sip
