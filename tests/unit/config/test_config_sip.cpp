// SPDX-License-Identifier: GPL-3.0-or-later
// [sip], [[subscriber]], [[trunk]] and [[route]]: values, digest settings,
// trunk credentials, health and addresses, and the references between them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config_test_support.hpp"

namespace {

TEST(Config, SipSubscribersTrunksRoutes) {
  auto r = load_fragment(R"(
[sip]
realm = "msgw"
listen = ["10.10.0.1:5060", "[2001:db8::1]:5070", "10.20.0.1"]
[[port]]
name = "trunk"
device = "net_null0"
address = "10.20.0.1/24"
[[subscriber]]
user = "spa1"
password = "spa1-secret"
display_name = "Good Body"
codecs = ["pcmu", "G729a", "G726-32"]
dids = ["15550001000"]
[[subscriber]]
user = "spa2"
ha1 = "939E7578ED9E3C518A452ACEE763BCE9"
[[trunk]]
name = "carrier"
address = "10.20.0.2"
codecs = ["G729"]
port = "trunk"
[[route]]
name = "tollfree"
prefix = "1800"
trunks = ["carrier"]
[[route]]
name = "intl"
regex = "^011[0-9]+$"
trunks = ["carrier"]
)", "sip.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const auto& c = *r.config;
  ASSERT_EQ(c.sip.listen.size(), 3u);
  EXPECT_EQ(c.sip.listen[1].host, "2001:db8::1");
  EXPECT_EQ(c.sip.listen[1].port, 5070);
  EXPECT_EQ(c.sip.listen[2].port, 5060);
  EXPECT_EQ(c.sip.listen[1].to_string(), "[2001:db8::1]:5070");
  ASSERT_EQ(c.subscribers.size(), 2u);
  // Codec names are canonicalised through the codec engine's SDP names.
  ASSERT_EQ(c.subscribers[0].codecs.size(), 3u);
  EXPECT_EQ(c.subscribers[1].ha1, "939e7578ed9e3c518a452acee763bce9");
  EXPECT_EQ(c.trunks[0].address.port, 5060);
  EXPECT_EQ(c.routes[1].regex, "^011[0-9]+$");
}

TEST(Config, SipCrossReferencesAndValues) {
  auto r = load_fragment(R"(
[media]
port_min = 16385
[[subscriber]]
user = "a"
codecs = ["G723"]
dids = ["1-555"]
[[subscriber]]
user = "a"
password = "x"
ha1 = "00"
[[trunk]]
name = "t"
address = "10.0.0.1:99999"
port = "nope"
[[route]]
name = "r"
regex = "("
trunks = ["missing"]
)", "x.toml");
  expect_errors(r, {"media.port_min: must be even",
                    "subscriber[0].codecs: unknown codec 'G723'",
                    "subscriber[0].password: give exactly one of password or ha1",
                    "subscriber[0].dids: '1-555' is not a number",
                    "subscriber[1].password: give exactly one of password or ha1",
                    "subscriber[1].ha1: must be 32 hex digits",
                    "trunk[0].address: '10.0.0.1:99999' is not host[:port]",
                    "route[0].regex: invalid regex"});
}

TEST(Config, DanglingReferencesReportedAfterSyntaxIsClean) {
  auto r = load_fragment(R"(
[[subscriber]]
user = "a"
password = "x"
dids = ["1"]
[[subscriber]]
user = "a"
password = "y"
dids = ["1"]
[[trunk]]
name = "t"
address = "10.0.0.1"
port = "nope"
[[route]]
name = "r"
prefix = "1"
trunks = ["missing"]
)", "x.toml");
  expect_errors(r, {"subscriber[1].user: duplicate user 'a'",
                    "DID '1' is used twice",
                    "trunk[0].port: no [[port]] named 'nope'",
                    "route[0].trunks[0]: no [[trunk]] named 'missing'"});
}

TEST(Config, SipDigestAlgorithms) {
  auto d = load_fragment("", "d.toml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.config->sip.digest_algorithms, (std::vector<std::string>{"MD5", "SHA-256"}));
  auto r = load_fragment("[sip]\ndigest_algorithms = [\"MD5\"]\n", "a.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(r.config->sip.digest_algorithms, std::vector<std::string>{"MD5"});
  auto bad = load_fragment("[sip]\ndigest_algorithms = [\"SHA-1\"]\n", "b.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(errors_of(bad).rfind("b.toml:", 0), 0u);
  expect_errors(bad, {"sip.digest_algorithms: unknown algorithm 'SHA-1'"});
  auto empty = load_fragment("[sip]\ndigest_algorithms = []\n", "c.toml");
  expect_errors(empty, {"sip.digest_algorithms: must name at least one"});
}

TEST(Config, SubscriberDigestAlgorithmsHa1AndDomains) {
  auto d = load_fragment("[[subscriber]]\nuser = \"a\"\npassword = \"p\"\n", "d.toml");
  ASSERT_TRUE(d.ok()) << errors_of(d);
  EXPECT_EQ(d.config->subscribers[0].digest_algorithms, std::vector<std::string>{"MD5"});  // MD5 alone by default
  EXPECT_TRUE(d.config->sip.domains.empty());
  auto both = load_fragment(
      "[sip]\ndomains = [\"SIP.voip-info.org\"]\n"
      "[[subscriber]]\nuser = \"a\"\npassword = \"p\"\ndigest_algorithms = [\"SHA-256\", \"MD5\"]\n"
      "[[subscriber]]\nuser = \"b\"\nha1 = \"0123456789abcdef0123456789ABCDEF\"\n"
      "ha1_sha256 = \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n"
      "digest_algorithms = [\"MD5\", \"SHA-256\"]\n",
      "b.toml");
  ASSERT_TRUE(both.ok()) << errors_of(both);
  EXPECT_EQ(both.config->subscribers[0].digest_algorithms, (std::vector<std::string>{"SHA-256", "MD5"}));
  EXPECT_EQ(both.config->subscribers[1].ha1, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(both.config->sip.domains, std::vector<std::string>{"sip.voip-info.org"});
  // SHA-256 cannot be checked against an MD5 HA1 alone.
  auto md5_only = load_fragment(
      "[[subscriber]]\nuser = \"a\"\nha1 = \"0123456789abcdef0123456789abcdef\"\n"
      "digest_algorithms = [\"SHA-256\"]\n",
      "c.toml");
  expect_errors(md5_only, {"subscriber[0].digest_algorithms: 'SHA-256' needs password or ha1_sha256"});
  auto bad = load_fragment(
      "[sip]\ndomains = [\"a b\"]\n[[subscriber]]\nuser = \"a\"\nha1 = \"0123456789abcdef0123456789abcdef\"\n"
      "ha1_sha256 = \"12\"\n",
      "e.toml");
  expect_errors(bad, {"sip.domains: 'a b' is not a host name", "subscriber[0].ha1_sha256: must be 64 hex digits"});
}

// [[trunk]] credentials, registration and health settings.
TEST(Config, TrunkCredentialsRegistrationAndHealth) {
  auto r = load_fragment(R"(
[[trunk]]
name = "t"
address = "192.0.2.1"
username = "gw"
password = "pw"
from_user = "15550001000"
from_domain = "carrier.example"
register = true
register_expires_s = 600
ping_interval_s = 30
down_after = 3
up_after = 1
prack = true
[[trunk]]
name = "h"
address = "192.0.2.2"
username = "gw"
ha1 = "939E7578ED9E3C518A452ACEE763BCE9"
realm = "carrier.example"
)", "t.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const auto& t = r.config->trunks[0];
  EXPECT_TRUE(t.has_credentials());
  EXPECT_EQ(t.from_domain, "carrier.example");
  EXPECT_TRUE(t.register_);
  EXPECT_EQ(t.register_expires_s, 600u);
  EXPECT_EQ(t.ping_interval_s, 30u);
  EXPECT_EQ(t.down_after, 3u);
  EXPECT_EQ(t.up_after, 1u);
  EXPECT_EQ(r.config->trunks[1].ha1, "939e7578ed9e3c518a452acee763bce9");
  EXPECT_FALSE(r.config->trunks[1].register_);
  EXPECT_EQ(r.config->trunks[1].ping_interval_s, 0u);  // off unless asked for
  EXPECT_TRUE(t.prack);
  EXPECT_FALSE(r.config->trunks[1].prack);  // 100rel not offered unless asked for
}

TEST(Config, TrunkCredentialErrors) {
  auto r = load_fragment(R"(
[[trunk]]
name = "a"
address = "192.0.2.1"
username = "gw"
[[trunk]]
name = "b"
address = "192.0.2.2"
password = "pw"
register = true
[[trunk]]
name = "c"
address = "192.0.2.3"
username = "gw"
ha1 = "abc"
[[trunk]]
name = "d"
address = "192.0.2.4"
ping_interval_s = 5000
down_after = 0
)", "t.toml");
  expect_errors(r, {"trunk[0].password: a trunk with a username needs exactly one of password or ha1",
                    "trunk[1].username: password, ha1 and realm need a username",
                    "trunk[1].register: registering needs a username",
                    "trunk[2].ha1: must be 32 (MD5) or 64 (SHA-256) hex digits",
                    "trunk[2].realm: an ha1 is bound to one realm",
                    "trunk[3].ping_interval_s: value 5000 out of range",
                    "trunk[3].down_after: value 0 out of range"});
}

// Trunks by name: an IPv4 address or an RFC 1123 host name; anything else
// is an error (resolution itself is msgw-control's, and config check's
// warning).
TEST(Config, TrunkAddressIsIpv4OrHostName) {
  EXPECT_TRUE(msgw::config::is_host_name("sip.carrier.example"));
  EXPECT_TRUE(msgw::config::is_host_name("sip-1.Carrier.example."));
  EXPECT_TRUE(msgw::config::is_host_name("localhost"));
  EXPECT_TRUE(msgw::config::is_host_name("3com.example"));
  EXPECT_FALSE(msgw::config::is_host_name("10.20.0.300"));  // all-digit last label: a bad address
  EXPECT_FALSE(msgw::config::is_host_name("-bad.example"));
  EXPECT_FALSE(msgw::config::is_host_name("bad-.example"));
  EXPECT_FALSE(msgw::config::is_host_name("a..example"));
  EXPECT_FALSE(msgw::config::is_host_name(std::string(64, 'a') + ".example"));
  EXPECT_FALSE(msgw::config::is_host_name(""));
  EXPECT_FALSE(msgw::config::is_host_name("under_score.example"));

  auto ok = load_fragment(R"(
[sip]
dns_servers = ["10.20.0.2", "10.20.0.3:5353"]
[[trunk]]
name = "named"
address = "sip.carrier.example"
[[trunk]]
name = "named-port"
address = "sip.carrier.example:5080"
)", "n.toml");
  ASSERT_TRUE(ok.ok()) << errors_of(ok);
  const auto& c = *ok.config;
  EXPECT_EQ(c.sip.dns_servers, (std::vector<std::string>{"10.20.0.2", "10.20.0.3:5353"}));
  EXPECT_EQ(c.trunks[0].address.host, "sip.carrier.example");
  EXPECT_FALSE(c.trunks[0].address.port_given);
  EXPECT_TRUE(c.trunks[1].address.port_given);
  EXPECT_EQ(c.trunks[1].address.port, 5080);

  auto bad = load_fragment(R"(
[sip]
dns_servers = ["dns.example"]
[[trunk]]
name = "a"
address = "10.20.0.300"
[[trunk]]
name = "b"
address = "[2001:db8::1]:5060"
[[trunk]]
name = "c"
address = "-carrier.example"
)", "b.toml");
  expect_errors(bad, {"sip.dns_servers: 'dns.example' is not an IPv4 address[:port]",
                      "trunk[0].address: '10.20.0.300' is neither an IPv4 address nor a valid host name",
                      "trunk[1].address: '2001:db8::1' is neither an IPv4 address nor a valid host name",
                      "trunk[2].address: '-carrier.example' is neither"});
}

TEST(Config, MetricsListenIsIpv4AndPortOrEmpty) {
  auto off = load_string("[sip]\nrealm = \"x\"\n", "off.toml", msgw::config::Scope::fragment);
  ASSERT_TRUE(off.ok()) << errors_of(off);
  EXPECT_TRUE(off.config->sip.metrics_listen.empty());

  auto on = load_string("[sip]\nmetrics_listen = \"127.0.0.1:9105\"\n", "on.toml", msgw::config::Scope::fragment);
  ASSERT_TRUE(on.ok()) << errors_of(on);
  EXPECT_EQ(on.config->sip.metrics_ip, 0x7f000001u);
  EXPECT_EQ(on.config->sip.metrics_port, 9105);

  for (const char* bad : {"localhost:9105", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", "10.0.0.300:1"}) {
    auto r = load_string(std::string("[sip]\n\nmetrics_listen = \"") + bad + "\"\n", "bad.toml", msgw::config::Scope::fragment);
    SCOPED_TRACE(bad);
    // At its line and column, as the other keys' value errors.
    expect_errors(r, {"bad.toml:3:18: sip.metrics_listen: '"});
  }
}

TEST(Config, UdpViaDataplane) {
  auto def = load_fragment("[sip]\nrealm = \"x\"\n", "d.toml");
  ASSERT_TRUE(def.ok()) << errors_of(def);
  EXPECT_TRUE(def.config->sip.udp_via_dataplane) << "on unless turned off";
  auto off = load_fragment("[sip]\nudp_via_dataplane = false\n", "off.toml");
  ASSERT_TRUE(off.ok()) << errors_of(off);
  EXPECT_FALSE(off.config->sip.udp_via_dataplane);
  expect_errors(load_fragment("[sip]\nudp_via_dataplane = \"no\"\n", "bad.toml"), {"sip.udp_via_dataplane"});
}

TEST(Config, OverloadAndPerSourceLimits) {
  auto def = load_fragment("[sip]\nrealm = \"x\"\n", "d.toml");
  ASSERT_TRUE(def.ok()) << errors_of(def);
  const auto& d = def.config->sip;
  EXPECT_EQ(d.overload_queue_age_ms, 200u);
  EXPECT_EQ(d.overload_resume_age_ms, 50u);
  EXPECT_EQ(d.overload_retry_after_s, 2u);
  EXPECT_EQ(d.source_invite_rate, 0u);  // per-source limits off unless asked for
  EXPECT_EQ(d.source_register_rate, 0u);
  EXPECT_EQ(d.source_block_s, 30u);
  EXPECT_EQ(d.source_table_size, 16384u);

  auto on = load_fragment(R"([sip]
overload_queue_age_ms = 300
overload_resume_age_ms = 100
overload_retry_after_s = 5
source_invite_rate = 5
source_register_rate = 3
source_burst = 10
source_block_s = 120
source_table_size = 1000
source_limit_exempt = ["10.20.0.0/24", "192.0.2.7", "2001:db8::/32", "::1"]
)", "on.toml");
  ASSERT_TRUE(on.ok()) << errors_of(on);
  const auto& s = on.config->sip;
  EXPECT_EQ(s.overload_queue_age_ms, 300u);
  EXPECT_EQ(s.overload_resume_age_ms, 100u);
  EXPECT_EQ(s.overload_retry_after_s, 5u);
  EXPECT_EQ(s.source_invite_rate, 5u);
  EXPECT_EQ(s.source_register_rate, 3u);
  EXPECT_EQ(s.source_burst, 10u);
  EXPECT_EQ(s.source_block_s, 120u);
  EXPECT_EQ(s.source_table_size, 1000u);
  EXPECT_EQ(s.source_limit_exempt,
            (std::vector<std::string>{"10.20.0.0/24", "192.0.2.7", "2001:db8::/32", "::1"}));

  auto bad = load_fragment(R"([sip]
overload_queue_age_ms = 100
overload_resume_age_ms = 150
source_block_s = 0
source_table_size = 1
source_limit_exempt = ["10.0.0.0/40", "pbx.example", "2001:db8::/129", "2001:db8::/"]
)", "bad.toml");
  expect_errors(bad, {"sip.overload_resume_age_ms: is larger than overload_queue_age_ms", "sip.source_block_s",
                      "sip.source_table_size", "'10.0.0.0/40' is not an IP address or prefix",
                      "'pbx.example' is not an IP address or prefix", "'2001:db8::/129' is not an IP address",
                      "'2001:db8::/' is not an IP address"});
}

}  // namespace
