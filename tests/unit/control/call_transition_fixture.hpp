// SPDX-License-Identifier: GPL-3.0-or-later
// The fixture of the call transition tests (test_call_transitions.cpp and
// test_call_rows_*.cpp): a Gateway with a fake dataplane, driven into each
// state of the call through its real entry points; one scenario function
// per state, defined in the file of that state.
#pragma once

#include <optional>
#include <set>
#include <thread>

#include "gateway_fixture.hpp"
#include "msgw/control/call_model.hpp"

namespace msgw::control {
// gtest prints a failing row by its name, not its bytes.
inline void PrintTo(const Transition& t, std::ostream* os) {
  *os << state_name(t.from) << " x " << event_name(t.event);
}
}  // namespace msgw::control

namespace msgw_test {

using namespace msgw;
using control::CallEvent;
using control::CallState;
using control::Handling;
using control::Transition;
using control::Gateway;

// Besides the fixture's routes: numbers that go to the carrier only (answer
// deadline 2 s, no trunk to fail over to) and to the backup only (no deadline).
inline const std::string kExtraRoutes = R"(
[[route]]
name = "carrier-only"
prefix = "1900"
trunks = ["carrier"]
[[route]]
name = "backup-only"
prefix = "1877"
trunks = ["backup"]
)";

inline constexpr const char* kPhone = "10.10.0.2:5062";
inline constexpr const char* kCarrier = "10.20.0.2:5060";
inline constexpr const char* kBackup = "10.20.0.3:5060";

inline std::string row_name(const Transition& t) {
  return std::string(control::state_name(t.from)) + "__" + std::string(control::event_name(t.event));
}

// What a scenario left behind, for the checks every row gets.
struct Outcome {
  std::vector<Msg> out;               // sent after the event was injected
  std::optional<CallState> state;     // nullopt: no such call (ended)
  bool reaches_call = true;           // false: the stack or the Gateway answered before any call saw it
  uint64_t invalid_before = 0, invalid_after = 0;
};

class CallTransitionTest : public GatewayFixture<::testing::TestWithParam<Transition>> {
 protected:
  CallTransitionTest() {
    config_text = std::string(kConfig) + kExtraRoutes;
    // The carrier authenticates the gateway (b_challenge rows); the backup does not.
    config_text.insert(config_text.find("timeout_ms = 2000\n") + 18,
                       "username = \"gw\"\npassword = \"trunk-secret\"\n");
    // Timer B, the 2xx retransmission give-up and Timer F are 64*T1: 320 ms.
    t1 = std::chrono::milliseconds(5);
  }
  void SetUp() override {
    GatewayFixture::SetUp();
    t0 = Gateway::Clock::now();
    gw->now = [this] { return t0 + advanced; };  // trunk deadlines move only when a test says so
  }

  static Msg copy(const Msg* m) {
    if (!m) {
      ADD_FAILURE() << "message missing";
      return {};
    }
    return {sip::parse_message(m->raw, false, sip::Limits{}).msg, m->raw, m->dst};
  }
  // The message of that method or status sent to `dst`.
  static const Msg* find_to(const std::vector<Msg>& v, const std::string& what, const std::string& dst) {
    for (const auto& m : v) {
      if (m.dst.str() != dst) continue;
      if (!m.method().empty() ? m.method() == what : std::to_string(m.status()) == what) return &m;
    }
    return nullptr;
  }
  static int count(const std::vector<Msg>& v, const std::string& what) {
    int n = 0;
    for (const auto& m : v)
      if (!m.method().empty() ? m.method() == what : std::to_string(m.status()) == what) ++n;
    return n;
  }
  // Final responses to `dst`, but for the 407 of place_call()'s first
  // INVITE, which the test's phone never ACKs (the stack retransmits it
  // whenever a test runs the timers).
  static int final_responses_to(const std::vector<Msg>& v, const std::string& dst) {
    int n = 0;
    for (const auto& m : v)
      if (m.method().empty() && m.status() >= 200 && m.status() != 407 && m.dst.str() == dst) ++n;
    return n;
  }

  std::optional<CallState> state_of(const std::string& cid) {
    for (const auto& c : gw->show_calls()) {
      if (c["call"] != cid) continue;
      const std::string s = c["state"];
      for (const Transition& t : control::transition_table())
        if (control::state_name(t.from) == s) return t.from;
      ADD_FAILURE() << "unknown state " << s;
    }
    return std::nullopt;
  }

  // Starts the injection: what was sent so far is the setup's.
  void mark() {
    take();
    invalid_before = gw->stats().invalid_events;
  }
  Outcome done(const std::string& cid, bool reaches_call = true) {
    Outcome o;
    o.out = take();
    o.state = state_of(cid);
    o.reaches_call = reaches_call;
    o.invalid_before = invalid_before;
    o.invalid_after = gw->stats().invalid_events;
    return o;
  }

  // The row's event, injected after the setup: what the gateway sent for it
  // and the call after it. reaches_call false: the stack or the Gateway
  // answers it before any call sees it.
  Outcome event_from(const std::string& ip, uint16_t port, const std::string& cid, std::string msg,
                     bool reaches_call) {
    mark();
    inject(ip, port, std::move(msg));
    return done(cid, reaches_call);
  }
  Outcome from_phone(const std::string& cid, std::string msg, bool reaches_call = true) {
    return event_from("10.10.0.2", 5062, cid, std::move(msg), reaches_call);
  }
  Outcome from_carrier(const std::string& cid, std::string msg, bool reaches_call = true) {
    return event_from("10.20.0.2", 5060, cid, std::move(msg), reaches_call);
  }
  Outcome from_backup(const std::string& cid, std::string msg, bool reaches_call = true) {
    return event_from("10.20.0.3", 5060, cid, std::move(msg), reaches_call);
  }
  // The carrier's 2 s answer deadline passes.
  Outcome after_deadline(const std::string& cid, bool reaches_call = true) {
    mark();
    advanced = std::chrono::milliseconds(2100);
    gw->tick();
    return done(cid, reaches_call);
  }
  // The gateway's clock moves on by `d` and its loop ticks (session timers, deadlines).
  Outcome after_time(const std::string& cid, std::chrono::milliseconds d, bool reaches_call = true) {
    mark();
    advanced += d;
    gw->tick();
    return done(cid, reaches_call);
  }
  Outcome after_sip_timers(const std::string& cid, std::chrono::milliseconds d, bool reaches_call = true) {
    mark();
    run_sip_timers_for(d);
    return done(cid, reaches_call);
  }
  // The stack's timers run until `byes` BYEs went out (a 2xx never ACKed).
  Outcome after_sip_timers_until_byes(const std::string& cid, int byes) {
    mark();
    std::vector<Msg> out;
    run_sip_timers([&] {
      for (auto& m : take()) out.push_back(std::move(m));
      return count(out, "BYE") >= byes;
    });
    Outcome o = done(cid);
    o.out = std::move(out);
    return o;
  }
  // The dataplane's word, seen at the next tick: the flow's media stopped, or
  // the dataplane restarted.
  Outcome after_media_timeout(const std::string& cid, uint32_t flow, bool reaches_call = true) {
    mark();
    media_timeout_event(flow);
    gw->tick();
    return done(cid, reaches_call);
  }
  // The dataplane refused a modify the call posted earlier (its ack comes
  // later than the SIP answer the modify went with).
  Outcome after_flow_update_failed(const std::string& cid, uint32_t flow, bool reaches_call = true) {
    mark();
    media.events.push_back(FakeMedia::update_failed(flow));
    gw->tick();
    return done(cid, reaches_call);
  }
  // Two loop passes: the restart, then the acks of the flows added again.
  Outcome after_dataplane_restart(const std::string& cid, bool reaches_call = true) {
    mark();
    media.restart = true;
    gw->tick();
    gw->tick();
    return done(cid, reaches_call);
  }
  // The dataplane answers the adds held back (hold_acks): accepted, or
  // refused when media.fail was set as they were posted.
  Outcome after_flow_ack(const std::string& cid, bool reaches_call = true) {
    mark();
    media.release_acks();
    gw->tick();
    return done(cid, reaches_call);
  }
  // `m` was sent and its body holds `text`.
  static void expect_body_has(const Msg* m, std::string_view text) {
    EXPECT_TRUE(m);
    if (m) {
      EXPECT_NE(m->body().find(text), std::string::npos) << m->body();
    }
  }

  // Runs the stack's timers (real time, T1 = 5 ms) until `until` holds or
  // `limit` passed; the messages they sent stay for take().
  template <class Pred>
  bool run_sip_timers(Pred until, std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
    const auto stop = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < stop) {
      stack->run_timers();
      gw->tick();
      if (until()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return until();
  }
  void run_sip_timers_for(std::chrono::milliseconds d) {
    run_sip_timers([] { return false; }, d);
  }

  // ---- setups: a call in each state

  // routing: authenticated, INVITE sent to the carrier, nothing back yet.
  Msg routing(const std::string& cid, const std::string& number = "1-800-555-1212") {
    Msg inv = place_call(cid, spa_offer(), number);
    EXPECT_EQ(state_of(cid), CallState::routing);
    return inv;
  }
  struct Early {
    Msg inv;      // the carrier's INVITE
    Msg ringing;  // the 180/183 the phone got (its To-tag makes the phone's early dialog)
  };
  // early: the carrier sent 180 (or 183 with SDP: early media, a flow programmed).
  Early early(const std::string& cid, bool early_media = false) {
    Early e;
    e.inv = routing(cid);
    inject("10.20.0.2", 5060,
           early_media ? carrier_response(e.inv, 183, "Session Progress", g729_answer())
                       : carrier_response(e.inv, 180, "Ringing", ""));
    auto out = take();
    e.ringing = copy(find_to(out, early_media ? "183" : "180", kPhone));
    EXPECT_EQ(state_of(cid), CallState::early);
    EXPECT_EQ(media.flows.size(), early_media ? 1u : 0u);
    return e;
  }
  struct Failover {
    Early first;
    Msg inv2;  // the backup trunk's INVITE
  };
  // routing again: the carrier rang, then failed with 503; the backup trunk
  // is being tried. The phone keeps the early dialog of the carrier's 180.
  Failover routing_after_failover(const std::string& cid, bool early_media = false) {
    Failover f;
    f.first = early(cid, early_media);
    inject("10.20.0.2", 5060, carrier_response(f.first.inv, 503, "Service Unavailable", ""));
    auto out = take();
    f.inv2 = copy(find_to(out, "INVITE", kBackup));
    EXPECT_FALSE(final_responses_to(out, kPhone));
    EXPECT_EQ(state_of(cid), CallState::routing);
    return f;
  }

  // connecting: the carrier answered 200 with SDP; the flow's add is posted
  // and its ack held back, so neither the ACK nor the phone's 200 went out.
  // after_ringing: the carrier rang first (the phone's early dialog).
  Early connecting(const std::string& cid, bool after_ringing = false) {
    Early c;
    if (after_ringing) c = early(cid);
    else c.inv = routing(cid);
    media.hold_acks = true;
    inject("10.20.0.2", 5060, carrier_response(c.inv, 200, "OK", g729_answer()));
    auto out = take();
    EXPECT_FALSE(find_to(out, "ACK", kCarrier)) << "ACKed before the flow is in the dataplane";
    EXPECT_EQ(final_responses_to(out, kPhone), 0);
    EXPECT_EQ(state_of(cid), CallState::connecting);
    EXPECT_EQ(media.acks.size(), 1u);
    return c;
  }

  struct Offering {
    Msg inv;  // the carrier's INVITE
    Msg ok;   // the phone's 200, with our offer
  };
  // offering: the phone's INVITE had no SDP (a delayed offer); the carrier
  // answered (ACKed at once), the phone's 200 carries our offer, the
  // phone's ACK with its answer not sent yet.
  Offering offering(const std::string& cid) {
    Offering c;
    c.inv = routing_delayed(cid);
    inject("10.20.0.2", 5060, carrier_response(c.inv, 200, "OK", g729_answer()));
    auto out = take();
    EXPECT_TRUE(find_to(out, "ACK", kCarrier));
    c.ok = copy(find_to(out, "200", kPhone));
    expect_body_has(&c.ok, "m=audio");
    EXPECT_EQ(state_of(cid), CallState::offering);
    EXPECT_TRUE(media.ops.empty()) << "no flow before the phone's answer";
    return c;
  }
  // offering, the phone's ACK with its answer in: the flow's add posted,
  // its ack held back (after_flow_ack answers the call).
  Offering offering_answered(const std::string& cid) {
    Offering c = offering(cid);
    media.hold_acks = true;
    inject("10.10.0.2", 5062, phone_ack(cid, c.ok, phone_answer()));
    return c;
  }
  // routing with a delayed offer: the phone's INVITE has no body at all.
  Msg routing_delayed(const std::string& cid) {
    Msg inv = place_call(cid, "");
    EXPECT_EQ(state_of(cid), CallState::routing);
    return inv;
  }
  // The phone's answer to our offer, G.729 as the carrier's leg: relayed.
  static std::string phone_answer(const std::string& pts = "18 101") {
    return sdp_offer("10.10.0.2", 16388, pts,
                     {"rtpmap:18 G729a/8000", "rtpmap:0 PCMU/8000", "rtpmap:101 telephone-event/8000",
                      "fmtp:101 0-15", "ptime:20"});
  }
  // The phone's ACK of the offering 200 (`sdp` empty: none).
  std::string phone_ack(const std::string& cid, const Msg& ok, const std::string& sdp) {
    return phone_request("ACK", cid, ok, 103, sdp);
  }

  std::string phone_cancel(const std::string& cid) {
    auto p = last_invite.find("Via: ");
    std::string via = last_invite.substr(p, last_invite.find("\r\n", p) - p);
    return "CANCEL sip:1-800-555-1212@10.10.0.1 SIP/2.0\r\n" + via +
           "\r\nFrom: Good Body <sip:spa1@10.10.0.1>;tag=fc33ce88945ddadao0\r\n"
           "To: <sip:1-800-555-1212@10.10.0.1>\r\nCall-ID: " + cid + "\r\nCSeq: 103 CANCEL\r\n"
           "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  }
  std::string phone_hold_offer() {
    return sdp_offer("10.10.0.2", 16400, "18 101", {"rtpmap:18 G729a/8000", "rtpmap:101 telephone-event/8000"},
                     "sendonly");
  }
  std::string carrier_new_media_offer() {
    return sdp_offer("10.20.0.2", 6100, "18 101", {"rtpmap:18 G729/8000", "fmtp:18 annexb=no",
                                                   "rtpmap:101 telephone-event/8000"});
  }
  // The carrier's challenge to a request inside its dialog (re-INVITE, BYE):
  // the To as the request sent it, with the carrier's own tag.
  std::string carrier_challenge_in_dialog(const Msg& req, int code, const std::string& nonce) {
    std::string s = carrier_challenge(req, code, nonce);
    const std::string added = ";tag=ch" + nonce.substr(0, 6);
    if (auto p = s.find(added); p != std::string::npos) s.erase(p, added.size());
    return s;
  }
  void media_timeout_event(uint32_t flow) {
    media.events.push_back({.kind = control::MediaEvent::Kind::media_timeout, .flow_id = flow});
  }
  uint32_t only_flow() {
    EXPECT_EQ(media.flows.size(), 1u);
    return media.flows.empty() ? 0 : media.flows.begin()->first;
  }
  nlohmann::json hangup(const std::string& cid) { return manage(*gw, {{"cmd", "hangup"}, {"call", cid}}); }

  Outcome run(const Transition& row);
  Outcome routing_row(CallEvent e);
  Outcome early_row(CallEvent e);
  Outcome connecting_row(CallEvent e);
  Outcome offering_row(CallEvent e);
  Outcome answered_row(CallEvent e);
  Outcome ended_row(CallEvent e);

  Gateway::Clock::time_point t0;
  std::chrono::milliseconds advanced{0};
  uint64_t invalid_before = 0;
};

}  // namespace msgw_test
