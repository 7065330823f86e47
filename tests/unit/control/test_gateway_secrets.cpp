// SPDX-License-Identifier: GPL-3.0-or-later
// Issue 21 on the B2BUA: each response leaves once; challenges per
// subscriber; the nonce key kept across restarts and rotated with a grace
// period; CDRs for INVITEs refused before a call existed, and `show cdrs
// --since`; Request-URI hosts that are not ours refused.
#include <optional>
#include <set>

#include "gateway_fixture.hpp"

namespace msgw_test {
namespace {

// spa2 answers SHA-256 and wants it first; spa3 takes both, MD5 first; spa1
// (the fixture's) has the default, MD5 alone. The reference flow's domain
// is ours.
std::string secrets_config() {
  std::string c = kConfig;
  c.insert(c.find("[media]"), "domains = [\"sip.voip-info.org\"]\n");
  c.insert(c.find("[[trunk]]"),
           "[[subscriber]]\nuser = \"spa2\"\npassword = \"spa2-secret\"\ncodecs = [\"PCMU\"]\n"
           "digest_algorithms = [\"SHA-256\", \"MD5\"]\n"
           "[[subscriber]]\nuser = \"spa3\"\nha1 = \"" +
               sip::compute_ha1(sip::DigestAlgorithm::md5, "spa3", "msgw", "spa3-secret").hex() + "\"\nha1_sha256 = \"" +
               sip::compute_ha1(sip::DigestAlgorithm::sha256, "spa3", "msgw", "spa3-secret").hex() +
               "\"\ncodecs = [\"PCMU\"]\ndigest_algorithms = [\"MD5\", \"SHA-256\"]\n");
  return c;
}

class SecretsTest : public GatewayFixture<::testing::Test> {
 protected:
  SecretsTest() { config_text = secrets_config(); }

  // The algorithms of every Proxy-/WWW-Authenticate of a challenge, in order.
  static std::vector<std::string> challenged(const Msg& m) {
    std::vector<std::string> out;
    for (int i = 0;; ++i) {
      osip_www_authenticate_t* w = nullptr;
      if (m.status() == 407) osip_message_get_proxy_authenticate(m.m.get(), i, &w);
      else osip_message_get_www_authenticate(m.m.get(), i, &w);
      if (!w) break;
      const char* a = osip_www_authenticate_get_algorithm(w);
      out.push_back(a ? a : "");
    }
    return out;
  }

  std::string invite_from(const std::string& user, const std::string& cid, const std::string& auth,
                          const std::string& number = "1-800-555-1212", const std::string& host = "10.10.0.1",
                          int cseq = 102, const std::string& sdp = spa_offer()) {
    std::string s = invite(cid, auth, sdp, number, cseq);
    auto swap = [&s](const std::string& from, const std::string& to) {
      for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
    };
    swap("sip:spa1@", "sip:" + user + "@");
    swap("@10.10.0.1 SIP/2.0", "@" + host + " SIP/2.0");
    swap("<sip:" + number + "@10.10.0.1>", "<sip:" + number + "@" + host + ">");
    return s;
  }

  // The first Proxy-Authenticate challenge of `alg` in `chal`.
  static std::optional<sip::DigestChallenge> proxy_challenge(const Msg& chal, sip::DigestAlgorithm alg) {
    for (int i = 0;; ++i) {
      osip_www_authenticate_t* w = nullptr;
      osip_message_get_proxy_authenticate(chal.m.get(), i, &w);
      if (!w) break;
      char* str = nullptr;
      osip_www_authenticate_to_str(w, &str);
      sip::DigestChallenge ch;
      const bool ok = sip::parse_digest_challenge(str, ch);
      osip_free(str);
      if (ok && ch.algorithm == alg) return ch;
    }
    ADD_FAILURE() << "no " << sip::to_string(alg) << " challenge in\n" << chal.raw;
    return std::nullopt;
  }

  // The first challenge of `alg` in `chal`, answered for user/password.
  static std::string answer_as(const Msg& chal, sip::DigestAlgorithm alg, const std::string& user,
                               const std::string& password, const std::string& uri) {
    const auto ch = proxy_challenge(chal, alg);
    if (!ch) return {};
    return sip::build_digest_authorization(*ch, user, password, "INVITE", uri, "0a4f113b", 1);
  }

  // An authenticated INVITE from spa1 to `number`@`host`: what the gateway
  // sent back to it (the 407 dance done first).
  std::vector<Msg> authenticated(const std::string& cid, const std::string& number,
                                 const std::string& host = "10.10.0.1", const std::string& sdp = spa_offer()) {
    inject("10.10.0.2", 5062, invite_from("spa1", cid, "", number, host, 102, sdp));
    auto out = take();
    const Msg* c = find(out, "407");
    EXPECT_TRUE(c) << cid;
    if (!c) return {};
    const std::string auth = answer_challenge(*c, "INVITE", "sip:" + number + "@" + host);
    inject("10.10.0.2", 5062, invite_from("spa1", cid, auth, number, host, 103, sdp));
    return take();
  }

  // The SPA's answer: RFC 2069 form (no qop), which it repeats with the
  // cached nonce on its next calls.
  static std::string answer_like_spa(const Msg& chal, const std::string& uri) {
    auto ch = proxy_challenge(chal, sip::DigestAlgorithm::md5);
    if (!ch) return {};
    ch->offers_auth_qop = false;
    return sip::build_digest_authorization(*ch, "spa1", "spa1-secret", "INVITE", uri);
  }

  static int final_status(const std::vector<Msg>& out) {
    for (const auto& m : out)
      if (m.method().empty() && m.status() >= 200) return m.status();
    return 0;
  }
};

// Issue 21, "On the wire": INVITE -> 407 -> ACK, then the authenticated
// INVITE through to the answer: every response leaves once.  The challenge
// is stateless (no 100 before it, no transaction), its ACK dropped unparsed.
TEST_F(SecretsTest, EachResponseIsTransmittedOnce) {
  std::string first = invite("once@10.10.0.2", "", spa_offer());
  const size_t txns_before = stack->transaction_count();
  inject("10.10.0.2", 5062, first);
  auto out = take();
  ASSERT_EQ(out.size(), 1u) << "sent: " << out.size();
  EXPECT_EQ(out[0].status(), 407);
  EXPECT_EQ(stack->transaction_count(), txns_before);
  EXPECT_EQ(stack->stats().stateless_answers, 1u);
  const Msg challenge = std::move(out[0]);
  // ACK for the 407: same branch, the 407's To-tag; nothing is sent for it.
  const std::string branch = sip::via_branch(challenge.m.get());
  std::string ack = "ACK sip:1-800-555-1212@10.10.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.10.0.2:5062;branch=" + branch +
                    ";rport\r\nFrom: Good Body <sip:spa1@10.10.0.1>;tag=fc33ce88945ddadao0\r\n"
                    "To: <sip:1-800-555-1212@10.10.0.1>;tag=" + sip::to_tag(challenge.m.get()) +
                    "\r\nCall-ID: once@10.10.0.2\r\nCSeq: 102 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  const uint64_t parsed_before = stack->stats().rx_requests;
  inject("10.10.0.2", 5062, ack);
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(stack->stats().stateless_acks_absorbed, 1u);
  EXPECT_EQ(stack->stats().rx_requests, parsed_before);  // dropped before the parse
  const std::string auth = answer_challenge(challenge, "INVITE", "sip:1-800-555-1212@10.10.0.1");
  inject("10.10.0.2", 5062, invite("once@10.10.0.2", auth, spa_offer(), "1-800-555-1212", 103));
  out = take();
  ASSERT_EQ(out.size(), 2u);  // 100 to the phone, INVITE to the carrier
  EXPECT_EQ(out[0].status(), 100);
  ASSERT_EQ(out[1].method(), "INVITE");
  Msg inv = std::move(out[1]);
  inject("10.20.0.2", 5060, carrier_response(inv, 180, "Ringing", ""));
  out = take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status(), 180);
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
  out = take();
  std::multiset<std::string> sent;
  for (const auto& m : out) sent.insert(m.method().empty() ? std::to_string(m.status()) : m.method());
  EXPECT_EQ(sent, (std::multiset<std::string>{"ACK", "200"}));
  // Nothing further while no timer is due.
  stack->run_timers();
  EXPECT_TRUE(take().empty());
}

TEST_F(SecretsTest, ChallengesOfferTheSubscribersOwnAlgorithms) {
  auto challenge_to = [&](const std::string& user) {
    inject("10.10.0.2", 5062, invite_from(user, "alg-" + user + "@10.10.0.2", ""));
    auto out = take();
    const Msg* c = find(out, "407");
    EXPECT_TRUE(c) << user;
    size_t responses = 0;
    for (const auto& m : out) responses += m.method().empty() && m.status() >= 200;
    EXPECT_EQ(responses, 1u) << user;  // one final response per request
    return c ? challenged(*c) : std::vector<std::string>{};
  };
  EXPECT_EQ(challenge_to("spa1"), std::vector<std::string>{"MD5"});
  EXPECT_EQ(challenge_to("spa2"), (std::vector<std::string>{"SHA-256", "MD5"}));
  EXPECT_EQ(challenge_to("spa3"), (std::vector<std::string>{"MD5", "SHA-256"}));
  EXPECT_EQ(challenge_to("nobody"), std::vector<std::string>{"MD5"});  // [sip] digest_algorithms
  // REGISTER: the same per subscriber, as 401.
  std::string reg = "REGISTER sip:10.10.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.10.0.2:5062;branch=z9hG4bK-reg2\r\n"
                    "From: <sip:spa2@10.10.0.1>;tag=r2\r\nTo: <sip:spa2@10.10.0.1>\r\nCall-ID: reg2\r\n"
                    "CSeq: 1 REGISTER\r\nContact: <sip:spa2@10.10.0.2:5062>\r\nContent-Length: 0\r\n\r\n";
  inject("10.10.0.2", 5062, reg);
  auto out = take();
  const Msg* c = find(out, "401");
  ASSERT_TRUE(c);
  EXPECT_EQ(challenged(*c), (std::vector<std::string>{"SHA-256", "MD5"}));
  // spa3's SHA-256 answer (checked against its ha1_sha256) routes the call.
  inject("10.10.0.2", 5062, invite_from("spa3", "sha@10.10.0.2", ""));
  out = take();
  c = find(out, "407");
  ASSERT_TRUE(c);
  const std::string auth =
      answer_as(*c, sip::DigestAlgorithm::sha256, "spa3", "spa3-secret", "sip:1-800-555-1212@10.10.0.1");
  inject("10.10.0.2", 5062, invite_from("spa3", "sha@10.10.0.2", auth, "1-800-555-1212", "10.10.0.1", 103));
  EXPECT_TRUE(find(take(), "INVITE"));
}

TEST_F(SecretsTest, ACachedNonceOutlivesARestartAndARotation) {
  inject("10.10.0.2", 5062, invite("cache1@10.10.0.2", "", spa_offer()));
  auto out = take();
  const Msg* c = find(out, "407");
  ASSERT_TRUE(c);
  // The SPA caches the nonce and opens its next calls with it (RFC 2069 form, no qop).
  const std::string cached = answer_like_spa(*c, "sip:1-800-555-1212@10.10.0.1");
  restart();  // a new Gateway on the same state database
  seen = 0;
  const auto failures_before = gw->stats().auth_failures;
  inject("10.10.0.2", 5062, invite("cache2@10.10.0.2", cached, spa_offer(), "1-800-555-1212", 103));
  out = take();
  EXPECT_TRUE(find(out, "INVITE")) << "the cached nonce was refused after a restart: "
                                   << (out.empty() ? std::string("nothing") : out.back().raw);
  EXPECT_FALSE(find(out, "407"));
  // Rotation: the old key keeps verifying for the grace period (one nonce lifetime).
  auto r = manage(*gw, {{"cmd", "rotate"}, {"what", "nonce-key"}});
  ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  EXPECT_GT(r["data"]["previous_key_valid_until"].get<int64_t>(), 0);
  inject("10.10.0.2", 5062, invite("cache3@10.10.0.2", cached, spa_offer(), "1-800-555-1212", 103));
  EXPECT_TRUE(find(take(), "INVITE")) << "the pre-rotation nonce was refused in the grace period";
  // ... also after another restart (both keys are stored), and new challenges use the new key.
  restart();
  seen = 0;
  inject("10.10.0.2", 5062, invite("cache4@10.10.0.2", cached, spa_offer(), "1-800-555-1212", 103));
  EXPECT_TRUE(find(take(), "INVITE"));
  inject("10.10.0.2", 5062, invite("cache5@10.10.0.2", "", spa_offer()));
  out = take();
  c = find(out, "407");
  ASSERT_TRUE(c);
  const std::string fresh = answer_like_spa(*c, "sip:1-800-555-1212@10.10.0.1");
  EXPECT_NE(fresh, cached);
  EXPECT_EQ(gw->stats().auth_failures, failures_before);
}

// One media port pair per port: a second concurrent call finds none (503).
class OnePortPairTest : public SecretsTest {
 protected:
  OnePortPairTest() { config_text.replace(config_text.find("port_max = 16483"), 16, "port_max = 16385"); }
};

TEST_F(OnePortPairTest, RefusedInvitesLeaveCdrsWithStatusAndCause) {
  EXPECT_EQ(final_status(authenticated("r404@10.10.0.2", "1-555-0100")), 404);
  EXPECT_EQ(final_status(authenticated("r484@10.10.0.2", "operator")), 484);
  EXPECT_EQ(final_status(authenticated("r488@10.10.0.2", "1-800-555-1212", "10.10.0.1",
                                       sdp_offer("10.10.0.2", 16388, "4", {"rtpmap:4 G723/8000"}))),
            488);
  EXPECT_EQ(final_status(authenticated("r403@10.10.0.2", "1-800-555-1212", "elsewhere.example")), 403);
  // The reference flow's domain is ours ([sip] domains): routed.
  EXPECT_TRUE(find(authenticated("ref@10.10.0.2", "1-800-555-1212", "sip.voip-info.org"), "INVITE"));
  // That call holds the one access port pair: the next finds none.
  EXPECT_EQ(final_status(authenticated("r503@10.10.0.2", "1-800-555-1212")), 503);
  auto r = manage(*gw, {{"cmd", "show"}, {"what", "cdrs"}});
  ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  std::map<std::string, std::pair<int, std::string>> by_call;
  for (const auto& row : r["data"]) by_call[row["call"]] = {row["result"].get<int>(), row["end_reason"]};
  EXPECT_EQ(by_call["r404@10.10.0.2"], (std::pair<int, std::string>{404, "no_route"}));
  EXPECT_EQ(by_call["r484@10.10.0.2"], (std::pair<int, std::string>{484, "address_incomplete"}));
  EXPECT_EQ(by_call["r488@10.10.0.2"], (std::pair<int, std::string>{488, "no_allowed_codec"}));
  EXPECT_EQ(by_call["r403@10.10.0.2"], (std::pair<int, std::string>{403, "foreign_domain"}));
  EXPECT_EQ(by_call["r503@10.10.0.2"], (std::pair<int, std::string>{503, "out_of_media_ports"}));
  EXPECT_EQ(by_call.count("ref@10.10.0.2"), 0u);  // still ringing: its CDR comes when it ends
  for (const auto& row : r["data"]) {
    EXPECT_EQ(row["direction"], "outbound");
    EXPECT_GT(row["start_ms"].get<int64_t>(), 0);
    EXPECT_EQ(row["answer_ms"], 0);
  }
  // --since: unix seconds or ISO-8601; nonsense is refused with a clear error.
  auto since = [&](const nlohmann::json& t) {
    return manage(*gw, {{"cmd", "show"}, {"what", "cdrs"}, {"since", t}, {"limit", 2}});
  };
  EXPECT_EQ(since("1970-01-01T00:00:00Z")["data"].size(), 2u);  // the limit holds
  EXPECT_TRUE(since("2999-01-01")["data"].empty());
  EXPECT_TRUE(since("32503680000")["data"].empty());  // 3000-01-01 in unix seconds
  EXPECT_EQ(since("86400")["data"].size(), 2u);
  auto bad = since("yesterday");
  EXPECT_FALSE(bad["ok"].get<bool>());
  EXPECT_NE(bad["error"].get<std::string>().find("unix seconds or ISO-8601"), std::string::npos) << bad.dump();
  EXPECT_FALSE(since("2026-02-30")["ok"].get<bool>());
}

TEST_F(SecretsTest, AuthBlockedInvitesLeaveCdrs) {
  for (int i = 0; i < 4; ++i) {
    const std::string cid = "blk" + std::to_string(i) + "@10.10.0.2";
    inject("10.10.0.2", 5062, invite(cid, "", spa_offer()));
    auto out = take();
    if (const Msg* c = find(out, "407"))
      inject("10.10.0.2", 5062,
             invite(cid, answer_challenge(*c, "INVITE", "sip:1-800-555-1212@10.10.0.1", "wrong"), spa_offer(),
                    "1-800-555-1212", 103));
    take();
  }
  auto r = manage(*gw, {{"cmd", "show"}, {"what", "cdrs"}});
  ASSERT_FALSE(r["data"].empty());
  EXPECT_EQ(r["data"][0]["result"], 403);
  EXPECT_EQ(r["data"][0]["end_reason"], "auth_blocked");
}

}  // namespace
}  // namespace msgw_test
