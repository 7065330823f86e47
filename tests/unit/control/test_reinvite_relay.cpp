// SPDX-License-Identifier: GPL-3.0-or-later
// Hold and resume passed on to the other leg in re-INVITEs of our own: one
// INVITE transaction at a time per dialog (RFC 3261 §14.1), the latest
// direction sent when the pending one is answered; a re-INVITE answered
// 481 or 408 (or never) means the dialog is gone and the call ends.
#include "call_transition_fixture.hpp"

namespace msgw_test {

namespace {
std::string direction_of(const Msg& m) {
  for (const char* d : {"a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv"})
    if (m.body().find(d) != std::string::npos) return d;
  return "a=sendrecv";  // RFC 4566: the default
}
}  // namespace

TEST_F(CallTransitionTest, ResumeWhileTheHoldReInviteIsPendingIsPassedOnAfterIt) {
  const std::string cid = "rr-queue@10.10.0.2";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
  auto out = take();
  Msg hold = copy(find_to(out, "INVITE", kCarrier));
  EXPECT_EQ(direction_of(hold), "a=sendonly");
  // The phone resumes (and holds and resumes again) before the carrier answered.
  const std::string resume = sdp_offer("10.10.0.2", 16400, "18 101",
                                       {"rtpmap:18 G729a/8000", "rtpmap:101 telephone-event/8000"}, "sendrecv");
  inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 105, resume));
  out = take();
  EXPECT_TRUE(find_to(out, "200", kPhone));
  EXPECT_EQ(count(out, "INVITE"), 0) << "a second INVITE while the first is pending";
  inject("10.10.0.2", 5062, phone_request("ACK", cid, ok, 105));
  inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 106, phone_hold_offer()));
  inject("10.10.0.2", 5062, phone_request("ACK", cid, ok, 106));
  inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 107, resume));
  out = take();
  EXPECT_EQ(count(out, "INVITE"), 0);
  // The hold is answered: ACKed, and the latest direction (resume) goes now.
  inject("10.20.0.2", 5060, carrier_response(hold, 200, "OK", g729_answer("recvonly")));
  out = take();
  EXPECT_TRUE(find_to(out, "ACK", kCarrier));
  const Msg* again = find_to(out, "INVITE", kCarrier);
  ASSERT_TRUE(again);
  EXPECT_EQ(direction_of(*again), "a=sendrecv");
  EXPECT_EQ(count(out, "INVITE"), 1);
  // Its answer leaves nothing queued.
  Msg res = copy(again);
  inject("10.20.0.2", 5060, carrier_response(res, 200, "OK", g729_answer()));
  out = take();
  EXPECT_TRUE(find_to(out, "ACK", kCarrier));
  EXPECT_EQ(count(out, "INVITE"), 0);
  EXPECT_EQ(state_of(cid), CallState::answered);
}

TEST_F(CallTransitionTest, ReInviteRefusedStillPassesOnTheQueuedDirection) {
  const std::string cid = "rr-refused@10.10.0.2";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
  Msg hold = copy(find_to(take(), "INVITE", kCarrier));
  inject("10.10.0.2", 5062,
         phone_request("INVITE", cid, ok, 105,
                       sdp_offer("10.10.0.2", 16400, "18", {"rtpmap:18 G729a/8000"}, "sendrecv")));
  take();
  // The carrier refuses the hold (488): the session stays, the resume goes.
  inject("10.20.0.2", 5060, carrier_response(hold, 488, "Not Acceptable Here", ""));
  auto out = take();
  const Msg* again = find_to(out, "INVITE", kCarrier);
  ASSERT_TRUE(again);
  EXPECT_EQ(direction_of(*again), "a=sendrecv");
  EXPECT_EQ(state_of(cid), CallState::answered);
}

TEST_F(CallTransitionTest, ReInviteAnswered481EndsTheCallOnBothLegs) {
  for (int code : {481, 408}) {
    const std::string cid = "rr-" + std::to_string(code) + "@10.10.0.2";
    auto [inv, ok] = answered_call(cid, spa_offer());
    ASSERT_TRUE(ok.m);
    inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
    Msg hold = copy(find_to(take(), "INVITE", kCarrier));
    inject("10.20.0.2", 5060,
           carrier_response(hold, code, code == 481 ? "Call/Transaction Does Not Exist" : "Request Timeout", ""));
    auto out = take();
    const Msg* bye = find_to(out, "BYE", kPhone);
    ASSERT_TRUE(bye) << code;
    EXPECT_NE(bye->raw.find("Reason: SIP;cause=" + std::to_string(code)), std::string::npos) << bye->raw;
    EXPECT_TRUE(find_to(out, "BYE", kCarrier)) << code;
    EXPECT_EQ(state_of(cid), std::nullopt);
    EXPECT_EQ(store->cdr(cid)->end_reason, "re-INVITE to b: " + std::to_string(code));
  }
}

}  // namespace msgw_test
