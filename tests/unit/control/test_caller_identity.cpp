// SPDX-License-Identifier: GPL-3.0-or-later
// Who calls, as the trunk and the phone learn it: the subscriber's number
// in P-Asserted-Identity on our INVITEs to a trunk (RFC 3325; the trunk is
// in our trust domain), and a caller who withheld the number (Privacy:
// id, an ATA's anonymous From) sent as Anonymous with Privacy: id (RFC
// 3323), both ways.
#include "gateway_fixture.hpp"
#include "msgw/sip/privacy.hpp"

namespace msgw_test {
namespace {

class CallerIdentityTest : public GatewayFixture<::testing::Test> {};

TEST_F(CallerIdentityTest, TrunkLearnsTheSubscribersNumberInPAssertedIdentity) {
  Msg inv = place_call("id-plain@10.10.0.2", spa_offer());
  ASSERT_TRUE(inv.m);
  EXPECT_NE(inv.raw.find("\r\nFrom: \"Good Body\" <sip:15550001000@"), std::string::npos) << inv.raw;
  EXPECT_NE(inv.raw.find("\r\nP-Asserted-Identity: \"Good Body\" <sip:15550001000@"), std::string::npos) << inv.raw;
  EXPECT_EQ(inv.raw.find("Privacy"), std::string::npos) << inv.raw;
}

TEST_F(CallerIdentityTest, WithheldCallerIsAnonymousToTheTrunkInEveryRequest) {
  invite_extra = "Privacy: id\r\n";
  auto [inv, ok] = answered_call("id-withheld@10.10.0.2", spa_offer());
  ASSERT_TRUE(inv.m);
  EXPECT_NE(inv.raw.find("\r\nFrom: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag="), std::string::npos) << inv.raw;
  EXPECT_NE(inv.raw.find("\r\nPrivacy: id\r\n"), std::string::npos) << inv.raw;
  // The trunk still knows who calls (and is told not to pass it on).
  EXPECT_NE(inv.raw.find("\r\nP-Asserted-Identity: \"Good Body\" <sip:15550001000@"), std::string::npos) << inv.raw;
  EXPECT_EQ(inv.raw.find("15550001000", inv.raw.find("From:")), inv.raw.find("15550001000", inv.raw.find("P-Asserted")));
  // The BYE in that dialog has the same anonymous From.
  inject("10.10.0.2", 5062, phone_request("BYE", "id-withheld@10.10.0.2", ok, 104));
  auto out = take();
  const Msg* bye = find(out, "BYE");
  ASSERT_TRUE(bye);
  EXPECT_NE(bye->raw.find("\r\nFrom: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag="), std::string::npos) << bye->raw;
}

TEST_F(CallerIdentityTest, AnAnonymousFromFromThePhoneWithholdsTheNumber) {
  // An ATA's *67: its From names nobody; the digest credentials still say who it is.
  const std::string cid = "id-anon-from@10.10.0.2";
  auto anonymous = [](std::string m) {
    const std::string from = "From: Good Body <sip:spa1@10.10.0.1>";
    m.replace(m.find(from), from.size(), "From: \"Anonymous\" <sip:anonymous@10.10.0.1>");
    return m;
  };
  inject("10.10.0.2", 5062, anonymous(invite(cid, "", spa_offer())));
  auto out = take();
  const Msg* c = find(out, "407");
  ASSERT_TRUE(c);
  inject("10.10.0.2", 5062,
         anonymous(invite(cid, answer_challenge(*c, "INVITE", "sip:1-800-555-1212@10.10.0.1"), spa_offer(),
                          "1-800-555-1212", 103)));
  out = take();
  const Msg* inv = find(out, "INVITE");
  ASSERT_TRUE(inv);
  EXPECT_NE(inv->raw.find("\r\nFrom: \"Anonymous\" <sip:anonymous@anonymous.invalid>"), std::string::npos) << inv->raw;
  EXPECT_NE(inv->raw.find("\r\nPrivacy: id\r\n"), std::string::npos) << inv->raw;
}

TEST_F(CallerIdentityTest, CarrierWithholdingTheCallerKeepsTheNumberFromThePhone) {
  register_spa1();
  const std::string sdp = sdp_offer("10.20.0.2", 7000, "18 101", {"rtpmap:18 G729/8000", "rtpmap:101 telephone-event/8000"});
  // The network knows the number (From and P-Asserted-Identity) and was asked to hide it.
  inject("10.20.0.2", 5060,
         "INVITE sip:15550001000@10.20.0.1 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 10.20.0.2:5060;branch=z9hG4bK-" + sip::random_token(8) + "\r\n"
         "From: \"Jane\" <sip:2125551212@10.20.0.2>;tag=c1\r\nTo: <sip:15550001000@10.20.0.1>\r\n"
         "Call-ID: id-in@10.20.0.2\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
         "P-Asserted-Identity: <sip:2125551212@10.20.0.2>\r\nPrivacy: id\r\n"
         "Contact: <sip:2125551212@10.20.0.2:5060>\r\nContent-Type: application/sdp\r\n"
         "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp);
  auto out = take();
  const Msg* inv = find(out, "INVITE");
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->dst.str(), "10.10.0.2:5062");
  EXPECT_EQ(inv->raw.find("2125551212"), std::string::npos) << inv->raw;
  EXPECT_EQ(inv->raw.find("Jane"), std::string::npos) << inv->raw;
  EXPECT_NE(inv->raw.find("\r\nFrom: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag="), std::string::npos) << inv->raw;
}

class UntrustedTrunkTest : public CallerIdentityTest {
 protected:
  UntrustedTrunkTest() { config_text.insert(config_text.find("timeout_ms = 2000\n") + 18, "asserted_identity = false\n"); }
};

TEST_F(UntrustedTrunkTest, TrunkOutsideTheTrustDomainGetsNoAssertedIdentity) {
  invite_extra = "Privacy: id\r\n";
  Msg inv = place_call("id-untrusted@10.10.0.2", spa_offer());
  ASSERT_TRUE(inv.m);
  EXPECT_EQ(inv.raw.find("P-Asserted-Identity"), std::string::npos) << inv.raw;
  EXPECT_EQ(inv.raw.find("15550001000"), std::string::npos) << inv.raw;
  EXPECT_NE(inv.raw.find("\r\nPrivacy: id\r\n"), std::string::npos) << inv.raw;
}

TEST(Privacy, ValuesThatHideTheCaller) {
  EXPECT_TRUE(sip::privacy_hides_identity("id"));
  EXPECT_TRUE(sip::privacy_hides_identity("header; id ;critical"));
  EXPECT_TRUE(sip::privacy_hides_identity("USER"));
  EXPECT_FALSE(sip::privacy_hides_identity("none"));
  EXPECT_FALSE(sip::privacy_hides_identity("critical"));
  EXPECT_FALSE(sip::privacy_hides_identity(""));
  EXPECT_FALSE(sip::privacy_hides_identity(";;"));
  EXPECT_FALSE(sip::privacy_hides_identity("identity"));
}

}  // namespace
}  // namespace msgw_test
