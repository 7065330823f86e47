// SPDX-License-Identifier: GPL-3.0-or-later
// A trunk's 300/301/302: the INVITE goes again to the Contact (same trunk,
// its next hop and credentials), at most three times; a redirect without a
// SIP Contact, or one too many, reaches the caller as 502.
#include "call_transition_fixture.hpp"

namespace msgw_test {

class RedirectTest : public CallTransitionTest {
 public:
  std::string moved(const Msg& inv, const std::string& contact, int n) {
    std::string r = carrier_response(inv, 302, "Moved Temporarily", "", "rd" + std::to_string(n));
    const auto p = r.find("Contact: ");
    r.erase(p, r.find("\r\n", p) + 2 - p);
    if (!contact.empty()) r.insert(r.find("Content-Length"), "Contact: <" + contact + ">\r\n");
    return r;
  }
};

TEST_F(RedirectTest, AMovedNumberIsCalledAtItsContactThroughTheSameTrunk) {
  const std::string cid = "rd-moved@10.10.0.2";
  Msg inv = routing(cid);
  ASSERT_TRUE(inv.m);
  inject("10.20.0.2", 5060, moved(inv, "sip:18005550000@10.20.0.2;user=phone", 1));
  auto out = take();
  EXPECT_TRUE(find_to(out, "ACK", kCarrier));  // the 302's, by the transaction
  const Msg* again = find_to(out, "INVITE", kCarrier);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->raw.substr(0, again->raw.find("\r\n")), "INVITE sip:18005550000@10.20.0.2;user=phone SIP/2.0");
  EXPECT_EQ(final_responses_to(out, kPhone), 0);
  EXPECT_EQ(gw->stats().redirects_followed, 1u);
  EXPECT_EQ(gw->stats().failovers, 0u);
  Msg inv2 = copy(again);
  inject("10.20.0.2", 5060, carrier_response(inv2, 200, "OK", g729_answer()));
  out = take();
  EXPECT_TRUE(find_to(out, "200", kPhone));
  EXPECT_EQ(state_of(cid), CallState::answered);
}

TEST_F(RedirectTest, RedirectsAreBoundedAndOneWithoutAContactIsNotFollowed) {
  const std::string cid = "rd-loop@10.10.0.2";
  Msg inv = routing(cid);
  ASSERT_TRUE(inv.m);
  for (int n = 1; n <= 3; ++n) {
    // A Contact on another host: the INVITE still goes to the trunk (its next hop).
    inject("10.20.0.2", 5060, moved(inv, "sip:1800555000" + std::to_string(n) + "@192.0.2.7", n));
    auto out = take();
    const Msg* again = find_to(out, "INVITE", kCarrier);
    ASSERT_TRUE(again) << n;
    inv = copy(again);
  }
  inject("10.20.0.2", 5060, moved(inv, "sip:18005550004@10.20.0.2", 4));
  auto out = take();
  EXPECT_EQ(count(out, "INVITE"), 0);
  EXPECT_TRUE(find_to(out, "502", kPhone));
  EXPECT_EQ(state_of(cid), std::nullopt);
  EXPECT_EQ(gw->stats().redirects_followed, 3u);

  const std::string cid2 = "rd-nocontact@10.10.0.2";
  Msg inv2 = routing(cid2, "1-877-555-1212");
  inject("10.20.0.3", 5060, moved(inv2, "", 9));
  out = take();
  EXPECT_TRUE(find_to(out, "502", kPhone));
  EXPECT_EQ(gw->stats().redirects_followed, 3u);
}

}  // namespace msgw_test
