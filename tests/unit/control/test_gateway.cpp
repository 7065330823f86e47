// SPDX-License-Identifier: GPL-3.0-or-later
// The B2BUA driven end to end without sockets (gateway_fixture.hpp).
#include "gateway_fixture.hpp"

using namespace msgw;
using namespace msgw_test;
using control::Gateway;

namespace {

using GatewayTest = GatewayFixture<::testing::Test>;

TEST_F(GatewayTest, OptionsAnswered200) {
  inject("10.10.0.2", 5062,
         "OPTIONS sip:10.10.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.10.0.2:5062;branch=z9hG4bK-o1\r\n"
         "From: <sip:spa1@10.10.0.1>;tag=1\r\nTo: <sip:10.10.0.1>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\n"
         "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status(), 200);
  EXPECT_NE(out[0].raw.find("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO"), std::string::npos) << out[0].raw;
}

TEST_F(GatewayTest, RegisterChallengedThenBoundAndShown) {
  auto reg = [](const std::string& auth, int cseq) {
    std::string s = "REGISTER sip:10.10.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.10.0.2:5062;branch=z9hG4bK-r" +
                    std::to_string(cseq) + "\r\nFrom: <sip:spa1@10.10.0.1>;tag=r1\r\nTo: <sip:spa1@10.10.0.1>\r\n"
                    "Call-ID: reg1\r\nCSeq: " + std::to_string(cseq) + " REGISTER\r\nMax-Forwards: 70\r\n"
                    "Contact: <sip:spa1@10.10.0.2:5062>\r\nExpires: 3600\r\n";
    if (!auth.empty()) s += "Authorization: " + auth + "\r\n";
    return s + "Content-Length: 0\r\n\r\n";
  };
  inject("10.10.0.2", 5062, reg("", 1));
  auto out = take();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].status(), 401);
  inject("10.10.0.2", 5062, reg(answer_challenge(out[0], "REGISTER", "sip:10.10.0.1"), 2));
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status(), 200);
  auto j = manage(*gw, {{"cmd", "show"}, {"what", "registrations"}});
  ASSERT_TRUE(j["ok"].get<bool>());
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0]["aor"], "sip:spa1@10.10.0.1");
  EXPECT_EQ(j["data"][0]["source"], "udp:10.10.0.2:5062");
}

TEST_F(GatewayTest, ReferenceCallRelayedG729EndToEndWithCdr) {
  Msg inv = place_call("ref1@10.10.0.2", spa_offer());
  // The trunk gets the gateway's own SDP: G.729 only (the trunk's policy),
  // the trunk port's address, a port from the media range, telephone-event.
  EXPECT_EQ(inv.dst.str(), "10.20.0.2:5060");
  EXPECT_EQ(sip::header_value(inv.m.get(), "Max-Forwards"), "69");
  std::string b = inv.body();
  EXPECT_NE(b.find("c=IN IP4 10.20.0.1"), std::string::npos) << b;
  EXPECT_NE(b.find("RTP/AVP 18 101"), std::string::npos) << b;
  EXPECT_EQ(b.find("PCMU"), std::string::npos) << b;
  EXPECT_EQ(std::string(inv.m->req_uri->username), "18005551212");  // normalised

  inject("10.20.0.2", 5060, carrier_response(inv, 180, "Ringing", ""));
  auto out = take();
  ASSERT_TRUE(find(out, "180"));
  EXPECT_TRUE(media.ops.empty());

  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
  out = take();
  ASSERT_TRUE(find(out, "ACK"));
  EXPECT_EQ(find(out, "ACK")->dst.str(), "10.20.0.2:5060");
  const Msg* ok = find(out, "200");
  ASSERT_TRUE(ok);
  EXPECT_NE(ok->body().find("c=IN IP4 10.10.0.1"), std::string::npos) << ok->body();
  EXPECT_NE(ok->body().find("m=audio"), std::string::npos);
  EXPECT_NE(ok->body().find(" 18 101"), std::string::npos) << ok->body();  // G.729 on the phone too: relay
  // The flow was programmed before the phone heard 200.
  ASSERT_EQ(media.ops.size(), 1u);
  const auto& op = media.ops[0];
  EXPECT_EQ(op.what, "add");
  EXPECT_EQ(op.a.port, 0);
  EXPECT_EQ(op.a.local_ip, 0x0a0a0001u);
  EXPECT_EQ(op.a.remote_ip, 0x0a0a0002u);
  EXPECT_EQ(op.a.remote_port, 16388);
  EXPECT_EQ(op.a.codec, uint8_t(dataplane::CodecId::G729));
  EXPECT_EQ(op.a.payload_type, 18);
  EXPECT_EQ(op.a.dtmf_pt, 101);
  EXPECT_EQ(op.a.ptime_ms, 30);  // the SPA asked for 30 ms
  EXPECT_EQ(op.a.flags & dataplane::kLegLatch, dataplane::kLegLatch);
  EXPECT_EQ(op.b.port, 1);
  EXPECT_EQ(op.b.local_ip, 0x0a140001u);
  EXPECT_EQ(op.b.remote_ip, 0x0a140002u);
  EXPECT_EQ(op.b.remote_port, 6000);
  EXPECT_EQ(op.b.codec, uint8_t(dataplane::CodecId::G729));
  EXPECT_EQ(op.a.local_port % 2, 0);
  EXPECT_EQ(op.b.local_port % 2, 0);
  auto calls = manage(*gw, {{"cmd", "show"}, {"what", "calls"}});
  ASSERT_EQ(calls["data"].size(), 1u);
  // One codec, but the SPA asked for 30 ms and the carrier states no ptime
  // (20 ms): the dataplane re-frames, so the call is reported as transcoded.
  EXPECT_EQ(calls["data"][0]["media"], "transcode");
  EXPECT_EQ(store->live().size(), 1u);

  Msg okm{sip::parse_message(ok->raw, false, sip::Limits{}).msg, ok->raw, ok->dst};
  inject("10.10.0.2", 5062, phone_request("ACK", "ref1@10.10.0.2", okm, 103));
  inject("10.10.0.2", 5062, phone_request("BYE", "ref1@10.10.0.2", okm, 104));
  out = take();
  ASSERT_TRUE(find(out, "200"));
  const Msg* bye = find(out, "BYE");
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->dst.str(), "10.20.0.2:5060");
  EXPECT_EQ(media.ops.back().what, "del");
  EXPECT_EQ(gw->active_calls(), 0u);
  auto cdr = store->cdr("ref1@10.10.0.2");
  ASSERT_TRUE(cdr);
  EXPECT_EQ(cdr->result_code, 200);
  EXPECT_EQ(cdr->trunk, "carrier");
  EXPECT_EQ(cdr->direction, "outbound");
  EXPECT_EQ(cdr->end_reason, "caller BYE");
  EXPECT_EQ(cdr->a_codec, "G729");
  EXPECT_EQ(cdr->b_codec, "G729");
  EXPECT_GT(cdr->answer_ms, 0);
  EXPECT_EQ(cdr->a.packets, 500u);
  EXPECT_EQ(cdr->b.lost, 2u);
  EXPECT_DOUBLE_EQ(cdr->a.jitter_ms, 2.0);
  EXPECT_TRUE(store->live().empty());
}

TEST_F(GatewayTest, PhoneWithoutG729IsTranscodedPcmuToG729) {
  auto [inv, ok] = answered_call("tc1@10.10.0.2", spa_offer(false));
  ASSERT_EQ(media.ops.size(), 1u);
  EXPECT_EQ(media.ops[0].a.codec, uint8_t(dataplane::CodecId::Pcmu));  // subscriber's first choice
  EXPECT_EQ(media.ops[0].a.payload_type, 0);
  EXPECT_EQ(media.ops[0].b.codec, uint8_t(dataplane::CodecId::G729));
  EXPECT_NE(ok.body().find("m=audio 16"), std::string::npos);
  EXPECT_NE(ok.body().find("RTP/AVP 0 101"), std::string::npos) << ok.body();
  EXPECT_EQ(gw->stats().transcoded_calls, 1u);
}

TEST_F(GatewayTest, WrongPasswordNeverRoutedAnd403AfterRepeats) {
  std::vector<int> codes;
  for (int i = 0; i < 5; ++i) {
    std::string cid = "bad" + std::to_string(i);
    inject("10.10.0.2", 5062, invite(cid, "", spa_offer()));
    auto out = take();
    const Msg* c = find(out, "407");
    if (!c) {
      codes.push_back(find(out, "403") ? 403 : 0);
      continue;
    }
    inject("10.10.0.2", 5062,
           invite(cid, answer_challenge(*c, "INVITE", "sip:1-800-555-1212@10.10.0.1", "wrong"), spa_offer(),
                  "1-800-555-1212", 103));
    out = take();
    EXPECT_FALSE(find(out, "INVITE"));
    for (auto& m : out)
      if (m.method().empty() && m.status() >= 400) codes.push_back(m.status());
  }
  EXPECT_EQ(codes, (std::vector<int>{407, 407, 403, 403, 403}));
  EXPECT_EQ(gw->stats().calls_attempted, 0u);
  EXPECT_TRUE(media.ops.empty());
  EXPECT_GE(gw->stats().auth_blocked_403, 3u);
}

TEST_F(GatewayTest, OperatorHangupBeforeAnswerCancelsTheTrunk) {
  Msg inv = place_call("can1@10.10.0.2", spa_offer());
  inject("10.20.0.2", 5060, carrier_response(inv, 180, "Ringing", ""));
  take();
  ASSERT_EQ(gw->active_calls(), 1u);
  EXPECT_TRUE(gw->hangup("can1@10.10.0.2"));
  auto out = take();
  EXPECT_TRUE(find(out, "CANCEL"));
  EXPECT_TRUE(find(out, "480"));
  auto cdr = store->cdr("can1@10.10.0.2");
  ASSERT_TRUE(cdr);
  EXPECT_EQ(cdr->answer_ms, 0);
  EXPECT_EQ(cdr->result_code, 480);
}

TEST_F(GatewayTest, PhoneCancelGets487AndTrunkCancelled) {
  inject("10.10.0.2", 5062, invite("can2@10.10.0.2", "", spa_offer()));
  auto out = take();
  std::string auth = answer_challenge(*find(out, "407"), "INVITE", "sip:1-800-555-1212@10.10.0.1");
  std::string inv = invite("can2@10.10.0.2", auth, spa_offer(), "1-800-555-1212", 103);
  inject("10.10.0.2", 5062, inv);
  out = take();
  const Msg* binv = find(out, "INVITE");
  ASSERT_TRUE(binv);
  Msg b{sip::parse_message(binv->raw, false, sip::Limits{}).msg, binv->raw, binv->dst};
  inject("10.20.0.2", 5060, carrier_response(b, 180, "Ringing", ""));
  take();
  // CANCEL: same Via branch, CSeq number, Call-ID, From, To as the INVITE.
  auto p = inv.find("Via: ");
  std::string via = inv.substr(p, inv.find("\r\n", p) - p);
  std::string cancel = "CANCEL sip:1-800-555-1212@10.10.0.1 SIP/2.0\r\n" + via +
                       "\r\nFrom: Good Body <sip:spa1@10.10.0.1>;tag=fc33ce88945ddadao0\r\n"
                       "To: <sip:1-800-555-1212@10.10.0.1>\r\nCall-ID: can2@10.10.0.2\r\nCSeq: 103 CANCEL\r\n"
                       "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  inject("10.10.0.2", 5062, cancel);
  out = take();
  EXPECT_TRUE(find(out, "487"));
  EXPECT_TRUE(find(out, "CANCEL"));
  EXPECT_EQ(gw->active_calls(), 0u);
  auto cdr = store->cdr("can2@10.10.0.2");
  ASSERT_TRUE(cdr);
  EXPECT_EQ(cdr->result_code, 487);
  EXPECT_EQ(cdr->end_reason, "CANCEL");
}

TEST_F(GatewayTest, ByeFromCarrierEndsBothLegs) {
  auto [inv, ok] = answered_call("cb1@10.10.0.2", spa_offer());
  take();
  inject("10.20.0.2", 5060, carrier_request("BYE", inv, 1));
  auto out = take();
  EXPECT_TRUE(find(out, "200"));
  const Msg* bye = find(out, "BYE");
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->dst.str(), "10.10.0.2:5062");
  EXPECT_EQ(sip::to_tag(bye->m.get()), "fc33ce88945ddadao0");
  EXPECT_EQ(store->cdr("cb1@10.10.0.2")->end_reason, "callee BYE");
}

TEST_F(GatewayTest, FailoverTo2ndTrunkOn503) {
  Msg inv = place_call("fo1@10.10.0.2", spa_offer());
  inject("10.20.0.2", 5060, carrier_response(inv, 503, "Service Unavailable", ""));
  auto out = take();
  const Msg* inv2 = find(out, "INVITE");
  ASSERT_TRUE(inv2);
  EXPECT_EQ(inv2->dst.str(), "10.20.0.3:5060");
  EXPECT_FALSE(find(out, "503"));  // the phone hears nothing of the first trunk's failure
  EXPECT_EQ(gw->stats().failovers, 1u);
}

TEST_F(GatewayTest, FailoverOnTrunkTimeout) {
  auto t0 = Gateway::Clock::now();
  gw->now = [&] { return t0; };
  Msg inv = place_call("fo2@10.10.0.2", spa_offer());
  gw->now = [&] { return t0 + std::chrono::milliseconds(2100); };
  gw->tick();
  auto out = take();
  const Msg* inv2 = find(out, "INVITE");
  ASSERT_TRUE(inv2);
  EXPECT_EQ(inv2->dst.str(), "10.20.0.3:5060");
}

TEST_F(GatewayTest, AllTrunksFailMapsTheError) {
  Msg inv = place_call("fo3@10.10.0.2", spa_offer());
  inject("10.20.0.2", 5060, carrier_response(inv, 486, "Busy Here", ""));
  auto out = take();
  EXPECT_TRUE(find(out, "486"));
  EXPECT_FALSE(find(out, "INVITE"));  // 486 is the callee's answer: no failover
  EXPECT_EQ(store->cdr("fo3@10.10.0.2")->result_code, 486);
}

TEST_F(GatewayTest, UnroutableNumberGets404AndNoTrunkInvite) {
  inject("10.10.0.2", 5062, invite("nr1", "", spa_offer(), "2125551212"));
  auto out = take();
  std::string auth = answer_challenge(*find(out, "407"), "INVITE", "sip:2125551212@10.10.0.1");
  inject("10.10.0.2", 5062, invite("nr1", auth, spa_offer(), "2125551212", 103));
  out = take();
  EXPECT_TRUE(find(out, "404"));
  EXPECT_FALSE(find(out, "INVITE"));
}

TEST_F(GatewayTest, MediaTimeoutByeBothLegsWithReason) {
  auto [inv, ok] = answered_call("mt1@10.10.0.2", spa_offer());
  take();
  media.events.push_back({.kind = control::MediaEvent::Kind::media_timeout, .flow_id = media.ops[0].flow});
  gw->tick();
  auto out = take();
  int byes = 0;
  for (auto& m : out)
    if (m.method() == "BYE") {
      ++byes;
      EXPECT_NE(m.raw.find("Reason: SIP;cause=408"), std::string::npos) << m.raw;
    }
  EXPECT_EQ(byes, 2);
  EXPECT_EQ(store->cdr("mt1@10.10.0.2")->end_reason, "media timeout");
}

TEST_F(GatewayTest, DataplaneRestartReprogramsLiveFlows) {
  answered_call("dr1@10.10.0.2", spa_offer());
  ASSERT_EQ(media.flows.size(), 1u);
  media.restart = true;
  gw->tick();
  EXPECT_EQ(media.flows.size(), 1u);
  EXPECT_EQ(media.ops.back().what, "add");
  gw->tick();  // the add's ack
  EXPECT_EQ(gw->stats().flows_reprogrammed, 1u);
}

TEST_F(GatewayTest, HoldAndResumeFromPhone) {
  auto [inv, ok] = answered_call("hd1@10.10.0.2", spa_offer());
  take();
  std::string hold = sdp_offer("10.10.0.2", 16400, "18 101",
                               {"rtpmap:18 G729a/8000", "rtpmap:101 telephone-event/8000"}, "sendonly");
  inject("10.10.0.2", 5062, phone_request("INVITE", "hd1@10.10.0.2", ok, 104, hold));
  auto out = take();
  const Msg* r200 = find(out, "200");
  ASSERT_TRUE(r200);
  EXPECT_NE(r200->body().find("a=recvonly"), std::string::npos) << r200->body();
  const Msg* reinv = find(out, "INVITE");
  ASSERT_TRUE(reinv);
  EXPECT_EQ(reinv->dst.str(), "10.20.0.2:5060");
  EXPECT_NE(reinv->body().find("a=sendonly"), std::string::npos) << reinv->body();
  // The new phone port went to the dataplane.
  EXPECT_EQ(media.ops.back().what, "modify");
  EXPECT_EQ(media.ops.back().a.remote_port, 16400);
  // The carrier answers the hold re-INVITE: ACKed.
  Msg rb{sip::parse_message(reinv->raw, false, sip::Limits{}).msg, reinv->raw, reinv->dst};
  inject("10.20.0.2", 5060, carrier_response(rb, 200, "OK", g729_answer("recvonly")));
  out = take();
  EXPECT_TRUE(find(out, "ACK"));
  // Resume.
  std::string resume = sdp_offer("10.10.0.2", 16400, "18 101",
                                 {"rtpmap:18 G729a/8000", "rtpmap:101 telephone-event/8000"}, "sendrecv");
  inject("10.10.0.2", 5062, phone_request("INVITE", "hd1@10.10.0.2", ok, 105, resume));
  out = take();
  ASSERT_TRUE(find(out, "200"));
  EXPECT_NE(find(out, "200")->body().find("a=sendrecv"), std::string::npos);
  ASSERT_TRUE(find(out, "INVITE"));
  EXPECT_NE(find(out, "INVITE")->body().find("a=sendrecv"), std::string::npos);
}

TEST_F(GatewayTest, InboundToDid480WhenNotRegisteredElseToContact) {
  auto inbound = [](const std::string& cid) {
    std::string sdp = sdp_offer("10.20.0.2", 7000, "18 101", {"rtpmap:18 G729/8000",
                                                              "rtpmap:101 telephone-event/8000"});
    return "INVITE sip:+1-555-000-1000@10.20.0.1 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 10.20.0.2:5060;branch=z9hG4bK-" + sip::random_token(8) + "\r\n"
           "From: <sip:2125551212@10.20.0.2>;tag=c1\r\nTo: <sip:15550001000@10.20.0.1>\r\n"
           "Call-ID: " + cid + "\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:2125551212@10.20.0.2:5060>\r\nContent-Type: application/sdp\r\n"
           "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
  };
  inject("10.20.0.2", 5060, inbound("in1"));
  auto out = take();
  EXPECT_TRUE(find(out, "480"));
  EXPECT_FALSE(find(out, "407"));  // trunks are trusted by address
  // Register spa1 (straight into the registrar: the digest part is tested above).
  register_spa1();
  inject("10.20.0.2", 5060, inbound("in2"));
  out = take();
  const Msg* inv = find(out, "INVITE");
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->dst.str(), "10.10.0.2:5062");
  EXPECT_NE(inv->raw.find("INVITE sip:spa1@10.10.0.2:5062"), std::string::npos);
  // Offered to the phone: its own codecs, the shared G.729 first so the call can be relayed.
  EXPECT_NE(inv->body().find("c=IN IP4 10.10.0.1"), std::string::npos);
  EXPECT_NE(inv->body().find("RTP/AVP 18 0 8"), std::string::npos) << inv->body();
}

TEST_F(GatewayTest, ReloadRefusesABadFileAndKeepsTheOldConfig) {
  std::string path = cfg.file;
  {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("[sip]\nrealm = 5\n", f);
    std::fclose(f);
  }
  auto j = manage(*gw, {{"cmd", "reload"}});
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_NE(j["error"].get<std::string>().find("old configuration kept"), std::string::npos) << j.dump();
  EXPECT_NE(j["error"].get<std::string>().find("sip.realm"), std::string::npos) << j.dump();
  EXPECT_EQ(gw->config().subscribers.size(), 1u);
  // Calls still work on the old configuration.
  place_call("rl1@10.10.0.2", spa_offer());
}

TEST_F(GatewayTest, KilledControlPlaneRestoresTheCallAndEndsItWithByeOnBothLegs) {
  auto [inv, ok] = answered_call("kr1@10.10.0.2", spa_offer());
  take();
  uint32_t flow = media.ops[0].flow;
  restart();  // a new Gateway and stack on the same state database (kill -9 + start)
  seen = 0;
  auto calls = manage(*gw, {{"cmd", "show"}, {"what", "calls"}});
  ASSERT_EQ(calls["data"].size(), 1u);
  EXPECT_TRUE(calls["data"][0]["restored"].get<bool>());
  auto j = manage(*gw, {{"cmd", "hangup"}, {"call", "kr1@10.10.0.2"}});
  EXPECT_TRUE(j["ok"].get<bool>()) << j.dump();
  auto out = take();
  std::vector<std::string> dsts;
  for (auto& m : out)
    if (m.method() == "BYE") {
      dsts.push_back(m.dst.str());
      if (m.dst.str() == "10.10.0.2:5062") {
        EXPECT_EQ(sip::to_tag(m.m.get()), "fc33ce88945ddadao0");
        EXPECT_EQ(sip::from_tag(m.m.get()), sip::to_tag(ok.m.get()));
      } else {
        EXPECT_EQ(sip::to_tag(m.m.get()), "as103549cc");
      }
    }
  std::sort(dsts.begin(), dsts.end());
  EXPECT_EQ(dsts, (std::vector<std::string>{"10.10.0.2:5062", "10.20.0.2:5060"}));
  EXPECT_EQ(media.ops.back().what, "del");
  EXPECT_EQ(media.ops.back().flow, flow);
  EXPECT_EQ(store->cdr("kr1@10.10.0.2")->end_reason, "hangup by operator");
}

// The live state is JSON text written by hand (call_json.cpp): a Call-ID may
// hold the characters JSON escapes (RFC 3261 word: '"' and '\\' among them).
TEST_F(GatewayTest, RestoredCallKeepsACallIdWithCharactersJsonEscapes) {
  const std::string id = "q\"uo\\te{}[]@10.10.0.2";
  auto [inv, ok] = answered_call(id, spa_offer());
  take();
  restart();
  auto calls = manage(*gw, {{"cmd", "show"}, {"what", "calls"}});
  ASSERT_EQ(calls["data"].size(), 1u) << calls.dump();
  EXPECT_EQ(calls["data"][0]["call"].get<std::string>(), id);
  EXPECT_TRUE(calls["data"][0]["restored"].get<bool>());
  EXPECT_TRUE(manage(*gw, {{"cmd", "hangup"}, {"call", id}})["ok"].get<bool>());
  EXPECT_EQ(store->cdr(id)->end_reason, "hangup by operator");
}

TEST_F(GatewayTest, RestoredCallIsEndedByEitherPartysBye) {
  {
    auto [inv, ok] = answered_call("rb1@10.10.0.2", spa_offer());
    take();
    uint32_t flow = media.ops[0].flow;
    restart();  // the new stack holds no dialog for the call
    seen = 0;
    inject("10.20.0.2", 5060, carrier_request("BYE", inv, 7));
    auto out = take();
    const Msg* r200 = find(out, "200");
    ASSERT_TRUE(r200) << (out.empty() ? std::string("nothing sent") : out[0].raw);
    EXPECT_EQ(r200->dst.str(), "10.20.0.2:5060");
    std::vector<std::string> byes;
    for (auto& m : out)
      if (m.method() == "BYE") byes.push_back(m.dst.str());
    EXPECT_EQ(byes, std::vector<std::string>{"10.10.0.2:5062"});  // none back to the carrier
    EXPECT_EQ(gw->active_calls(), 0u);
    EXPECT_EQ(media.ops.back().what, "del");
    EXPECT_EQ(media.ops.back().flow, flow);
    EXPECT_EQ(store->cdr("rb1@10.10.0.2")->end_reason, "callee BYE");
  }
  {
    auto [inv, ok] = answered_call("rb2@10.10.0.2", spa_offer());
    take();
    restart();
    seen = 0;
    // A BYE with the right Call-ID but a foreign tag is still no dialog.
    std::string forged = phone_request("BYE", "rb2@10.10.0.2", ok, 110);
    auto at = forged.find(sip::to_tag(ok.m.get()));
    ASSERT_NE(at, std::string::npos);
    forged.replace(at, 3, "zzz");
    inject("10.10.0.2", 5062, forged);
    auto out = take();
    ASSERT_TRUE(find(out, "481"));
    EXPECT_EQ(gw->active_calls(), 1u);
    inject("10.10.0.2", 5062, phone_request("BYE", "rb2@10.10.0.2", ok, 111));
    out = take();
    ASSERT_TRUE(find(out, "200"));
    const Msg* bye = find(out, "BYE");
    ASSERT_TRUE(bye);
    EXPECT_EQ(bye->dst.str(), "10.20.0.2:5060");
    EXPECT_EQ(gw->active_calls(), 0u);
    EXPECT_EQ(store->cdr("rb2@10.10.0.2")->end_reason, "caller BYE");
  }
}

// The add is posted, not awaited: the ACK and the phone's 200 wait for its
// ack (connecting); one that never comes fails the call like a refusal.
TEST_F(GatewayTest, UnacknowledgedFlowAddFailsTheCallLikeARefusal) {
  Msg inv = place_call("dt1@10.10.0.2", spa_offer());
  media.hold_acks = true;
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
  auto out = take();
  EXPECT_FALSE(find(out, "ACK"));
  EXPECT_FALSE(find(out, "200"));
  EXPECT_EQ(gw->next_timeout_ms(), 1) << "the loop polls soon while an add waits";
  ASSERT_EQ(media.acks.size(), 1u);
  control::MediaEvent timeout = media.acks.front();
  media.acks.clear();
  timeout.kind = control::MediaEvent::Kind::flow_add_failed;
  timeout.detail = "dataplane did not acknowledge within 500 ms";
  media.events.push_back(timeout);
  gw->tick();
  out = take();
  EXPECT_TRUE(find(out, "ACK"));
  const Msg* bye = find(out, "BYE");
  ASSERT_TRUE(bye);
  EXPECT_NE(bye->raw.find("Reason: SIP;cause=488"), std::string::npos) << bye->raw;
  EXPECT_TRUE(find(out, "503"));
  EXPECT_EQ(gw->active_calls(), 0u);
  EXPECT_EQ(gw->stats().media_errors, 1u);
  EXPECT_EQ(gw->stats().calls_failed, 1u);
  EXPECT_EQ(store->cdr("dt1@10.10.0.2")->end_reason, "dataplane did not acknowledge within 500 ms");
  EXPECT_EQ(store->cdr("dt1@10.10.0.2")->result_code, 503);
}

// A ring that cannot take the add: refused at once, as before.
TEST_F(GatewayTest, FlowAddThatCannotBeQueuedFailsTheCallAtOnce) {
  Msg inv = place_call("dq1@10.10.0.2", spa_offer());
  media.refuse_queue = true;
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
  auto out = take();
  EXPECT_TRUE(find(out, "ACK"));
  EXPECT_TRUE(find(out, "BYE"));
  EXPECT_TRUE(find(out, "503"));
  EXPECT_EQ(gw->active_calls(), 0u);
  EXPECT_EQ(gw->stats().media_errors, 1u);
}

TEST_F(GatewayTest, DataplaneRefusalFailsTheCallCleanly) {
  media.fail = true;
  Msg inv = place_call("df1@10.10.0.2", spa_offer());
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
  auto out = take();
  EXPECT_TRUE(find(out, "ACK"));
  EXPECT_TRUE(find(out, "BYE"));  // the answered trunk leg is released
  EXPECT_TRUE(find(out, "503"));
  EXPECT_EQ(gw->active_calls(), 0u);
  // As when the add was awaited: counted once, the CDR says why.
  EXPECT_EQ(gw->stats().media_errors, 1u);
  EXPECT_EQ(gw->stats().calls_failed, 1u);
  EXPECT_EQ(gw->stats().calls_answered, 0u);
  auto cdr = store->cdr("df1@10.10.0.2");
  ASSERT_TRUE(cdr);
  EXPECT_EQ(cdr->result_code, 503);
  EXPECT_EQ(cdr->end_reason, "dataplane refused: table_full");
}

}  // namespace

namespace {

TEST_F(GatewayTest, MaxForwardsExhaustedGets483AndIsNotRouted) {
  std::string inv = invite("mf1", "", spa_offer());
  inv.replace(inv.find("Max-Forwards: 70"), 16, "Max-Forwards: 1");
  inject("10.10.0.2", 5062, inv);
  auto out = take();
  EXPECT_TRUE(find(out, "483"));
  EXPECT_FALSE(find(out, "407"));
  EXPECT_FALSE(find(out, "INVITE"));
  EXPECT_EQ(gw->stats().loops_refused, 1u);
}

TEST_F(GatewayTest, LatchedAndDtmfEventsCountedForTheirCall) {
  answered_call("ev1@10.10.0.2", spa_offer());
  uint32_t flow = media.ops[0].flow;
  media.events.push_back({.kind = control::MediaEvent::Kind::latched, .flow_id = flow, .ip = 0x0a0a0002u, .port = 16388});
  media.events.push_back({.kind = control::MediaEvent::Kind::dtmf, .flow_id = flow, .dtmf = 5});
  media.events.push_back({.kind = control::MediaEvent::Kind::dtmf, .flow_id = flow + 100, .dtmf = 5});  // no such call: ignored
  gw->tick();
  EXPECT_EQ(gw->stats().latched_events, 1u);
  EXPECT_EQ(gw->stats().dtmf_events, 1u);
  EXPECT_EQ(gw->active_calls(), 1u);
  auto j = manage(*gw, {{"cmd", "show"}, {"what", "flows"}});
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0]["local"].get<std::string>().rfind("10.10.0.1:", 0), 0u);
  EXPECT_EQ(j["data"][1]["remote"], "10.20.0.2:6000");
  auto bad = manage(*gw, {{"cmd", "show"}, {"what", "nonsense"}});
  EXPECT_FALSE(bad["ok"].get<bool>());
  EXPECT_NE(bad["error"].get<std::string>().find("'nonsense'"), std::string::npos) << bad.dump();
  // Every verb answers data of the shape the verb table declares.
  for (const char* what : {"calls", "registrations", "flows", "stats", "cdrs"}) {
    auto j = manage(*gw, {{"cmd", "show"}, {"what", what}});
    EXPECT_TRUE(j["ok"].get<bool>()) << what << ": " << j.dump();
  }
  EXPECT_EQ(manage(*gw, {{"cmd", "show"}, {"what", "stats"}})["data"]["calls_active"], 1);
  auto nocall = manage(*gw, {{"cmd", "hangup"}, {"call", "nope"}});
  EXPECT_FALSE(nocall["ok"].get<bool>());
  EXPECT_EQ(nocall["error"], "no such call: nope");
}

}  // namespace
