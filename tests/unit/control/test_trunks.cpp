// SPDX-License-Identifier: GPL-3.0-or-later
// Carrier trunks between calls (control/trunks.hpp): digest authentication
// of the gateway's INVITEs and REGISTERs (the carrier here is the stack's
// own DigestAuthenticator, so every answer is really verified), OPTIONS
// health with routing that skips a down trunk at once, registration with
// refresh and back-off, and `show trunks`. The clock is Gateway::now.
#include "gateway_fixture.hpp"
#include "msgw/control/trunk_state.hpp"

using namespace msgw;
using namespace msgw_test;
using control::Gateway;

namespace {

constexpr const char* kCarrierRealm = "carrier.example";

std::string with_carrier(const std::string& lines) {
  std::string c = kConfig;
  c.insert(c.find("timeout_ms = 2000\n") + 18, lines);
  return c + "[[route]]\nname = \"carrier-only\"\nprefix = \"1900\"\ntrunks = [\"carrier\"]\n";
}

class TrunkTest : public GatewayFixture<::testing::Test> {
 protected:
  explicit TrunkTest(const std::string& carrier_lines = "username = \"gw\"\npassword = \"trunk-secret\"\n",
                     const std::string& carrier_password = "trunk-secret") {
    config_text = with_carrier(carrier_lines);
    creds.add_password("gw", kCarrierRealm, carrier_password);
    sip::AuthConfig ac;
    ac.realm = kCarrierRealm;
    ac.algorithms = {sip::DigestAlgorithm::md5};
    carrier = std::make_unique<sip::DigestAuthenticator>(ac, creds);
  }
  void SetUp() override {
    GatewayFixture::SetUp();
    t0 = Gateway::Clock::now();
    gw->now = [this] { return t0 + advanced; };
  }
  // The carrier's challenge to `m` (401 or 407), as its DigestAuthenticator makes it.
  std::string challenge(const Msg& m, int code, bool stale = false) {
    const std::string h = code == 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
    return carrier_response(m, code, code == 401 ? "Unauthorized" : "Proxy Authentication Required", "",
                            "ch" + sip::random_token(6),
                            h + ": " + carrier->challenge_value(sip::DigestAlgorithm::md5, stale) + "\r\n");
  }
  // What the carrier's verifier says of the credentials on `m`.
  sip::AuthVerdict verdict(const Msg& m, const std::string& header) {
    const std::string v = raw_header(m.raw, header);
    if (v.empty()) return sip::AuthVerdict::missing;
    char* ru = nullptr;
    osip_uri_to_str(m.m->req_uri, &ru);
    const std::string uri = ru;
    osip_free(ru);
    return carrier->verify_header(v, m.method(), uri,
                                  header == "Authorization" ? sip::ChallengeKind::www : sip::ChallengeKind::proxy)
        .verdict;
  }
  static Msg copy_of(const Msg* m) {
    if (!m) {
      ADD_FAILURE() << "message missing";
      return {};
    }
    return {sip::parse_message(m->raw, false, sip::Limits{}).msg, m->raw, m->dst};
  }
  static const Msg* find_to(const std::vector<Msg>& v, const std::string& what, const std::string& dst) {
    for (const auto& m : v)
      if (m.dst.str() == dst && (!m.method().empty() ? m.method() == what : std::to_string(m.status()) == what))
        return &m;
    return nullptr;
  }
  nlohmann::json trunk_row(const std::string& name) {
    auto reply = manage(*gw, {{"cmd", "show"}, {"what", "trunks"}});
    EXPECT_EQ(reply["ok"], true);
    for (const auto& r : reply["data"])
      if (r["trunk"] == name) return r;
    ADD_FAILURE() << "no trunk " << name;
    return {};
  }

  sip::InMemoryCredentialStore creds;
  std::unique_ptr<sip::DigestAuthenticator> carrier;
  Gateway::Clock::time_point t0;
  std::chrono::milliseconds advanced{0};
};

constexpr const char* kCarrier = "10.20.0.2:5060";
constexpr const char* kBackup = "10.20.0.3:5060";
constexpr const char* kPhone = "10.10.0.2:5062";

// ---------------------------------------------------------------- authentication

class TrunkAuthTest : public TrunkTest, public ::testing::WithParamInterface<int> {};

// 407 (proxy) or 401 (UAS): the INVITE is sent once more with credentials
// the carrier accepts, the call completes; the next call carries the cached
// nonce with nc 2 and is not challenged.
TEST_P(TrunkAuthTest, ChallengeAnsweredOnceThenNonceReused) {
  const int code = GetParam();
  const std::string header = code == 401 ? "Authorization" : "Proxy-Authorization";
  Msg inv = place_call("ta1@10.10.0.2", spa_offer());
  EXPECT_EQ(raw_header(inv.raw, header), "");  // nothing cached yet
  inject("10.20.0.2", 5060, challenge(inv, code));
  auto out = take();
  EXPECT_TRUE(find_to(out, "ACK", kCarrier));  // the stack ACKs the challenge
  Msg again = copy_of(find_to(out, "INVITE", kCarrier));
  ASSERT_TRUE(again.m);
  EXPECT_EQ(verdict(again, header), sip::AuthVerdict::ok) << again.raw;
  EXPECT_EQ(std::string(again.m->call_id->number), std::string(inv.m->call_id->number));
  EXPECT_EQ(std::atoi(again.m->cseq->number), std::atoi(inv.m->cseq->number) + 1);
  EXPECT_NE(raw_header(again.raw, header).find("nc=00000001"), std::string::npos);
  EXPECT_FALSE(find_to(out, "503", kPhone));
  inject("10.20.0.2", 5060, carrier_response(again, 200, "OK", g729_answer()));
  out = take();
  EXPECT_TRUE(find_to(out, "ACK", kCarrier));
  EXPECT_TRUE(find_to(out, "200", kPhone));
  EXPECT_EQ(gw->stats().calls_answered, 1u);

  Msg second = place_call("ta2@10.10.0.2", spa_offer());
  EXPECT_EQ(verdict(second, header), sip::AuthVerdict::ok) << second.raw;
  EXPECT_NE(raw_header(second.raw, header).find("nc=00000002"), std::string::npos);
  inject("10.20.0.2", 5060, carrier_response(second, 200, "OK", g729_answer()));
  EXPECT_TRUE(find_to(take(), "200", kPhone));
  EXPECT_EQ(gw->stats().trunk_challenges, 1u);
  EXPECT_EQ(trunk_row("carrier")["nonce_count"], 2);
  EXPECT_EQ(trunk_row("carrier")["auth_realm"], kCarrierRealm);
}

INSTANTIATE_TEST_SUITE_P(ProxyAndUas, TrunkAuthTest, ::testing::Values(407, 401));

// A cached nonce the carrier calls stale is answered once more (not a failure).
TEST_F(TrunkTest, StaleNonceAnsweredAgain) {
  Msg inv = place_call("st1@10.10.0.2", spa_offer());
  inject("10.20.0.2", 5060, challenge(inv, 407));
  Msg again = copy_of(find(take(), "INVITE"));
  inject("10.20.0.2", 5060, carrier_response(again, 486, "Busy Here", ""));
  take();
  Msg second = place_call("st2@10.10.0.2", spa_offer());
  EXPECT_NE(raw_header(second.raw, "Proxy-Authorization"), "");
  inject("10.20.0.2", 5060, challenge(second, 407, true));
  auto out = take();
  Msg third = copy_of(find_to(out, "INVITE", kCarrier));
  ASSERT_TRUE(third.m);
  EXPECT_EQ(verdict(third, "Proxy-Authorization"), sip::AuthVerdict::ok);
  EXPECT_EQ(gw->stats().trunk_auth_failures, 0u);
}

class WrongPasswordTest : public TrunkTest {
 protected:
  WrongPasswordTest() : TrunkTest("username = \"gw\"\npassword = \"not-the-secret\"\n", "trunk-secret") {}
};

// The carrier challenges the answer again: that attempt ends like a 503
// (failover to the backup), the cause in the CDR.
TEST_F(WrongPasswordTest, SecondChallengeFailsOverWithCause) {
  Msg inv = place_call("wp1@10.10.0.2", spa_offer());
  inject("10.20.0.2", 5060, challenge(inv, 407));
  Msg again = copy_of(find(take(), "INVITE"));
  EXPECT_EQ(verdict(again, "Proxy-Authorization"), sip::AuthVerdict::bad_response);
  inject("10.20.0.2", 5060, challenge(again, 407));
  auto out = take();
  Msg backup = copy_of(find_to(out, "INVITE", kBackup));
  ASSERT_TRUE(backup.m);
  EXPECT_FALSE(find_to(out, "INVITE", kCarrier));  // not a third try
  EXPECT_EQ(gw->stats().trunk_auth_failures, 1u);
  EXPECT_EQ(gw->stats().failovers, 1u);
  inject("10.20.0.3", 5060, carrier_response(backup, 200, "OK", g729_answer()));
  out = take();
  EXPECT_TRUE(find_to(out, "200", kPhone));
  Msg ok = copy_of(find_to(out, "200", kPhone));
  inject("10.10.0.2", 5062, phone_request("BYE", "wp1@10.10.0.2", ok, 104));
  take();
  auto cdr = store->cdr("wp1@10.10.0.2");
  ASSERT_TRUE(cdr);
  EXPECT_EQ(cdr->trunk, "backup");
  EXPECT_NE(cdr->end_reason.find("trunk_auth_failed: 407 from carrier, credentials rejected"), std::string::npos)
      << cdr->end_reason;
}

// With no trunk left the phone hears 503 and the CDR says why.
TEST_F(WrongPasswordTest, OnlyTrunkRejectsCredentials503) {
  Msg inv = place_call("wp2@10.10.0.2", spa_offer(), "1-900-555-1212");
  inject("10.20.0.2", 5060, challenge(inv, 407));
  Msg again = copy_of(find(take(), "INVITE"));
  inject("10.20.0.2", 5060, challenge(again, 407));
  auto out = take();
  EXPECT_TRUE(find_to(out, "503", kPhone));
  EXPECT_FALSE(find_to(out, "INVITE", kCarrier));
  auto cdr = store->cdr("wp2@10.10.0.2");
  ASSERT_TRUE(cdr);
  EXPECT_EQ(cdr->result_code, 503);
  EXPECT_NE(cdr->end_reason.find("trunk_auth_failed"), std::string::npos) << cdr->end_reason;
}

// A trunk without credentials that challenges: the attempt fails over too.
using PlainGatewayTest = GatewayFixture<::testing::Test>;

TEST_F(PlainGatewayTest, ChallengeWithoutCredentialsFailsOver) {
  Msg inv = place_call("nc1@10.10.0.2", spa_offer());
  inject("10.20.0.2", 5060,
         carrier_response(inv, 407, "Proxy Authentication Required", "", "x1",
                          "Proxy-Authenticate: Digest realm=\"c\", nonce=\"n\"\r\n"));
  auto out = take();
  const Msg* inv2 = find(out, "INVITE");
  ASSERT_TRUE(inv2);
  EXPECT_EQ(inv2->dst.str(), kBackup);
  EXPECT_EQ(gw->stats().trunk_auth_failures, 1u);
}

// ---------------------------------------------------------------- health

class TrunkHealthTest : public TrunkTest {
 protected:
  TrunkHealthTest() : TrunkTest("ping_interval_s = 1\ndown_after = 2\nup_after = 2\n") {}
  // Advances the clock and ticks; returns the OPTIONS sent to the carrier.
  Msg tick_at(int ms) {
    advanced = std::chrono::milliseconds(ms);
    gw->tick();
    auto out = take();
    const Msg* o = find_to(out, "OPTIONS", kCarrier);
    EXPECT_FALSE(find_to(out, "OPTIONS", kBackup));  // the backup is not checked
    return o ? copy_of(o) : Msg{};
  }
};

TEST_F(TrunkHealthTest, DownAfterMissedPingsSkippedAtOnceThenUsedAgain) {
  Msg p1 = tick_at(0);
  ASSERT_TRUE(p1.m);
  EXPECT_EQ(trunk_row("carrier")["health"], "up");
  EXPECT_FALSE(tick_at(500).m);                    // not due yet
  Msg p2 = tick_at(1000);                          // p1 missed: failing, p2 sent
  ASSERT_TRUE(p2.m);
  EXPECT_EQ(trunk_row("carrier")["health"], "failing");
  EXPECT_TRUE(gw->trunks().routable("carrier"));
  inject("10.20.0.2", 5060, carrier_response(p2, 503, "Service Unavailable", ""));  // 5xx: a failure
  EXPECT_EQ(trunk_row("carrier")["health"], "down");
  EXPECT_EQ(gw->stats().trunks_down, 1u);
  // The next call goes to the backup first, without waiting for the carrier.
  Msg inv = place_call("h1@10.10.0.2", spa_offer());
  EXPECT_EQ(inv.dst.str(), kBackup);
  EXPECT_EQ(gw->stats().trunk_skipped, 1u);
  inject("10.20.0.3", 5060, carrier_response(inv, 486, "Busy Here", ""));
  take();
  EXPECT_NE(store->cdr("h1@10.10.0.2")->end_reason.find("trunk carrier down"), std::string::npos);
  // It answers again: up after two good answers (a 404 proves it alive too).
  Msg p3 = tick_at(2000);
  ASSERT_TRUE(p3.m);
  inject("10.20.0.2", 5060, carrier_response(p3, 200, "OK", ""));
  EXPECT_EQ(trunk_row("carrier")["health"], "recovering");
  EXPECT_FALSE(gw->trunks().routable("carrier"));
  Msg p4 = tick_at(3000);
  inject("10.20.0.2", 5060, carrier_response(p4, 404, "Not Found", ""));
  EXPECT_EQ(trunk_row("carrier")["health"], "up");
  EXPECT_EQ(gw->stats().trunks_up, 1u);
  Msg inv2 = place_call("h2@10.10.0.2", spa_offer());
  EXPECT_EQ(inv2.dst.str(), kCarrier);
  EXPECT_EQ(gw->stats().trunk_pings, 4u);
  EXPECT_EQ(gw->stats().trunk_ping_failures, 2u);
}

TEST_F(TrunkHealthTest, AllTrunksOfTheRouteDown503AtOnce) {
  tick_at(0);
  tick_at(1000);
  tick_at(2000);  // two missed: down
  ASSERT_EQ(trunk_row("carrier")["health"], "down");
  const std::string number = "1-900-555-1212";
  inject("10.10.0.2", 5062, invite("h3@10.10.0.2", "", spa_offer(), number));
  std::string auth = answer_challenge(*find(take(), "407"), "INVITE", "sip:" + number + "@10.10.0.1");
  inject("10.10.0.2", 5062, invite("h3@10.10.0.2", auth, spa_offer(), number, 103));
  auto out = take();
  EXPECT_TRUE(find_to(out, "503", kPhone));
  EXPECT_FALSE(find(out, "INVITE"));
  auto cdr = store->cdr("h3@10.10.0.2");
  ASSERT_TRUE(cdr);
  EXPECT_NE(cdr->end_reason.find("trunk carrier down"), std::string::npos) << cdr->end_reason;
}

// ---------------------------------------------------------------- registration

class TrunkRegisterTest : public TrunkTest {
 protected:
  TrunkRegisterTest()
      : TrunkTest("username = \"gw\"\npassword = \"trunk-secret\"\nregister = true\nregister_expires_s = 60\n") {}
  Msg register_at(int ms) {
    advanced = std::chrono::milliseconds(ms);
    gw->tick();
    auto out = take();
    const Msg* r = find_to(out, "REGISTER", kCarrier);
    return r ? copy_of(r) : Msg{};
  }
  std::string with_expires(const Msg& m, int code, const std::string& reason, int expires) {
    return carrier_response(m, code, reason, "", "reg1", "Expires: " + std::to_string(expires) + "\r\n");
  }
};

TEST_F(TrunkRegisterTest, RegisterWithAuthRefreshedBeforeExpiryRetriedWithBackoff) {
  Msg r1 = register_at(0);
  ASSERT_TRUE(r1.m);
  EXPECT_EQ(trunk_row("carrier")["registration"], "registering");
  EXPECT_NE(r1.raw.find("Expires: 60"), std::string::npos);
  inject("10.20.0.2", 5060, challenge(r1, 401));
  auto out = take();
  Msg r2 = copy_of(find_to(out, "REGISTER", kCarrier));
  ASSERT_TRUE(r2.m);
  EXPECT_EQ(verdict(r2, "Authorization"), sip::AuthVerdict::ok) << r2.raw;
  EXPECT_EQ(std::string(r2.m->call_id->number), std::string(r1.m->call_id->number));
  EXPECT_EQ(std::atoi(r2.m->cseq->number), std::atoi(r1.m->cseq->number) + 1);
  inject("10.20.0.2", 5060, with_expires(r2, 200, "OK", 60));
  EXPECT_EQ(trunk_row("carrier")["registration"], "registered");
  EXPECT_EQ(gw->stats().trunk_registrations, 1u);
  // Refreshed at half the expiry, with the cached nonce (nc 2), same Call-ID.
  EXPECT_FALSE(register_at(29000).m);
  Msg r3 = register_at(30000);
  ASSERT_TRUE(r3.m);
  EXPECT_EQ(verdict(r3, "Authorization"), sip::AuthVerdict::ok);
  EXPECT_NE(raw_header(r3.raw, "Authorization").find("nc=00000002"), std::string::npos);
  EXPECT_EQ(std::string(r3.m->call_id->number), std::string(r1.m->call_id->number));
  // Refused: failed, retried after 2 s, then 4 s.
  inject("10.20.0.2", 5060, carrier_response(r3, 403, "Forbidden", ""));
  EXPECT_EQ(trunk_row("carrier")["registration"], "failed");
  EXPECT_EQ(trunk_row("carrier")["last_register_status"], 403);
  EXPECT_FALSE(register_at(31000).m);
  Msg r4 = register_at(32000);
  ASSERT_TRUE(r4.m);
  inject("10.20.0.2", 5060, carrier_response(r4, 500, "Server Error", ""));
  EXPECT_FALSE(register_at(35000).m);
  Msg r5 = register_at(36000);
  ASSERT_TRUE(r5.m);
  inject("10.20.0.2", 5060, with_expires(r5, 200, "OK", 60));
  EXPECT_EQ(trunk_row("carrier")["registration"], "registered");
  EXPECT_EQ(gw->stats().trunk_registration_failures, 2u);
}

// The Contact URI a REGISTER carries (the stack fills it in).
std::string contact_of(const Msg& m) {
  auto* c = static_cast<osip_contact_t*>(osip_list_get(&m.m->contacts, 0));
  if (c == nullptr || c->url == nullptr) return {};
  char* s = nullptr;
  osip_uri_to_str(c->url, &s);
  std::string out = s;
  osip_free(s);
  return out;
}

// RFC 3261 §10.2.4: the 200 lists every binding of the AOR; the expires
// parameter of ours decides, not the Expires header nor another binding's.
TEST_F(TrunkRegisterTest, RefreshedAtHalfTheExpiryGrantedToOurContact) {
  Msg r1 = register_at(0);
  ASSERT_TRUE(r1.m);
  const std::string ours = contact_of(r1);
  ASSERT_FALSE(ours.empty()) << r1.raw;
  inject("10.20.0.2", 5060,
         carrier_response(r1, 200, "OK", "", "reg1",
                          "Contact: <sip:gw@192.0.2.99:5070>;expires=3600\r\nContact: <" + ours +
                              ">;expires=20;q=0.5\r\nExpires: 60\r\n"));
  EXPECT_EQ(trunk_row("carrier")["registration"], "registered");
  EXPECT_EQ(trunk_row("carrier")["expires_in_s"], 20);
  EXPECT_FALSE(register_at(9000).m);
  Msg r2 = register_at(10000);
  ASSERT_TRUE(r2.m);
  EXPECT_EQ(raw_header(r2.raw, "Expires"), "60");  // we still ask for what is configured
  // Our Contact echoed with the default port written the other way (§19.1.4
  // compares them equal) and a parameter of the registrar's own: still ours.
  const auto u = sip::parse_uri(ours);
  ASSERT_TRUE(u);
  const std::string port = u->port == 0 ? ":5060" : u->port == 5060 ? "" : ":" + std::to_string(u->port);
  inject("10.20.0.2", 5060,
         carrier_response(r2, 200, "OK", "", "reg1",
                          "Contact: <sip:" + u->user + "@" + u->host + port + ";ob>;expires=30\r\nExpires: 40\r\n"));
  EXPECT_EQ(trunk_row("carrier")["expires_in_s"], 30);
  EXPECT_FALSE(register_at(24000).m);
  Msg r3 = register_at(25000);
  ASSERT_TRUE(r3.m);
  // A registrar granting more than asked is refreshed at our own half.
  inject("10.20.0.2", 5060,
         carrier_response(r3, 200, "OK", "", "reg1", "Contact: <" + ours + ">;expires=7200\r\n"));
  EXPECT_EQ(trunk_row("carrier")["expires_in_s"], 60);
  EXPECT_FALSE(register_at(54000).m);
  EXPECT_TRUE(register_at(55000).m);
  EXPECT_EQ(gw->stats().trunk_registrations, 3u);
}

// Only other bindings listed: ours is not among them, the header decides.
TEST_F(TrunkRegisterTest, OtherBindingsExpiryIsNotOurs) {
  Msg r1 = register_at(0);
  ASSERT_TRUE(r1.m);
  inject("10.20.0.2", 5060,
         carrier_response(r1, 200, "OK", "", "reg1",
                          "Contact: <sip:other@192.0.2.99:5070>;expires=4\r\nExpires: 50\r\n"));
  EXPECT_EQ(trunk_row("carrier")["expires_in_s"], 50);
  EXPECT_FALSE(register_at(24000).m);
  Msg r2 = register_at(25000);
  ASSERT_TRUE(r2.m);
  // Ours listed without an expires parameter: the header decides.
  inject("10.20.0.2", 5060,
         carrier_response(r2, 200, "OK", "", "reg1",
                          "Contact: <sip:other@192.0.2.99:5070>;expires=4\r\nContact: <" + contact_of(r2) +
                              ">\r\nExpires: 44\r\n"));
  EXPECT_EQ(trunk_row("carrier")["expires_in_s"], 44);
}

// expires=0 on our Contact: the registrar holds no binding for us.
TEST_F(TrunkRegisterTest, OurContactExpiredIsARefusal) {
  Msg r1 = register_at(0);
  ASSERT_TRUE(r1.m);
  inject("10.20.0.2", 5060,
         carrier_response(r1, 200, "OK", "", "reg1", "Contact: <" + contact_of(r1) + ">;expires=0\r\n"));
  EXPECT_EQ(trunk_row("carrier")["registration"], "failed");
  EXPECT_EQ(trunk_row("carrier")["last_register_cause"], "registrar granted our Contact expires=0");
  EXPECT_TRUE(register_at(2000).m);  // retried after the first back-off
}

// 423 Interval Too Brief (§10.2.8): sent again at once with Min-Expires,
// which stays the floor of the refreshes.
TEST_F(TrunkRegisterTest, IntervalTooBriefRetriedWithMinExpires) {
  Msg r1 = register_at(0);
  ASSERT_TRUE(r1.m);
  inject("10.20.0.2", 5060, challenge(r1, 401));
  Msg r2 = copy_of(find_to(take(), "REGISTER", kCarrier));
  ASSERT_TRUE(r2.m);
  inject("10.20.0.2", 5060, carrier_response(r2, 423, "Interval Too Brief", "", "reg1", "Min-Expires: 300\r\n"));
  Msg r3 = copy_of(find_to(take(), "REGISTER", kCarrier));
  ASSERT_TRUE(r3.m);
  EXPECT_EQ(raw_header(r3.raw, "Expires"), "300");
  EXPECT_EQ(verdict(r3, "Authorization"), sip::AuthVerdict::ok);
  EXPECT_EQ(std::atoi(r3.m->cseq->number), std::atoi(r2.m->cseq->number) + 1);
  EXPECT_EQ(trunk_row("carrier")["registration"], "registering");
  inject("10.20.0.2", 5060, with_expires(r3, 200, "OK", 300));
  EXPECT_EQ(trunk_row("carrier")["registration"], "registered");
  EXPECT_EQ(trunk_row("carrier")["expires_in_s"], 300);
  EXPECT_FALSE(register_at(149000).m);
  Msg r4 = register_at(150000);
  ASSERT_TRUE(r4.m);
  EXPECT_EQ(raw_header(r4.raw, "Expires"), "300");
  // A second 423 that does not raise the interval would loop: refused.
  inject("10.20.0.2", 5060, carrier_response(r4, 423, "Interval Too Brief", "", "reg1", "Min-Expires: 300\r\n"));
  EXPECT_FALSE(find_to(take(), "REGISTER", kCarrier));
  EXPECT_EQ(trunk_row("carrier")["registration"], "failed");
  EXPECT_EQ(trunk_row("carrier")["last_register_status"], 423);
}

TEST_F(TrunkRegisterTest, IntervalTooBriefWithoutMinExpiresIsARefusal) {
  Msg r1 = register_at(0);
  ASSERT_TRUE(r1.m);
  inject("10.20.0.2", 5060, carrier_response(r1, 423, "Interval Too Brief", ""));
  EXPECT_FALSE(find_to(take(), "REGISTER", kCarrier));
  EXPECT_EQ(trunk_row("carrier")["registration"], "failed");
  EXPECT_EQ(trunk_row("carrier")["last_register_cause"], "423 without a usable Min-Expires");
}

class TrunkRegisterWrongPasswordTest : public TrunkTest {
 protected:
  TrunkRegisterWrongPasswordTest()
      : TrunkTest("username = \"gw\"\npassword = \"nope\"\nregister = true\n", "trunk-secret") {}
};

TEST_F(TrunkRegisterWrongPasswordTest, SecondChallengeIsAFailureNotALoop) {
  gw->tick();
  Msg r1 = copy_of(find(take(), "REGISTER"));
  inject("10.20.0.2", 5060, challenge(r1, 401));
  Msg r2 = copy_of(find(take(), "REGISTER"));
  inject("10.20.0.2", 5060, challenge(r2, 401));
  EXPECT_FALSE(find(take(), "REGISTER"));
  EXPECT_EQ(trunk_row("carrier")["registration"], "failed");
  EXPECT_EQ(trunk_row("carrier")["last_register_cause"], "credentials rejected");
  EXPECT_EQ(gw->stats().trunk_auth_failures, 1u);
}

// ---------------------------------------------------------------- the tables

TEST(TrunkTables, HealthRowsFollowTheThresholds) {
  using control::TrunkHealth;
  using control::TrunkHealthEvent;
  for (const auto& r : control::health_table())
    EXPECT_EQ(&control::health_transition(r.from, r.event), &r);
  EXPECT_EQ(control::health_transition(TrunkHealth::up, TrunkHealthEvent::ping_failed).at_threshold,
            TrunkHealth::down);
  EXPECT_EQ(control::health_transition(TrunkHealth::recovering, TrunkHealthEvent::ping_failed).next,
            TrunkHealth::down);
  EXPECT_FALSE(control::routable(TrunkHealth::down));
  EXPECT_FALSE(control::routable(TrunkHealth::recovering));
  EXPECT_TRUE(control::routable(TrunkHealth::failing));
}

TEST(TrunkTables, RegistrationAcceptsAnswersOnlyWhileRegistering) {
  using control::RegEvent;
  using control::RegState;
  for (const auto& r : control::reg_table()) {
    EXPECT_EQ(&control::reg_transition(r.from, r.event), &r);
    const bool answer = r.event != RegEvent::due;
    if (answer) {
      EXPECT_EQ(r.valid, r.from == RegState::registering) << control::reg_state_name(r.from);
    } else {
      EXPECT_EQ(r.valid, r.from != RegState::registering);
    }
  }
}

}  // namespace
