// SPDX-License-Identifier: GPL-3.0-or-later
// Admission control (sip/include/msgw/sip/admission.hpp): token buckets,
// per-source blocks and their table bound, the queue-age hysteresis, all on
// an injected clock; then the stack's shedding end to end through a
// capturing transport (the 503 built from the pre-scan).
#include <gtest/gtest.h>

#include <string>

#include "msgw/sip/admission.hpp"
#include "stack_impl.hpp"
#include "test_core_util.hpp"

namespace msgw::sip {
namespace {

constexpr int64_t kMs = 1'000'000, kS = 1'000'000'000;

SourceAddr v4(const char* text) {
  SourcePrefix p;
  EXPECT_TRUE(parse_source_prefix(text, p)) << text;
  return p.addr;
}

TEST(CoreAdmission, TokenBucketStartsFullAndRefillsAtItsRate) {
  TokenBucket b;
  int64_t t = 5 * kS;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.take(t, 10, 4)) << i;
  EXPECT_FALSE(b.take(t, 10, 4));
  EXPECT_FALSE(b.take(t + 99 * kMs, 10, 4));  // 0.99 token
  EXPECT_TRUE(b.take(t + 101 * kMs, 10, 4));  // 1.01: one
  EXPECT_FALSE(b.take(t + 101 * kMs, 10, 4));
  // Never more than the burst, however long the pause.
  t += 3600 * kS;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.take(t, 10, 4));
  EXPECT_FALSE(b.take(t, 10, 4));
  // A clock that steps back adds nothing.
  EXPECT_FALSE(b.take(t - kS, 10, 4));
}

TEST(CoreAdmission, PrefixesParseAndMatch) {
  SourcePrefix p;
  ASSERT_TRUE(parse_source_prefix("10.0.0.0/8", p));
  EXPECT_TRUE(p.contains(v4("10.200.1.2")));
  EXPECT_FALSE(p.contains(v4("11.0.0.1")));
  ASSERT_TRUE(parse_source_prefix("192.0.2.7", p));
  EXPECT_TRUE(p.contains(v4("192.0.2.7")));
  EXPECT_FALSE(p.contains(v4("192.0.2.6")));
  ASSERT_TRUE(parse_source_prefix("10.1.2.3/0", p));
  EXPECT_TRUE(p.contains(v4("203.0.113.9")));
  ASSERT_TRUE(parse_source_prefix("2001:db8::/32", p));
  EXPECT_FALSE(p.contains(v4("32.1.13.184")));
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0/8", "10.0.0.0/", "10.0.0.0/8x", "host", "::/129"})
    EXPECT_FALSE(parse_source_prefix(bad, p)) << bad;
}

TEST(CoreAdmission, LimitedMethodFromTheFirstBytes) {
  EXPECT_EQ(limited_method("INVITE sip:a@b SIP/2.0\r\n"), LimitedMethod::invite);
  EXPECT_EQ(limited_method("\r\nREGISTER sip:b SIP/2.0\r\n"), LimitedMethod::register_);
  EXPECT_EQ(limited_method("invite sip:a@b SIP/2.0\r\n"), LimitedMethod::none);  // methods are case-sensitive
  EXPECT_EQ(limited_method("INVITEX sip:a SIP/2.0"), LimitedMethod::none);
  EXPECT_EQ(limited_method("SIP/2.0 200 OK\r\n"), LimitedMethod::none);
  EXPECT_EQ(limited_method("BYE sip:a SIP/2.0\r\n"), LimitedMethod::none);
  EXPECT_EQ(limited_method(""), LimitedMethod::none);
}

TEST(CoreAdmission, SourceOverItsRateIsBlockedThenReleased) {
  AdmissionConfig cfg;
  cfg.source_invite_rate = 10;
  cfg.source_burst = 5;
  cfg.source_block_s = 2;
  SourceLimiter lim(cfg);
  const SourceAddr a = v4("198.51.100.1"), b = v4("198.51.100.2");
  int64_t t = 100 * kS;
  using V = SourceLimiter::Verdict;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(lim.check(a, LimitedMethod::invite, t), V::pass);
  EXPECT_EQ(lim.check(a, LimitedMethod::invite, t), V::drop_blocked);  // the 6th: logged once
  EXPECT_EQ(lim.blocks(), 1u);
  // Blocked: everything from it is dropped, responses and BYEs included.
  EXPECT_EQ(lim.check(a, LimitedMethod::none, t + kMs), V::drop);
  EXPECT_EQ(lim.check(a, LimitedMethod::register_, t + kMs), V::drop);
  // Another source is untouched.
  EXPECT_EQ(lim.check(b, LimitedMethod::invite, t + kMs), V::pass);
  EXPECT_EQ(lim.check(b, LimitedMethod::none, t + kMs), V::pass);
  // Still over the rate while blocked: the block restarts.
  t += kS;
  for (int i = 0; i < 30; ++i) EXPECT_EQ(lim.check(a, LimitedMethod::invite, t + i * kMs), V::drop);
  EXPECT_TRUE(lim.blocked(a, t + 2 * kS));
  // Quiet (nothing over the rate) for the block time: released.
  t += 30 * kMs + 2 * kS + 1;
  EXPECT_FALSE(lim.blocked(a, t));
  EXPECT_EQ(lim.check(a, LimitedMethod::invite, t), V::pass);
  EXPECT_EQ(lim.blocks(), 1u);
}

TEST(CoreAdmission, SlowTrafficWhileBlockedDoesNotExtendTheBlock) {
  AdmissionConfig cfg;
  cfg.source_register_rate = 2;
  cfg.source_burst = 1;
  cfg.source_block_s = 1;
  SourceLimiter lim(cfg);
  const SourceAddr a = v4("198.51.100.1");
  using V = SourceLimiter::Verdict;
  int64_t t = kS;
  EXPECT_EQ(lim.check(a, LimitedMethod::register_, t), V::pass);
  EXPECT_EQ(lim.check(a, LimitedMethod::register_, t), V::drop_blocked);
  // One REGISTER every 600 ms is within 2/s: dropped while the block lasts,
  // but the block still ends one second after the burst.
  EXPECT_EQ(lim.check(a, LimitedMethod::register_, t + 600 * kMs), V::drop);
  EXPECT_EQ(lim.check(a, LimitedMethod::register_, t + 1200 * kMs), V::pass);
  // INVITEs are not limited at all (rate 0).
  for (int i = 0; i < 100; ++i) EXPECT_EQ(lim.check(a, LimitedMethod::invite, t + 1300 * kMs), V::pass);
}

TEST(CoreAdmission, ExemptSourcesAreNeverBlocked) {
  AdmissionConfig cfg;
  cfg.source_invite_rate = 1;
  cfg.source_burst = 1;
  SourcePrefix p;
  ASSERT_TRUE(parse_source_prefix("10.20.0.0/24", p));
  cfg.exempt.push_back(p);
  const SourceAddr trunk = v4("192.0.2.99");
  cfg.exempt_source = [&](const SourceAddr& a) { return a == trunk; };
  SourceLimiter lim(cfg);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(lim.check(v4("10.20.0.2"), LimitedMethod::invite, kS), SourceLimiter::Verdict::pass);
    EXPECT_EQ(lim.check(trunk, LimitedMethod::invite, kS), SourceLimiter::Verdict::pass);
  }
  EXPECT_EQ(lim.size(), 0u);  // exempt sources take no table entry
}

TEST(CoreAdmission, TableIsBoundedAndEvictsTheLeastRecentlySeen) {
  AdmissionConfig cfg;
  cfg.source_invite_rate = 1;
  cfg.source_burst = 1;
  cfg.source_table_size = 64;
  SourceLimiter lim(cfg);
  using V = SourceLimiter::Verdict;
  const SourceAddr keep = v4("198.51.100.200");
  EXPECT_EQ(lim.check(keep, LimitedMethod::invite, kS), V::pass);
  EXPECT_EQ(lim.check(keep, LimitedMethod::invite, kS), V::drop_blocked);
  // A spray of 100,000 addresses, one INVITE each; the blocked source keeps
  // sending, so it stays among the most recently seen.
  for (uint32_t i = 0; i < 100000; ++i) {
    EXPECT_EQ(lim.check(source_addr_v4(0x0A000000u + i), LimitedMethod::invite, kS + i), V::pass);
    if (i % 16 == 0) {
      EXPECT_EQ(lim.check(keep, LimitedMethod::none, kS + i), V::drop);
    }
    ASSERT_LE(lim.size(), 64u);
  }
  EXPECT_EQ(lim.size(), 64u);
  EXPECT_EQ(lim.evictions(), 100000u + 1 - 64);
  EXPECT_TRUE(lim.blocked(keep, kS + 100000));
  // Messages that are not INVITE/REGISTER from unknown sources cost nothing.
  EXPECT_EQ(lim.check(v4("203.0.113.1"), LimitedMethod::none, 2 * kS), V::pass);
  EXPECT_EQ(lim.evictions(), 100000u + 1 - 64);
}

TEST(CoreAdmission, QueueAgeHysteresis) {
  AdmissionConfig cfg;
  cfg.shed_queue_age_ms = 200;
  cfg.resume_queue_age_ms = 50;
  OverloadGate g(cfg);
  using S = OverloadState;
  int64_t t = kS;
  EXPECT_EQ(g.observe(10'000, t), S::admitting);
  EXPECT_EQ(g.observe(199'999, t), S::admitting);
  EXPECT_EQ(g.observe(-1, t), S::admitting);  // unknown age (TCP): no change
  EXPECT_EQ(g.observe(200'000, t), S::shedding);
  EXPECT_EQ(g.episodes(), 1u);
  // Between the two marks: stays as it is (no flapping around one value).
  EXPECT_EQ(g.observe(150'000, t), S::shedding);
  EXPECT_EQ(g.observe(50'000, t), S::shedding);
  EXPECT_EQ(g.observe(-1, t), S::shedding);
  EXPECT_EQ(g.observe(49'999, t), S::admitting);
  EXPECT_EQ(g.observe(150'000, t), S::admitting);
  EXPECT_EQ(g.observe(500'000, t), S::shedding);
  EXPECT_EQ(g.episodes(), 2u);
  // The largest age of the last second or two, for the metrics.
  EXPECT_EQ(g.recent_max_age_us(), 500'000);
  EXPECT_EQ(g.observe(1'000, t + kS + 1), S::admitting);
  EXPECT_EQ(g.recent_max_age_us(), 500'000);
  g.observe(1'000, t + 2 * kS + 2);
  EXPECT_EQ(g.recent_max_age_us(), 1'000);
  // 0: never shed.
  cfg.shed_queue_age_ms = 0;
  EXPECT_EQ(g.observe(10'000'000, t + 3 * kS), S::admitting);
}

// While msgw-dataplane's workers hold the rate of new requests, the gate
// judges each message by its own age against the shed age: no band in which
// what they let in is shed too.
TEST(CoreAdmission, QueueAgeWithoutHysteresis) {
  AdmissionConfig cfg;
  cfg.shed_queue_age_ms = 200;
  cfg.resume_queue_age_ms = 50;
  OverloadGate g(cfg);
  g.set_hysteresis(false);
  using S = OverloadState;
  constexpr int64_t kMsNs = 1'000'000;
  const int64_t t = kS;
  EXPECT_EQ(g.observe(250'000, t), S::shedding);
  EXPECT_EQ(g.observe(199'999, t), S::admitting);  // under the shed age: admitted at once
  EXPECT_EQ(g.observe(200'000, t), S::shedding);
  EXPECT_EQ(g.episodes(), 2u);
  // Idle: ends after the shed age with nothing met, not the resume age.
  EXPECT_EQ(g.idle(t + 100 * kMsNs), S::shedding);
  EXPECT_EQ(g.idle(t + 200 * kMsNs), S::admitting);
  g.set_hysteresis(true);
  EXPECT_EQ(g.observe(250'000, t + 300 * kMsNs), S::shedding);
  EXPECT_EQ(g.observe(100'000, t + 300 * kMsNs), S::shedding);
}

// While msgw-dataplane sheds for the stack a flood may never reach it: a pass
// that met no datagram for the resume age ends shedding without one.
TEST(CoreAdmission, OverloadGateEndsSheddingWhenNothingArrivesForTheResumeAge) {
  AdmissionConfig cfg;
  cfg.shed_queue_age_ms = 200;
  cfg.resume_queue_age_ms = 50;
  OverloadGate g(cfg);
  using S = OverloadState;
  constexpr int64_t kMsNs = 1'000'000;
  const int64_t t = kS;
  EXPECT_EQ(g.idle(t), S::admitting);  // admitting stays admitting
  EXPECT_EQ(g.observe(300'000, t), S::shedding);
  EXPECT_EQ(g.idle(t + 49 * kMsNs), S::shedding);  // not yet the resume age
  EXPECT_EQ(g.observe(250'000, t + 40 * kMsNs), S::shedding);  // a message restarts the wait
  EXPECT_EQ(g.idle(t + 89 * kMsNs), S::shedding);
  EXPECT_EQ(g.idle(t + 90 * kMsNs), S::admitting);
  EXPECT_EQ(g.episodes(), 1u);
  EXPECT_EQ(g.observe(300'000, t + 100 * kMsNs), S::shedding);  // and sheds again when behind
  EXPECT_EQ(g.episodes(), 2u);
}

// --- the stack

const char* kInvite =
    "INVITE sip:1-800-555-1212@192.0.2.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-shed1;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Good Body\" <sip:spa1@198.51.100.7>;tag=ft1\r\n"
    "To: <sip:1-800-555-1212@192.0.2.1>\r\n"
    "Call-ID: shed1@198.51.100.7\r\n"
    "CSeq: 101 INVITE\r\n"
    "Contact: <sip:spa1@198.51.100.7:5062>\r\n"
    "Content-Length: 0\r\n\r\n";

struct HoldHandler : Handler {
  int requests = 0;
  void on_request(Stack&, const ServerRequest&) override { ++requests; }  // answers later
};

struct StackRig {
  test::CaptureTransport tp;
  HoldHandler h;
  std::unique_ptr<Stack> st;
  explicit StackRig(const AdmissionConfig& a) {
    StackConfig c;
    c.admission = a;
    c.send_100_trying = false;
    st = std::make_unique<Stack>(c, &h, &tp);
  }
  void receive(const std::string& m, int64_t age_us, const char* ip = "198.51.100.7") {
    Inbound in = test::udp_from(ip);
    in.queue_age_us = age_us;
    st->receive(in, m);
  }
};

std::string with(std::string m, const std::string& from, const std::string& to) {
  m.replace(m.find(from), from.size(), to);
  return m;
}

TEST(CoreAdmission, ShedInviteGets503WithRetryAfterFromTheScan) {
  AdmissionConfig a;
  a.retry_after_s = 7;
  StackRig r(a);
  r.receive(kInvite, 300'000);  // 300 ms old: shedding
  ASSERT_EQ(r.tp.sent.size(), 1u);
  EXPECT_EQ(r.h.requests, 0);
  EXPECT_EQ(r.st->transaction_count(), 0u);  // no transaction
  const std::string& resp = r.tp.sent[0].bytes;
  auto p = parse_message(resp, false, Limits{});
  ASSERT_TRUE(p.msg) << resp;
  MessageRef m = p.msg;
  EXPECT_EQ(m.status(), 503);
  EXPECT_EQ(m.header("Retry-After"), "7");
  EXPECT_EQ(m.via_branch(), "z9hG4bK-shed1");
  EXPECT_NE(resp.find("Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-shed1;rport\r\n"), std::string::npos);
  EXPECT_EQ(m.from_tag(), "ft1");
  EXPECT_EQ(m.from_display(), "Good Body");
  EXPECT_EQ(m.to_uri(), "sip:1-800-555-1212@192.0.2.1");
  EXPECT_FALSE(m.to_tag().empty());
  EXPECT_EQ(m.call_id(), "shed1@198.51.100.7");
  EXPECT_EQ(m.cseq_number(), 101u);
  EXPECT_EQ(m.cseq_method(), "INVITE");
  EXPECT_EQ(r.tp.sent[0].dst.str(), "198.51.100.7:5062");
  const Stats& s = r.st->stats();
  EXPECT_EQ(s.shed_invites, 1u);
  EXPECT_EQ(s.overload_episodes, 1u);
  EXPECT_EQ(s.overloaded, 1u);
  EXPECT_EQ(s.tx_responses_by_status[503 - kFirstCountedStatus], 1u);
}

TEST(CoreAdmission, SheddingSparesWhatFinishesAdmittedCalls) {
  AdmissionConfig a;
  StackRig r(a);
  r.receive(kInvite, 1'000);  // young: admitted, held by the application
  ASSERT_EQ(r.h.requests, 1);
  ASSERT_EQ(r.st->transaction_count(), 1u);
  // Overload begins; the INVITE's retransmission is its transaction's, not shed.
  r.receive(kInvite, 400'000);
  EXPECT_EQ(r.st->stats().shed_invites, 0u);
  EXPECT_GE(r.st->stats().retransmissions_absorbed, 1u);
  EXPECT_EQ(r.tp.count_starting("SIP/2.0 503"), 0u);
  EXPECT_EQ(r.st->transaction_count(), 1u);
  EXPECT_EQ(r.h.requests, 1);
  // In-dialog (To-tag) requests pass: a re-INVITE without a dialog gets 481, not 503.
  r.receive(with(with(kInvite, "1212@192.0.2.1>\r\n", "1212@192.0.2.1>;tag=tt9\r\n"), "shed1;", "shed2;"), 400'000);
  EXPECT_EQ(r.st->stats().shed_invites, 0u);
  EXPECT_EQ(r.tp.response_codes().back(), 481);
  // A BYE passes (481 here: no such dialog), an OPTIONS too.
  std::string bye = with(with(with(kInvite, "INVITE sip", "BYE sip"), "101 INVITE", "102 BYE"), "shed1;", "shed3;");
  r.receive(with(bye, "1212@192.0.2.1>\r\n", "1212@192.0.2.1>;tag=tt9\r\n"), 400'000);
  EXPECT_EQ(r.tp.response_codes().back(), 481);
  EXPECT_EQ(r.st->stats().shed_invites, 0u);
  // A new INVITE is shed; a new REGISTER too.
  r.receive(with(with(kInvite, "shed1;", "shed4;"), "Call-ID: shed1", "Call-ID: shed4"), 400'000);
  EXPECT_EQ(r.st->stats().shed_invites, 1u);
  std::string reg = with(with(with(kInvite, "INVITE sip:1-800-555-1212@192.0.2.1", "REGISTER sip:192.0.2.1"),
                              "101 INVITE", "1 REGISTER"), "shed1;", "shed5;");
  r.receive(reg, 400'000);
  EXPECT_EQ(r.st->stats().shed_registers, 1u);
  EXPECT_EQ(r.tp.response_codes().back(), 503);
  // Recovery: a young datagram ends shedding at once.
  r.receive(with(with(kInvite, "shed1;", "shed6;"), "Call-ID: shed1", "Call-ID: shed6"), 10'000);
  EXPECT_EQ(r.st->stats().shed_invites, 1u);
  EXPECT_EQ(r.st->stats().overloaded, 0u);
  EXPECT_EQ(r.h.requests, 2);
}

TEST(CoreAdmission, AnswerToAChallengeIsShedOnlyWhenTwiceTooOld) {
  AdmissionConfig a;  // shed at 200 ms
  StackRig r(a);
  const std::string auth = with(with(kInvite, "Contact:", "proxy-authorization : Digest username=\"spa1\"\r\nContact:"),
                                "Call-ID: shed1", "Call-ID: auth1");
  r.receive(auth, 300'000);  // shedding, but it completes an admitted call
  EXPECT_EQ(r.h.requests, 1);
  EXPECT_EQ(r.st->stats().shed_invites, 0u);
  EXPECT_EQ(r.st->stats().overloaded, 1u);
  r.receive(with(with(auth, "shed1;", "auth2;"), "Call-ID: auth1", "Call-ID: auth2"), 400'000);
  EXPECT_EQ(r.h.requests, 1);
  EXPECT_EQ(r.st->stats().shed_invites, 1u);
  // A header that only looks like one is not credentials.
  r.receive(with(with(with(kInvite, "Contact:", "X-Authorization: x\r\nContact:"), "shed1;", "auth3;"),
                 "Call-ID: shed1", "Call-ID: auth3"),
            300'000);
  EXPECT_EQ(r.st->stats().shed_invites, 2u);
}

// What the admission rate counts: new INVITEs and REGISTERs without
// credentials taken in; and the newest datagram's age.
TEST(CoreAdmission, NewRequestsAndTheNewestAgeAreCounted) {
  AdmissionConfig a;
  StackRig r(a);
  r.receive(kInvite, 1'000);
  EXPECT_EQ(r.st->stats().rx_new_requests, 1u);
  EXPECT_EQ(r.st->stats().rx_queue_age_last_us, 1'000u);
  r.receive(kInvite, 2'000);  // its retransmission: taken in, but not new
  EXPECT_EQ(r.st->stats().rx_new_requests, 2u) << "a retransmission is still a request taken in";
  const std::string auth = with(with(kInvite, "Contact:", "Proxy-Authorization: Digest username=\"spa1\"\r\nContact:"),
                                "Call-ID: shed1", "Call-ID: auth9");
  r.receive(with(auth, "shed1;", "auth9;"), 3'000);  // credentials: not new
  EXPECT_EQ(r.st->stats().rx_new_requests, 2u);
  r.receive(with(with(kInvite, "1212@192.0.2.1>\r\n", "1212@192.0.2.1>;tag=tt9\r\n"), "shed1;", "shed7;"), 4'000);
  EXPECT_EQ(r.st->stats().rx_new_requests, 2u);  // in dialog: not new
  r.receive(with(with(kInvite, "shed1;", "shed8;"), "Call-ID: shed1", "Call-ID: shed8"), 300'000);  // shed
  EXPECT_EQ(r.st->stats().rx_new_requests, 2u);
  EXPECT_EQ(r.st->stats().rx_queue_age_last_us, 300'000u);
  Inbound tcp = test::udp_from("198.51.100.7");
  tcp.queue_age_us = -1;  // no age known: the last known one stays
  r.st->receive(tcp, with(with(kInvite, "shed1;", "shed9;"), "Call-ID: shed1", "Call-ID: shed9"));
  EXPECT_EQ(r.st->stats().rx_queue_age_last_us, 300'000u);
}

TEST(CoreAdmission, MalformedInviteUnderOverloadStillGetsItsOwn400) {
  AdmissionConfig a;
  StackRig r(a);
  r.receive(with(kInvite, "CSeq: 101 INVITE", "CSeq: x INVITE"), 400'000);
  EXPECT_EQ(r.st->stats().shed_invites, 0u);
  ASSERT_FALSE(r.tp.response_codes().empty());
  EXPECT_EQ(r.tp.response_codes().back(), 400);
}

TEST(CoreAdmission, BlockedSourceIsDroppedUnparsedWhileOthersProceed) {
  AdmissionConfig a;
  a.source_invite_rate = 2;
  a.source_burst = 2;
  StackRig r(a);
  for (int i = 0; i < 10; ++i) {
    std::string id = "flood" + std::to_string(i);
    r.receive(with(with(kInvite, "shed1;", id + ";"), "Call-ID: shed1", "Call-ID: " + id), 0, "203.0.113.66");
  }
  EXPECT_EQ(r.h.requests, 2);  // the burst, then blocked
  const Stats& s = r.st->stats();
  EXPECT_EQ(s.source_blocks, 1u);
  EXPECT_EQ(s.source_blocked_drops, 8u);
  EXPECT_EQ(s.bad_messages, 0u);
  r.receive(kInvite, 0);  // another source
  EXPECT_EQ(r.h.requests, 3);
}

TEST(CoreAdmission, ServerKeyFromTheScanIsTheParsedOne) {
  for (const char* via : {"SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-a1;rport",
                          "SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK-a2",
                          "SIP/2.0/TCP [2001:db8::7]:5070;received=1.2.3.4;branch=z9hG4bK-a3",
                          "SIP/2.0/UDP host.example.com:5060 ; BRANCH = z9hG4bK-a4 ;rport",
                          "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-a5, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-b"}) {
    std::string m = with(kInvite, "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-shed1;rport", via);
    auto p = parse_message(m, false, Limits{});
    ASSERT_TRUE(p.msg) << via;
    EXPECT_EQ(scanned_server_key(p.scan), Stack::Impl::server_key(p.msg.get())) << via;
  }
}

}  // namespace
}  // namespace msgw::sip
