// SPDX-License-Identifier: GPL-3.0-or-later
// RFC 4028 session timers on each leg: accepted in our 2xx (the asking UA
// refreshes unless it names us), refreshed by UPDATE or re-INVITE, a
// silent refresher's call ended with BYE on both legs, our own refresh
// re-INVITEs when a leg names us, 422 below our Min-SE, Require: timer
// accepted, a trunk's timer taken from its 2xx, and a restart keeping them.
#include "call_transition_fixture.hpp"

namespace msgw_test {

namespace {
// `msg` with more header lines before its Content-Length.
std::string with_headers(std::string msg, const std::string& lines) {
  const auto at = msg.rfind("Content-Length:");
  if (at != std::string::npos) msg.insert(at, lines);
  return msg;
}
}  // namespace

TEST_F(CallTransitionTest, SessionRefreshedByUpdateLivesOnAndEndsWhenRefreshesStop) {
  const std::string cid = "st-update@10.10.0.2";
  invite_extra = "Supported: timer\r\nSession-Expires: 120;refresher=uac\r\n";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  advanced += std::chrono::seconds(60);
  inject("10.10.0.2", 5062,
         with_headers(phone_request("UPDATE", cid, ok, 104), "Supported: timer\r\nSession-Expires: 120;refresher=uac\r\n"));
  auto out = take();
  const Msg* r = find_to(out, "200", kPhone);
  ASSERT_TRUE(r);
  EXPECT_NE(r->raw.find("\r\nSession-Expires: 120;refresher=uac\r\n"), std::string::npos) << r->raw;
  // 88 s after the first 2xx the refresh has moved the expiry on.
  advanced += std::chrono::seconds(60);
  gw->tick();
  EXPECT_EQ(count(take(), "BYE"), 0);
  EXPECT_EQ(state_of(cid), CallState::answered);
  advanced += std::chrono::seconds(28);  // 88 s after the refresh
  gw->tick();
  out = take();
  EXPECT_TRUE(find_to(out, "BYE", kPhone));
  EXPECT_TRUE(find_to(out, "BYE", kCarrier));
  EXPECT_EQ(store->cdr(cid)->end_reason, "session timer expired on a");
}

TEST_F(CallTransitionTest, SessionIntervalBelowOurMinSeIsRefused422) {
  const std::string cid = "st-422@10.10.0.2";
  invite_extra = "Supported: timer\r\nSession-Expires: 60\r\n";
  inject("10.10.0.2", 5062, invite(cid, "", spa_offer()));
  auto challenged = take();
  const Msg* c = find(challenged, "407");
  ASSERT_TRUE(c);
  Msg chal = copy(c);
  inject("10.10.0.2", 5062,
         invite(cid, answer_challenge(chal, "INVITE", "sip:1-800-555-1212@10.10.0.1"), spa_offer(), "1-800-555-1212", 103));
  auto out = take();
  const Msg* r = find_to(out, "422", kPhone);
  ASSERT_TRUE(r);
  EXPECT_NE(r->raw.find("\r\nMin-SE: 90\r\n"), std::string::npos) << r->raw;
  EXPECT_EQ(count(out, "INVITE"), 0);
  EXPECT_EQ(gw->stats().session_intervals_too_small, 1u);
  // Without Supported: timer the UA could not retry: the call goes on, no timer.
  invite_extra = "Session-Expires: 60\r\n";
  auto [inv, ok] = answered_call("st-422b@10.10.0.2", spa_offer());
  ASSERT_TRUE(ok.m);
  EXPECT_EQ(ok.raw.find("Session-Expires"), std::string::npos) << ok.raw;
}

TEST_F(CallTransitionTest, RequireTimerIsAcceptedNot420) {
  const std::string cid = "st-require@10.10.0.2";
  invite_extra = "Require: timer\r\nSession-Expires: 1800\r\nMin-SE: 600\r\n";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  EXPECT_NE(ok.raw.find("\r\nSession-Expires: 1800;refresher=uac\r\n"), std::string::npos) << ok.raw;
  // Not passed to the carrier: each leg's timer is its own.
  EXPECT_EQ(inv.raw.find("Session-Expires"), std::string::npos) << inv.raw;
  EXPECT_EQ(inv.raw.find("timer"), std::string::npos) << inv.raw;
}

TEST_F(CallTransitionTest, PhoneNamingUsTheRefresherGetsOurRefreshReInvites) {
  const std::string cid = "st-uas@10.10.0.2";
  invite_extra = "Supported: timer\r\nSession-Expires: 120;refresher=uas\r\n";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  EXPECT_NE(ok.raw.find("\r\nSession-Expires: 120;refresher=uas\r\n"), std::string::npos) << ok.raw;
  advanced += std::chrono::seconds(60);
  gw->tick();
  auto out = take();
  const Msg* re = find_to(out, "INVITE", kPhone);
  ASSERT_TRUE(re);
  EXPECT_NE(re->raw.find("\r\nSession-Expires: 120;refresher=uac\r\n"), std::string::npos) << re->raw;
  EXPECT_NE(re->raw.find("\r\nSupported: timer\r\n"), std::string::npos) << re->raw;
  EXPECT_EQ(re->body(), ok.body());  // the session as it is, version unchanged
  EXPECT_EQ(count(out, "INVITE"), 1);  // nothing to the carrier
  Msg refresh = copy(re);
  inject("10.10.0.2", 5062, carrier_response(refresh, 200, "OK", phone_answer(), "x",
                                             "Session-Expires: 120;refresher=uac\r\nRequire: timer\r\n"));
  EXPECT_TRUE(find_to(take(), "ACK", kPhone));
  EXPECT_EQ(gw->stats().session_refreshes, 1u);
  advanced += std::chrono::seconds(60);
  gw->tick();
  EXPECT_TRUE(find_to(take(), "INVITE", kPhone));
  EXPECT_EQ(gw->stats().session_refreshes, 2u);
  EXPECT_EQ(state_of(cid), CallState::answered);
}

TEST_F(CallTransitionTest, TrunkTimerFromItsAnswerEndsTheCallWhenTheTrunkGoesSilent) {
  const std::string cid = "st-trunk@10.10.0.2";
  Msg inv = place_call(cid, spa_offer());
  ASSERT_TRUE(inv.m);
  EXPECT_EQ(inv.raw.find("timer"), std::string::npos);  // we never ask for one
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer(), "as103549cc",
                                             "Session-Expires: 300;refresher=uas\r\nRequire: timer\r\n"));
  auto out = take();
  const Msg* ok = find_to(out, "200", kPhone);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->raw.find("Session-Expires"), std::string::npos);  // the phone asked for none
  // The carrier refreshes at 150 s with a re-INVITE: our 2xx keeps it the refresher.
  advanced += std::chrono::seconds(150);
  gw->tick();
  inject("10.20.0.2", 5060,
         with_headers(carrier_request("INVITE", inv, 2, g729_answer()), "Supported: timer\r\nSession-Expires: 300;refresher=uac\r\n"));
  out = take();
  const Msg* r = find_to(out, "200", kCarrier);
  ASSERT_TRUE(r);
  EXPECT_NE(r->raw.find("\r\nSession-Expires: 300;refresher=uac\r\n"), std::string::npos) << r->raw;
  EXPECT_FALSE(find_to(out, "INVITE", kPhone));  // a refresh is nothing the phone needs to hear of
  // Then silence: 268 s after that refresh, BYE to both legs.
  advanced += std::chrono::seconds(267);
  gw->tick();
  EXPECT_EQ(count(take(), "BYE"), 0);
  advanced += std::chrono::seconds(1);
  gw->tick();
  out = take();
  EXPECT_TRUE(find_to(out, "BYE", kCarrier));
  EXPECT_TRUE(find_to(out, "BYE", kPhone));
  EXPECT_EQ(store->cdr(cid)->end_reason, "session timer expired on b");
}

TEST_F(CallTransitionTest, SessionTimerSurvivesARestart) {
  const std::string cid = "st-restart@10.10.0.2";
  invite_extra = "Supported: timer\r\nSession-Expires: 120\r\n";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  restart();  // the new Gateway restores the call, its timer counted from now
  seen = 0;    // the new stack's transport log
  gw->now = [this] { return t0 + advanced; };
  EXPECT_EQ(state_of(cid), CallState::answered);
  advanced += std::chrono::seconds(89);
  gw->tick();
  auto out = take();
  EXPECT_TRUE(find_to(out, "BYE", kPhone));
  EXPECT_TRUE(find_to(out, "BYE", kCarrier));
  EXPECT_EQ(store->cdr(cid)->end_reason, "session timer expired on a");
}

}  // namespace msgw_test
