// SPDX-License-Identifier: GPL-3.0-or-later
// Each leg's negotiated media parameters as they reach the dataplane's flow
// spec (LegSpec): G.729 Annex B, G.726-32 packing, packet time (a=ptime,
// [codecs] default_ptime_ms, a=maxptime), payload pass-through, and the
// flow of an early answer (183 with SDP) re-programmed by a 200 with
// another SDP.
#include "gateway_fixture.hpp"
#include "msgw/control/offer.hpp"

using namespace msgw;
using namespace msgw_test;
namespace dp = msgw::dataplane;

namespace {

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// The carrier's answer: G.729 with annexb=no (g729_answer()) unless told otherwise.
std::string trunk_sdp(const std::string& pts, const std::vector<std::string>& attrs, int port = 6000) {
  return sdp_offer("10.20.0.2", port, pts, attrs);
}

class MediaParamsTest : public GatewayFixture<::testing::Test> {
 protected:
  // Places a call from spa1 with `offer` and answers it with `answer`;
  // returns the flow as programmed (the last add/modify).
  FakeMedia::Op call(const std::string& cid, const std::string& offer, const std::string& answer) {
    Msg inv = place_call(cid, offer);
    if (!inv.m) return {};
    last_trunk_offer = inv.body();
    inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", answer));
    auto out = take();
    EXPECT_TRUE(find(out, "ACK"));
    const Msg* ok = find(out, "200");
    EXPECT_TRUE(ok);
    if (ok) phone_answer = ok->body();
    EXPECT_FALSE(media.ops.empty());
    return media.ops.empty() ? FakeMedia::Op{} : media.ops.back();
  }
  std::string last_trunk_offer, phone_answer;
};

std::string g726_offer(bool aal2_name) {
  return sdp_offer("10.10.0.2", 16388, "2 101",
                   {aal2_name ? "rtpmap:2 AAL2-G726-32/8000" : "rtpmap:2 G726-32/8000",
                    "rtpmap:101 telephone-event/8000", "fmtp:101 0-15", "ptime:20"});
}

}  // namespace

// ---------------------------------------------------------------- pure mapping

TEST(LegMediaMapping, PacketTimeIsThePeersElseTheDefaultCappedByMaxptime) {
  using control::leg_ptime;
  EXPECT_EQ(leg_ptime(30, 0, 20), 30);   // a=ptime
  EXPECT_EQ(leg_ptime(0, 0, 20), 20);    // none: [codecs] default_ptime_ms
  EXPECT_EQ(leg_ptime(0, 0, 30), 30);
  EXPECT_EQ(leg_ptime(40, 20, 20), 20);  // a=maxptime caps it
  EXPECT_EQ(leg_ptime(0, 30, 40), 30);   // ... the default too
  EXPECT_EQ(leg_ptime(30, 25, 20), 20);  // down to a multiple of 10
  EXPECT_EQ(leg_ptime(30, 5, 20), 10);   // at least 10
  EXPECT_EQ(leg_ptime(25, 0, 20), 20);
  EXPECT_EQ(leg_ptime(500, 0, 20), 120); // the dataplane's bound
}

TEST(LegMediaMapping, G726PackingIsThePeersSettingElseTheCodecsSection) {
  config::Config cfg;
  config::SubscriberSection sub;
  config::TrunkSection tr;
  using codecs::G726Packing;
  EXPECT_EQ(control::peer_media(cfg, &sub, nullptr).g726_packing, G726Packing::Rfc3551);
  cfg.codecs.g726_packing = "aal2";
  EXPECT_EQ(control::peer_media(cfg, &sub, nullptr).g726_packing, G726Packing::Aal2);
  EXPECT_EQ(control::peer_media(cfg, nullptr, &tr).g726_packing, G726Packing::Aal2);
  sub.g726_packing = "rfc3551";
  EXPECT_EQ(control::peer_media(cfg, &sub, nullptr).g726_packing, G726Packing::Rfc3551);
  tr.g726_packing = "rfc3551";
  EXPECT_EQ(control::peer_media(cfg, nullptr, &tr).g726_packing, G726Packing::Rfc3551);
  cfg.codecs.default_ptime_ms = 30;
  EXPECT_EQ(control::peer_media(cfg, nullptr, &tr).default_ptime_ms, 30);
  EXPECT_FALSE(control::peer_media(cfg, nullptr, &tr).payload_passthrough);
  tr.payload_passthrough = true;
  EXPECT_TRUE(control::peer_media(cfg, nullptr, &tr).payload_passthrough);
  EXPECT_FALSE(control::peer_media(cfg, &sub, nullptr).payload_passthrough);

  // "AAL2-G726-32" is AAL2 whatever the setting; plain "G726-32" takes it.
  control::PeerMedia rfc, aal2;
  aal2.g726_packing = G726Packing::Aal2;
  codecs::CodecParams g726{.id = codecs::CodecId::G726_32, .payload_type = 2};
  EXPECT_EQ(control::with_peer_packing(g726, aal2).g726_packing, G726Packing::Aal2);
  EXPECT_EQ(control::with_peer_packing(g726, rfc).g726_packing, G726Packing::Rfc3551);
  g726.g726_packing = G726Packing::Aal2;
  EXPECT_EQ(control::with_peer_packing(g726, rfc).g726_packing, G726Packing::Aal2);
}

// ---------------------------------------------------------------- through the gateway

TEST_F(MediaParamsTest, AnnexbNoFromTheTrunkIsPassedOnToTheCallerOfARelayedLeg) {
  auto op = call("ab1@10.10.0.2", spa_offer(), g729_answer());  // fmtp:18 annexb=no
  EXPECT_EQ(op.b.codec, uint8_t(dp::CodecId::G729));
  EXPECT_EQ(op.b.flags & dp::kLegG729NoAnnexB, dp::kLegG729NoAnnexB);
  // The SPA offered G.729 without fmtp (Annex B allowed, RFC 4856); it is
  // answered annexb=no, so both legs agree on Annex B.
  EXPECT_EQ(op.a.codec, uint8_t(dp::CodecId::G729));
  EXPECT_NE(phone_answer.find("a=fmtp:18 annexb=no"), std::string::npos) << phone_answer;
  EXPECT_EQ(op.a.flags & dp::kLegG729NoAnnexB, dp::kLegG729NoAnnexB);
  EXPECT_EQ(op.a.flags & dp::kLegPayloadPassthrough, 0);
  EXPECT_EQ(op.b.flags & dp::kLegPayloadPassthrough, 0);
}

TEST_F(MediaParamsTest, AnnexbNoFromTheTrunkOfATranscodedCallMarksOnlyTheTrunkLeg) {
  auto op = call("ab3@10.10.0.2", spa_offer(false), g729_answer());
  EXPECT_EQ(op.a.codec, uint8_t(dp::CodecId::Pcmu));
  EXPECT_EQ(op.a.flags & dp::kLegG729NoAnnexB, 0);
  EXPECT_EQ(op.b.flags & dp::kLegG729NoAnnexB, dp::kLegG729NoAnnexB);
}

TEST_F(MediaParamsTest, AnnexbNoFromTheCallerIsAskedOfTheTrunk) {
  Msg inv = place_call("ab4@10.10.0.2",
                       sdp_offer("10.10.0.2", 16388, "18 101",
                                 {"rtpmap:18 G729/8000", "fmtp:18 annexb=no", "rtpmap:101 telephone-event/8000"}));
  ASSERT_TRUE(inv.m);
  EXPECT_NE(inv.body().find("a=fmtp:18 annexb=no"), std::string::npos) << inv.body();
}

TEST_F(MediaParamsTest, AnnexbAbsentFromTheTrunkMeansYes) {
  auto op = call("ab2@10.10.0.2", spa_offer(),
                 trunk_sdp("18 101", {"rtpmap:18 G729/8000", "rtpmap:101 telephone-event/8000"}));
  EXPECT_EQ(op.b.flags & dp::kLegG729NoAnnexB, 0);
  EXPECT_EQ(op.a.flags & dp::kLegG729NoAnnexB, 0);
  EXPECT_EQ(phone_answer.find("annexb=no"), std::string::npos) << phone_answer;
}

TEST_F(MediaParamsTest, PacketTimeOfEachLegFromItsSdp) {
  // SPA: a=ptime:30; trunk: a=ptime:40 capped by its a=maxptime:20.
  auto op = call("pt1@10.10.0.2", spa_offer(),
                 trunk_sdp("18 101", {"rtpmap:18 G729/8000", "rtpmap:101 telephone-event/8000", "ptime:40",
                                      "maxptime:20"}));
  EXPECT_EQ(op.a.ptime_ms, 30);
  EXPECT_EQ(op.b.ptime_ms, 20);
  // One codec at two packet times is re-framed, and reported so.
  EXPECT_FALSE(dp::relayable(op.a, op.b));
  EXPECT_EQ(gw->stats().transcoded_calls, 1u);
  EXPECT_EQ(gw->stats().relayed_calls, 0u);
}

TEST_F(MediaParamsTest, OneCodecAtOnePacketTimeIsRelayed) {
  auto op = call("pt3@10.10.0.2", spa_offer(),
                 trunk_sdp("18 101", {"rtpmap:18 G729/8000", "fmtp:18 annexb=no", "rtpmap:101 telephone-event/8000",
                                      "ptime:30"}));
  EXPECT_TRUE(dp::relayable(op.a, op.b));
  EXPECT_EQ(gw->stats().relayed_calls, 1u);
  auto calls = gw->show_calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["media"], "relay");
}

class DefaultPtimeTest : public MediaParamsTest {
 protected:
  DefaultPtimeTest() { config_text = std::string(kConfig) + "[codecs]\ndefault_ptime_ms = 40\n"; }
};

TEST_F(DefaultPtimeTest, APeerWithoutPtimeGetsTheConfiguredDefault) {
  auto op = call("pt2@10.10.0.2", spa_offer(), g729_answer());  // the trunk states no ptime
  EXPECT_EQ(op.b.ptime_ms, 40);
  EXPECT_EQ(op.a.ptime_ms, 30);
}

class G726Test : public MediaParamsTest {
 protected:
  G726Test() {
    std::string c = replaced(kConfig, "codecs = [\"G729\"]\nport = \"trunk\"\ntimeout_ms = 2000",
                             "codecs = [\"G726-32\"]\nport = \"trunk\"\ntimeout_ms = 2000\npayload_passthrough = true");
    config_text = replaced(c, "dids = [\"15550001000\"]", "dids = [\"15550001000\"]\ng726_packing = \"aal2\"");
  }
  std::string rfc3551_answer() {
    return trunk_sdp("2 101", {"rtpmap:2 G726-32/8000", "rtpmap:101 telephone-event/8000"});
  }
};

TEST_F(G726Test, SubscriberSettingMakesPlainG726AnAal2LegAndTheTrunkStaysRfc3551) {
  auto op = call("g1@10.10.0.2", g726_offer(false), rfc3551_answer());
  EXPECT_EQ(op.a.codec, uint8_t(dp::CodecId::G726_32));
  EXPECT_EQ(op.b.codec, uint8_t(dp::CodecId::G726_32));
  EXPECT_EQ(op.a.flags & dp::kLegG726Aal2, dp::kLegG726Aal2);
  EXPECT_EQ(op.b.flags & dp::kLegG726Aal2, 0);
  // This trunk takes payload types nobody negotiated.
  EXPECT_EQ(op.b.flags & dp::kLegPayloadPassthrough, dp::kLegPayloadPassthrough);
  EXPECT_EQ(op.a.flags & dp::kLegPayloadPassthrough, 0);
}

TEST_F(G726Test, Aal2RtpmapFromTheTrunkIsAal2) {
  auto op = call("g2@10.10.0.2", g726_offer(false),
                 trunk_sdp("2 101", {"rtpmap:2 AAL2-G726-32/8000", "rtpmap:101 telephone-event/8000"}));
  EXPECT_EQ(op.b.flags & dp::kLegG726Aal2, dp::kLegG726Aal2);
}

TEST_F(MediaParamsTest, PlainG726WithoutSettingIsRfc3551AndAal2NameIsAal2) {
  // kConfig's carrier takes G.729 only: the phone's G.726 leg is transcoded.
  auto op = call("g3@10.10.0.2", g726_offer(true), g729_answer());
  EXPECT_EQ(op.a.codec, uint8_t(dp::CodecId::G726_32));
  EXPECT_EQ(op.a.flags & dp::kLegG726Aal2, dp::kLegG726Aal2);
  media.ops.clear();
  auto op2 = call("g4@10.10.0.2", g726_offer(false), g729_answer());
  EXPECT_EQ(op2.a.flags & dp::kLegG726Aal2, 0);
}

TEST_F(MediaParamsTest, EarlyMediaProgramsTheFlowAndADifferentAnswerReprogramsIt) {
  Msg inv = place_call("em1@10.10.0.2", spa_offer());
  ASSERT_TRUE(inv.m);
  inject("10.20.0.2", 5060, carrier_response(inv, 183, "Session Progress", g729_answer()));
  auto out = take();
  const Msg* p183 = find(out, "183");
  ASSERT_TRUE(p183);
  EXPECT_NE(p183->body().find("m=audio"), std::string::npos);  // the phone gets SDP: ringback flows
  ASSERT_EQ(media.ops.size(), 1u);
  EXPECT_EQ(media.ops[0].what, "add");
  EXPECT_EQ(media.ops[0].b.remote_port, 6000);
  EXPECT_EQ(media.ops[0].b.flags & dp::kLegG729NoAnnexB, dp::kLegG729NoAnnexB);
  // The 200 moves the media (another port) and allows Annex B.
  inject("10.20.0.2", 5060,
         carrier_response(inv, 200, "OK",
                          trunk_sdp("18 101", {"rtpmap:18 G729/8000", "rtpmap:101 telephone-event/8000"}, 6010)));
  out = take();
  ASSERT_TRUE(find(out, "200"));
  ASSERT_EQ(media.ops.size(), 2u);
  EXPECT_EQ(media.ops[1].what, "modify");
  EXPECT_EQ(media.ops[1].flow, media.ops[0].flow);
  EXPECT_EQ(media.ops[1].b.remote_port, 6010);
  EXPECT_EQ(media.ops[1].b.flags & dp::kLegG729NoAnnexB, 0);
}

TEST_F(MediaParamsTest, ReinviteKeepsTheLegsMediaParameters) {
  auto [inv, ok] = answered_call("ri1@10.10.0.2", spa_offer());  // the trunk said annexb=no
  ASSERT_TRUE(ok.m);
  ASSERT_EQ(media.ops.size(), 1u);
  EXPECT_EQ(media.ops[0].a.ptime_ms, 30);
  // The phone re-offers G.729 without fmtp (Annex B allowed) at 20 ms.
  const std::string re = sdp_offer("10.10.0.2", 16388, "18 101",
                                   {"rtpmap:18 G729/8000", "rtpmap:101 telephone-event/8000", "ptime:20"});
  inject("10.10.0.2", 5062, phone_request("INVITE", "ri1@10.10.0.2", ok, 105, re));
  auto out = take();
  const Msg* ok2 = find(out, "200");
  ASSERT_TRUE(ok2);
  EXPECT_NE(ok2->body().find("a=fmtp:18 annexb=no"), std::string::npos) << ok2->body();
  ASSERT_GE(media.ops.size(), 2u);
  EXPECT_EQ(media.ops[1].what, "modify");
  EXPECT_EQ(media.ops[1].a.ptime_ms, 20);
  EXPECT_EQ(media.ops[1].a.flags & dp::kLegG729NoAnnexB, dp::kLegG729NoAnnexB);
  EXPECT_EQ(media.ops[1].b.flags & dp::kLegG729NoAnnexB, dp::kLegG729NoAnnexB);  // unchanged
  EXPECT_EQ(media.ops[1].b.ptime_ms, 20);
}
