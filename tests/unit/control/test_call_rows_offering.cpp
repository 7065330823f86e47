// SPDX-License-Identifier: GPL-3.0-or-later
// The offering rows of the call transition table: the phone's INVITE had no
// SDP, the carrier answered and is ACKed, the phone's 200 carries our offer
// and its ACK (the answer) is still to come (see test_call_transitions.cpp
// for what every row is checked for).
#include "call_transition_fixture.hpp"

namespace msgw_test {

Outcome CallTransitionTest::offering_row(CallEvent e) {
  const std::string cid = "o-" + std::string(control::event_name(e)) + "@10.10.0.2";
  switch (e) {
    case CallEvent::b_provisional: {
      // B's INVITE transaction ended with its 2xx: a late 180 matches nothing.
      Offering c = offering(cid);
      Outcome o = from_carrier(cid, carrier_response(c.inv, 180, "Ringing", ""), false);
      EXPECT_EQ(count(o.out, "180"), 0);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      return o;
    }
    case CallEvent::reinvite_answer:
    case CallEvent::reinvite_challenge:
      // No re-INVITE goes out before the answer: the nearest event is a
      // late response to the INVITE, as for b_answer.
    case CallEvent::b_answer: {
      // The carrier's 2xx again (our ACK was lost): the stack ACKs it again,
      // the phone gets no second 200 and no second offer.
      Offering c = offering(cid);
      Outcome o = from_carrier(cid, carrier_response(c.inv, 200, "OK", g729_answer()), false);
      EXPECT_EQ(count(o.out, "ACK"), 1);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_TRUE(media.ops.empty());
      return o;
    }
    case CallEvent::b_failure:
    case CallEvent::b_challenge: {
      Offering c = offering(cid);
      Outcome o = from_carrier(cid,
                               e == CallEvent::b_failure ? carrier_response(c.inv, 486, "Busy Here", "")
                                                         : carrier_challenge(c.inv, 407, "n0nce-o"),
                               false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::b_timeout: {
      // Timer B does not run once the INVITE got its 2xx; the phone's 200 is
      // retransmitted meanwhile (it has not ACKed).
      offering(cid);
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(100), false);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::b_deadline: {
      // The carrier's 2 s deadline was cleared by its 2xx.
      offering(cid);
      Outcome o = after_deadline(cid, false);
      EXPECT_FALSE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::a_cancel: {
      // Too late: the INVITE has its 200 (RFC 3261 §9.2: the CANCEL gets
      // its own 200 and changes nothing).
      offering(cid);
      Outcome o = from_phone(cid, phone_cancel(cid), false);
      EXPECT_EQ(count(o.out, "487"), 0);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(count(o.out, "CANCEL"), 0);
      return o;
    }
    case CallEvent::bye_a: {
      // The phone hangs up before its ACK: the carrier, answered and ACKed,
      // gets a BYE.
      Offering c = offering(cid);
      Outcome o = from_phone(cid, phone_request("BYE", cid, c.ok, 104));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_FALSE(find_to(o.out, "BYE", kPhone));
      EXPECT_TRUE(media.ops.empty());
      auto cdr = store->cdr(cid);
      EXPECT_TRUE(cdr && cdr->result_code == 487 && cdr->end_reason == "caller BYE before its answer");
      return o;
    }
    case CallEvent::bye_b: {
      Offering c = offering(cid);
      Outcome o = from_carrier(cid, carrier_request("BYE", c.inv, 2));
      EXPECT_TRUE(find_to(o.out, "200", kCarrier));
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_FALSE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(store->cdr(cid)->end_reason, "callee BYE before the caller's answer");
      return o;
    }
    case CallEvent::reinvite_a: {
      // Our offer is unanswered: a new one from the phone crosses it.
      Offering c = offering(cid);
      Outcome o = from_phone(cid, phone_request("INVITE", cid, c.ok, 104, phone_hold_offer()));
      EXPECT_TRUE(find_to(o.out, "491", kPhone));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::reinvite_b: {
      Offering c = offering(cid);
      Outcome o = from_carrier(cid, carrier_request("INVITE", c.inv, 2, carrier_new_media_offer()));
      EXPECT_TRUE(find_to(o.out, "491", kCarrier));
      EXPECT_TRUE(media.ops.empty());
      return o;
    }
    case CallEvent::in_dialog_other: {
      Offering c = offering(cid);
      Outcome o = from_phone(cid, phone_request("NOTIFY", cid, c.ok, 104));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_EQ(o.out.size(), 1u);
      return o;
    }
    case CallEvent::session_timer: {
      // The phone asked for no timer: the clock moving on does nothing
      // (its missing ACK is the stack's Timer H, not run here).
      offering(cid);
      Outcome o = after_time(cid, std::chrono::seconds(1000), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::info: {
      Offering c = offering(cid);
      Outcome o = from_carrier(cid, with_body(carrier_request("INFO", c.inv, 2), "application/dtmf-relay", kDtmfRelay));
      expect_body_has(find_to(o.out, "INFO", kPhone), "Signal=5");
      EXPECT_EQ(final_responses_to(o.out, kCarrier), 0);
      return o;
    }
    case CallEvent::relay_dialog_gone: {
      // Passed back; the phone's ACK (or its absence) decides the call.
      Offering c = offering(cid);
      inject("10.20.0.2", 5060, with_body(carrier_request("INFO", c.inv, 2), "application/dtmf-relay", kDtmfRelay));
      Msg info = copy(find_to(take(), "INFO", kPhone));
      Outcome o = from_phone(cid, carrier_response(info, 481, "Call/Transaction Does Not Exist", ""));
      EXPECT_TRUE(find_to(o.out, "481", kCarrier));
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::ack_timeout: {
      // The phone never ACKs (so never answers): after 64*T1 both legs get a BYE.
      offering(cid);
      Outcome o = after_sip_timers_until_byes(cid, 2);
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(store->cdr(cid)->end_reason, "no ACK from caller");
      EXPECT_EQ(gw->stats().calls_failed, 1u);
      return o;
    }
    case CallEvent::ack: {
      // The answer: the flow's add is posted with the phone's media (held
      // back here), the call answered when it is acked.
      Offering c = offering(cid);
      media.hold_acks = true;
      Outcome o = from_phone(cid, phone_ack(cid, c.ok, phone_answer()));
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(o.state, CallState::offering);
      EXPECT_EQ(media.ops.size(), 1u);
      if (!media.ops.empty()) {
        EXPECT_EQ(media.ops[0].what, "add");
        EXPECT_EQ(media.ops[0].a.remote_port, 16388);
        EXPECT_EQ(media.ops[0].a.codec, uint8_t(codecs::CodecId::G729));
        EXPECT_EQ(media.ops[0].b.remote_port, 6000);
      }
      EXPECT_EQ(gw->stats().calls_answered, 0u);
      Outcome ready = after_flow_ack(cid);
      EXPECT_TRUE(ready.out.empty());
      EXPECT_EQ(ready.state, CallState::answered);
      EXPECT_EQ(gw->stats().calls_answered, 1u);
      EXPECT_EQ(gw->stats().relayed_calls, 1u);
      return o;
    }
    case CallEvent::reinvite_timeout: {
      // No re-INVITE of ours while our offer is unanswered.
      offering(cid);
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(100), false);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::media_timeout: {
      // No flow yet; a stale timeout of another flow id changes nothing.
      offering(cid);
      Outcome o = after_media_timeout(cid, 7);
      EXPECT_TRUE(o.out.empty());
      o.reaches_call = false;
      return o;
    }
    case CallEvent::dataplane_restart: {
      // The answer's add went to the old dataplane: posted again to the new
      // one, answered on its ack.
      offering_answered(cid);
      const uint32_t flow = media.ops.back().flow;
      Outcome o = after_dataplane_restart(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(media.ops.size(), 2u);
      EXPECT_EQ(media.ops.back().what, "add");
      EXPECT_EQ(media.ops.back().flow, flow);
      Outcome ready = after_flow_ack(cid);
      EXPECT_EQ(ready.state, CallState::answered);
      return o;
    }
    case CallEvent::hangup: {
      offering(cid);
      mark();
      auto j = hangup(cid);
      EXPECT_TRUE(j["ok"].get<bool>()) << j.dump();
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(store->cdr(cid)->end_reason, "hangup by operator");
      return o;
    }
    case CallEvent::flow_update_failed: {
      // No modify is posted before the add: a stale failure changes nothing.
      offering(cid);
      Outcome o = after_flow_update_failed(cid, 7);
      EXPECT_TRUE(o.out.empty());
      o.reaches_call = false;
      return o;
    }
    case CallEvent::flow_ready: {
      offering_answered(cid);
      EXPECT_TRUE(store->live().empty()) << "not persisted before it is answered";
      Outcome o = after_flow_ack(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().calls_answered, 1u);
      EXPECT_EQ(gw->stats().calls_active, 1u);
      EXPECT_EQ(store->live().size(), 1u) << "persisted once answered";
      return o;
    }
    case CallEvent::flow_refused: {
      // Both legs have their 2xx: both get a BYE saying why.
      media.fail = true;
      offering_answered(cid);
      Outcome o = after_flow_ack(cid);
      const Msg* bye = find_to(o.out, "BYE", kPhone);
      EXPECT_TRUE(bye);
      if (bye) {
        EXPECT_NE(bye->raw.find("Reason: SIP;cause=503"), std::string::npos) << bye->raw;
      }
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(gw->stats().media_errors, 1u);
      EXPECT_EQ(gw->stats().calls_failed, 1u);
      return o;
    }
  }
  ADD_FAILURE() << "no scenario";
  return {};
}

}  // namespace msgw_test
