// SPDX-License-Identifier: GPL-3.0-or-later
// A forking proxy on the trunk side answers our INVITE from two branches:
// the call takes the first 2xx; the SIP stack ACKs the second (RFC 3261
// §13.2.2.4: every 2xx is ACKed) and ends that dialog with a BYE, leaving
// the call alone. A 2xx that does not carry our INVITE's Via branch gets
// nothing.
#include "call_transition_fixture.hpp"

namespace msgw_test {

class ForkedAnswerTest : public CallTransitionTest {
 protected:
  // The call answered by the carrier's first branch (To-tag branchone).
  Msg answered_by_first_branch(const std::string& cid) {
    Msg inv = routing(cid);
    EXPECT_TRUE(inv.m);
    inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer(), "branchone"));
    take();
    EXPECT_EQ(state_of(cid), CallState::answered);
    return inv;
  }
};

TEST_F(ForkedAnswerTest, SecondBranchsAnswerIsAckedAndEndedWithABye) {
  const std::string cid = "fork@10.10.0.2";
  Msg inv = answered_by_first_branch(cid);
  ASSERT_TRUE(inv.m);
  const std::size_t ops = media.ops.size(), dialogs = stack->dialog_count();
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer(), "branchtwo"));
  auto out = take();
  const Msg* ack = find_to(out, "ACK", kCarrier);
  ASSERT_TRUE(ack);
  EXPECT_EQ(sip::to_tag(ack->m.get()), "branchtwo");
  const Msg* bye = find_to(out, "BYE", kCarrier);
  ASSERT_TRUE(bye);
  EXPECT_EQ(sip::to_tag(bye->m.get()), "branchtwo");
  Msg b = copy(bye);
  EXPECT_EQ(final_responses_to(out, kPhone), 0);
  EXPECT_EQ(media.ops.size(), ops);
  EXPECT_EQ(state_of(cid), CallState::answered);
  EXPECT_EQ(stack->stats().forked_2xx_released, 1u);
  // The branch's 2xx again: the ACK again, no second BYE.
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer(), "branchtwo"));
  out = take();
  EXPECT_EQ(count(out, "ACK"), 1);
  EXPECT_EQ(count(out, "BYE"), 0);
  // The BYE answered: that dialog is gone, the call's stays.
  std::string ok = carrier_response(b, 200, "OK", "", "branchtwo");
  ok.erase(ok.find(";tag=branchtwo"), 14);  // the BYE's To has the tag already
  inject("10.20.0.2", 5060, ok);
  EXPECT_EQ(stack->dialog_count(), dialogs);
  EXPECT_EQ(state_of(cid), CallState::answered);
}

TEST_F(ForkedAnswerTest, A2xxWithoutOurInvitesBranchGetsNothing) {
  const std::string cid = "fork-forged@10.10.0.2";
  Msg inv = answered_by_first_branch(cid);
  ASSERT_TRUE(inv.m);
  std::string forged = carrier_response(inv, 200, "OK", g729_answer(), "intruder");
  const auto p = forged.find(";branch=") + 8;
  forged.replace(p, forged.find_first_of(";\r", p) - p, "z9hG4bKnotours");
  inject("10.20.0.2", 5060, forged);
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(stack->stats().forked_2xx_released, 0u);
}

}  // namespace msgw_test
