// SPDX-License-Identifier: GPL-3.0-or-later
// UPDATE (RFC 3311) and target refresh (RFC 3261 §12.2.2) inside a call's
// dialogs, driven end to end through the Gateway (gateway_fixture.hpp).
#include "gateway_fixture.hpp"

using namespace msgw;
using namespace msgw_test;

namespace {

struct InDialogUpdateTest : GatewayFixture<::testing::Test> {
  // The Request-URI of the BYE the gateway sends the carrier in `out`.
  static std::string carrier_bye_uri(const std::vector<Msg>& out);
  // A kill -9 and start, then msgwctl hangup: the restored call's BYE to the
  // carrier is rebuilt from the persisted leg; its Request-URI.
  std::string carrier_bye_uri_after_restart(const std::string& cid) {
    restart();
    seen = 0;
    auto j = manage(*gw, {{"cmd", "hangup"}, {"call", cid}});
    EXPECT_TRUE(j["ok"].get<bool>()) << j.dump();
    return carrier_bye_uri(take());
  }
  // An answered call put on hold by the phone: our hold re-INVITE to the
  // carrier (a copy; not answered yet) and the carrier's INVITE.
  std::pair<Msg, Msg> held_by_phone(const std::string& cid) {
    auto [inv, ok] = answered_call(cid, spa_offer());
    take();
    std::string hold = sdp_offer("10.10.0.2", 16388, "18 101",
                                 {"rtpmap:18 G729a/8000", "rtpmap:101 telephone-event/8000"}, "sendonly");
    inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, hold));
    const auto out = take();
    const Msg* ours = find(out, "INVITE");
    if (!ours) {
      ADD_FAILURE() << "no re-INVITE to the carrier";
      return {};
    }
    return {Msg{sip::parse_message(ours->raw, false, sip::Limits{}).msg, ours->raw, ours->dst}, std::move(inv)};
  }
};

std::string request_uri(const Msg& m) {
  char* u = nullptr;
  osip_uri_to_str(m.m->req_uri, &u);
  std::string s = u ? u : "";
  osip_free(u);
  return s;
}

std::string InDialogUpdateTest::carrier_bye_uri(const std::vector<Msg>& out) {
  for (const auto& m : out)
    if (m.method() == "BYE" && m.dst.str() == "10.20.0.2:5060") return request_uri(m);  // the trunk's address
  ADD_FAILURE() << "no BYE to the carrier";
  return {};
}

std::string carrier_hold_offer() {
  return sdp_offer("10.20.0.2", 6000, "18 101", {"rtpmap:18 G729/8000", "fmtp:18 annexb=no",
                                                 "rtpmap:101 telephone-event/8000"}, "sendonly");
}

TEST_F(InDialogUpdateTest, UpdateWithAnOfferIsAnsweredInIts200AndPassedOnAsHold) {
  auto [inv, ok] = answered_call("up1@10.10.0.2", spa_offer());
  take();
  const std::size_t ops = media.ops.size();
  inject("10.20.0.2", 5060, carrier_request("UPDATE", inv, 2, carrier_hold_offer()));
  auto out = take();
  const Msg* r200 = find(out, "200");
  ASSERT_TRUE(r200);
  EXPECT_EQ(r200->dst.str(), "10.20.0.2:5060");
  EXPECT_EQ(std::string(r200->m->cseq->method), "UPDATE");
  // The answer is in the 2xx (RFC 3311 §5.2), with our Contact.
  EXPECT_NE(r200->body().find("a=recvonly"), std::string::npos) << r200->raw;
  EXPECT_NE(r200->raw.find("\r\nContact: <sip:10.20.0.1:5060>\r\n"), std::string::npos) << r200->raw;
  // Hold reaches the phone in a re-INVITE of ours; the flow was modified.
  const Msg* reinv = find(out, "INVITE");
  ASSERT_TRUE(reinv);
  EXPECT_EQ(reinv->dst.str(), "10.10.0.2:5062");
  EXPECT_NE(reinv->body().find("a=sendonly"), std::string::npos) << reinv->body();
  ASSERT_GT(media.ops.size(), ops);
  EXPECT_EQ(media.ops.back().what, "modify");
  EXPECT_EQ(gw->stats().reinvites, 1u);
}

TEST_F(InDialogUpdateTest, UpdateWithoutAnOfferGets200WithContactAndNoBody) {
  auto [inv, ok] = answered_call("up2@10.10.0.2", spa_offer());
  take();
  const std::size_t ops = media.ops.size();
  inject("10.20.0.2", 5060, carrier_request("UPDATE", inv, 2));  // a session-timer refresh
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status(), 200);
  EXPECT_TRUE(out[0].body().empty()) << out[0].raw;
  EXPECT_NE(out[0].raw.find("\r\nContact: <sip:10.20.0.1:5060>\r\n"), std::string::npos) << out[0].raw;
  EXPECT_EQ(media.ops.size(), ops);
  EXPECT_EQ(gw->stats().reinvites, 0u);
}

TEST_F(InDialogUpdateTest, UpdateWithAnOfferNoCodecFitsGets488AndTheCallStays) {
  auto [inv, ok] = answered_call("up3@10.10.0.2", spa_offer());
  take();
  const std::string gsm = sdp_offer("10.20.0.2", 6000, "3", {"rtpmap:3 GSM/8000"});
  inject("10.20.0.2", 5060, carrier_request("UPDATE", inv, 2, gsm, "<sip:moved@10.20.0.9:5080>"));
  auto out = take();
  ASSERT_TRUE(find(out, "488"));
  EXPECT_FALSE(find(out, "INVITE"));
  // A refused UPDATE leaves the remote target as it was (RFC 6141 §3.3).
  inject("10.10.0.2", 5062, phone_request("BYE", "up3@10.10.0.2", ok, 104));
  EXPECT_EQ(carrier_bye_uri(take()), "sip:carrier@10.20.0.2:5060");
}

TEST_F(InDialogUpdateTest, ReinviteWithANewContactRefreshesTheTarget) {
  auto [inv, ok] = answered_call("up4@10.10.0.2", spa_offer());
  take();
  inject("10.20.0.2", 5060,
         carrier_request("INVITE", inv, 2, g729_answer(), "<sip:node2@10.20.0.9:5080;transport=udp>"));
  auto out = take();
  const Msg* r200 = find(out, "200");
  ASSERT_TRUE(r200);
  inject("10.20.0.2", 5060, carrier_request("ACK", inv, 2, "", "<sip:node2@10.20.0.9:5080;transport=udp>"));
  take();
  // The phone hangs up: the BYE to the carrier has the refreshed target as its
  // Request-URI; it still goes to the trunk's address (the leg's peer).
  inject("10.10.0.2", 5062, phone_request("BYE", "up4@10.10.0.2", ok, 104));
  EXPECT_EQ(carrier_bye_uri(take()), "sip:node2@10.20.0.9:5080;transport=udp");
}

TEST_F(InDialogUpdateTest, UpdateTargetRefreshSurvivesARestart) {
  auto [inv, ok] = answered_call("up5@10.10.0.2", spa_offer());
  take();
  inject("10.20.0.2", 5060, carrier_request("UPDATE", inv, 2, "", "<sip:node3@10.20.0.7:5090>"));
  ASSERT_TRUE(find(take(), "200"));
  EXPECT_EQ(carrier_bye_uri_after_restart("up5@10.10.0.2"), "sip:node3@10.20.0.7:5090");
}

TEST_F(InDialogUpdateTest, TheAnswerToOurReinviteRefreshesTheTargetToo) {
  auto [rb, inv] = held_by_phone("up8@10.10.0.2");
  ASSERT_TRUE(rb.m);
  std::string answer = carrier_response(rb, 200, "OK", g729_answer("recvonly"));
  const std::string old_contact = "Contact: <sip:carrier@10.20.0.2:5060>";
  ASSERT_NE(answer.find(old_contact), std::string::npos);
  answer.replace(answer.find(old_contact), old_contact.size(), "Contact: <sip:node4@10.20.0.4:5070>");
  inject("10.20.0.2", 5060, answer);
  ASSERT_TRUE(find(take(), "ACK"));
  EXPECT_EQ(carrier_bye_uri_after_restart("up8@10.10.0.2"), "sip:node4@10.20.0.4:5070");
}

TEST_F(InDialogUpdateTest, AReinviteCrossingOursGets491UntilOursIsAnswered) {
  auto [rb, inv] = held_by_phone("up9@10.10.0.2");
  ASSERT_TRUE(rb.m);
  // The carrier offers too before it answers ours (glare, RFC 3261 §14.2),
  // by re-INVITE or by UPDATE: 491, nothing modified, nothing relayed.
  const std::size_t ops = media.ops.size();
  inject("10.20.0.2", 5060, carrier_request("INVITE", inv, 2, g729_answer()));
  auto out = take();
  EXPECT_TRUE(find(out, "491"));
  EXPECT_FALSE(find(out, "INVITE"));
  inject("10.20.0.2", 5060, carrier_request("UPDATE", inv, 3, carrier_hold_offer()));
  out = take();
  EXPECT_TRUE(find(out, "491"));
  EXPECT_EQ(media.ops.size(), ops);
  // Ours answered: the carrier's next offer is taken.
  inject("10.20.0.2", 5060, carrier_response(rb, 200, "OK", g729_answer("recvonly")));
  ASSERT_TRUE(find(take(), "ACK"));
  inject("10.20.0.2", 5060, carrier_request("INVITE", inv, 4, g729_answer()));
  out = take();
  const Msg* r200 = find(out, "200");
  ASSERT_TRUE(r200);
  EXPECT_EQ(std::string(r200->m->cseq->method), "INVITE");
}

TEST_F(InDialogUpdateTest, UpdateWithAnOfferBeforeTheAnswerGets491) {
  Msg inv = place_call("up6@10.10.0.2", spa_offer());
  ASSERT_TRUE(inv.m);
  inject("10.20.0.2", 5060, carrier_response(inv, 183, "Session Progress", g729_answer()));
  take();
  inject("10.20.0.2", 5060, carrier_request("UPDATE", inv, 2, carrier_hold_offer()));
  auto out = take();
  EXPECT_TRUE(find(out, "491"));
  EXPECT_FALSE(find(out, "INVITE"));
}

TEST_F(InDialogUpdateTest, UpdateOutsideADialogGets481AndOptionsAllowsUpdate) {
  inject("10.10.0.2", 5062,
         "UPDATE sip:10.10.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.10.0.2:5062;branch=z9hG4bK-u7\r\n"
         "From: <sip:spa1@10.10.0.1>;tag=1\r\nTo: <sip:10.10.0.1>\r\nCall-ID: u7\r\nCSeq: 1 UPDATE\r\n"
         "Contact: <sip:spa1@10.10.0.2:5062>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status(), 481);
  inject("10.10.0.2", 5062,
         "OPTIONS sip:10.10.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.10.0.2:5062;branch=z9hG4bK-o7\r\n"
         "From: <sip:spa1@10.10.0.1>;tag=1\r\nTo: <sip:10.10.0.1>\r\nCall-ID: o7\r\nCSeq: 1 OPTIONS\r\n"
         "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].raw.find("\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, NOTIFY, UPDATE\r\n"), std::string::npos)
      << out[0].raw;
}

}  // namespace
