// SPDX-License-Identifier: GPL-3.0-or-later
// The answered and ended rows of the call transition table: each scenario
// drives a call into the state and injects the row's event (see
// test_call_transitions.cpp for what every row is checked for).
#include "call_transition_fixture.hpp"

namespace msgw_test {

// ---------------------------------------------------------------- answered

Outcome CallTransitionTest::answered_row(CallEvent e) {
  const std::string cid = "a-" + std::string(control::event_name(e)) + "@10.10.0.2";
  auto answered = [&] {
    auto r = answered_call(cid, spa_offer());
    EXPECT_EQ(state_of(cid), CallState::answered);
    return r;
  };
  switch (e) {
    case CallEvent::b_provisional: {
      auto [inv, ok] = answered();
      Outcome o = from_carrier(cid, carrier_response(inv, 180, "Ringing", ""), false);
      EXPECT_TRUE(o.out.empty());
      return o;
    }
    case CallEvent::b_answer: {
      // A retransmitted 2xx: the stack ACKs it again, the phone hears nothing.
      auto [inv, ok] = answered();
      Outcome o = from_carrier(cid, carrier_response(inv, 200, "OK", g729_answer()), false);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(gw->stats().calls_answered, 1u);
      EXPECT_EQ(media.ops.size(), 1u);
      return o;
    }
    case CallEvent::b_failure: {
      auto [inv, ok] = answered();
      Outcome o = from_carrier(cid, carrier_response(inv, 503, "Service Unavailable", ""), false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::b_challenge: {
      // A 407 after the 2xx matches no transaction: nothing happens.
      auto [inv, ok] = answered();
      Outcome o = from_carrier(cid, carrier_challenge(inv, 407, "late"), false);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(gw->stats().trunk_challenges, 0u);
      return o;
    }
    case CallEvent::b_timeout: {
      answered();
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(600), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::b_deadline: {
      answered();
      Outcome o = after_deadline(cid, false);
      EXPECT_TRUE(o.out.empty());
      return o;
    }
    case CallEvent::a_cancel: {
      // Too late: the INVITE was answered; the stack answers the CANCEL.
      answered();
      Outcome o = from_phone(cid, phone_cancel(cid), false);
      EXPECT_EQ(count(o.out, "487"), 0);
      EXPECT_EQ(count(o.out, "CANCEL"), 0);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(gw->stats().calls_cancelled, 0u);
      return o;
    }
    case CallEvent::bye_a: {
      auto [inv, ok] = answered();
      Outcome o = from_phone(cid, phone_request("BYE", cid, ok, 104));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(media.ops.back().what, "del");
      EXPECT_EQ(store->cdr(cid)->end_reason, "caller BYE");
      return o;
    }
    case CallEvent::bye_b: {
      auto [inv, ok] = answered();
      Outcome o = from_carrier(cid, carrier_request("BYE", inv, 1));
      EXPECT_TRUE(find_to(o.out, "200", kCarrier));
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_EQ(media.ops.back().what, "del");
      EXPECT_EQ(store->cdr(cid)->end_reason, "callee BYE");
      return o;
    }
    case CallEvent::reinvite_a: {
      auto [inv, ok] = answered();
      Outcome o = from_phone(cid, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
      const Msg* r = find_to(o.out, "200", kPhone);
      expect_body_has(r, "a=recvonly");
      const Msg* ri = find_to(o.out, "INVITE", kCarrier);
      expect_body_has(ri, "a=sendonly");
      EXPECT_EQ(media.ops.back().what, "modify");
      EXPECT_EQ(media.ops.back().a.remote_port, 16400);
      EXPECT_EQ(gw->stats().reinvites, 1u);
      return o;
    }
    case CallEvent::reinvite_b: {
      auto [inv, ok] = answered();
      Outcome o = from_carrier(cid, carrier_request("INVITE", inv, 2, carrier_new_media_offer()));
      const Msg* r = find_to(o.out, "200", kCarrier);
      expect_body_has(r, "m=audio");
      // The carrier's new port changes nothing for the phone (the media is
      // anchored here): no re-INVITE goes to it.
      EXPECT_FALSE(find_to(o.out, "INVITE", kPhone));
      EXPECT_EQ(media.ops.back().what, "modify");
      EXPECT_EQ(media.ops.back().b.remote_port, 6100);
      return o;
    }
    case CallEvent::reinvite_answer: {
      auto [inv, ok] = answered();
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
      auto out = take();
      Msg ri = copy(find_to(out, "INVITE", kCarrier));
      // The carrier's answer moves its media: re-programmed, then ACKed.
      Outcome o = from_carrier(
          cid, carrier_response(ri, 200, "OK",
                                sdp_offer("10.20.0.2", 6200, "18 101", {"rtpmap:18 G729/8000"}, "recvonly")));
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(media.ops.back().what, "modify");
      EXPECT_EQ(media.ops.back().b.remote_port, 6200);
      return o;
    }
    case CallEvent::reinvite_challenge: {
      // The phone holds; the carrier challenges the gateway's re-INVITE: the
      // same offer again in the dialog with credentials (CSeq + 1). A second
      // challenge to that ends the re-INVITE; the call goes on as it was.
      auto [inv, ok] = answered();
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
      Msg ri = copy(find_to(take(), "INVITE", kCarrier));
      EXPECT_EQ(ri.raw.find("Proxy-Authorization"), std::string::npos);  // no challenge cached yet
      Outcome o = from_carrier(cid, carrier_challenge_in_dialog(ri, 407, "n0nce-ri"));
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      const Msg* again = find_to(o.out, "INVITE", kCarrier);
      EXPECT_TRUE(again);
      if (!again) return o;
      EXPECT_NE(again->raw.find("Proxy-Authorization: Digest username=\"gw\", realm=\"carrier.example\", nonce=\"n0nce-ri\""),
                std::string::npos);
      EXPECT_EQ(std::atoi(again->m->cseq->number), std::atoi(ri.m->cseq->number) + 1);
      EXPECT_EQ(std::string(again->m->call_id->number), std::string(ri.m->call_id->number));
      EXPECT_EQ(sip::from_tag(again->m.get()), sip::from_tag(ri.m.get()));
      EXPECT_EQ(again->body(), ri.body());
      EXPECT_EQ(gw->stats().trunk_challenges, 1u);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      Msg ri2 = copy(again);
      inject("10.20.0.2", 5060, carrier_challenge_in_dialog(ri2, 407, "n0nce-r2"));
      auto out2 = take();
      EXPECT_EQ(count(out2, "INVITE"), 0);  // answered once only
      EXPECT_EQ(count(out2, "BYE"), 0);
      EXPECT_EQ(gw->stats().trunk_challenges, 1u);
      EXPECT_EQ(gw->stats().trunk_auth_failures, 1u);
      EXPECT_EQ(state_of(cid), CallState::answered);
      return o;
    }
    case CallEvent::in_dialog_other: {
      auto [inv, ok] = answered();
      Outcome o = from_carrier(cid, carrier_request("OPTIONS", inv, 3));
      const Msg* r = find_to(o.out, "200", kCarrier);
      if (r == nullptr) {
        ADD_FAILURE() << "no 200 to the OPTIONS";
        return o;
      }
      EXPECT_NE(r->raw.find("\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, NOTIFY, UPDATE\r\n"), std::string::npos) << r->raw;
      EXPECT_EQ(o.out.size(), 1u);  // acknowledged, not relayed
      return o;
    }
    case CallEvent::session_timer: {
      // The phone asked for a 120 s session timer and refreshes it itself
      // (refresher=uac); it goes silent: 32 s before the session would
      // expire, BYE to both legs (RFC 4028 §10).
      invite_extra = "Supported: timer\r\nSession-Expires: 120\r\n";
      auto [inv, ok] = answered_call(cid, spa_offer());
      EXPECT_NE(ok.raw.find("\r\nSession-Expires: 120;refresher=uac\r\n"), std::string::npos) << ok.raw;
      EXPECT_NE(ok.raw.find("\r\nRequire: timer\r\n"), std::string::npos) << ok.raw;
      EXPECT_EQ(count(after_time(cid, std::chrono::seconds(87), false).out, "BYE"), 0);
      Outcome o = after_time(cid, std::chrono::seconds(1));
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(store->cdr(cid)->end_reason, "session timer expired on a");
      EXPECT_EQ(gw->stats().sessions_expired, 1u);
      return o;
    }
    case CallEvent::info: {
      // The carrier's DTMF by INFO reaches the phone whole; the phone's
      // answer goes back to the carrier.
      auto [inv, ok] = answered();
      Outcome o = from_carrier(cid, with_body(carrier_request("INFO", inv, 3), "application/dtmf-relay", kDtmfRelay));
      const Msg* info = find_to(o.out, "INFO", kPhone);
      expect_body_has(info, "Signal=5\r\nDuration=160");
      EXPECT_EQ(final_responses_to(o.out, kCarrier), 0);
      inject("10.10.0.2", 5062, carrier_response(copy(info), 200, "OK", ""));
      EXPECT_TRUE(find_to(take(), "200", kCarrier));
      EXPECT_EQ(gw->stats().info_relayed, 1u);
      return o;
    }
    case CallEvent::relay_dialog_gone: {
      // The carrier answers the phone's INFO 481: its dialog is gone (RFC
      // 3261 §12.2.1.2); the phone hears the 481, both legs get a BYE.
      auto [inv, ok] = answered();
      inject("10.10.0.2", 5062, with_body(phone_request("INFO", cid, ok, 104), "application/dtmf-relay", kDtmfRelay));
      Msg info = copy(find_to(take(), "INFO", kCarrier));
      Outcome o = from_carrier(cid, carrier_response(info, 481, "Call/Transaction Does Not Exist", ""));
      EXPECT_TRUE(find_to(o.out, "481", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(store->cdr(cid)->end_reason, "INFO to b: 481");
      return o;
    }
    case CallEvent::ack_timeout: {
      // The phone never ACKs the 200: after 64*T1 both legs get a BYE.
      Msg inv = routing(cid);
      inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
      EXPECT_EQ(state_of(cid), CallState::answered);
      Outcome o = after_sip_timers_until_byes(cid, 2);
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_GE(count(o.out, "200"), 1);  // the 2xx was retransmitted meanwhile
      EXPECT_EQ(store->cdr(cid)->end_reason, "no ACK from caller");
      return o;
    }
    case CallEvent::ack: {
      // An offerless re-INVITE from the phone: the 200 offers the session
      // as it is, the ACK's answer moves the phone's media (third-party
      // call control, RFC 3725): the flow is modified, nothing is sent.
      auto r = answered_call(cid, spa_offer());
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, r.second, 104));
      auto out = take();
      const Msg* ok = find_to(out, "200", kPhone);
      expect_body_has(ok, "m=audio");
      const std::size_t ops = media.ops.size();
      Outcome o = from_phone(cid, phone_request("ACK", cid, r.second, 104,
                                                sdp_offer("10.10.0.7", 16500, "18 101",
                                                          {"rtpmap:18 G729a/8000", "rtpmap:101 telephone-event/8000"})));
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(media.ops.size(), ops + 1);
      EXPECT_EQ(media.ops.back().what, "modify");
      EXPECT_EQ(media.ops.back().a.remote_port, 16500);
      EXPECT_EQ(media.ops.back().a.remote_ip, *config::parse_ipv4("10.10.0.7"));
      return o;
    }
    case CallEvent::reinvite_timeout: {
      // The phone holds; the carrier never answers the gateway's re-INVITE:
      // the dialog is gone (RFC 3261 §14.1), both legs get a BYE.
      auto [inv, ok] = answered();
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
      EXPECT_TRUE(find_to(take(), "INVITE", kCarrier));
      // The phone ACKs our 200: the ACK timeout (also 64*T1) must not race the re-INVITE's.
      inject("10.10.0.2", 5062, phone_request("ACK", cid, ok, 104));
      Outcome o = after_sip_timers_until_byes(cid, 2);
      const Msg* bye = find_to(o.out, "BYE", kPhone);
      EXPECT_TRUE(bye);
      if (bye) {
        EXPECT_NE(bye->raw.find("Reason: SIP;cause=408"), std::string::npos) << bye->raw;
      }
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(store->cdr(cid)->end_reason, "re-INVITE to b: no answer");
      return o;
    }
    case CallEvent::media_timeout: {
      answered();
      uint32_t flow = only_flow();
      Outcome o = after_media_timeout(cid, flow);
      EXPECT_EQ(count(o.out, "BYE"), 2);
      for (const auto& m : o.out)
        if (m.method() == "BYE") {
          EXPECT_NE(m.raw.find("Reason: SIP;cause=408"), std::string::npos) << m.raw;
        }
      EXPECT_EQ(gw->stats().media_timeouts, 1u);
      EXPECT_EQ(media.ops.back().what, "del");
      return o;
    }
    case CallEvent::dataplane_restart: {
      answered();
      uint32_t flow = only_flow();
      Outcome o = after_dataplane_restart(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().flows_reprogrammed, 1u);
      EXPECT_EQ(media.ops.back().what, "add");
      EXPECT_EQ(media.flows.count(flow), 1u);
      return o;
    }
    case CallEvent::flow_update_failed: {
      // The phone's re-INVITE was answered once its modify was queued; the
      // dataplane refused the modify afterwards: neither leg has the media
      // it was told of, so the call ends.
      auto [inv, ok] = answered();
      const uint32_t flow = only_flow();
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
      auto answer = take();
      EXPECT_TRUE(find_to(answer, "200", kPhone));
      EXPECT_EQ(media.ops.back().what, "modify");
      EXPECT_EQ(state_of(cid), CallState::answered);
      Outcome o = after_flow_update_failed(cid, flow);
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      for (const auto& m : o.out)
        if (m.method() == "BYE") {
          EXPECT_NE(m.raw.find("Reason: SIP;cause=500;text=\"Media Update Failed\""), std::string::npos) << m.raw;
        }
      EXPECT_EQ(gw->stats().media_errors, 1u);
      EXPECT_EQ(media.ops.back().what, "del");
      EXPECT_EQ(store->cdr(cid)->end_reason, "media_update_failed: dataplane refused: bad local address");
      return o;
    }
    case CallEvent::flow_ready:
    case CallEvent::flow_refused: {
      // The flow added again after a dataplane restart: counted (ready);
      // refused, the call goes on without media, as before.
      const bool refused = e == CallEvent::flow_refused;
      answered_call(cid, spa_offer());
      media.hold_acks = true;
      media.fail = refused;
      media.restart = true;
      gw->tick();
      EXPECT_EQ(media.acks.size(), 1u);
      Outcome o = after_flow_ack(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().flows_reprogrammed, refused ? 0u : 1u);
      EXPECT_EQ(gw->stats().media_errors, refused ? 1u : 0u);
      return o;
    }
    case CallEvent::hangup: {
      answered();
      mark();
      auto j = hangup(cid);
      EXPECT_TRUE(j["ok"].get<bool>()) << j.dump();
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(media.ops.back().what, "del");
      EXPECT_EQ(store->cdr(cid)->end_reason, "hangup by operator");
      return o;
    }
  }
  ADD_FAILURE() << "no scenario";
  return {};
}

// ---------------------------------------------------------------- ended

// The call object is gone: these check what the Gateway does with the event
// for a call that just ended.
Outcome CallTransitionTest::ended_row(CallEvent e) {
  const std::string cid = "x-" + std::string(control::event_name(e)) + "@10.10.0.2";
  // An answered call the phone hung up.
  auto ended_by_phone = [&] {
    auto r = answered_call(cid, spa_offer());
    inject("10.10.0.2", 5062, phone_request("BYE", cid, r.second, 104));
    EXPECT_EQ(state_of(cid), std::nullopt);
    return r;
  };
  switch (e) {
    case CallEvent::b_provisional: {
      Msg inv = routing(cid);
      hangup(cid);  // CANCEL to the carrier, 480 to the phone
      Outcome o = from_carrier(cid, carrier_response(inv, 180, "Ringing", ""), false);
      EXPECT_TRUE(o.out.empty());
      return o;
    }
    case CallEvent::b_answer: {
      // The carrier answers the INVITE we just cancelled: ACK and BYE it.
      Msg inv = routing(cid);
      hangup(cid);
      Outcome o = from_carrier(cid, carrier_response(inv, 200, "OK", g729_answer()), false);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_TRUE(media.ops.empty());
      return o;
    }
    case CallEvent::b_failure: {
      Msg inv = routing(cid);
      hangup(cid);
      Outcome o = from_carrier(cid, carrier_response(inv, 487, "Request Terminated", ""), false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "INVITE"), 0);  // no failover for an ended call
      EXPECT_EQ(gw->stats().failovers, 0u);
      return o;
    }
    case CallEvent::b_challenge: {
      // The INVITE of an ended call is challenged: not answered, no failover.
      Msg inv = routing(cid);
      hangup(cid);
      Outcome o = from_carrier(cid, carrier_challenge(inv, 407, "gone"), false);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(gw->stats().trunk_challenges, 0u);
      return o;
    }
    case CallEvent::b_timeout: {
      routing(cid);
      hangup(cid);
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(600), false);  // the abandoned INVITE's Timer B
      EXPECT_EQ(count(o.out, "408"), 0);  // (the 480 is retransmitted: the phone never ACKs it)
      EXPECT_EQ(find_to(o.out, "INVITE", kBackup), nullptr);
      EXPECT_EQ(gw->stats().failovers, 0u);
      return o;
    }
    case CallEvent::b_deadline: {
      routing(cid);
      hangup(cid);
      Outcome o = after_deadline(cid, false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().failovers, 0u);
      return o;
    }
    case CallEvent::a_cancel: {
      routing(cid);
      hangup(cid);  // the INVITE got its 480
      Outcome o = from_phone(cid, phone_cancel(cid), false);
      EXPECT_EQ(count(o.out, "487"), 0);
      EXPECT_EQ(count(o.out, "CANCEL"), 0);
      EXPECT_EQ(gw->stats().calls_cancelled, 0u);
      return o;
    }
    case CallEvent::bye_a: {
      auto [inv, ok] = answered_call(cid, spa_offer());
      inject("10.20.0.2", 5060, carrier_request("BYE", inv, 1));
      EXPECT_EQ(state_of(cid), std::nullopt);
      Outcome o = from_phone(cid, phone_request("BYE", cid, ok, 104), false);
      EXPECT_TRUE(find_to(o.out, "481", kPhone));
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::bye_b: {
      auto [inv, ok] = ended_by_phone();
      Outcome o = from_carrier(cid, carrier_request("BYE", inv, 1), false);
      EXPECT_TRUE(find_to(o.out, "481", kCarrier));
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::reinvite_a: {
      auto [inv, ok] = answered_call(cid, spa_offer());
      inject("10.20.0.2", 5060, carrier_request("BYE", inv, 1));
      EXPECT_EQ(state_of(cid), std::nullopt);
      Outcome o = from_phone(cid, phone_request("INVITE", cid, ok, 105, phone_hold_offer()), false);
      EXPECT_TRUE(find_to(o.out, "481", kPhone));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(media.ops.back().what, "del");
      return o;
    }
    case CallEvent::reinvite_b: {
      auto [inv, ok] = ended_by_phone();
      Outcome o = from_carrier(cid, carrier_request("INVITE", inv, 2, carrier_new_media_offer()), false);
      EXPECT_TRUE(find_to(o.out, "481", kCarrier));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(media.ops.back().what, "del");
      return o;
    }
    case CallEvent::reinvite_answer: {
      // The phone holds (re-INVITE to the carrier), then hangs up before the
      // carrier answered the re-INVITE; the late 200 is only ACKed.
      auto [inv, ok] = answered_call(cid, spa_offer());
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
      auto out = take();
      Msg ri = copy(find_to(out, "INVITE", kCarrier));
      inject("10.10.0.2", 5062, phone_request("BYE", cid, ok, 105));
      EXPECT_EQ(state_of(cid), std::nullopt);
      const auto ops = media.ops.size();
      Outcome o = from_carrier(cid, carrier_response(ri, 200, "OK", g729_answer("recvonly")), false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(media.ops.size(), ops);  // no flow programmed for a gone call
      return o;
    }
    case CallEvent::reinvite_challenge: {
      // The phone holds, then hangs up before the carrier challenged the
      // re-INVITE: nothing is sent again for a gone call.
      auto [inv, ok] = answered_call(cid, spa_offer());
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
      Msg ri = copy(find_to(take(), "INVITE", kCarrier));
      inject("10.10.0.2", 5062, phone_request("BYE", cid, ok, 105));
      EXPECT_EQ(state_of(cid), std::nullopt);
      Outcome o = from_carrier(cid, carrier_challenge_in_dialog(ri, 407, "n0nce-x"), false);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(gw->stats().trunk_challenges, 0u);
      return o;
    }
    case CallEvent::in_dialog_other: {
      auto [inv, ok] = ended_by_phone();
      Outcome o = from_carrier(cid, carrier_request("NOTIFY", inv, 3), false);
      EXPECT_TRUE(find_to(o.out, "481", kCarrier));
      EXPECT_EQ(o.out.size(), 1u);
      return o;
    }
    case CallEvent::session_timer: {
      // A call with a timer that ended: its due entry finds no call.
      invite_extra = "Supported: timer\r\nSession-Expires: 120\r\n";
      ended_by_phone();
      Outcome o = after_time(cid, std::chrono::seconds(200), false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(gw->stats().sessions_expired, 0u);
      return o;
    }
    case CallEvent::info: {
      auto [inv, ok] = ended_by_phone();
      Outcome o = from_carrier(cid, with_body(carrier_request("INFO", inv, 3), "application/dtmf-relay", kDtmfRelay), false);
      EXPECT_TRUE(find_to(o.out, "481", kCarrier));
      EXPECT_EQ(o.out.size(), 1u);
      return o;
    }
    case CallEvent::relay_dialog_gone: {
      // The phone's INFO was passed on, then the phone hung up: the
      // carrier's late 481 still answers the phone's INFO, nothing else.
      auto [inv, ok] = answered_call(cid, spa_offer());
      inject("10.10.0.2", 5062, with_body(phone_request("INFO", cid, ok, 104), "application/dtmf-relay", kDtmfRelay));
      Msg info = copy(find_to(take(), "INFO", kCarrier));
      inject("10.10.0.2", 5062, phone_request("BYE", cid, ok, 105));
      take();
      EXPECT_EQ(state_of(cid), std::nullopt);
      Outcome o = from_carrier(cid, carrier_response(info, 481, "Call/Transaction Does Not Exist", ""), false);
      EXPECT_TRUE(find_to(o.out, "481", kPhone));
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::ack_timeout: {
      // Answered, never ACKed, hung up by the operator: the 2xx give-up
      // later finds no call.
      Msg inv = routing(cid);
      inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
      take();
      hangup(cid);
      EXPECT_EQ(state_of(cid), std::nullopt);
      std::set<std::string> hangup_byes;  // their retransmissions are no new BYEs
      for (const auto& m : take())
        if (m.method() == "BYE") hangup_byes.insert(m.raw);
      EXPECT_EQ(hangup_byes.size(), 2u);
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(600), false);
      for (const auto& m : o.out)
        if (m.method() == "BYE") {
          EXPECT_EQ(hangup_byes.count(m.raw), 1u) << "a new BYE after the ACK timeout:\n" << m.raw;
        }
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::ack: {
      // The ACK of a call that ended: no dialog, a stray for the stack.
      auto r = ended_by_phone();
      Outcome o = from_phone(cid, phone_request("ACK", cid, r.second, 103), false);
      EXPECT_TRUE(o.out.empty());
      return o;
    }
    case CallEvent::reinvite_timeout: {
      // The phone holds, then hangs up; the unanswered re-INVITE's timeout
      // later finds no call.
      auto [inv, ok] = answered_call(cid, spa_offer());
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
      inject("10.10.0.2", 5062, phone_request("BYE", cid, ok, 105));
      EXPECT_EQ(state_of(cid), std::nullopt);
      take();
      Outcome o = after_sip_timers(cid, std::chrono::milliseconds(600), false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      // Only retransmissions: of the one re-INVITE and of the hangup's BYE
      // to the carrier (nobody answers them here); no new request.
      std::set<std::string> distinct;
      for (const auto& m : o.out)
        if (!m.method().empty()) distinct.insert(m.raw);
      EXPECT_LE(distinct.size(), 2u);
      return o;
    }
    case CallEvent::media_timeout: {
      ended_by_phone();
      const auto ops = media.ops.size();
      uint32_t flow = media.ops.front().flow;
      Outcome o = after_media_timeout(cid, flow, false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_timeouts, 0u);
      EXPECT_EQ(media.ops.size(), ops);
      return o;
    }
    case CallEvent::dataplane_restart: {
      ended_by_phone();
      const auto ops = media.ops.size();
      Outcome o = after_dataplane_restart(cid, false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().dataplane_restarts, 1u);
      EXPECT_EQ(gw->stats().flows_reprogrammed, 0u);
      EXPECT_EQ(media.ops.size(), ops);
      EXPECT_TRUE(media.flows.empty());
      return o;
    }
    case CallEvent::flow_update_failed: {
      // The ack of a modify arrives after its call ended: counted, nothing
      // else (the DataplaneMedia marks it superseded by the delete; the
      // Gateway finds no call of the flow either way).
      ended_by_phone();
      const auto ops = media.ops.size();
      Outcome o = after_flow_update_failed(cid, media.ops.front().flow, false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_errors, 1u);
      EXPECT_EQ(media.ops.size(), ops);
      return o;
    }
    case CallEvent::flow_ready:
    case CallEvent::flow_refused: {
      // The phone cancelled while the call was connecting: the add's late
      // answer finds no call (its delete was queued behind it).
      const bool refused = e == CallEvent::flow_refused;
      media.fail = refused;
      connecting(cid);
      inject("10.10.0.2", 5062, phone_cancel(cid));
      EXPECT_EQ(state_of(cid), std::nullopt);
      EXPECT_EQ(media.ops.back().what, "del");
      Outcome o = after_flow_ack(cid, false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().calls_answered, 0u);
      return o;
    }
    case CallEvent::hangup: {
      ended_by_phone();
      mark();
      auto j = hangup(cid);
      EXPECT_FALSE(j["ok"].get<bool>());
      EXPECT_EQ(j["error"], "no such call: " + cid);
      EXPECT_FALSE(gw->hangup(cid));
      Outcome o = done(cid, false);
      EXPECT_TRUE(o.out.empty());
      return o;
    }
  }
  ADD_FAILURE() << "no scenario";
  return {};
}


}  // namespace msgw_test
