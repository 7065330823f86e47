// SPDX-License-Identifier: GPL-3.0-or-later
// INFO passed on between the legs (RFC 6086; DTMF by SIP INFO from phones
// set to send it): the body whole, the headers that say what it is, the
// far side's answer back to the sender; a trunk's challenge answered once;
// no answer at all means the far dialog is gone (RFC 3261 §12.2.1.2).
#include "call_transition_fixture.hpp"

namespace msgw_test {

TEST_F(CallTransitionTest, InfoFromThePhoneReachesTheCarrierWithItsPackageAndTheAnswerComesBack) {
  const std::string cid = "info-phone@10.10.0.2";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  inject("10.10.0.2", 5062,
         with_body(phone_request("INFO", cid, ok, 104), "application/dtmf-relay", kDtmfRelay,
                   "Info-Package: dtmf\r\nContent-Disposition: Info-Package\r\n"));
  auto out = take();
  const Msg* info = find_to(out, "INFO", kCarrier);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->body(), kDtmfRelay);
  EXPECT_EQ(sip::header_value(info->m.get(), "Info-Package"), "dtmf");
  EXPECT_EQ(sip::header_value(info->m.get(), "Content-Disposition"), "Info-Package");
  ASSERT_TRUE(info->m->content_type);
  EXPECT_STREQ(info->m->content_type->subtype, "dtmf-relay");
  // In the carrier's dialog: its Call-ID and tags, not the phone's.
  EXPECT_EQ(std::string(info->m->call_id->number), std::string(inv.m->call_id->number));
  EXPECT_EQ(final_responses_to(out, kPhone), 0) << "answered before the carrier did";
  // A 469 (no such package there) goes back as the carrier said it.
  inject("10.20.0.2", 5060, carrier_response(copy(info), 469, "Bad Info Package", ""));
  out = take();
  EXPECT_TRUE(find_to(out, "469", kPhone));
  EXPECT_EQ(state_of(cid), CallState::answered);
  EXPECT_EQ(gw->stats().info_relayed, 1u);
}

TEST_F(CallTransitionTest, InfoWithAMultipartBodyIsPassedOnWhole) {
  const std::string cid = "info-multipart@10.10.0.2";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  const std::string body =
      "--b1\r\nContent-Type: application/dtmf-relay\r\n\r\nSignal=1\r\nDuration=100\r\n"
      "--b1\r\nContent-Type: application/isup;version=itu-t92+\r\n\r\nxyz\r\n--b1--\r\n";
  inject("10.20.0.2", 5060, with_body(carrier_request("INFO", inv, 3), "multipart/mixed;boundary=b1", body));
  auto out = take();
  const Msg* info = find_to(out, "INFO", kPhone);
  ASSERT_TRUE(info);
  ASSERT_TRUE(info->m->content_type);
  EXPECT_STREQ(info->m->content_type->type, "multipart");
  EXPECT_NE(info->raw.find("Signal=1"), std::string::npos) << info->raw;
  EXPECT_NE(info->raw.find("application/isup"), std::string::npos) << info->raw;
  EXPECT_NE(info->raw.find("b1"), std::string::npos) << info->raw;
}

TEST_F(CallTransitionTest, InfoChallengedByTheTrunkIsAnsweredOnceWithCredentials) {
  const std::string cid = "info-auth@10.10.0.2";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  inject("10.10.0.2", 5062, with_body(phone_request("INFO", cid, ok, 104), "application/dtmf-relay", kDtmfRelay));
  Msg info = copy(find_to(take(), "INFO", kCarrier));
  ASSERT_TRUE(info.m);
  inject("10.20.0.2", 5060, carrier_challenge_in_dialog(info, 407, "n0nce-info"));
  auto out = take();
  const Msg* again = find_to(out, "INFO", kCarrier);
  ASSERT_TRUE(again);
  EXPECT_NE(again->raw.find("nonce=\"n0nce-info\""), std::string::npos) << again->raw;
  EXPECT_EQ(again->body(), kDtmfRelay);
  EXPECT_EQ(final_responses_to(out, kPhone), 0);
  EXPECT_EQ(gw->stats().trunk_challenges, 1u);
  // Challenged again: not answered twice; the phone hears a 503, the call goes on.
  Msg again_copy = copy(again);
  inject("10.20.0.2", 5060, carrier_challenge_in_dialog(again_copy, 407, "n0nce-info2"));
  out = take();
  EXPECT_TRUE(find_to(out, "503", kPhone));
  EXPECT_EQ(count(out, "INFO"), 0);
  EXPECT_EQ(gw->stats().trunk_auth_failures, 1u);
  EXPECT_EQ(state_of(cid), CallState::answered);
}

TEST_F(CallTransitionTest, InfoNeverAnsweredEndsTheCallOnBothLegs) {
  const std::string cid = "info-timeout@10.10.0.2";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  inject("10.10.0.2", 5062, with_body(phone_request("INFO", cid, ok, 104), "application/dtmf-relay", kDtmfRelay));
  EXPECT_TRUE(find_to(take(), "INFO", kCarrier));
  // Timer F (64*T1) passes with no answer: the phone hears 408, both legs a BYE.
  ASSERT_TRUE(run_sip_timers([&] { return !state_of(cid); }));
  auto out = take();
  EXPECT_TRUE(find_to(out, "408", kPhone));
  EXPECT_TRUE(find_to(out, "BYE", kPhone));
  EXPECT_TRUE(find_to(out, "BYE", kCarrier));
  EXPECT_EQ(store->cdr(cid)->end_reason, "INFO to b: no answer");
}

TEST_F(CallTransitionTest, InDialogOptionsAndNotifyAreAnsweredHereNotPassedOn) {
  const std::string cid = "info-options@10.10.0.2";
  auto [inv, ok] = answered_call(cid, spa_offer());
  ASSERT_TRUE(ok.m);
  inject("10.10.0.2", 5062, phone_request("OPTIONS", cid, ok, 104));
  auto out = take();
  const Msg* r = find_to(out, "200", kPhone);
  ASSERT_TRUE(r);
  EXPECT_NE(r->raw.find("\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, NOTIFY, UPDATE\r\n"), std::string::npos) << r->raw;
  EXPECT_EQ(count(out, "OPTIONS"), 0);
  inject("10.20.0.2", 5060, carrier_request("NOTIFY", inv, 3));
  out = take();
  EXPECT_TRUE(find_to(out, "200", kCarrier));
  EXPECT_EQ(count(out, "NOTIFY"), 0);
  EXPECT_EQ(gw->stats().info_relayed, 0u);
}

}  // namespace msgw_test
