// SPDX-License-Identifier: GPL-3.0-or-later
// The digest client (sip/digest_client.hpp) against the worked examples of
// RFC 2617 §3.5 (MD5, qop=auth) and RFC 7616 §3.9.1 (SHA-256 and MD5), then
// its challenge cache: nc counting, stale nonces, wrong credentials, realms.
#include <gtest/gtest.h>

#include "msgw/sip/digest.hpp"
#include "msgw/sip/digest_client.hpp"

namespace msgw::sip {
namespace {

std::string param(const std::string& v, const std::string& name) {
  auto p = v.find(" " + name + "=");
  if (p == std::string::npos) p = v.find("," + name + "=");
  if (p == std::string::npos) return {};
  p += name.size() + 2;
  if (v[p] == '"') {
    auto e = v.find('"', p + 1);
    return v.substr(p + 1, e - p - 1);
  }
  auto e = v.find(',', p);
  return v.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

TEST(DigestClient, Rfc2617WorkedExample) {
  DigestClient c({"Mufasa", "Circle Of Life", std::nullopt, ""});
  ASSERT_EQ(c.take_challenge({"Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
                              "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                              "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""},
                             401, false),
            ChallengeOutcome::answer);
  auto h = c.authorization("GET", "/dir/index.html", "0a4f113b");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->name, "Authorization");
  EXPECT_EQ(param(h->value, "response"), "6629fae49393a05397450978507c4ef1");
  EXPECT_EQ(param(h->value, "nc"), "00000001");
  EXPECT_EQ(param(h->value, "qop"), "auth");
  EXPECT_EQ(param(h->value, "opaque"), "5ccc069c403ebaf9f0171e9517f40e41");
}

constexpr const char* kRfc7616Nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
constexpr const char* kRfc7616Cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

std::string rfc7616_challenge(const char* alg) {
  return std::string("Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=") + alg +
         ", nonce=\"" + kRfc7616Nonce + "\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
}

TEST(DigestClient, Rfc7616WorkedExamples) {
  {
    DigestClient c({"Mufasa", "Circle of Life", std::nullopt, ""});
    ASSERT_EQ(c.take_challenge({rfc7616_challenge("SHA-256")}, 401, false), ChallengeOutcome::answer);
    auto h = c.authorization("GET", "/dir/index.html", kRfc7616Cnonce);
    ASSERT_TRUE(h);
    EXPECT_EQ(param(h->value, "response"), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    EXPECT_EQ(param(h->value, "algorithm"), "SHA-256");
  }
  {
    DigestClient c({"Mufasa", "Circle of Life", std::nullopt, ""});
    ASSERT_EQ(c.take_challenge({rfc7616_challenge("MD5")}, 401, false), ChallengeOutcome::answer);
    auto h = c.authorization("GET", "/dir/index.html", kRfc7616Cnonce);
    ASSERT_TRUE(h);
    EXPECT_EQ(param(h->value, "response"), "8ca523f5e9506fed4657c9700eebdbec");
  }
  {  // Both offered (RFC 7616's example sends both): SHA-256 is answered.
    DigestClient c({"Mufasa", "Circle of Life", std::nullopt, ""});
    ASSERT_EQ(c.take_challenge({rfc7616_challenge("MD5"), rfc7616_challenge("SHA-256")}, 401, false),
              ChallengeOutcome::answer);
    auto h = c.authorization("GET", "/dir/index.html", kRfc7616Cnonce);
    EXPECT_EQ(param(h->value, "response"), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  }
}

TEST(DigestClient, Ha1AnswersOnlyItsFamilyAndRealm) {
  Ha1 md5 = compute_ha1(DigestAlgorithm::md5, "Mufasa", "http-auth@example.org", "Circle of Life");
  DigestClient c({"Mufasa", "", md5, "http-auth@example.org"});
  EXPECT_EQ(c.take_challenge({rfc7616_challenge("SHA-256")}, 401, false), ChallengeOutcome::no_usable);
  ASSERT_EQ(c.take_challenge({rfc7616_challenge("SHA-256"), rfc7616_challenge("MD5")}, 401, false),
            ChallengeOutcome::answer);
  auto h = c.authorization("GET", "/dir/index.html", kRfc7616Cnonce);
  EXPECT_EQ(param(h->value, "response"), "8ca523f5e9506fed4657c9700eebdbec");
  DigestClient other({"Mufasa", "", md5, "elsewhere"});
  EXPECT_EQ(other.take_challenge({rfc7616_challenge("MD5")}, 401, false), ChallengeOutcome::wrong_realm);
  EXPECT_FALSE(other.authorization("GET", "/", "x"));
}

// The cache against the gateway's own verifier: nc counts up, a second
// challenge to an answer is a wrong password, a stale nonce is answered again.
TEST(DigestClient, NonceReusedWithNcUntilStaleOrRejected) {
  InMemoryCredentialStore store;
  store.add_password("trunkuser", "carrier", "pw");
  AuthConfig ac;
  ac.realm = "carrier";
  ac.algorithms = {DigestAlgorithm::md5};
  ac.nonce_lifetime_s = 60;
  DigestAuthenticator server(ac, store);
  const std::int64_t t0 = 1'700'000'000;
  const std::string uri = "sip:18005551212@10.20.0.2";

  DigestClient c({"trunkuser", "pw", std::nullopt, ""});
  EXPECT_FALSE(c.authorization("INVITE", uri));
  ASSERT_EQ(c.take_challenge({server.challenge_value(DigestAlgorithm::md5, false, t0)}, 407, false),
            ChallengeOutcome::answer);
  for (uint32_t n = 1; n <= 3; ++n) {
    auto h = c.authorization("INVITE", uri);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->name, "Proxy-Authorization");
    EXPECT_EQ(param(h->value, "nc"), std::string(7, '0') + char('0' + n));
    EXPECT_EQ(server.verify_header(h->value, "INVITE", uri, ChallengeKind::proxy, t0 + n).verdict,
              AuthVerdict::ok);
  }
  EXPECT_EQ(c.nonce_count(), 3u);
  // The nonce expired: the server says stale=true; answered again, nc restarts.
  auto h = c.authorization("INVITE", uri);
  EXPECT_EQ(server.verify_header(h->value, "INVITE", uri, ChallengeKind::proxy, t0 + 100).verdict,
            AuthVerdict::stale);
  ASSERT_EQ(c.take_challenge({server.challenge_value(DigestAlgorithm::md5, true, t0 + 100)}, 407, true),
            ChallengeOutcome::answer);
  h = c.authorization("INVITE", uri);
  EXPECT_EQ(param(h->value, "nc"), "00000001");
  EXPECT_EQ(server.verify_header(h->value, "INVITE", uri, ChallengeKind::proxy, t0 + 101).verdict,
            AuthVerdict::ok);

  // A wrong password: the answer is challenged again, not stale → rejected.
  DigestClient wrong({"trunkuser", "nope", std::nullopt, ""});
  ASSERT_EQ(wrong.take_challenge({server.challenge_value(DigestAlgorithm::md5, false, t0)}, 407, false),
            ChallengeOutcome::answer);
  h = wrong.authorization("INVITE", uri);
  EXPECT_EQ(server.verify_header(h->value, "INVITE", uri, ChallengeKind::proxy, t0 + 1).verdict,
            AuthVerdict::bad_response);
  EXPECT_EQ(wrong.take_challenge({server.challenge_value(DigestAlgorithm::md5, false, t0 + 1)}, 407, true),
            ChallengeOutcome::rejected);
  EXPECT_FALSE(wrong.has_challenge());
  EXPECT_EQ(wrong.take_challenge({"Basic realm=\"x\""}, 401, false), ChallengeOutcome::no_usable);
}

}  // namespace
}  // namespace msgw::sip
