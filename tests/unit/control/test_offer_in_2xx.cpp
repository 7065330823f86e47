// SPDX-License-Identifier: GPL-3.0-or-later
// The offer in our 2xx, the answer in the ACK (RFC 3261 §13.2.1, RFC 3264):
// calls whose INVITE carries no SDP (a delayed offer: the carrier still gets
// an offer at once, the caller's 200 carries ours, its ACK the answer, and
// what goes wrong on the way ends both legs cleanly), and offerless
// re-INVITEs on an answered call, whose ACK may move a leg's media (RFC 3725
// third-party call control) or, unusable, leaves the session as it was.
// The per-row checks of the offering state: test_call_rows_offering.cpp.
#include "call_transition_fixture.hpp"

namespace msgw_test {

using codecs::CodecId;

// The m= line of an SDP body.
static std::string m_line(const std::string& body) {
  auto p = body.find("m=audio");
  return p == std::string::npos ? std::string() : body.substr(p, body.find("\r\n", p) - p);
}

TEST_F(CallTransitionTest, DelayedOfferTheCarrierIsOfferedTheCallersPolicyAtOnce) {
  const std::string cid = "do-policy@10.10.0.2";
  Msg inv = routing_delayed(cid);
  ASSERT_TRUE(inv.m);
  // The carrier's codec (G729) and what the caller's policy allows, in one offer.
  expect_body_has(&inv, "G729");
  EXPECT_EQ(gw->stats().delayed_offers, 1u);
  // The caller's 200 offers B's codec first (a relay if the caller takes
  // it), then the rest of its policy.
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
  auto out = take();
  const Msg* ok = find_to(out, "200", kPhone);
  ASSERT_TRUE(ok);
  EXPECT_EQ(m_line(ok->body()).rfind("m=audio 16", 0), 0u) << ok->body();
  EXPECT_NE(m_line(ok->body()).find("RTP/AVP 18 0 8 "), std::string::npos) << ok->body();
  expect_body_has(ok, "telephone-event");
  // G.729 toward a carrier that said annexb=no: the caller is offered the same.
  expect_body_has(ok, "annexb=no");
}

TEST_F(CallTransitionTest, DelayedOfferTranscodesWhenTheCallerAnswersAnotherCodec) {
  const std::string cid = "do-pcmu@10.10.0.2";
  Offering c = offering(cid);
  inject("10.10.0.2", 5062, phone_ack(cid, c.ok, phone_answer("0 101")));
  ASSERT_EQ(media.ops.size(), 1u);
  EXPECT_EQ(media.ops[0].a.codec, uint8_t(CodecId::Pcmu));
  EXPECT_EQ(media.ops[0].a.payload_type, 0);
  EXPECT_EQ(media.ops[0].a.remote_port, 16388);
  EXPECT_EQ(media.ops[0].b.codec, uint8_t(CodecId::G729));
  EXPECT_EQ(state_of(cid), CallState::answered);
  EXPECT_EQ(gw->stats().transcoded_calls, 1u);
  // A BYE then ends it as any answered call.
  inject("10.10.0.2", 5062, phone_request("BYE", cid, c.ok, 104));
  auto out = take();
  EXPECT_TRUE(find_to(out, "BYE", kCarrier));
  EXPECT_EQ(store->cdr(cid)->result_code, 200);
}

TEST_F(CallTransitionTest, DelayedOfferAckWithoutAnAnswerEndsBothLegs) {
  const std::string cid = "do-noanswer@10.10.0.2";
  Offering c = offering(cid);
  inject("10.10.0.2", 5062, phone_ack(cid, c.ok, ""));
  auto out = take();
  const Msg* bye = find_to(out, "BYE", kPhone);
  ASSERT_TRUE(bye);
  EXPECT_NE(bye->raw.find("Reason: SIP;cause=488"), std::string::npos) << bye->raw;
  EXPECT_TRUE(find_to(out, "BYE", kCarrier));
  EXPECT_TRUE(media.ops.empty());
  EXPECT_EQ(state_of(cid), std::nullopt);
  EXPECT_EQ(gw->stats().calls_failed, 1u);
  EXPECT_EQ(gw->stats().failures_by_cause[size_t(control::CallError::ack_answer_unusable)], 1u);
  EXPECT_NE(store->cdr(cid)->end_reason.find("ack_answer_unusable"), std::string::npos);
}

TEST_F(CallTransitionTest, DelayedOfferAnswerWithACodecNotOfferedEndsBothLegs) {
  const std::string cid = "do-g723@10.10.0.2";
  Offering c = offering(cid);
  inject("10.10.0.2", 5062,
         phone_ack(cid, c.ok, sdp_offer("10.10.0.2", 16388, "4", {"rtpmap:4 G723/8000"})));
  auto out = take();
  EXPECT_TRUE(find_to(out, "BYE", kPhone));
  EXPECT_TRUE(find_to(out, "BYE", kCarrier));
  EXPECT_EQ(state_of(cid), std::nullopt);
  EXPECT_TRUE(media.ops.empty());
}

TEST_F(CallTransitionTest, DelayedOfferCallerHearsNoEarlyMediaAndTheAnswerMayComeEarly) {
  // The carrier answers in its 183 (SDP) and sends its 200 without SDP:
  // the caller's 183 carries no SDP (it would be an offer in an unreliable
  // provisional), the 200 carries our offer built on the 183's answer.
  const std::string cid = "do-early@10.10.0.2";
  Msg inv = routing_delayed(cid);
  inject("10.20.0.2", 5060, carrier_response(inv, 183, "Session Progress", g729_answer()));
  auto out = take();
  const Msg* p = find_to(out, "183", kPhone);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->body().empty()) << p->body();
  EXPECT_TRUE(media.ops.empty());
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", ""));
  out = take();
  EXPECT_TRUE(find_to(out, "ACK", kCarrier));
  const Msg* ok = find_to(out, "200", kPhone);
  ASSERT_TRUE(ok);
  EXPECT_NE(m_line(ok->body()).find("RTP/AVP 18 "), std::string::npos) << ok->body();
  Msg okc = copy(ok);
  inject("10.10.0.2", 5062, phone_ack(cid, okc, phone_answer()));
  ASSERT_EQ(media.ops.size(), 1u);
  EXPECT_EQ(media.ops[0].b.remote_port, 6000);
  EXPECT_EQ(state_of(cid), CallState::answered);
  EXPECT_EQ(gw->stats().relayed_calls, 1u);
}

// SIP-I / SIP-T carriers (RFC 3204) send the SDP beside the ISUP in a
// multipart/mixed body (RFC 5621): the answer is the SDP part, whichever
// part comes first.
TEST_F(CallTransitionTest, CarrierAnswerInAMultipartBodyIsItsSdpPart) {
  const std::string cid = "mp-answer@10.10.0.2";
  Msg inv = routing(cid);
  ASSERT_TRUE(inv.m);
  const std::string isup = "\x06\x00\x01\x09\x01\x00";
  const std::string body = "--b1\r\nContent-Type: application/ISUP;version=itu-t92+\r\n\r\n" + isup +
                           "\r\n--b1\r\nContent-Type: application/sdp\r\n\r\n" + g729_answer() + "\r\n--b1--\r\n";
  std::string ok = carrier_response(inv, 200, "OK", body);
  ok.replace(ok.find("Content-Type: application/sdp"), 29, "Content-Type: multipart/mixed;boundary=b1");
  inject("10.20.0.2", 5060, ok);
  auto out = take();
  EXPECT_TRUE(find_to(out, "ACK", kCarrier));
  const Msg* to_phone = find_to(out, "200", kPhone);
  ASSERT_TRUE(to_phone);
  EXPECT_NE(m_line(to_phone->body()).find("RTP/AVP 18"), std::string::npos) << to_phone->body();
  ASSERT_EQ(media.ops.size(), 1u);
  EXPECT_EQ(media.ops[0].b.remote_port, 6000);
  EXPECT_EQ(state_of(cid), CallState::answered);
}

// An INVITE whose only body is not SDP (ISUP alone) makes no offer: a
// delayed offer, not a 488.
TEST_F(CallTransitionTest, InviteWithoutAnSdpPartIsADelayedOffer) {
  const std::string cid = "mp-isup@10.10.0.2";
  inject("10.10.0.2", 5062, invite(cid, "", ""));
  Msg c = copy(find(take(), "407"));
  const std::string isup("\x06\x00\x01", 3);
  std::string second =
      invite(cid, answer_challenge(c, "INVITE", "sip:1-800-555-1212@10.10.0.1"), isup, "1-800-555-1212", 103);
  second.replace(second.find("Content-Type: application/sdp"), 29, "Content-Type: application/ISUP;version=itu-t92+");
  inject("10.10.0.2", 5062, second);
  auto out = take();
  EXPECT_TRUE(find_to(out, "INVITE", kCarrier));
  EXPECT_EQ(gw->stats().delayed_offers, 1u);
  EXPECT_EQ(state_of(cid), CallState::routing);
}

TEST_F(CallTransitionTest, OfferlessReInviteFromTheCarrierItsAckMovesTheCarriersMedia) {
  const std::string cid = "oi-carrier@10.10.0.2";
  auto r = answered_call(cid, spa_offer());
  ASSERT_TRUE(r.first.m);
  const std::size_t ops = media.ops.size();
  inject("10.20.0.2", 5060, carrier_request("INVITE", r.first, 2));
  auto out = take();
  const Msg* ok = find_to(out, "200", kCarrier);
  ASSERT_TRUE(ok);
  EXPECT_NE(m_line(ok->body()).find("RTP/AVP 18"), std::string::npos) << ok->body();
  EXPECT_EQ(count(out, "INVITE"), 0);  // nothing for the phone to hear about
  inject("10.20.0.2", 5060, carrier_request("ACK", r.first, 2,
                                            sdp_offer("10.20.0.9", 7000, "18", {"rtpmap:18 G729/8000"})));
  ASSERT_EQ(media.ops.size(), ops + 1);
  EXPECT_EQ(media.ops.back().what, "modify");
  EXPECT_EQ(media.ops.back().b.remote_ip, *config::parse_ipv4("10.20.0.9"));
  EXPECT_EQ(media.ops.back().b.remote_port, 7000);
  EXPECT_EQ(media.ops.back().b.codec, uint8_t(CodecId::G729));
  EXPECT_EQ(state_of(cid), CallState::answered);
}

TEST_F(CallTransitionTest, OfferlessReInviteAckWithoutAnAnswerKeepsTheSession) {
  const std::string cid = "oi-noanswer@10.10.0.2";
  auto r = answered_call(cid, spa_offer());
  ASSERT_TRUE(r.second.m);
  const std::size_t ops = media.ops.size();
  inject("10.10.0.2", 5062, phone_request("INVITE", cid, r.second, 104));
  take();
  inject("10.10.0.2", 5062, phone_request("ACK", cid, r.second, 104));
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(media.ops.size(), ops);
  EXPECT_EQ(state_of(cid), CallState::answered);
  EXPECT_EQ(gw->stats().ack_answers_unusable, 1u);
  // A later offerless re-INVITE's answer is taken as ever.
  inject("10.10.0.2", 5062, phone_request("INVITE", cid, r.second, 105));
  take();
  inject("10.10.0.2", 5062, phone_request("ACK", cid, r.second, 105,
                                          sdp_offer("10.10.0.2", 16600, "18", {"rtpmap:18 G729a/8000"})));
  ASSERT_EQ(media.ops.size(), ops + 1);
  EXPECT_EQ(media.ops.back().a.remote_port, 16600);
}

TEST_F(CallTransitionTest, OfferlessReInviteAnsweredWithHoldInTheAckIsPassedOn) {
  // A carrier that holds by an offerless re-INVITE answers our 2xx's offer
  // sendonly in its ACK: the phone is told in a re-INVITE of ours; the
  // resume (sendrecv in a later ACK) is passed on too, and an unchanged
  // answer (a refresh) sends nothing.
  const std::string cid = "oi-hold@10.10.0.2";
  auto r = answered_call(cid, spa_offer());
  ASSERT_TRUE(r.first.m);
  auto reinvite_then_ack = [&](int cseq, const std::string& dir) {
    inject("10.20.0.2", 5060, carrier_request("INVITE", r.first, cseq));
    EXPECT_TRUE(find_to(take(), "200", kCarrier));
    inject("10.20.0.2", 5060, carrier_request("ACK", r.first, cseq,
                                              sdp_offer("10.20.0.2", 6000, "18", {"rtpmap:18 G729/8000"}, dir)));
    return take();
  };
  auto out = reinvite_then_ack(2, "sendonly");
  const Msg* hold = find_to(out, "INVITE", kPhone);
  ASSERT_TRUE(hold);
  expect_body_has(hold, "a=sendonly");
  Msg held = copy(hold);
  inject("10.10.0.2", 5062, carrier_response(held, 200, "OK", phone_answer()));
  EXPECT_TRUE(find_to(take(), "ACK", kPhone));
  out = reinvite_then_ack(3, "sendonly");  // still on hold: nothing new for the phone
  EXPECT_EQ(count(out, "INVITE"), 0);
  out = reinvite_then_ack(4, "sendrecv");
  const Msg* resume = find_to(out, "INVITE", kPhone);
  ASSERT_TRUE(resume);
  expect_body_has(resume, "a=sendrecv");
  EXPECT_EQ(state_of(cid), CallState::answered);
}

}  // namespace msgw_test
