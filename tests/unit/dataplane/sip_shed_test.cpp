// SPDX-License-Identifier: GPL-3.0-or-later
// Shedding in the worker while msgw-control sheds (sip_shed.hpp): the exact
// 503 of a new INVITE/REGISTER, its ACK absorbed, and everything else (a
// To tag, credentials, other methods, not shedding, odd or broken input)
// left to the exception path untouched.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "msgw/dataplane/sip_shed.hpp"
#include "packet_rig.hpp"

namespace {

constexpr uint64_t kKey = 0x0123456789abcdefull;

const std::string kInvite =
    "INVITE sip:18005551212@10.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.16:5062;branch=z9hG4bK-a1;rport\r\n"
    "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-b2\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"SPA\" <sip:spa1@10.0.0.1>;tag=abc\r\n"
    "To: <sip:18005551212@10.0.0.1>\r\n"
    "Call-ID: call-1@10.0.0.16\r\n"
    "CSeq: 101 INVITE\r\n"
    "Contact: <sip:spa1@10.0.0.16:5062>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n";

std::string tag_of(std::string_view call_id) {
  char t[kSipShedTagLen];
  sip_shed_tag(call_id, kKey, t);
  return std::string(t, kSipShedTagLen);
}

std::string expected_503(const std::string& vias, const std::string& from, const std::string& to,
                         const std::string& call_id, const std::string& cseq, uint32_t retry) {
  return "SIP/2.0 503 Service Unavailable\r\n" + vias + "From: " + from + "\r\nTo: " + to +
         ";tag=" + tag_of(call_id) + "\r\nCall-ID: " + call_id + "\r\nCSeq: " + cseq +
         "\r\nRetry-After: " + std::to_string(retry) + "\r\nContent-Length: 0\r\n\r\n";
}

struct Result {
  SipShedVerdict verdict;
  std::string out;
};
Result shed(const std::string& msg, uint32_t retry = 2) {
  char out[kSipShedMaxResponse];
  uint32_t len = 0;
  const SipShedVerdict v = sip_shed_message(msg, retry, kKey, out, &len);
  return {v, v == SipShedVerdict::answer ? std::string(out, len) : std::string()};
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

std::string ack_for(const std::string& call_id, const std::string& to_tag) {
  return "ACK sip:18005551212@10.0.0.1 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 10.0.0.16:5062;branch=z9hG4bK-a1;rport\r\n"
         "From: \"SPA\" <sip:spa1@10.0.0.1>;tag=abc\r\n"
         "To: <sip:18005551212@10.0.0.1>;tag=" + to_tag + "\r\n"
         "Call-ID: " + call_id + "\r\n"
         "CSeq: 101 ACK\r\n"
         "Content-Length: 0\r\n\r\n";
}

}  // namespace

TEST(SipShedMessage, ANewInviteGetsTheExact503WithEveryViaInOrder) {
  const Result r = shed(kInvite, 7);
  ASSERT_EQ(r.verdict, SipShedVerdict::answer);
  EXPECT_EQ(r.out, expected_503("Via: SIP/2.0/UDP 10.0.0.16:5062;branch=z9hG4bK-a1;rport\r\n"
                                "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-b2\r\n",
                                "\"SPA\" <sip:spa1@10.0.0.1>;tag=abc", "<sip:18005551212@10.0.0.1>",
                                "call-1@10.0.0.16", "101 INVITE", 7));
  // Its retransmission gets the same answer; another call another tag.
  EXPECT_EQ(shed(kInvite, 7).out, r.out);
  EXPECT_NE(tag_of("call-1@10.0.0.16"), tag_of("call-2@10.0.0.16"));
}

TEST(SipShedMessage, CompactFormsAndARegisterAreShedToo) {
  const std::string compact =
      "REGISTER sip:10.0.0.1 SIP/2.0\r\n"
      "v: SIP/2.0/UDP 10.0.0.16:5062;branch=z9hG4bK-r1\r\n"
      "V:SIP/2.0/UDP 10.0.0.17;branch=z9hG4bK-r0\r\n"
      "f: <sip:spa1@10.0.0.1>;tag=x\r\n"
      "t: <sip:spa1@10.0.0.1>\r\n"
      "i: reg-9\r\n"
      "CSeq: 3 REGISTER\r\n"
      "l: 0\r\n"
      "\r\n";
  const Result r = shed(compact);
  ASSERT_EQ(r.verdict, SipShedVerdict::answer);
  EXPECT_EQ(r.out, expected_503("Via: SIP/2.0/UDP 10.0.0.16:5062;branch=z9hG4bK-r1\r\n"
                                "Via: SIP/2.0/UDP 10.0.0.17;branch=z9hG4bK-r0\r\n",
                                "<sip:spa1@10.0.0.1>;tag=x", "<sip:spa1@10.0.0.1>", "reg-9",
                                "3 REGISTER", 2));
}

TEST(SipShedMessage, TheAckOfOur503IsAbsorbedAndNoOtherAck) {
  EXPECT_EQ(shed(ack_for("call-1@10.0.0.16", tag_of("call-1@10.0.0.16"))).verdict, SipShedVerdict::absorb);
  // Another call's tag, a tag of msgw-control's, no tag: the exception path's.
  EXPECT_EQ(shed(ack_for("call-1@10.0.0.16", tag_of("call-2@10.0.0.16"))).verdict, SipShedVerdict::pass);
  EXPECT_EQ(shed(ack_for("call-1@10.0.0.16", "k3jd92hf0a")).verdict, SipShedVerdict::pass);
  std::string untagged = ack_for("call-1@10.0.0.16", "x");
  untagged = replace(untagged, ";tag=x", "");
  EXPECT_EQ(shed(untagged).verdict, SipShedVerdict::pass);
  // A different key (another dataplane start) does not recognise it.
  char t[kSipShedTagLen];
  sip_shed_tag("call-1@10.0.0.16", kKey + 1, t);
  EXPECT_EQ(shed(ack_for("call-1@10.0.0.16", std::string(t, kSipShedTagLen))).verdict, SipShedVerdict::pass);
}

TEST(SipShedMessage, WhatTheControlPlanesRuleKeepsPasses) {
  // In a dialog (a To tag), with credentials, other methods, responses.
  EXPECT_EQ(shed(replace(kInvite, "To: <sip:18005551212@10.0.0.1>", "To: <sip:18005551212@10.0.0.1>;tag=z")).verdict,
            SipShedVerdict::pass);
  EXPECT_EQ(shed(replace(kInvite, "Max-Forwards: 70\r\n",
                         "Max-Forwards: 70\r\nProxy-Authorization: Digest username=\"spa1\"\r\n")).verdict,
            SipShedVerdict::pass);
  EXPECT_EQ(shed(replace(kInvite, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nauthorization : Digest x\r\n")).verdict,
            SipShedVerdict::pass);
  std::string bye = replace(replace(kInvite, "INVITE sip:", "BYE sip:"), "101 INVITE", "101 BYE");
  EXPECT_EQ(shed(bye).verdict, SipShedVerdict::pass);
  std::string options = replace(replace(kInvite, "INVITE sip:", "OPTIONS sip:"), "101 INVITE", "101 OPTIONS");
  EXPECT_EQ(shed(options).verdict, SipShedVerdict::pass);
  EXPECT_EQ(shed("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a>;tag=1\r\n"
                 "To: <sip:b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n").verdict,
            SipShedVerdict::pass);
  // A URI parameter named tag inside <...> is not a To tag: shed.
  EXPECT_EQ(shed(replace(kInvite, "To: <sip:18005551212@10.0.0.1>", "To: <sip:18005551212@10.0.0.1;tag=u>")).verdict,
            SipShedVerdict::answer);
}

TEST(SipShedMessage, OddOrBrokenMessagesPassUntouched) {
  const std::string odd[] = {
      "",
      "INVITE",
      "INVITE sip:a SIP/2.0",                                   // no CRLF
      kInvite.substr(0, kInvite.find("\r\n\r\n")),              // headers never end
      "\r\n" + kInvite,                                         // keep-alive before: control's to judge
      replace(kInvite, "SIP/2.0\r\nVia", "SIP/2.1\r\nVia"),
      replace(kInvite, "INVITE sip:18005551212@10.0.0.1 SIP", "INVITE  sip:18005551212@10.0.0.1 SIP"),
      replace(kInvite, "INVITE sip:18005551212@10.0.0.1", "INVITE <sip:18005551212@10.0.0.1>"),
      replace(kInvite, "CSeq: 101 INVITE", "CSeq: 101 REGISTER"),     // CSeq of another method
      replace(kInvite, "CSeq: 101 INVITE", "CSeq: x INVITE"),
      replace(kInvite, "Call-ID: call-1@10.0.0.16\r\n", ""),       // missing Call-ID
      replace(kInvite, "Call-ID: call-1@10.0.0.16\r\n", "Call-ID: a\r\ni: b\r\n"),  // two
      replace(kInvite, "To: <sip:18005551212@10.0.0.1>\r\n", "To: <sip:x>\r\nt: <sip:y>\r\n"),
      replace(replace(kInvite, "Via: SIP/2.0/UDP 10.0.0.16:5062;branch=z9hG4bK-a1;rport\r\n", ""),
              "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-b2\r\n", ""),  // no Via
      replace(kInvite, "From: \"SPA\" <sip", "From: \"SPA <sip"),   // unterminated quote
      replace(kInvite, "To: <sip:18005551212@10.0.0.1>", "To: <sip:18005551212@10.0.0.1"),
      replace(kInvite, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\n continued\r\n"),  // folded
      replace(kInvite, "Max-Forwards: 70\r\n", "Max-Forwards 70\r\n"),                // no colon
      replace(kInvite, "Max-Forwards: 70\r\n", "Max Forwards: 70\r\n"),               // bad name
      replace(kInvite, "Max-Forwards: 70\r\n", "Max-Forwards: 70\n"),                 // bare LF
      replace(kInvite, "Max-Forwards: 70", std::string("Max-Forwards: 7\0", 16)),      // NUL
      replace(kInvite, "Content-Length: 4", "Content-Length: 5"),     // longer than the body
      replace(kInvite, "Content-Length: 4", "Content-Length: 4\r\nl: 3"),
      replace(kInvite, "Content-Length: 4", "Content-Length: -4"),
      replace(kInvite, "Max-Forwards: 70", "X-Long: " + std::string(kSipShedMaxLine, 'a')),
  };
  for (const std::string& m : odd) EXPECT_EQ(shed(m).verdict, SipShedVerdict::pass) << m;
  std::string many = kInvite;
  for (uint32_t i = 0; i < kSipShedMaxHeaders; ++i) many = replace(many, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nX: y\r\n");
  EXPECT_EQ(shed(many).verdict, SipShedVerdict::pass);
  std::string vias = kInvite;
  for (uint32_t i = 0; i < kSipShedMaxVia; ++i)
    vias = replace(vias, "Max-Forwards: 70\r\n", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-" + std::to_string(i) + "\r\nMax-Forwards: 70\r\n");
  EXPECT_EQ(shed(vias).verdict, SipShedVerdict::pass);
  // A 503 that would not fit in one packet is not sent.
  std::string big = kInvite;
  for (int i = 0; i < 6; ++i)
    big = replace(big, "Max-Forwards: 70\r\n", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-" + std::string(240, char('a' + i)) + "\r\nMax-Forwards: 70\r\n");
  EXPECT_EQ(shed(big).verdict, SipShedVerdict::pass);
  // Every prefix of a good INVITE (a truncated datagram) passes: the
  // headers never end, or the body is shorter than its Content-Length.
  for (std::size_t n = 0; n < kInvite.size(); ++n)
    EXPECT_EQ(shed(kInvite.substr(0, n)).verdict, SipShedVerdict::pass) << n;
}

// The frame level, through process_burst: what leaves, and what does not.
namespace {

struct ShedRig : Rig {
  SipShedState state{};
  ShedRig() {
    state.retry_after_s = 5;
    state.n_listen = 1;
    state.listen[0] = {kGwA, 5060, 0};
    state.shed_until_ns = ns + 10'000'000'000ull;
    ctx.sip_shed = &state;
    ctx.sip_tag_key = kKey;
  }
  Frame sip(const std::string& text, uint16_t dport = 5060) {
    Frame f = from_phone(0, 5062);
    f.dport = dport;
    f.payload.assign(text.begin(), text.end());
    return f;
  }
  // One frame in; what went to the exception path and what was sent.
  struct Out {
    uint16_t exceptions = 0;
    std::vector<uint8_t> exception_bytes;
    std::vector<std::vector<uint8_t>> sent;
    uint16_t sent_port = 0;
  };
  Out through(const std::vector<uint8_t>& bytes) {
    Out o;
    rte_mbuf* m = dptest::mbuf(bytes);
    out.clear();
    ns += 1'000'000;
    process_burst(ctx, 0, &m, 1, false, tsc, ns, out);
    for (uint16_t p = 0; p < kMaxPorts; ++p) {
      for (uint16_t i = 0; i < out.n_tx[p]; ++i) {
        o.sent.push_back(dptest::data(out.tx[p][i]));
        o.sent_port = p;
        rte_pktmbuf_free(out.tx[p][i]);
      }
      for (uint16_t i = 0; i < out.n_exception[p]; ++i) {
        o.exception_bytes = dptest::data(out.exception[p][i]);
        rte_pktmbuf_free(out.exception[p][i]);
      }
      o.exceptions = uint16_t(o.exceptions + out.n_exception[p]);
    }
    return o;
  }
};

}  // namespace

TEST(SipShedFrame, AShedInviteTurnsAroundAsThe503AndItsAckIsAbsorbed) {
  ASSERT_NE(dptest::pool(), nullptr);
  ShedRig r;
  const Frame in = r.sip(kInvite);
  const auto o = r.through(in.bytes());
  EXPECT_EQ(o.exceptions, 0);
  ASSERT_EQ(o.sent.size(), 1u);
  EXPECT_EQ(o.sent_port, 0);
  // The 503 exactly as a frame built from scratch would be: addresses,
  // ports and MACs swapped (source MAC the port's), lengths and checksums.
  Frame want;
  std::copy(in.src_mac, in.src_mac + 6, want.dst_mac);
  std::copy(r.ports[0].mac.addr_bytes, r.ports[0].mac.addr_bytes + 6, want.src_mac);
  want.src_ip = kGwA;
  want.dst_ip = kPhone;
  want.sport = 5060;
  want.dport = 5062;
  want.ttl = 64;
  const std::string text = expected_503("Via: SIP/2.0/UDP 10.0.0.16:5062;branch=z9hG4bK-a1;rport\r\n"
                                        "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-b2\r\n",
                                        "\"SPA\" <sip:spa1@10.0.0.1>;tag=abc", "<sip:18005551212@10.0.0.1>",
                                        "call-1@10.0.0.16", "101 INVITE", 5);
  want.payload.assign(text.begin(), text.end());
  std::vector<uint8_t> w = want.bytes();
  // Frame::bytes() writes IP id 0x1234 and no DF; the 503 has id 0 and DF.
  w[18] = 0;
  w[19] = 0;
  w[20] = 0x40;
  w[24] = w[25] = 0;
  const uint16_t ick = dptest::inet_checksum(&w[14], 20);
  w[24] = uint8_t(ick >> 8);
  w[25] = uint8_t(ick);
  EXPECT_EQ(o.sent[0], w);
  EXPECT_EQ(r.ctx.counters.sip_shed, 1u);
  EXPECT_EQ(r.ctx.counters.exception, 0u);

  const auto a = r.through(r.sip(ack_for("call-1@10.0.0.16", tag_of("call-1@10.0.0.16"))).bytes());
  EXPECT_EQ(a.exceptions, 0);
  EXPECT_TRUE(a.sent.empty());
  EXPECT_EQ(r.ctx.counters.sip_shed_acks_absorbed, 1u);
  EXPECT_EQ(r.ctx.counters.dropped_total(), 0u);
}

TEST(SipShedFrame, EverythingElseReachesTheExceptionPathUnchanged) {
  ASSERT_NE(dptest::pool(), nullptr);
  ShedRig r;
  auto passes = [&](const std::vector<uint8_t>& bytes, const char* what) {
    const auto o = r.through(bytes);
    EXPECT_EQ(o.exceptions, 1) << what;
    EXPECT_EQ(o.exception_bytes, bytes) << what;
    EXPECT_TRUE(o.sent.empty()) << what;
  };
  passes(r.sip(replace(kInvite, "To: <sip:18005551212@10.0.0.1>", "To: <sip:1@10.0.0.1>;tag=q")).bytes(), "To tag");
  passes(r.sip(replace(kInvite, "Max-Forwards: 70\r\n", "Authorization: Digest a\r\n")).bytes(), "credentials");
  passes(r.sip(replace(replace(kInvite, "INVITE sip:", "BYE sip:"), "101 INVITE", "101 BYE")).bytes(), "BYE");
  passes(r.sip(kInvite, 5070).bytes(), "another port");
  Frame other_ip = r.sip(kInvite);
  other_ip.dst_ip = kGwA + 1;
  passes(other_ip.bytes(), "another address");
  passes(r.sip(kInvite.substr(0, 200)).bytes(), "truncated");
  passes(r.sip(std::string(300, 'S')).bytes(), "garbage");
  Frame bad_ck = r.sip(kInvite);
  std::vector<uint8_t> b = bad_ck.bytes();
  b[b.size() - 2] ^= 0x01;  // the body changed under its checksum
  passes(b, "bad UDP checksum");
  Frame tagged = r.sip(kInvite);
  tagged.vlan = 5;
  passes(tagged.bytes(), "VLAN");
  // Not shedding: the lease ran out, or none was given.
  r.state.shed_until_ns = r.ns;
  passes(r.sip(kInvite).bytes(), "lease over");
  r.state.shed_until_ns = 0;
  passes(r.sip(kInvite).bytes(), "not shedding");
  r.ctx.sip_shed = nullptr;
  passes(r.sip(kInvite).bytes(), "no state");
  EXPECT_EQ(r.ctx.counters.sip_shed, 0u);
  EXPECT_EQ(r.ctx.counters.sip_shed_acks_absorbed, 0u);
}

TEST(SipShedFrame, AWildcardListenMatchesThePortsOwnAddress) {
  ASSERT_NE(dptest::pool(), nullptr);
  ShedRig r;
  r.state.listen[0] = {0, 5060, 0};
  EXPECT_EQ(r.through(r.sip(kInvite).bytes()).sent.size(), 1u);
  Frame other_ip = r.sip(kInvite);
  other_ip.dst_ip = kGwA + 1;
  EXPECT_EQ(r.through(other_ip.bytes()).exceptions, 1);
}

// Rate-based shedding (sip_admit_limiter.hpp): one limiter for all workers.
TEST(SipAdmitLimiter, RateZeroShedsAll) {
  SipAdmitLimiter l;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(l.take(0, 1'000'000'000ull + i * 1'000'000'000ull));
}

TEST(SipAdmitLimiter, BurstThenRate) {
  SipAdmitLimiter l;
  const uint64_t t0 = 1'000'000'000ull;
  // 400/s: a burst of 50 ms of it = 20.
  int first = 0;
  while (l.take(400, t0)) ++first;
  EXPECT_EQ(first, 20);
  // One second later at most the burst is there again, not 400.
  int later = 0;
  while (l.take(400, t0 + 1'000'000'000ull)) ++later;
  EXPECT_EQ(later, 20);
  // Over a second of steady offers, one every 100 us: 400 admitted.
  int admitted = 0;
  for (uint64_t t = t0 + 1'000'100'000ull; t <= t0 + 2'000'000'000ull; t += 100'000) admitted += l.take(400, t);
  EXPECT_GE(admitted, 399);
  EXPECT_LE(admitted, 401);
}

TEST(SipAdmitLimiter, LowRateStillAdmitsOneAndShrinksAtOnce) {
  SipAdmitLimiter l;
  const uint64_t t0 = 5'000'000'000ull;
  EXPECT_TRUE(l.take(1, t0));  // 1/s: a burst of one
  EXPECT_FALSE(l.take(1, t0));
  EXPECT_FALSE(l.take(1, t0 + 999'000'000ull));
  EXPECT_TRUE(l.take(1, t0 + 1'000'000'000ull));
  // A full burst at a high rate, then the rate cut: the burst follows.
  SipAdmitLimiter c;
  int n = 0;
  while (c.take(10'000, t0) && n < 1000) ++n;
  EXPECT_EQ(n, 500);
  EXPECT_FALSE(c.take(20, t0));
  int m = 0;
  while (c.take(20, t0 + 2'000'000'000ull)) ++m;
  EXPECT_EQ(m, 1);  // 20/s: a burst of one, not what 10,000/s had
}

// Workers on several threads share it: together they admit the burst, not
// a burst each (the clock held still, so the count is exact however the
// threads interleave).
TEST(SipAdmitLimiter, WorkersTogetherAdmitTheRateOnce) {
  SipAdmitLimiter l;
  const uint64_t t0 = 7'000'000'000ull;
  std::atomic<int> admitted{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) admitted += l.take(2'000, t0);  // 2,000/s: a burst of 100
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(admitted.load(), 100);
}

TEST(SipShedFrame, AdmitRateLetsItThroughAndShedsTheRest) {
  ASSERT_NE(dptest::pool(), nullptr);
  ShedRig r;
  SipAdmitLimiter limiter;
  r.ctx.sip_admit = &limiter;
  r.state.admit_rate = 40;  // a burst of 2
  int exceptions = 0, sent = 0;
  for (int i = 0; i < 5; ++i) {
    const auto o = r.through(r.sip(kInvite).bytes());
    exceptions += o.exceptions;
    sent += int(o.sent.size());
  }
  EXPECT_EQ(exceptions, 2);
  EXPECT_EQ(sent, 3);
  EXPECT_EQ(r.ctx.counters.sip_shed_admitted, 2u);
  EXPECT_EQ(r.ctx.counters.sip_shed, 3u);
  // What is never shed does not spend a token.
  r.through(r.sip(replace(kInvite, "To: <sip:18005551212@10.0.0.1>", "To: <sip:1@10.0.0.1>;tag=q")).bytes());
  EXPECT_EQ(r.ctx.counters.sip_shed_admitted, 2u);
}
