// SPDX-License-Identifier: GPL-3.0-or-later
// Reliable provisional responses (RFC 3262) from a trunk: the stack PRACKs
// each in order once, the call sees it once; a trunk with `prack = true` is
// offered them (Supported: 100rel). Driven through the Gateway
// (gateway_fixture.hpp).
#include "gateway_fixture.hpp"

using namespace msgw;
using namespace msgw_test;

namespace {

constexpr const char* kPhone = "10.10.0.2:5062";
constexpr const char* kCarrier = "10.20.0.2:5060";

class ReliableProvisionalTest : public GatewayFixture<::testing::Test> {
 protected:
  // A trunk's reliable 18x to `inv` (its To-tag as103549cc).
  std::string reliable(const Msg& inv, int code, const std::string& reason, uint32_t rseq,
                       const std::string& sdp = "") {
    return carrier_response(inv, code, reason, sdp, "as103549cc",
                            "Require: 100rel\r\nRSeq: " + std::to_string(rseq) + "\r\n");
  }
  // The requests with `method` sent to `dst`.
  static std::vector<const Msg*> sent(const std::vector<Msg>& out, const std::string& method, const std::string& dst) {
    std::vector<const Msg*> v;
    for (const auto& m : out)
      if (m.method() == method && m.dst.str() == dst) v.push_back(&m);
    return v;
  }
  static int responses_to_phone(const std::vector<Msg>& out, int status) {
    int n = 0;
    for (const auto& m : out) n += m.method().empty() && m.status() == status && m.dst.str() == kPhone;
    return n;
  }
  // The carrier's 200 to a PRACK (the PRACK's own headers, To-tag included).
  static std::string ok_to(const Msg& req) {
    std::string s = "SIP/2.0 200 OK\r\n";
    for (const char* h : {"Via", "From", "To", "Call-ID", "CSeq"}) s += std::string(h) + ": " + raw_header(req.raw, h) + "\r\n";
    return s + "Content-Length: 0\r\n\r\n";
  }
};

TEST_F(ReliableProvisionalTest, EachIsPrackedOnceInOrderAndReachesTheCallOnce) {
  Msg inv = place_call("rp1@10.10.0.2", spa_offer());
  ASSERT_TRUE(inv.m);
  EXPECT_EQ(raw_header(inv.raw, "Supported"), "");  // not offered unless the trunk asks (prack)
  const uint32_t invite_cseq = static_cast<uint32_t>(std::stoul(inv.m->cseq->number));

  inject("10.20.0.2", 5060, reliable(inv, 183, "Session Progress", 7, g729_answer()));
  gw->tick();  // the early-media flow's ack
  auto out = take();
  auto pracks = sent(out, "PRACK", kCarrier);
  ASSERT_EQ(pracks.size(), 1u);
  const Msg& prack = *pracks[0];
  EXPECT_EQ(raw_header(prack.raw, "RAck"), "7 " + std::to_string(invite_cseq) + " INVITE");
  // In the early dialog: the 183's To-tag and Contact, a CSeq of its own.
  EXPECT_EQ(sip::to_tag(prack.m.get()), "as103549cc");
  EXPECT_EQ(std::string(prack.m->cseq->method), "PRACK");
  EXPECT_GT(std::stoul(prack.m->cseq->number), invite_cseq);
  EXPECT_EQ(responses_to_phone(out, 183), 1);

  // Its retransmission (the PRACK crossed it) and one out of order: not
  // PRACKed, not relayed.
  inject("10.20.0.2", 5060, reliable(inv, 183, "Session Progress", 7, g729_answer()));
  inject("10.20.0.2", 5060, reliable(inv, 180, "Ringing", 9));
  gw->tick();
  out = take();
  EXPECT_TRUE(sent(out, "PRACK", kCarrier).empty());
  EXPECT_EQ(responses_to_phone(out, 183) + responses_to_phone(out, 180), 0);
  EXPECT_EQ(stack->stats().reliable_provisionals_discarded, 2u);

  // The next in order is.
  inject("10.20.0.2", 5060, reliable(inv, 180, "Ringing", 8));
  gw->tick();
  out = take();
  pracks = sent(out, "PRACK", kCarrier);
  ASSERT_EQ(pracks.size(), 1u);
  EXPECT_EQ(raw_header(pracks[0]->raw, "RAck"), "8 " + std::to_string(invite_cseq) + " INVITE");
  EXPECT_EQ(responses_to_phone(out, 180), 1);
  EXPECT_EQ(stack->stats().pracks_sent, 2u);

  // The PRACK's 200 is the stack's own business; then the call is answered.
  inject("10.20.0.2", 5060, ok_to(*pracks[0]));
  EXPECT_TRUE(take().empty());
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", ""));  // the answer came with the 183
  gw->tick();
  out = take();
  EXPECT_EQ(sent(out, "ACK", kCarrier).size(), 1u);
  EXPECT_EQ(responses_to_phone(out, 200), 1);
  EXPECT_EQ(gw->stats().calls_answered, 1u);
}

TEST_F(ReliableProvisionalTest, AnUnreliable18xIsNotPracked) {
  Msg inv = place_call("rp2@10.10.0.2", spa_offer());
  ASSERT_TRUE(inv.m);
  // RSeq without Require: 100rel, and Require: 100rel without a usable RSeq.
  inject("10.20.0.2", 5060, carrier_response(inv, 180, "Ringing", "", "as103549cc", "RSeq: 1\r\n"));
  inject("10.20.0.2", 5060, carrier_response(inv, 180, "Ringing", "", "as103549cc", "Require: 100rel\r\nRSeq: x\r\n"));
  auto out = take();
  EXPECT_TRUE(sent(out, "PRACK", kCarrier).empty());
  EXPECT_EQ(responses_to_phone(out, 180), 2);
  EXPECT_EQ(stack->stats().pracks_sent, 0u);
}

class PrackTrunkTest : public ReliableProvisionalTest {
 protected:
  PrackTrunkTest() {
    const std::string at = "timeout_ms = 2000\n";
    config_text.insert(config_text.find(at) + at.size(), "prack = true\n");
  }
};

TEST_F(PrackTrunkTest, TheTrunkIsOfferedReliableProvisionals) {
  Msg inv = place_call("rp3@10.10.0.2", spa_offer());
  ASSERT_TRUE(inv.m);
  EXPECT_EQ(raw_header(inv.raw, "Supported"), "100rel");
}

// A trunk that authenticates us challenges every request, the stack's own
// PRACK included: the PRACK carries the credentials of the trunk's cached
// challenge, as the call's own requests to it do.
class AuthenticatingPrackTrunkTest : public PrackTrunkTest {
 protected:
  AuthenticatingPrackTrunkTest() {
    const std::string at = "timeout_ms = 2000\n";
    config_text.insert(config_text.find(at) + at.size(), "username = \"gw\"\npassword = \"trunk-secret\"\n");
  }
};

TEST_F(AuthenticatingPrackTrunkTest, ThePrackCarriesTheTrunksCredentials) {
  Msg inv = place_call("rp4@10.10.0.2", spa_offer());
  ASSERT_TRUE(inv.m);
  inject("10.20.0.2", 5060,
         carrier_response(inv, 407, "Proxy Authentication Required", "", "ch407",
                          "Proxy-Authenticate: Digest realm=\"carrier.example\", nonce=\"n0nce-prack\", "
                          "algorithm=MD5, qop=\"auth\"\r\n"));
  auto out = take();
  auto invites = sent(out, "INVITE", kCarrier);
  ASSERT_EQ(invites.size(), 1u);
  Msg inv2{sip::parse_message(invites[0]->raw, false, sip::Limits{}).msg, invites[0]->raw, invites[0]->dst};
  EXPECT_NE(raw_header(inv2.raw, "Proxy-Authorization"), "");
  inject("10.20.0.2", 5060, reliable(inv2, 180, "Ringing", 1));
  out = take();
  auto pracks = sent(out, "PRACK", kCarrier);
  ASSERT_EQ(pracks.size(), 1u);
  const std::string auth = raw_header(pracks[0]->raw, "Proxy-Authorization");
  EXPECT_NE(auth.find("nonce=\"n0nce-prack\""), std::string::npos) << pracks[0]->raw;
  EXPECT_NE(auth.find("username=\"gw\""), std::string::npos) << auth;
  EXPECT_EQ(responses_to_phone(out, 180), 1);
}

}  // namespace
