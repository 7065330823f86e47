// SPDX-License-Identifier: GPL-3.0-or-later
// The connecting rows of the call transition table: the carrier answered,
// the flow's add is posted and its ack held back by the fake dataplane, so
// neither the carrier's ACK nor the phone's 200 went out (see
// test_call_transitions.cpp for what every row is checked for).
#include "call_transition_fixture.hpp"

namespace msgw_test {

Outcome CallTransitionTest::connecting_row(CallEvent e) {
  const std::string cid = "c-" + std::string(control::event_name(e)) + "@10.10.0.2";
  switch (e) {
    case CallEvent::b_provisional: {
      // B's INVITE transaction ended with its 2xx: a late 180 matches nothing.
      Early c = connecting(cid);
      Outcome o = from_carrier(cid, carrier_response(c.inv, 180, "Ringing", ""), false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "180"), 0);
      return o;
    }
    case CallEvent::reinvite_answer:
    case CallEvent::reinvite_challenge:
      // No re-INVITE is sent before the answer; the nearest event is a late
      // response to the INVITE, as for b_answer.
    case CallEvent::b_answer: {
      // The carrier's 2xx again (its ACK is late): not ACKed before the flow
      // is in the dataplane; the ACK goes with flow_ready.
      Early c = connecting(cid);
      Outcome o = from_carrier(cid, carrier_response(c.inv, 200, "OK", g729_answer()), false);
      EXPECT_FALSE(find_to(o.out, "ACK", kCarrier));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(media.ops.size(), 1u);  // no second add
      // Then the ack: one ACK, one 200.
      Outcome ready = after_flow_ack(cid);
      EXPECT_EQ(count(ready.out, "ACK"), 1);
      EXPECT_TRUE(find_to(ready.out, "200", kPhone));
      EXPECT_EQ(ready.state, CallState::answered);
      return o;
    }
    case CallEvent::b_failure:
    case CallEvent::b_challenge: {
      Early c = connecting(cid);
      Outcome o = from_carrier(cid,
                               e == CallEvent::b_failure ? carrier_response(c.inv, 486, "Busy Here", "")
                                                         : carrier_challenge(c.inv, 407, "n0nce-c"),
                               false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::b_timeout: {
      // Timer B does not run once the INVITE got its 2xx.
      connecting(cid, false);
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(200), false);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      return o;
    }
    case CallEvent::b_deadline: {
      // The carrier's 2 s deadline was cleared by its 2xx.
      connecting(cid);
      Outcome o = after_deadline(cid, false);
      EXPECT_FALSE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::a_cancel: {
      // The carrier answered, the phone gave up: its 2xx is ACKed and BYEd,
      // the flow's delete queued behind its add.
      connecting(cid);
      Outcome o = from_phone(cid, phone_cancel(cid));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));  // for the CANCEL
      EXPECT_TRUE(find_to(o.out, "487", kPhone));  // for the INVITE
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_FALSE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_EQ(media.ops.back().what, "del");
      EXPECT_EQ(gw->stats().calls_cancelled, 1u);
      auto cdr = store->cdr(cid);
      EXPECT_TRUE(cdr && cdr->result_code == 487 && cdr->end_reason == "CANCEL");
      return o;
    }
    case CallEvent::bye_a: {
      Early c = connecting(cid, true);
      Outcome o = from_phone(cid, phone_request("BYE", cid, c.ringing, 104));
      EXPECT_TRUE(find_to(o.out, "487", kPhone));
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(media.ops.back().what, "del");
      EXPECT_EQ(store->cdr(cid)->end_reason, "caller BYE before answer");
      return o;
    }
    case CallEvent::bye_b: {
      Early c = connecting(cid);
      Outcome o = from_carrier(cid, carrier_request("BYE", c.inv, 2));
      EXPECT_TRUE(find_to(o.out, "200", kCarrier));
      EXPECT_TRUE(find_to(o.out, "487", kPhone));
      EXPECT_EQ(media.ops.back().what, "del");
      EXPECT_EQ(store->cdr(cid)->end_reason, "callee BYE before answer");
      return o;
    }
    case CallEvent::reinvite_a: {
      Early c = connecting(cid, true);
      Outcome o = from_phone(cid, phone_request("INVITE", cid, c.ringing, 104, phone_hold_offer()));
      EXPECT_TRUE(find_to(o.out, "491", kPhone));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::reinvite_b: {
      Early c = connecting(cid);
      Outcome o = from_carrier(cid, carrier_request("INVITE", c.inv, 2, carrier_new_media_offer()));
      EXPECT_TRUE(find_to(o.out, "491", kCarrier));
      EXPECT_EQ(media.ops.size(), 1u);
      return o;
    }
    case CallEvent::in_dialog_other: {
      Early c = connecting(cid, true);
      Outcome o = from_phone(cid, phone_request("NOTIFY", cid, c.ringing, 104));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_EQ(o.out.size(), 1u);
      return o;
    }
    case CallEvent::session_timer: {
      // B's 2xx named no timer; none runs while the add is awaited.
      connecting(cid);
      Outcome o = after_time(cid, std::chrono::seconds(1000), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::info: {
      Early c = connecting(cid, true);
      Outcome o = from_phone(cid, with_body(phone_request("INFO", cid, c.ringing, 104), "application/dtmf-relay", kDtmfRelay));
      expect_body_has(find_to(o.out, "INFO", kCarrier), "Duration=160");
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      return o;
    }
    case CallEvent::relay_dialog_gone: {
      // Passed back; the add's ack (or its refusal) decides the call.
      Early c = connecting(cid, true);
      inject("10.10.0.2", 5062, with_body(phone_request("INFO", cid, c.ringing, 104), "application/dtmf-relay", kDtmfRelay));
      Msg info = copy(find_to(take(), "INFO", kCarrier));
      Outcome o = from_carrier(cid, carrier_response(info, 408, "Request Timeout", ""));
      EXPECT_TRUE(find_to(o.out, "408", kPhone));
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::ack_timeout: {
      // No 2xx went to the phone yet: no ACK to wait for.
      connecting(cid);
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(200), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      return o;
    }
    case CallEvent::ack: {
      // The phone has no 2xx yet: its stray ACK is the stack's to drop.
      Early c = connecting(cid, true);
      Outcome o = from_phone(cid, phone_request("ACK", cid, c.ringing, 103), false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(media.ops.size(), 1u);  // the add, nothing more
      return o;
    }
    case CallEvent::reinvite_timeout: {
      connecting(cid);
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(200), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      return o;
    }
    case CallEvent::media_timeout: {
      connecting(cid);
      Outcome o = after_media_timeout(cid, media.ops.back().flow);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_timeouts, 1u);
      return o;
    }
    case CallEvent::dataplane_restart: {
      // The add went to the old dataplane: posted again to the new one; the
      // call goes on connecting, and is answered on that add's ack.
      connecting(cid);
      const uint32_t flow = media.ops.back().flow;
      Outcome o = after_dataplane_restart(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(media.ops.size(), 2u);
      EXPECT_EQ(media.ops.back().what, "add");
      EXPECT_EQ(media.ops.back().flow, flow);
      Outcome ready = after_flow_ack(cid);
      EXPECT_TRUE(find_to(ready.out, "ACK", kCarrier));
      EXPECT_TRUE(find_to(ready.out, "200", kPhone));
      EXPECT_EQ(ready.state, CallState::answered);
      EXPECT_EQ(gw->stats().flows_reprogrammed, 0u);  // its first add, not a re-programming
      return o;
    }
    case CallEvent::hangup: {
      connecting(cid);
      mark();
      auto j = hangup(cid);
      EXPECT_TRUE(j["ok"].get<bool>()) << j.dump();
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "480", kPhone));
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(store->cdr(cid)->end_reason, "hangup by operator");
      return o;
    }
    case CallEvent::flow_update_failed: {
      // A modify behind the add is answered after it: nothing here.
      connecting(cid);
      Outcome o = after_flow_update_failed(cid, media.ops.back().flow);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_errors, 1u);
      return o;
    }
    case CallEvent::flow_ready: {
      connecting(cid);
      EXPECT_EQ(manage(*gw, {{"cmd", "show"}, {"what", "calls"}})["data"][0]["state"], "connecting");
      EXPECT_TRUE(store->live().empty()) << "not persisted before it is answered";
      Outcome o = after_flow_ack(cid);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      expect_body_has(find_to(o.out, "200", kPhone), "m=audio");
      EXPECT_EQ(gw->stats().calls_answered, 1u);
      EXPECT_EQ(gw->stats().calls_active, 1u);
      EXPECT_EQ(store->live().size(), 1u) << "persisted once answered";
      return o;
    }
    case CallEvent::flow_refused: {
      // As the awaited add's refusal was: ACK + BYE to the carrier, 503 to
      // the phone, counted, the CDR says why.
      media.fail = true;
      connecting(cid);
      Outcome o = after_flow_ack(cid);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      const Msg* bye = find_to(o.out, "BYE", kCarrier);
      EXPECT_TRUE(bye);
      if (bye) {
        EXPECT_NE(bye->raw.find("Reason: SIP;cause=488"), std::string::npos);
      }
      EXPECT_TRUE(find_to(o.out, "503", kPhone));
      EXPECT_EQ(gw->stats().media_errors, 1u);
      EXPECT_EQ(gw->stats().calls_failed, 1u);
      EXPECT_EQ(gw->stats().calls_answered, 0u);
      auto cdr = store->cdr(cid);
      EXPECT_TRUE(cdr && cdr->result_code == 503 && cdr->end_reason == "dataplane refused: table_full");
      return o;
    }
  }
  ADD_FAILURE() << "no scenario";
  return {};
}

}  // namespace msgw_test
