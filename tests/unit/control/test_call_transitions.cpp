// One test per row of the call's transition table (call_model.hpp): the
// Gateway is driven into the row's state through its real entry points (SIP
// messages into the stack, the stack's timers, the fake dataplane's events,
// the management verbs), the row's event is injected the same way, and the
// test checks what went out on each leg, the state the call is left in and
// the counters.
//
// Some (state, event) pairs cannot be produced from outside: the stack or the
// Gateway already filters them (a 180 after the INVITE's 2xx matches no
// transaction; a phone has no dialog to send a BYE in before it heard a
// provisional with a To-tag; Timer B does not run once a provisional
// arrived). Their tests still inject the nearest real event and check that
// nothing happens to the call; CallHandleHonoursTheTable then feeds those
// events straight to Call::handle().
#include <optional>
#include <set>
#include <thread>

#include "gateway_fixture.hpp"
#include "msgw/control/call_model.hpp"

namespace msgw::control {
// gtest prints a failing row by its name, not its bytes.
void PrintTo(const Transition& t, std::ostream* os) {
  *os << state_name(t.from) << " x " << event_name(t.event);
}
}  // namespace msgw::control

using namespace msgw;
using namespace msgw_test;
using control::CallEvent;
using control::CallState;
using control::Handling;
using control::Transition;
using control::Gateway;

namespace {

// Besides the fixture's routes: numbers that go to the carrier only (answer
// deadline 2 s, no trunk to fail over to) and to the backup only (no deadline).
const std::string kExtraRoutes = R"(
[[route]]
name = "carrier-only"
prefix = "1900"
trunks = ["carrier"]
[[route]]
name = "backup-only"
prefix = "1877"
trunks = ["backup"]
)";

constexpr const char* kPhone = "10.10.0.2:5062";
constexpr const char* kCarrier = "10.20.0.2:5060";
constexpr const char* kBackup = "10.20.0.3:5060";

std::string row_name(const Transition& t) {
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
  void media_timeout_event(uint32_t flow) {
    media.events.push_back({control::MediaEvent::Kind::media_timeout, flow, 0, 0, 0, 0});
  }
  uint32_t only_flow() {
    EXPECT_EQ(media.flows.size(), 1u);
    return media.flows.empty() ? 0 : media.flows.begin()->first;
  }
  nlohmann::json hangup(const std::string& cid) { return manage(*gw, {{"cmd", "hangup"}, {"call", cid}}); }

  Outcome run(const Transition& row);
  Outcome routing_row(CallEvent e);
  Outcome early_row(CallEvent e);
  Outcome answered_row(CallEvent e);
  Outcome ended_row(CallEvent e);

  Gateway::Clock::time_point t0;
  std::chrono::milliseconds advanced{0};
  uint64_t invalid_before = 0;
};

Outcome CallTransitionTest::run(const Transition& row) {
  switch (row.from) {
    case CallState::routing: return routing_row(row.event);
    case CallState::early: return early_row(row.event);
    case CallState::answered: return answered_row(row.event);
    case CallState::ended: return ended_row(row.event);
  }
  ADD_FAILURE() << "no scenario";
  return {};
}

// ---------------------------------------------------------------- routing

Outcome CallTransitionTest::routing_row(CallEvent e) {
  const std::string cid = "r-" + std::string(control::event_name(e)) + "@10.10.0.2";
  switch (e) {
    case CallEvent::b_provisional: {
      Msg inv = routing(cid);
      mark();
      inject("10.20.0.2", 5060, carrier_response(inv, 180, "Ringing", ""));
      Outcome o = done(cid);
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
      mark();
      inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      const Msg* ok = find_to(o.out, "200", kPhone);
      EXPECT_TRUE(ok);
      if (ok) {
        EXPECT_NE(ok->body().find("m=audio"), std::string::npos);
      }
      EXPECT_EQ(media.ops.size(), 1u);
      EXPECT_EQ(gw->stats().calls_answered, 1u);
      return o;
    }
    case CallEvent::b_failure: {
      // The callee's own answer (486): relayed, no failover.
      Msg inv = routing(cid);
      mark();
      inject("10.20.0.2", 5060, carrier_response(inv, 486, "Busy Here", ""));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "486", kPhone));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(gw->stats().failovers, 0u);
      EXPECT_EQ(gw->stats().calls_failed, 1u);
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
      mark();
      advanced = std::chrono::milliseconds(2100);
      gw->tick();
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_TRUE(find_to(o.out, "INVITE", kBackup));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(gw->stats().failovers, 1u);
      return o;
    }
    case CallEvent::a_cancel: {
      Msg inv = routing(cid);
      mark();
      inject("10.10.0.2", 5062, phone_cancel(cid));
      Outcome o = done(cid);
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
      mark();
      inject("10.10.0.2", 5062, phone_request("BYE", cid, f.first.ringing, 104));
      Outcome o = done(cid);
      EXPECT_EQ(count(o.out, "200"), 1);  // for the BYE
      EXPECT_TRUE(find_to(o.out, "487", kPhone));
      EXPECT_TRUE(find_to(o.out, "CANCEL", kBackup));
      EXPECT_EQ(store->cdr(cid)->end_reason, "caller BYE before answer");
      return o;
    }
    case CallEvent::bye_b: {
      // The trunk being tried has no dialog yet: its BYE matches nothing.
      Failover f = routing_after_failover(cid);
      mark();
      inject("10.20.0.3", 5060, carrier_request("BYE", f.inv2, 1));
      Outcome o = done(cid, false);
      EXPECT_TRUE(find_to(o.out, "481", kBackup));
      EXPECT_EQ(o.out.size(), 1u);
      return o;
    }
    case CallEvent::reinvite_a: {
      Failover f = routing_after_failover(cid);
      mark();
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, f.first.ringing, 104, phone_hold_offer()));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "491", kPhone));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(gw->stats().reinvites, 1u);
      return o;
    }
    case CallEvent::reinvite_b: {
      Failover f = routing_after_failover(cid);
      mark();
      inject("10.20.0.3", 5060, carrier_request("INVITE", f.inv2, 2, carrier_new_media_offer()));
      Outcome o = done(cid, false);
      EXPECT_TRUE(find_to(o.out, "481", kBackup));  // no dialog with the backup yet
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::reinvite_answer: {
      // No re-INVITE is sent before the answer. The nearest event: after the
      // carrier's deadline passed (CANCEL, backup tried) the carrier answers
      // the abandoned INVITE after all: ACKed and BYEd, the call is not told.
      Msg inv = routing(cid);
      advanced = std::chrono::milliseconds(2100);
      gw->tick();
      EXPECT_TRUE(find_to(take(), "INVITE", kBackup));
      mark();
      inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
      Outcome o = done(cid, false);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_TRUE(media.ops.empty());
      return o;
    }
    case CallEvent::in_dialog_other: {
      Failover f = routing_after_failover(cid);
      mark();
      inject("10.10.0.2", 5062, phone_request("INFO", cid, f.first.ringing, 104));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_EQ(o.out.size(), 1u);
      return o;
    }
    case CallEvent::ack_timeout: {
      // No 2xx went to the phone: there is no ACK to wait for. Past 64*T1
      // nothing ends the call (the carrier's deadline is not reached).
      routing(cid, "1-877-555-1212");  // backup only: no answer deadline, no failover
      mark();
      std::vector<Msg> out;
      run_sip_timers_for(std::chrono::milliseconds(200));
      Outcome o = done(cid, false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::media_timeout: {
      // A flow exists in routing after early media and a failover.
      Failover f = routing_after_failover(cid, true);
      uint32_t flow = only_flow();
      mark();
      media_timeout_event(flow);
      gw->tick();
      Outcome o = done(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_timeouts, 1u);
      EXPECT_EQ(media.ops.back().what, "add");  // the flow stays
      return o;
    }
    case CallEvent::dataplane_restart: {
      Failover f = routing_after_failover(cid, true);
      const auto ops = media.ops.size();
      mark();
      media.restart = true;
      gw->tick();
      Outcome o = done(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().dataplane_restarts, 1u);
      EXPECT_EQ(gw->stats().flows_reprogrammed, 0u);
      EXPECT_EQ(media.ops.size(), ops);
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
      mark();
      inject("10.20.0.2", 5060, carrier_response(c.inv, 183, "Session Progress", g729_answer()));
      Outcome o = done(cid);
      const Msg* r = find_to(o.out, "183", kPhone);
      EXPECT_TRUE(r);
      if (r) {
        EXPECT_NE(r->body().find("m=audio"), std::string::npos);  // early media to the phone
      }
      EXPECT_EQ(media.ops.size(), 1u);
      EXPECT_EQ(media.flows.size(), 1u);
      return o;
    }
    case CallEvent::b_answer: {
      Early c = early(cid, true);
      mark();
      inject("10.20.0.2", 5060, carrier_response(c.inv, 200, "OK", ""));  // SDP came with the 183
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_EQ(gw->stats().calls_answered, 1u);
      return o;
    }
    case CallEvent::b_failure: {
      // 503 after ringing: failover to the backup (the final failure in
      // EarlyFailureFailsOverThenRelaysTheLastStatus).
      Early c = early(cid);
      mark();
      inject("10.20.0.2", 5060, carrier_response(c.inv, 503, "Service Unavailable", ""));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "INVITE", kBackup));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(gw->stats().failovers, 1u);
      return o;
    }
    case CallEvent::b_timeout: {
      // Timer B stops at the first provisional (RFC 3261 §17.1.1.2): the
      // call rings on.
      early(cid);
      mark();
      run_sip_timers_for(std::chrono::milliseconds(600));
      Outcome o = done(cid, false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "CANCEL"), 0);
      return o;
    }
    case CallEvent::b_deadline: {
      early(cid);
      mark();
      advanced = std::chrono::milliseconds(2100);
      gw->tick();
      Outcome o = done(cid, false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().failovers, 0u);
      return o;
    }
    case CallEvent::a_cancel: {
      early(cid);
      mark();
      inject("10.10.0.2", 5062, phone_cancel(cid));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_TRUE(find_to(o.out, "487", kPhone));
      EXPECT_TRUE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_EQ(gw->stats().calls_cancelled, 1u);
      return o;
    }
    case CallEvent::bye_a: {
      Early c = early(cid);
      mark();
      inject("10.10.0.2", 5062, phone_request("BYE", cid, c.ringing, 104));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_TRUE(find_to(o.out, "487", kPhone));
      EXPECT_TRUE(find_to(o.out, "CANCEL", kCarrier));
      EXPECT_EQ(store->cdr(cid)->end_reason, "caller BYE before answer");
      return o;
    }
    case CallEvent::bye_b: {
      Early c = early(cid);
      mark();
      inject("10.20.0.2", 5060, carrier_request("BYE", c.inv, 1));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "200", kCarrier));
      EXPECT_TRUE(find_to(o.out, "487", kPhone));
      EXPECT_EQ(store->cdr(cid)->end_reason, "callee BYE before answer");
      return o;
    }
    case CallEvent::reinvite_a: {
      Early c = early(cid);
      mark();
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, c.ringing, 104, phone_hold_offer()));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "491", kPhone));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::reinvite_b: {
      Early c = early(cid);
      mark();
      inject("10.20.0.2", 5060, carrier_request("INVITE", c.inv, 2, carrier_new_media_offer()));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "491", kCarrier));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::reinvite_answer: {
      // No re-INVITE goes out before the answer; a second 180 (the nearest
      // response) changes nothing either.
      Early c = early(cid);
      mark();
      inject("10.20.0.2", 5060, carrier_response(c.inv, 180, "Ringing", ""));
      Outcome o = done(cid, false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "ACK"), 0);
      return o;
    }
    case CallEvent::in_dialog_other: {
      Early c = early(cid);
      mark();
      inject("10.10.0.2", 5062, phone_request("INFO", cid, c.ringing, 104));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_EQ(o.out.size(), 1u);
      return o;
    }
    case CallEvent::ack_timeout: {
      // No 2xx to the phone yet: nothing to be ACKed.
      early(cid);
      mark();
      run_sip_timers_for(std::chrono::milliseconds(200));
      Outcome o = done(cid, false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      return o;
    }
    case CallEvent::media_timeout: {
      // Early media may pause (a ringback tone with gaps): not a reason to end.
      early(cid, true);
      uint32_t flow = only_flow();
      mark();
      media_timeout_event(flow);
      gw->tick();
      Outcome o = done(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_timeouts, 1u);
      EXPECT_EQ(media.flows.size(), 1u);
      return o;
    }
    case CallEvent::dataplane_restart: {
      early(cid, true);
      uint32_t flow = only_flow();
      mark();
      media.restart = true;
      gw->tick();
      Outcome o = done(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().flows_reprogrammed, 1u);
      EXPECT_EQ(media.ops.back().what, "add");
      EXPECT_EQ(media.ops.back().flow, flow);
      EXPECT_EQ(media.flows.count(flow), 1u);
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
      mark();
      inject("10.20.0.2", 5060, carrier_response(inv, 180, "Ringing", ""));
      Outcome o = done(cid, false);
      EXPECT_TRUE(o.out.empty());
      return o;
    }
    case CallEvent::b_answer: {
      // A retransmitted 2xx: the stack ACKs it again, the phone hears nothing.
      auto [inv, ok] = answered();
      mark();
      inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
      Outcome o = done(cid, false);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(gw->stats().calls_answered, 1u);
      EXPECT_EQ(media.ops.size(), 1u);
      return o;
    }
    case CallEvent::b_failure: {
      auto [inv, ok] = answered();
      mark();
      inject("10.20.0.2", 5060, carrier_response(inv, 503, "Service Unavailable", ""));
      Outcome o = done(cid, false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::b_timeout: {
      answered();
      mark();
      run_sip_timers_for(std::chrono::milliseconds(600));
      Outcome o = done(cid, false);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::b_deadline: {
      answered();
      mark();
      advanced = std::chrono::milliseconds(2100);
      gw->tick();
      Outcome o = done(cid, false);
      EXPECT_TRUE(o.out.empty());
      return o;
    }
    case CallEvent::a_cancel: {
      // Too late: the INVITE was answered; the stack answers the CANCEL.
      answered();
      mark();
      inject("10.10.0.2", 5062, phone_cancel(cid));
      Outcome o = done(cid, false);
      EXPECT_EQ(count(o.out, "487"), 0);
      EXPECT_EQ(count(o.out, "CANCEL"), 0);
      EXPECT_EQ(count(o.out, "BYE"), 0);
      EXPECT_EQ(gw->stats().calls_cancelled, 0u);
      return o;
    }
    case CallEvent::bye_a: {
      auto [inv, ok] = answered();
      mark();
      inject("10.10.0.2", 5062, phone_request("BYE", cid, ok, 104));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "200", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(media.ops.back().what, "del");
      EXPECT_EQ(store->cdr(cid)->end_reason, "caller BYE");
      return o;
    }
    case CallEvent::bye_b: {
      auto [inv, ok] = answered();
      mark();
      inject("10.20.0.2", 5060, carrier_request("BYE", inv, 1));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "200", kCarrier));
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_EQ(media.ops.back().what, "del");
      EXPECT_EQ(store->cdr(cid)->end_reason, "callee BYE");
      return o;
    }
    case CallEvent::reinvite_a: {
      auto [inv, ok] = answered();
      mark();
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
      Outcome o = done(cid);
      const Msg* r = find_to(o.out, "200", kPhone);
      EXPECT_TRUE(r);
      if (r) {
        EXPECT_NE(r->body().find("a=recvonly"), std::string::npos) << r->body();
      }
      const Msg* ri = find_to(o.out, "INVITE", kCarrier);
      EXPECT_TRUE(ri);
      if (ri) {
        EXPECT_NE(ri->body().find("a=sendonly"), std::string::npos) << ri->body();
      }
      EXPECT_EQ(media.ops.back().what, "modify");
      EXPECT_EQ(media.ops.back().a.remote_port, 16400);
      EXPECT_EQ(gw->stats().reinvites, 1u);
      return o;
    }
    case CallEvent::reinvite_b: {
      auto [inv, ok] = answered();
      mark();
      inject("10.20.0.2", 5060, carrier_request("INVITE", inv, 2, carrier_new_media_offer()));
      Outcome o = done(cid);
      const Msg* r = find_to(o.out, "200", kCarrier);
      EXPECT_TRUE(r);
      if (r) {
        EXPECT_NE(r->body().find("m=audio"), std::string::npos);
      }
      EXPECT_TRUE(find_to(o.out, "INVITE", kPhone));
      EXPECT_EQ(media.ops.back().what, "modify");
      EXPECT_EQ(media.ops.back().b.remote_port, 6100);
      return o;
    }
    case CallEvent::reinvite_answer: {
      auto [inv, ok] = answered();
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, phone_hold_offer()));
      auto out = take();
      Msg ri = copy(find_to(out, "INVITE", kCarrier));
      mark();
      // The carrier's answer moves its media: re-programmed, then ACKed.
      inject("10.20.0.2", 5060,
             carrier_response(ri, 200, "OK",
                              sdp_offer("10.20.0.2", 6200, "18 101", {"rtpmap:18 G729/8000"}, "recvonly")));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(media.ops.back().what, "modify");
      EXPECT_EQ(media.ops.back().b.remote_port, 6200);
      return o;
    }
    case CallEvent::in_dialog_other: {
      auto [inv, ok] = answered();
      mark();
      inject("10.20.0.2", 5060, carrier_request("INFO", inv, 3));
      Outcome o = done(cid);
      EXPECT_TRUE(find_to(o.out, "200", kCarrier));
      EXPECT_EQ(o.out.size(), 1u);  // acknowledged, not relayed
      return o;
    }
    case CallEvent::ack_timeout: {
      // The phone never ACKs the 200: after 64*T1 both legs get a BYE.
      Msg inv = routing(cid);
      inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
      EXPECT_EQ(state_of(cid), CallState::answered);
      mark();
      std::vector<Msg> out;
      run_sip_timers([&] {
        for (auto& m : take()) out.push_back(std::move(m));
        return count(out, "BYE") >= 2;
      });
      Outcome o = done(cid);
      o.out = std::move(out);
      EXPECT_TRUE(find_to(o.out, "BYE", kPhone));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_GE(count(o.out, "200"), 1);  // the 2xx was retransmitted meanwhile
      EXPECT_EQ(store->cdr(cid)->end_reason, "no ACK from caller");
      return o;
    }
    case CallEvent::media_timeout: {
      answered();
      uint32_t flow = only_flow();
      mark();
      media_timeout_event(flow);
      gw->tick();
      Outcome o = done(cid);
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
      mark();
      media.restart = true;
      gw->tick();
      Outcome o = done(cid);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().flows_reprogrammed, 1u);
      EXPECT_EQ(media.ops.back().what, "add");
      EXPECT_EQ(media.flows.count(flow), 1u);
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
      mark();
      inject("10.20.0.2", 5060, carrier_response(inv, 180, "Ringing", ""));
      Outcome o = done(cid, false);
      EXPECT_TRUE(o.out.empty());
      return o;
    }
    case CallEvent::b_answer: {
      // The carrier answers the INVITE we just cancelled: ACK and BYE it.
      Msg inv = routing(cid);
      hangup(cid);
      mark();
      inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
      Outcome o = done(cid, false);
      EXPECT_TRUE(find_to(o.out, "ACK", kCarrier));
      EXPECT_TRUE(find_to(o.out, "BYE", kCarrier));
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_TRUE(media.ops.empty());
      return o;
    }
    case CallEvent::b_failure: {
      Msg inv = routing(cid);
      hangup(cid);
      mark();
      inject("10.20.0.2", 5060, carrier_response(inv, 487, "Request Terminated", ""));
      Outcome o = done(cid, false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "INVITE"), 0);  // no failover for an ended call
      EXPECT_EQ(gw->stats().failovers, 0u);
      return o;
    }
    case CallEvent::b_timeout: {
      routing(cid);
      hangup(cid);
      mark();
      run_sip_timers_for(std::chrono::milliseconds(600));  // the abandoned INVITE's Timer B
      Outcome o = done(cid, false);
      EXPECT_EQ(count(o.out, "408"), 0);  // (the 480 is retransmitted: the phone never ACKs it)
      EXPECT_EQ(find_to(o.out, "INVITE", kBackup), nullptr);
      EXPECT_EQ(gw->stats().failovers, 0u);
      return o;
    }
    case CallEvent::b_deadline: {
      routing(cid);
      hangup(cid);
      mark();
      advanced = std::chrono::milliseconds(2100);
      gw->tick();
      Outcome o = done(cid, false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().failovers, 0u);
      return o;
    }
    case CallEvent::a_cancel: {
      routing(cid);
      hangup(cid);  // the INVITE got its 480
      mark();
      inject("10.10.0.2", 5062, phone_cancel(cid));
      Outcome o = done(cid, false);
      EXPECT_EQ(count(o.out, "487"), 0);
      EXPECT_EQ(count(o.out, "CANCEL"), 0);
      EXPECT_EQ(gw->stats().calls_cancelled, 0u);
      return o;
    }
    case CallEvent::bye_a: {
      auto [inv, ok] = answered_call(cid, spa_offer());
      inject("10.20.0.2", 5060, carrier_request("BYE", inv, 1));
      EXPECT_EQ(state_of(cid), std::nullopt);
      mark();
      inject("10.10.0.2", 5062, phone_request("BYE", cid, ok, 104));
      Outcome o = done(cid, false);
      EXPECT_TRUE(find_to(o.out, "481", kPhone));
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::bye_b: {
      auto [inv, ok] = ended_by_phone();
      mark();
      inject("10.20.0.2", 5060, carrier_request("BYE", inv, 1));
      Outcome o = done(cid, false);
      EXPECT_TRUE(find_to(o.out, "481", kCarrier));
      EXPECT_EQ(count(o.out, "BYE"), 0);
      return o;
    }
    case CallEvent::reinvite_a: {
      auto [inv, ok] = answered_call(cid, spa_offer());
      inject("10.20.0.2", 5060, carrier_request("BYE", inv, 1));
      EXPECT_EQ(state_of(cid), std::nullopt);
      mark();
      inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 105, phone_hold_offer()));
      Outcome o = done(cid, false);
      EXPECT_TRUE(find_to(o.out, "481", kPhone));
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(media.ops.back().what, "del");
      return o;
    }
    case CallEvent::reinvite_b: {
      auto [inv, ok] = ended_by_phone();
      mark();
      inject("10.20.0.2", 5060, carrier_request("INVITE", inv, 2, carrier_new_media_offer()));
      Outcome o = done(cid, false);
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
      mark();
      inject("10.20.0.2", 5060, carrier_response(ri, 200, "OK", g729_answer("recvonly")));
      Outcome o = done(cid, false);
      EXPECT_EQ(final_responses_to(o.out, kPhone), 0);
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      EXPECT_EQ(media.ops.size(), ops);  // no flow programmed for a gone call
      return o;
    }
    case CallEvent::in_dialog_other: {
      auto [inv, ok] = ended_by_phone();
      mark();
      inject("10.20.0.2", 5060, carrier_request("INFO", inv, 3));
      Outcome o = done(cid, false);
      EXPECT_TRUE(find_to(o.out, "481", kCarrier));
      EXPECT_EQ(o.out.size(), 1u);
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
      mark();
      run_sip_timers_for(std::chrono::milliseconds(600));
      Outcome o = done(cid, false);
      for (const auto& m : o.out)
        if (m.method() == "BYE") {
          EXPECT_EQ(hangup_byes.count(m.raw), 1u) << "a new BYE after the ACK timeout:\n" << m.raw;
        }
      EXPECT_EQ(count(o.out, "INVITE"), 0);
      return o;
    }
    case CallEvent::media_timeout: {
      ended_by_phone();
      const auto ops = media.ops.size();
      uint32_t flow = media.ops.front().flow;
      mark();
      media_timeout_event(flow);
      gw->tick();
      Outcome o = done(cid, false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().media_timeouts, 0u);
      EXPECT_EQ(media.ops.size(), ops);
      return o;
    }
    case CallEvent::dataplane_restart: {
      ended_by_phone();
      const auto ops = media.ops.size();
      mark();
      media.restart = true;
      gw->tick();
      Outcome o = done(cid, false);
      EXPECT_TRUE(o.out.empty());
      EXPECT_EQ(gw->stats().dataplane_restarts, 1u);
      EXPECT_EQ(gw->stats().flows_reprogrammed, 0u);
      EXPECT_EQ(media.ops.size(), ops);
      EXPECT_TRUE(media.flows.empty());
      return o;
    }
    case CallEvent::hangup: {
      ended_by_phone();
      mark();
      auto j = hangup(cid);
      EXPECT_FALSE(j["ok"].get<bool>());
      EXPECT_EQ(j["error"], "no such call: " + cid);
      EXPECT_FALSE(gw->hangup(cid, "again"));
      Outcome o = done(cid, false);
      EXPECT_TRUE(o.out.empty());
      return o;
    }
  }
  ADD_FAILURE() << "no scenario";
  return {};
}

// ---------------------------------------------------------------- the rows

TEST_P(CallTransitionTest, Row) {
  const Transition& row = GetParam();
  Outcome o = run(row);
  if (HasFatalFailure()) return;
  const CallState after = o.state.value_or(CallState::ended);
  const std::string sent = [&] {
    std::string s;
    for (const auto& m : o.out) s += (m.method().empty() ? std::to_string(m.status()) : m.method()) + "->" + m.dst.str() + " ";
    return s;
  }();
  switch (row.handling) {
    case Handling::act:
      if (!o.reaches_call) {  // the scenario's event never gets to a call in this state
        EXPECT_EQ(after, row.from) << "sent: " << sent;
        EXPECT_EQ(o.invalid_after, o.invalid_before);
        break;
      }
      EXPECT_TRUE(row.to & control::to_mask(after))
          << "left in " << control::state_name(after) << "; sent: " << sent;
      EXPECT_EQ(o.invalid_after, o.invalid_before);
      break;
    case Handling::reject:
      EXPECT_EQ(after, row.from) << "sent: " << sent;
      if (o.reaches_call) {
        EXPECT_TRUE(find(o.out, std::to_string(row.status))) << "no " << row.status << "; sent: " << sent;
      }
      // Counted when the call saw the event; the stack or the Gateway answers
      // requests outside any dialog or call without a count.
      EXPECT_EQ(o.invalid_after, o.invalid_before + (o.reaches_call ? 1 : 0));
      break;
    case Handling::ignore:
      EXPECT_EQ(after, row.from) << "sent: " << sent;
      EXPECT_EQ(o.invalid_after, o.invalid_before);
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, CallTransitionTest, ::testing::ValuesIn(control::transition_table()),
                         [](const ::testing::TestParamInfo<Transition>& info) { return row_name(info.param); });

// ---------------------------------------------------------------- the table itself

TEST(CallTransitionTable, IsTotalAndRequestsAreNeverIgnored) {
  const auto& table = control::transition_table();
  ASSERT_EQ(table.size(), control::kCallStateCount * control::kCallEventCount);
  EXPECT_EQ(table.size(), 64u);
  std::set<std::pair<int, int>> seen;
  for (const Transition& t : table) {
    EXPECT_TRUE(seen.insert({int(t.from), int(t.event)}).second) << row_name(t) << " twice";
    EXPECT_EQ(&control::transition(t.from, t.event), &t) << row_name(t);
    if (control::event_is_request(t.event)) {
      EXPECT_NE(t.handling, Handling::ignore) << row_name(t) << ": a request must be answered";
    }
    if (t.handling == Handling::reject) {
      EXPECT_GE(t.status, 400) << row_name(t);
      EXPECT_EQ(t.to, control::to_mask(t.from)) << row_name(t);
    }
    if (t.handling == Handling::act) {
      EXPECT_NE(t.to, 0) << row_name(t);
    }
    if (t.from == CallState::ended) {
      EXPECT_NE(t.handling, Handling::act) << row_name(t) << ": ended is final";
    }
  }
  EXPECT_EQ(seen.size(), 64u);
  // The requests are exactly BYE, re-INVITE (either side) and other in-dialog requests.
  std::vector<std::string> requests;
  for (std::size_t e = 0; e < control::kCallEventCount; ++e)
    if (control::event_is_request(CallEvent(e))) requests.emplace_back(control::event_name(CallEvent(e)));
  EXPECT_EQ(requests, (std::vector<std::string>{"bye_a", "bye_b", "reinvite_a", "reinvite_b", "in_dialog_other"}));
}

// ---------------------------------------------------------------- failover to the end

// 503 and 408 from a trunk fail over (routing stays); when the last trunk
// fails too, the phone gets that trunk's status and the call ends.
TEST_F(CallTransitionTest, RoutingFailureFailsOverThenRelaysTheLastStatus) {
  for (int code : {503, 408}) {
    const std::string cid = "fo-" + std::to_string(code) + "@10.10.0.2";
    const std::string reason = code == 503 ? "Service Unavailable" : "Request Timeout";
    Msg inv = routing(cid);
    const auto failovers = gw->stats().failovers;
    inject("10.20.0.2", 5060, carrier_response(inv, code, reason, ""));
    auto out = take();
    Msg inv2 = copy(find_to(out, "INVITE", kBackup));
    EXPECT_EQ(final_responses_to(out, kPhone), 0) << code;
    EXPECT_EQ(state_of(cid), CallState::routing) << code;
    EXPECT_EQ(gw->stats().failovers, failovers + 1);
    // A fresh Call-ID for the new attempt.
    EXPECT_NE(std::string(inv2.m->call_id->number), std::string(inv.m->call_id->number));
    inject("10.20.0.3", 5060, carrier_response(inv2, code, reason, ""));
    out = take();
    EXPECT_TRUE(find_to(out, std::to_string(code), kPhone)) << code;
    EXPECT_EQ(count(out, "INVITE"), 0);
    EXPECT_EQ(state_of(cid), std::nullopt);
    EXPECT_EQ(store->cdr(cid)->result_code, code);
  }
  EXPECT_EQ(gw->stats().calls_failed, 2u);
}

TEST_F(CallTransitionTest, EarlyFailureFailsOverThenRelaysTheLastStatus) {
  const std::string cid = "fo-early@10.10.0.2";
  Failover f = routing_after_failover(cid);
  inject("10.20.0.3", 5060, carrier_response(f.inv2, 180, "Ringing", ""));
  auto out = take();
  EXPECT_TRUE(find_to(out, "180", kPhone));
  EXPECT_EQ(state_of(cid), CallState::early);
  inject("10.20.0.3", 5060, carrier_response(f.inv2, 503, "Service Unavailable", ""));
  out = take();
  EXPECT_TRUE(find_to(out, "503", kPhone));
  EXPECT_EQ(state_of(cid), std::nullopt);
}

TEST_F(CallTransitionTest, RoutingTimerBFailsOverThenEndsWith408) {
  const std::string cid = "fo-timerb@10.10.0.2";
  routing(cid);
  std::vector<Msg> out;
  ASSERT_TRUE(run_sip_timers([&] {
    for (auto& m : take()) out.push_back(std::move(m));
    return final_responses_to(out, kPhone) > 0;
  }));
  EXPECT_GE(count(out, "INVITE"), 2);  // retransmissions to the carrier, then the backup
  EXPECT_TRUE(find_to(out, "INVITE", kBackup));
  EXPECT_TRUE(find_to(out, "408", kPhone));
  EXPECT_EQ(state_of(cid), std::nullopt);
  EXPECT_EQ(gw->stats().failovers, 1u);
  EXPECT_EQ(store->cdr(cid)->result_code, 408);
}

TEST_F(CallTransitionTest, DeadlineOnTheLastTrunkEndsWith408) {
  const std::string cid = "fo-deadline@10.10.0.2";
  routing(cid, "1-900-555-1212");  // the carrier only
  advanced = std::chrono::milliseconds(1900);
  gw->tick();
  EXPECT_TRUE(take().empty());  // not yet
  advanced = std::chrono::milliseconds(2100);
  gw->tick();
  auto out = take();
  EXPECT_TRUE(find_to(out, "CANCEL", kCarrier));
  EXPECT_TRUE(find_to(out, "408", kPhone));
  EXPECT_EQ(count(out, "INVITE"), 0);
  EXPECT_EQ(state_of(cid), std::nullopt);
  EXPECT_EQ(gw->stats().failovers, 0u);
}

// ---------------------------------------------------------------- Call::handle() alone

// The rows the Gateway cannot deliver (see the top of this file), straight
// into Call::handle(): a call that is not started is in routing, a restored
// one is answered (early cannot be reached without a trunk's provisional).
// A reject or ignore row must leave the call alone, send nothing and program
// nothing; only a reject counts.
TEST_F(CallTransitionTest, CallHandleHonoursTheTable) {
  control::GatewayStats stats;
  control::CallIndex index;
  control::PortAllocator ports(16384, 16483);
  control::CallServices svc;
  svc.stack = stack.get();
  svc.media = &media;
  svc.stats = &stats;
  svc.index = &index;
  svc.config = &cfg;
  svc.ports = [&](int) { return &ports; };
  svc.now = [this] { return t0; };
  int rows = 0;
  for (const Transition& row : control::transition_table()) {
    if (row.handling == Handling::act) continue;
    if (row.from != CallState::routing && row.from != CallState::answered) continue;
    control::Call call(svc, "direct-" + row_name(row), control::CallDirection::outbound);
    if (row.from == CallState::answered) call.restore_answered(std::nullopt);
    ASSERT_EQ(call.state(), row.from);
    const auto invalid = stats.invalid_events;
    const auto sent = tp.sent.size();
    EXPECT_FALSE(call.handle(row.event)) << row_name(row);
    EXPECT_EQ(call.state(), row.from) << row_name(row);
    EXPECT_EQ(stats.invalid_events, invalid + (row.handling == Handling::reject ? 1 : 0)) << row_name(row);
    EXPECT_EQ(tp.sent.size(), sent) << row_name(row);  // no transaction to answer here
    EXPECT_TRUE(media.ops.empty()) << row_name(row);
    ++rows;
  }
  EXPECT_EQ(rows, 7 + 6);  // routing: 3 rejects and 4 ignores; answered: 6 ignores
}

// BUG (reported to the lead, not fixed here: control/ is not this test's to
// change). The table ignores dataplane_restart in routing ("no flow yet"),
// but a call that had early media (183 with SDP) and then failed over is in
// routing with its flow programmed. After a dataplane restart the flow is
// gone, the call still believes it programmed, and the backup's answer
// becomes a modify of an unknown flow: the real dataplane refuses it
// (FlowTable::modify: no_such_flow), so an answered call fails with 503.
// Enable when routing re-programs (or forgets) its flow on a restart.
TEST_F(CallTransitionTest, DISABLED_RoutingAfterEarlyMediaFailoverSurvivesADataplaneRestart) {
  const std::string cid = "bug-restart@10.10.0.2";
  Failover f = routing_after_failover(cid, true);
  uint32_t flow = only_flow();
  media.restart = true;
  gw->tick();
  EXPECT_TRUE(media.flows.empty());  // the new dataplane generation has no flows
  inject("10.20.0.3", 5060, carrier_response(f.inv2, 200, "OK", g729_answer()));
  auto out = take();
  EXPECT_TRUE(find_to(out, "200", kPhone)) << "the backup answered, the phone must hear it";
  EXPECT_FALSE(find_to(out, "503", kPhone));
  EXPECT_EQ(state_of(cid), CallState::answered);
  EXPECT_EQ(media.flows.count(flow), 1u);
}

// ---------------------------------------------------------------- the actions' refusals

// reinvite_a in answered: what a re-INVITE the call cannot take gets, and
// that the call stays as it was. One call per refusal: the stack drops the
// dialog after any refused re-INVITE (see ARefusedReinviteKeepsTheDialog).
TEST_F(CallTransitionTest, AnsweredReinviteRefusalsLeaveTheCallAsItWas) {
  struct Case {
    std::string name, sdp;
    int status;
    bool fail_modify;
  };
  const std::vector<Case> cases = {
      {"offerless", "", 200, false},
      {"bad-sdp", "v=0\r\nthis is not SDP\r\n", 488, false},
      {"no-allowed-codec", sdp_offer("10.10.0.2", 16400, "4", {"rtpmap:4 G723/8000"}), 488, false},
      {"dataplane-refuses", phone_hold_offer(), 500, true},
  };
  for (const Case& c : cases) {
    const std::string cid = "ri-" + c.name + "@10.10.0.2";
    media.fail_modify = false;
    auto [inv, ok] = answered_call(cid, spa_offer());
    take();
    const auto ops = media.ops.size();
    const auto errors = gw->stats().media_errors;
    media.fail_modify = c.fail_modify;
    inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, c.sdp));
    auto out = take();
    const Msg* r = find_to(out, std::to_string(c.status), kPhone);
    ASSERT_TRUE(r) << c.name << ": " << (out.empty() ? "nothing" : out[0].raw);
    EXPECT_EQ(count(out, "INVITE"), 0) << c.name;  // the carrier hears of no change
    if (c.status == 200) {
      EXPECT_EQ(r->body(), ok.body()) << c.name;  // our current SDP, as the offer
    }
    if (c.fail_modify) {
      EXPECT_NE(r->raw.find("Media Update Failed"), std::string::npos) << r->raw;
      EXPECT_EQ(gw->stats().media_errors, errors + 1);
    } else {
      EXPECT_EQ(media.ops.size(), ops) << c.name;  // nothing re-programmed
    }
    EXPECT_EQ(state_of(cid), CallState::answered) << c.name;
  }
  EXPECT_EQ(gw->stats().invalid_events, 0u);
  EXPECT_EQ(gw->stats().reinvites, cases.size());
}

// BUG in sip/ (reported to the lead, not fixed here): Stack::respond erases
// the dialog whenever it answers an INVITE with >= 300, and the UAC side
// does the same on a >= 300 to an INVITE it sent, re-INVITEs included.
// RFC 3261 §14.1/§14.2: a failed re-INVITE leaves the dialog and session as
// they were. So after any 488/491/500 to a re-INVITE the phone's BYE gets
// 481 and the call lingers until the media timeout; a trunk that refuses our
// hold re-INVITE can no longer be sent a BYE. Enable when fixed.
TEST_F(CallTransitionTest, ARefusedReinviteKeepsTheDialog) {
  const std::string cid = "ri-dialog@10.10.0.2";
  auto [inv, ok] = answered_call(cid, spa_offer());
  take();
  inject("10.10.0.2", 5062, phone_request("INVITE", cid, ok, 104, "v=0\r\nthis is not SDP\r\n"));
  EXPECT_TRUE(find_to(take(), "488", kPhone));
  inject("10.10.0.2", 5062, phone_request("BYE", cid, ok, 105));
  auto out = take();
  EXPECT_TRUE(find_to(out, "200", kPhone)) << (out.empty() ? "nothing" : out[0].raw);
  EXPECT_TRUE(find_to(out, "BYE", kCarrier));
  EXPECT_EQ(state_of(cid), std::nullopt);
}

// b_answer in routing: an answer the call cannot use ends it (ACK and BYE to
// the trunk, 488 to the phone).
TEST_F(CallTransitionTest, UnusableAnswerEndsTheCallWith488) {
  const std::vector<std::pair<std::string, std::string>> answers = {
      {"no-sdp", ""},
      {"bad-sdp", "v=0\r\nthis is not SDP\r\n"},
      {"wrong-codec", sdp_offer("10.20.0.2", 6000, "0", {"rtpmap:0 PCMU/8000"})},  // not offered to the carrier
  };
  for (const auto& [name, sdp] : answers) {
    const std::string cid = "ans-" + name + "@10.10.0.2";
    Msg inv = routing(cid);
    inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", sdp));
    auto out = take();
    EXPECT_TRUE(find_to(out, "ACK", kCarrier)) << name;
    EXPECT_TRUE(find_to(out, "BYE", kCarrier)) << name;
    EXPECT_TRUE(find_to(out, "488", kPhone)) << name;
    EXPECT_FALSE(find_to(out, "200", kPhone)) << name;
    EXPECT_EQ(state_of(cid), std::nullopt) << name;
  }
  EXPECT_TRUE(media.flows.empty());
  EXPECT_EQ(gw->stats().calls_answered, 0u);
}

// dataplane_restart in answered when the new dataplane refuses the flow: the
// call is kept (its signalling is fine), the refusal counted.
TEST_F(CallTransitionTest, AnsweredCallOutlivesAFailedReprogramming) {
  const std::string cid = "dr-fail@10.10.0.2";
  answered_call(cid, spa_offer());
  take();
  media.restart = true;
  media.fail = true;
  gw->tick();
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(gw->stats().flows_reprogrammed, 0u);
  EXPECT_EQ(gw->stats().media_errors, 1u);
  EXPECT_EQ(state_of(cid), CallState::answered);
}

}  // namespace
