// SPDX-License-Identifier: GPL-3.0-or-later
// The routing and early rows of the call transition table: each scenario
// drives a call into the state and injects the row's event (see
// test_call_transitions.cpp for what every row is checked for).
#include "call_transition_fixture.hpp"

namespace msgw_test {

// ---------------------------------------------------------------- routing

Outcome CallTransitionTest::routing_row(CallEvent e) {
  const std::string cid = "r-" + std::string(control::event_name(e)) + "@10.10.0.2";
  switch (e) {
    case CallEvent::b_provisional: {
      Msg inv = routing(cid);
      Outcome o = from_carrier(cid, carrier_response(inv, 180, "Ringing", ""));
      const Msg* r = find_to(o.out, "180", kPhone);
      EXPECT_TRUE(r);
      if (r) {
        EXPECT_FALSE(sip::to_tag(r->m.get()).empty());  // the phone's early dialog
      }
      EXPECT_TRUE(media.ops.empty());
      return o;
    }
    case CallEvent::b_answer: {
      Msg inv = routing(cid);
      Outcome o = from_carrier(cid, carrier_response(inv, 200, "OK", g729_answer()));
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      const Msg* ok = find_to(o.out, "200", kPhone);
      expect_body_has(ok, "m=audio");
      EXPECT_EQ(media.ops.size(), 1u);
      EXPECT_EQ(gw->stats().calls_answered, 1u);
      return o;
    }
    case CallEvent::b_failure: {
      // The callee's own answer (486): relayed, no failover.
      Msg inv = routing(cid);
      Outcome o = from_carrier(cid, carrier_response(inv, 486, "Busy Here", ""));
      EXPECT_TRUE(find_to(o.out, "486", kPhone));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(gw->stats().failovers, 0u);
      EXPECT_EQ(gw->stats().calls_failed, 1u);
      return o;
    }
    case CallEvent::b_challenge: {
      // The carrier's 407: ACKed by the stack, the INVITE sent again with
      // credentials (same Call-ID and From tag, CSeq + 1); still routing.
      Msg inv = routing(cid);
      Outcome o = from_carrier(cid, carrier_challenge(inv, 407, "n0nce-r"));
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      const Msg* again = find_to(o.out, "INVITE", kCarrier);
      EXPECT_TRUE(again);
      if (again) {
        EXPECT_NE(again->raw.find("Proxy-Authorization: Digest username=\"gw\", realm=\"carrier.example\", nonce=\"n0nce-r\""), std::string::npos);
        EXPECT_EQ(std::string(again->m->call_id->number), std::string(inv.m->call_id->number));
        EXPECT_EQ(sip::from_tag(again->m.get()), sip::from_tag(inv.m.get()));
        EXPECT_EQ(std::atoi(again->m->cseq->number), std::atoi(inv.m->cseq->number) + 1);
      }
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(gw->stats().trunk_challenges, 1u);
      return o;
    }
    case CallEvent::b_timeout: {
      // Timer B of the carrier's INVITE: the backup is tried (covered in
      // RoutingTimerBFailsOverThenEndsWith408 through to the final 408).
      Msg inv = routing(cid);
      mark();
      std::vector<Msg> out;
      run_sip_timers([&] {
        for (auto& m : take()) out.push_back(std::move(m));
        return find_to(out, "INVITE", kBackup) != nullptr;
      });
      Outcome o = done(cid);
      o.out = std::move(out);
      EXPECT_TRUE(find_to(o.out, "INVITE", kBackup));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(gw->stats().failovers, 1u);
      return o;
    }
    case CallEvent::b_deadline: {
      // The carrier's 2 s answer deadline: CANCEL it, try the backup.
      Msg inv = routing(cid);
      Outcome o = after_deadline(cid);
      EXPECT_TRUE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_TRUE(find_to(o.out, "INVITE", kBackup));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(gw->stats().failovers, 1u);
      return o;
    }
    case CallEvent::a_cancel: {
      Msg inv = routing(cid);
      Outcome o = from_phone(cid, phone_cancel(cid));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));  // for the CANCEL
      EXPECT_TRUE(find_to(o.out, "487", kPhone));  // for the INVITE
      EXPECT_TRUE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_EQ(gw->stats().calls_cancelled, 1u);
      auto cdr = store->cdr(cid);
      EXPECT_TRUE(cdr && cdr->result_code == 487 && cdr->end_reason == "CANCEL");
      return o;
    }
    case CallEvent::bye_a: {
      // The phone can only send a BYE in the early dialog of a provisional
      // it got: routing with one is a call failing over after a 180.
      Failover f = routing_after_failover(cid);
      Outcome o = from_phone(cid, phone_request("BYE", cid, f.first.ringing, 104));
      EXPECT_EQ(count(o.out, "200"), 1);  // for the BYE
      EXPECT_TRUE(find_to(o.out, "487", kPhone));
      EXPECT_TRUE(find_to(o.out, "CANCEL", kBackup));
      EXPECT_EQ(store->cdr(cid)->end_reason, "caller BYE before answer");
      return o;
    }
    case CallEvent::bye_b: {
      // The trunk being tried has no dialog yet: its BYE matches nothing.
      Failover f = routing_after_failover(cid);
      Outcome o = from_backup(cid, carrier_request("BYE", f.inv2, 1), false);
      EXPECT_TRUE(find_to(o.out, "481", kBackup));
      EXPECT_EQ(o.out.size(), 1u);
      return o;
    }
    case CallEvent::reinvite_a: {
      Failover f = routing_after_failover(cid);
      Outcome o = from_phone(cid, phone_request("INVITE", cid, f.first.ringing, 104, phone_hold_offer()));
      EXPECT_TRUE(find_to(o.out, "491", kPhone));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(gw->stats().reinvites, 1u);
      return o;
    }
    case CallEvent::reinvite_b: {
      Failover f = routing_after_failover(cid);
      Outcome o = from_backup(cid, carrier_request("INVITE", f.inv2, 2, carrier_new_media_offer()), false);
      EXPECT_TRUE(find_to(o.out, "481", kBackup));  // no dialog with the backup yet
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::reinvite_challenge:
      // No re-INVITE is sent before the answer: the nearest event is the
      // same as for its answer.
      return routing_row(CallEvent::reinvite_answer);
    case CallEvent::reinvite_answer: {
      // No re-INVITE is sent before the answer. The nearest event: after the
      // carrier's deadline passed (CANCEL, backup tried) the carrier answers
      // the abandoned INVITE after all: ACKed and BYEd, the call is not told.
      Msg inv = routing(cid);
      advanced = std::chrono::milliseconds(2100);
      gw->tick();
      EXPECT_TRUE(find_to(take(), "INVITE", kBackup));
      Outcome o = from_carrier(cid, carrier_response(inv, 200, "OK", g729_answer()), false);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_TRUE(media.ops.empty());
      return o;
    }
    case CallEvent::in_dialog_other: {
      Failover f = routing_after_failover(cid);
      Outcome o = from_phone(cid, phone_request("NOTIFY", cid, f.first.ringing, 104));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_EQ(o.out.size(), 1u);
      return o;
    }
    case CallEvent::session_timer: {
      // No timer before the answer: the clock moving on (short of the
      // trunk's answer deadline) does nothing here.
      routing(cid);
      Outcome o = after_time(cid, std::chrono::seconds(1), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::info: {
      // The backup trunk has not answered with a tag: no dialog to pass it
      // to (the failed carrier's early dialog is gone with its INVITE).
      Failover f = routing_after_failover(cid);
      Outcome o = from_phone(cid, with_body(phone_request("INFO", cid, f.first.ringing, 104), "application/dtmf-relay", kDtmfRelay));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_EQ(o.out.size(), 1u);
      EXPECT_EQ(gw->stats().info_unrelayed, 1u);
      EXPECT_EQ(gw->stats().info_relayed, 0u);
      return o;
    }
    case CallEvent::relay_dialog_gone: {
      // An INFO passed on while the carrier rang; the carrier then fails the
      // INVITE (the backup is tried) and answers the INFO 481: the phone
      // hears the 481, the call attempt goes on.
      Early e = early(cid);
      inject("10.10.0.2", 5062, with_body(phone_request("INFO", cid, e.ringing, 104), "application/dtmf-relay", kDtmfRelay));
      Msg info = copy(find_to(take(), "INFO", kCarrier));
      inject("10.20.0.2", 5060, carrier_response(e.inv, 503, "Service Unavailable", ""));
      EXPECT_TRUE(find_to(take(), "INVITE", kBackup));
      EXPECT_EQ(state_of(cid), CallState::routing);
      Outcome o = from_carrier(cid, carrier_response(info, 481, "Call/Transaction Does Not Exist", ""));
      EXPECT_TRUE(find_to(o.out, "481", kPhone));
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(count(o.out, "CANCEL"), 0);
      return o;
    }
    case CallEvent::ack_timeout: {
      // No 2xx went to the phone: there is no ACK to wait for. Past 64*T1
      // nothing ends the call (the carrier's deadline is not reached).
      routing(cid, "1-877-555-1212");  // backup only: no answer deadline, no failover
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(200), false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::ack: {
      // The phone has no 2xx to ACK (only the failed carrier's early
      // dialog): the stack drops the ACK.
      Failover f = routing_after_failover(cid);
      Outcome o = from_phone(cid, phone_request("ACK", cid, f.first.ringing, 103, spa_offer()), false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_TRUE(media.ops.empty());
      return o;
    }
    case CallEvent::reinvite_timeout: {
      // No re-INVITE goes out before the answer: the SIP timers end nothing.
      routing(cid, "1-877-555-1212");  // backup only: no answer deadline
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(200), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      return o;
    }
    case CallEvent::media_timeout: {
      // A flow exists in routing after early media and a failover.
      Failover f = routing_after_failover(cid, true);
      uint32_t flow = only_flow();
      Outcome o = after_media_timeout(cid, flow);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_timeouts, 1u);
      EXPECT_EQ(media.ops.back().what, "add");  // the flow stays
      return o;
    }
    case CallEvent::dataplane_restart: {
      Failover f = routing_after_failover(cid, true);
      const auto ops = media.ops.size();
      Outcome o = after_dataplane_restart(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().dataplane_restarts, 1u);
      EXPECT_EQ(gw->stats().flows_reprogrammed, 0u);  // forgotten, not re-programmed
      EXPECT_EQ(media.ops.size(), ops);
      return o;
    }
    case CallEvent::flow_update_failed: {
      // The refused modify was the failed trunk's early media: nothing to
      // do until the next answer programs the flow in full.
      Failover f = routing_after_failover(cid, true);
      const auto ops = media.ops.size();
      Outcome o = after_flow_update_failed(cid, only_flow());
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_errors, 1u);
      EXPECT_EQ(media.ops.size(), ops);
      return o;
    }
    case CallEvent::flow_ready:
    case CallEvent::flow_refused: {
      // The carrier's early-media add is still unanswered when it fails
      // over: the flow is kept (ready) or forgotten (refused), nothing is
      // relayed; the backup's answer programs it in full either way.
      const bool refused = e == CallEvent::flow_refused;
      Msg inv = routing(cid);
      media.hold_acks = true;
      media.fail = refused;
      inject("10.20.0.2", 5060, carrier_response(inv, 183, "Session Progress", g729_answer()));
      EXPECT_FALSE(find_to(take(), "183", kPhone)) << "relayed before its flow is in the dataplane";
      inject("10.20.0.2", 5060, carrier_response(inv, 503, "Service Unavailable", ""));
      Msg inv2 = copy(find_to(take(), "INVITE", kBackup));
      media.fail = false;
      Outcome o = after_flow_ack(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_errors, refused ? 1u : 0u);
      EXPECT_EQ(media.flows.size(), refused ? 0u : 1u);
      inject("10.20.0.3", 5060, carrier_response(inv2, 200, "OK", g729_answer()));
      gw->tick();
      auto out = take();
      EXPECT_TRUE(find_to(out, "200", kPhone));
      EXPECT_TRUE(find_to(out, "ACK", kBackup));
      EXPECT_EQ(media.ops.back().what, refused ? "add" : "modify");
      return o;
    }
    case CallEvent::hangup: {
      Msg inv = routing(cid);
      mark();
      auto j = hangup(cid);
      EXPECT_TRUE(j["ok"].get<bool>()) << j.dump();
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "480", kPhone));
      EXPECT_TRUE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_EQ(store->cdr(cid)->end_reason, "hangup by operator");
      return o;
    }
  }
  ADD_FAILURE() << "no scenario";
  return {};
}

// ---------------------------------------------------------------- early

Outcome CallTransitionTest::early_row(CallEvent e) {
  const std::string cid = "e-" + std::string(control::event_name(e)) + "@10.10.0.2";
  switch (e) {
    case CallEvent::b_provisional: {
      Early c = early(cid);
      Outcome o = from_carrier(cid, carrier_response(c.inv, 183, "Session Progress", g729_answer()));
      const Msg* r = find_to(o.out, "183", kPhone);
      expect_body_has(r, "m=audio");  // early media to the phone
      EXPECT_EQ(media.ops.size(), 1u);
      EXPECT_EQ(media.flows.size(), 1u);
      return o;
    }
    case CallEvent::b_answer: {
      Early c = early(cid, true);
      Outcome o = from_carrier(cid, carrier_response(c.inv, 200, "OK", ""));  // SDP came with the 183
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_EQ(gw->stats().calls_answered, 1u);
      return o;
    }
    case CallEvent::b_failure: {
      // 503 after ringing: failover to the backup (the final failure in
      // EarlyFailureFailsOverThenRelaysTheLastStatus).
      Early c = early(cid);
      Outcome o = from_carrier(cid, carrier_response(c.inv, 503, "Service Unavailable", ""));
      EXPECT_TRUE(find_to(o.out, "INVITE", kBackup));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(gw->stats().failovers, 1u);
      return o;
    }
    case CallEvent::b_challenge: {
      // A 407 after ringing ends that INVITE: a new one with credentials
      // goes out, and the call is routing again.
      Early c = early(cid);
      Outcome o = from_carrier(cid, carrier_challenge(c.inv, 407, "n0nce-e"));
      const Msg* again = find_to(o.out, "INVITE", kCarrier);
      EXPECT_TRUE(again);
      if (again) {
        EXPECT_NE(again->raw.find("n0nce-e"), std::string::npos);
      }
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(o.state, CallState::routing);
      return o;
    }
    case CallEvent::b_timeout: {
      // Timer B stops at the first provisional (RFC 3261 §17.1.1.2): the
      // call rings on.
      early(cid);
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(600), false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "CANCEL"), 0);
      return o;
    }
    case CallEvent::b_deadline: {
      early(cid);
      Outcome o = after_deadline(cid, false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().failovers, 0u);
      return o;
    }
    case CallEvent::a_cancel: {
      early(cid);
      Outcome o = from_phone(cid, phone_cancel(cid));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_TRUE(find_to(o.out, "487", kPhone));
      EXPECT_TRUE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_EQ(gw->stats().calls_cancelled, 1u);
      return o;
    }
    case CallEvent::bye_a: {
      Early c = early(cid);
      Outcome o = from_phone(cid, phone_request("BYE", cid, c.ringing, 104));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_TRUE(find_to(o.out, "487", kPhone));
      EXPECT_TRUE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_EQ(store->cdr(cid)->end_reason, "caller BYE before answer");
      return o;
    }
    case CallEvent::bye_b: {
      Early c = early(cid);
      Outcome o = from_carrier(cid, carrier_request("BYE", c.inv, 1));
      EXPECT_TRUE(find_to(o.out, "200", kCarrier));
      EXPECT_TRUE(find_to(o.out, "487", kPhone));
      EXPECT_EQ(store->cdr(cid)->end_reason, "callee BYE before answer");
      return o;
    }
    case CallEvent::reinvite_a: {
      Early c = early(cid);
      Outcome o = from_phone(cid, phone_request("INVITE", cid, c.ringing, 104, phone_hold_offer()));
      EXPECT_TRUE(find_to(o.out, "491", kPhone));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::reinvite_b: {
      Early c = early(cid);
      Outcome o = from_carrier(cid, carrier_request("INVITE", c.inv, 2, carrier_new_media_offer()));
      EXPECT_TRUE(find_to(o.out, "491", kCarrier));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::reinvite_challenge:
      return early_row(CallEvent::reinvite_answer);  // no re-INVITE before the answer
    case CallEvent::reinvite_answer: {
      // No re-INVITE goes out before the answer; a second 180 (the nearest
      // response) changes nothing either.
      Early c = early(cid);
      Outcome o = from_carrier(cid, carrier_response(c.inv, 180, "Ringing", ""), false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "ACK"), 0);
      return o;
    }
    case CallEvent::in_dialog_other: {
      Early c = early(cid);
      Outcome o = from_phone(cid, phone_request("NOTIFY", cid, c.ringing, 104));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_EQ(o.out.size(), 1u);
      return o;
    }
    case CallEvent::session_timer: {
      early(cid);  // the 180 cleared the answer deadline
      Outcome o = after_time(cid, std::chrono::seconds(1000), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::info: {
      // In the carrier's early dialog (RFC 6086 allows it); its answer comes back.
      Early c = early(cid);
      Outcome o = from_phone(cid, with_body(phone_request("INFO", cid, c.ringing, 104), "application/dtmf-relay", kDtmfRelay));
      const Msg* info = find_to(o.out, "INFO", kCarrier);
      expect_body_has(info, "Signal=5");
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      inject("10.20.0.2", 5060, carrier_response(copy(info), 200, "OK", ""));
      EXPECT_TRUE(find_to(take(), "200", kPhone));
      EXPECT_EQ(gw->stats().info_relayed, 1u);
      return o;
    }
    case CallEvent::relay_dialog_gone: {
      // The carrier's 481 to an INFO while it rings: passed back; the INVITE
      // decides the call's fate.
      Early c = early(cid);
      inject("10.10.0.2", 5062, with_body(phone_request("INFO", cid, c.ringing, 104), "application/dtmf-relay", kDtmfRelay));
      Msg info = copy(find_to(take(), "INFO", kCarrier));
      Outcome o = from_carrier(cid, carrier_response(info, 481, "Call/Transaction Does Not Exist", ""));
      EXPECT_TRUE(find_to(o.out, "481", kPhone));
      EXPECT_EQ(count(o.out, "CANCEL"), 0);
      return o;
    }
    case CallEvent::ack_timeout: {
      // No 2xx to the phone yet: nothing to be ACKed.
      early(cid);
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(200), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      return o;
    }
    case CallEvent::ack: {
      // An ACK in the early dialog acknowledges no 2xx: the stack drops it.
      Early c = early(cid);
      Outcome o = from_phone(cid, phone_request("ACK", cid, c.ringing, 103, spa_offer()), false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_TRUE(media.ops.empty());
      return o;
    }
    case CallEvent::reinvite_timeout: {
      early(cid);
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(200), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      return o;
    }
    case CallEvent::media_timeout: {
      // Early media may pause (a ringback tone with gaps): not a reason to end.
      early(cid, true);
      uint32_t flow = only_flow();
      Outcome o = after_media_timeout(cid, flow);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_timeouts, 1u);
      EXPECT_EQ(media.flows.size(), 1u);
      return o;
    }
    case CallEvent::dataplane_restart: {
      early(cid, true);
      uint32_t flow = only_flow();
      Outcome o = after_dataplane_restart(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().flows_reprogrammed, 1u);  // counted at the add's ack
      EXPECT_EQ(media.ops.back().what, "add");
      EXPECT_EQ(media.ops.back().flow, flow);
      EXPECT_EQ(media.flows.count(flow), 1u);
      return o;
    }
    case CallEvent::flow_update_failed: {
      // A second 183's media was refused: the early-media flow stays as it
      // was, the call rings on, the answer programs the flow in full.
      early(cid, true);
      Outcome o = after_flow_update_failed(cid, only_flow());
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_errors, 1u);
      EXPECT_EQ(media.flows.size(), 1u);
      return o;
    }
    case CallEvent::flow_ready: {
      // The 183's media: relayed to the phone once its flow is added.
      Msg inv = routing(cid);
      media.hold_acks = true;
      inject("10.20.0.2", 5060, carrier_response(inv, 183, "Session Progress", g729_answer()));
      EXPECT_FALSE(find_to(take(), "183", kPhone)) << "relayed before its flow is in the dataplane";
      EXPECT_EQ(state_of(cid), CallState::early);
      Outcome o = after_flow_ack(cid);
      expect_body_has(find_to(o.out, "183", kPhone), "m=audio");
      EXPECT_EQ(gw->stats().flows_reprogrammed, 0u);
      return o;
    }
    case CallEvent::flow_refused: {
      // The 183's media was refused: the phone hears the 183 without SDP,
      // as when the add was awaited; the answer adds the flow again.
      Msg inv = routing(cid);
      media.hold_acks = true;
      media.fail = true;
      inject("10.20.0.2", 5060, carrier_response(inv, 183, "Session Progress", g729_answer()));
      EXPECT_FALSE(find_to(take(), "183", kPhone));
      Outcome o = after_flow_ack(cid);
      const Msg* r = find_to(o.out, "183", kPhone);
      EXPECT_TRUE(r);
      if (r) {
        EXPECT_TRUE(r->body().empty());
      }
      EXPECT_EQ(gw->stats().media_errors, 1u);
      media.fail = false;
      media.hold_acks = false;
      inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
      gw->tick();
      EXPECT_TRUE(find_to(take(), "200", kPhone));
      EXPECT_EQ(state_of(cid), CallState::answered);
      return o;
    }
    case CallEvent::hangup: {
      early(cid);
      mark();
      auto j = hangup(cid);
      EXPECT_TRUE(j["ok"].get<bool>()) << j.dump();
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "480", kPhone));
      EXPECT_TRUE(find_to(o.out, "CANCEL", kCarrier));
      return o;
    }
  }
  ADD_FAILURE() << "no scenario";
  return {};
}


}  // namespace msgw_test
