// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "msgw/config/config.hpp"

using msgw::config::load_string;

// Most tests load a part of a file: only what a deployment needs to start
// (ports, listen) is left out of their checks.
msgw::config::LoadResult load_fragment(std::string_view text, const std::string& name) {
  return load_string(text, name, msgw::config::Scope::fragment);
}

namespace {

std::string errors_of(const msgw::config::LoadResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += e.to_string() + "\n";
  return s;
}

TEST(Config, EmptyFileGivesDefaults) {
  auto r = load_fragment("", "empty.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(r.config->instance.name, "default");
  EXPECT_EQ(r.config->dataplane.flow_capacity, 131072u);
  EXPECT_GE(r.config->dataplane.flow_capacity, 100000u);
  EXPECT_TRUE(r.config->codecs.g729_annexb);
  EXPECT_TRUE(r.config->ports.empty());
}

TEST(Config, FullDataplaneAndPorts) {
  auto r = load_fragment(R"(
[instance]
name = "lab"
[dataplane]
main_lcore = 0
worker_lcores = [1]
hugepages = "off"
[[port]]
name = "access"
device = "net_af_packet0,iface=veth-gw-a"
address = "10.10.0.1/24"
role = "access"
[[port]]
name = "trunk"
device = "0000:03:00.0"
address = "10.20.0.1/24"
next_hop = "10.20.0.254"
role = "trunk"
rx_queues = 2
tx_queues = 1
)", "lab.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const auto& c = *r.config;
  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.ports[0].address.addr, 0x0A0A0001u);
  EXPECT_EQ(c.ports[0].address.prefix, 24);
  EXPECT_EQ(c.ports[0].tap_name, "msgw-access");
  EXPECT_FALSE(c.ports[0].next_hop.has_value());
  EXPECT_EQ(c.ports[1].role, msgw::config::PortRole::trunk);
  EXPECT_EQ(*c.ports[1].next_hop, 0x0A1400FEu);
  EXPECT_EQ(c.ports[1].rx_queues, 2);
  EXPECT_EQ(c.ports[0].tx_queues, 0);  // one per worker
  EXPECT_EQ(c.ports[1].tx_queues, 1);
  EXPECT_EQ(c.dataplane.hugepages, "off");
}

TEST(Config, ErrorsNameFileLineColumnAndKey) {
  auto r = load_fragment("[dataplane]\nmemory_mb = \"lots\"\n", "bad.toml");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(), "bad.toml:2:13: dataplane.memory_mb: expected an integer");
}

TEST(Config, OutOfRangeAndEnumAndUnknownKeysAllReported) {
  auto r = load_fragment(R"([dataplane]
latch_packets = 0
hugepages = "maybe"
flow_capacty = 5
)", "x.toml");
  ASSERT_FALSE(r.ok());
  std::string all = errors_of(r);
  EXPECT_EQ(r.errors.size(), 3u) << all;
  EXPECT_NE(all.find("x.toml:2:17: dataplane.latch_packets: value 0 out of range [1, 100]"),
            std::string::npos) << all;
  EXPECT_NE(all.find("dataplane.hugepages: 'maybe' is not one of: auto, on, off"),
            std::string::npos) << all;
  EXPECT_NE(all.find("x.toml:4:1: dataplane.flow_capacty: unknown key"), std::string::npos) << all;
}

TEST(Config, PortValidation) {
  auto r = load_fragment(R"([[port]]
name = "a"
device = "net_null0"
address = "10.0.0.300/24"
[[port]]
name = "a"
device = "net_null1"
address = "10.0.0.2/33"
[[port]]
device = "net_null2"
address = "10.0.0.3"
)", "p.toml");
  ASSERT_FALSE(r.ok());
  std::string all = errors_of(r);
  EXPECT_NE(all.find("p.toml:4:11: port[0].address: '10.0.0.300/24' is not an IPv4 address/prefix"),
            std::string::npos) << all;
  EXPECT_NE(all.find("port[1].address: '10.0.0.2/33'"), std::string::npos) << all;
  EXPECT_NE(all.find("port[1].name: duplicate port name 'a'"), std::string::npos) << all;
  EXPECT_NE(all.find("port[2].name: required key is missing"), std::string::npos) << all;
}

TEST(Config, WorkerMayNotBeMainLcore) {
  auto r = load_fragment("[dataplane]\nmain_lcore = 1\nworker_lcores = [1, 2]\n", "l.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(errors_of(r).find("lcore 1 is also the main lcore"), std::string::npos);
}

TEST(Config, SyntaxErrorHasPosition) {
  auto r = load_fragment("[instance]\nname = \"unterminated\n", "s.toml");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, "s.toml");
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_EQ(r.errors[0].key, "(syntax)");
}

TEST(Config, MissingFileIsAnError) {
  auto r = msgw::config::load_file("/nonexistent/msgw.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].to_string(), "/nonexistent/msgw.toml:0:0: (file): cannot be opened");
}

TEST(Config, UnknownTopLevelSection) {
  auto r = load_fragment("[dataplan]\nmain_lcore = 0\n", "u.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].to_string(), "u.toml:1:2: dataplan: unknown section or key");
}

TEST(Config, Ipv4Helpers) {
  EXPECT_EQ(msgw::config::parse_ipv4("192.168.0.2"), 0xC0A80002u);
  EXPECT_FALSE(msgw::config::parse_ipv4("192.168.0"));
  EXPECT_FALSE(msgw::config::parse_ipv4_prefix("1.2.3.4/"));
  EXPECT_FALSE(msgw::config::parse_ipv4_prefix("1.2.3.4/2x"));
  EXPECT_EQ(msgw::config::format_ipv4(0x0A140002u), "10.20.0.2");
}

// Every shipped example must load cleanly: operators start from these.
TEST(Config, ShippedExamplesLoad) {
  std::string dir = ::testing::internal::GetArgvs().size() > 1
                        ? ::testing::internal::GetArgvs()[1]
                        : std::string("config/examples");
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".toml") continue;
    auto r = msgw::config::load_file(e.path().string());
    EXPECT_TRUE(r.ok()) << errors_of(r);
    ++n;
  }
  EXPECT_GT(n, 0);
}

}  // namespace

namespace {
// Found by fuzz_config: toml++'s debug assertion aborted on a bad table key.
TEST(Config, BadTableKeyIsASyntaxErrorNotAnAbort) {
  auto r = load_fragment("[?a]\nx = 1\n", "k.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].key, "(syntax)");
  EXPECT_EQ(r.errors[0].line, 1u);
}
}  // namespace

namespace {
// Found by fuzz_config: toml++ 3.3 hits __builtin_unreachable on some
// non-ASCII code points, so non-ASCII is refused with a position; escapes work.
TEST(Config, NonAsciiRefusedWithPositionAndEscapesAccepted) {
  auto r = load_fragment("[instance]\nname = \"M\xC3\xBCller\"\n", "n.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].to_string(),
            "n.toml:2:10: (syntax): non-ASCII byte; write such text as \\uXXXX escapes inside a "
            "quoted string");
  auto ok = load_fragment("[[subscriber]]\nuser = \"a\"\npassword = \"p\"\ndisplay_name = \"M\\u00FCller\"\n", "n.toml");
  ASSERT_TRUE(ok.ok()) << errors_of(ok);
  EXPECT_EQ(ok.config->subscribers[0].display_name, "M\xC3\xBCller");
}
}  // namespace

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
  ASSERT_FALSE(r.ok());
  std::string all = errors_of(r);
  for (const char* want : {"media.port_min: must be even",
                           "subscriber[0].codecs: unknown codec 'G723'",
                           "subscriber[0].password: give exactly one of password or ha1",
                           "subscriber[0].dids: '1-555' is not a number",
                           "subscriber[1].password: give exactly one of password or ha1",
                           "subscriber[1].ha1: must be 32 hex digits",
                           "trunk[0].address: '10.0.0.1:99999' is not host[:port]",
                           "route[0].regex: invalid regex"})
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
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
  ASSERT_FALSE(r.ok());
  std::string all = errors_of(r);
  for (const char* want : {"subscriber[1].user: duplicate user 'a'", "DID '1' is used twice",
                           "trunk[0].port: no [[port]] named 'nope'",
                           "route[0].trunks[0]: no [[trunk]] named 'missing'"})
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
}
}  // namespace

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
  EXPECT_NE(errors_of(bad).find("sip.digest_algorithms: unknown algorithm 'SHA-1'"), std::string::npos)
      << errors_of(bad);
  auto empty = load_fragment("[sip]\ndigest_algorithms = []\n", "c.toml");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(errors_of(empty).find("sip.digest_algorithms: must name at least one"), std::string::npos);
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
  ASSERT_FALSE(md5_only.ok());
  EXPECT_NE(errors_of(md5_only).find("subscriber[0].digest_algorithms: 'SHA-256' needs password or ha1_sha256"),
            std::string::npos)
      << errors_of(md5_only);
  auto bad = load_fragment(
      "[sip]\ndomains = [\"a b\"]\n[[subscriber]]\nuser = \"a\"\nha1 = \"0123456789abcdef0123456789abcdef\"\n"
      "ha1_sha256 = \"12\"\n",
      "e.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(errors_of(bad).find("sip.domains: 'a b' is not a host name"), std::string::npos) << errors_of(bad);
  EXPECT_NE(errors_of(bad).find("subscriber[0].ha1_sha256: must be 64 hex digits"), std::string::npos)
      << errors_of(bad);
}
namespace {

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
  ASSERT_FALSE(r.ok());
  std::string all = errors_of(r);
  for (const char* want : {"trunk[0].password: a trunk with a username needs exactly one of password or ha1",
                           "trunk[1].username: password, ha1 and realm need a username",
                           "trunk[1].register: registering needs a username",
                           "trunk[2].ha1: must be 32 (MD5) or 64 (SHA-256) hex digits",
                           "trunk[2].realm: an ha1 is bound to one realm",
                           "trunk[3].ping_interval_s: value 5000 out of range",
                           "trunk[3].down_after: value 0 out of range"})
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
}

}  // namespace
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
  ASSERT_FALSE(bad.ok());
  std::string all = errors_of(bad);
  for (const char* want : {"sip.dns_servers: 'dns.example' is not an IPv4 address[:port]",
                           "trunk[0].address: '10.20.0.300' is neither an IPv4 address nor a valid host name",
                           "trunk[1].address: '2001:db8::1' is neither an IPv4 address nor a valid host name",
                           "trunk[2].address: '-carrier.example' is neither"})
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
}

// ---- Everything the daemons refuse at start is caught here, all at once,
// each at its key's line and column.
namespace {

const char* kPorts = R"([[port]]
name = "access"
device = "net_tap0"
address = "10.10.0.1/24"
[[port]]
name = "trunk"
device = "net_tap1"
address = "10.20.0.1/24"
role = "trunk"
)";

bool has_error(const msgw::config::LoadResult& r, const std::string& want) {
  return errors_of(r).find(want) != std::string::npos;
}

TEST(ConfigCheck, DeploymentNeedsPortsAccessPortAndListen) {
  auto none = load_string("", "e.toml");
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(has_error(none, "e.toml:0:0: port: at least one [[port]] is needed")) << errors_of(none);
  EXPECT_TRUE(has_error(none, "sip.listen: msgw-control needs at least one address")) << errors_of(none);
  // The dataplane alone needs ports, not [sip].
  auto dp = load_string(kPorts, "d.toml", msgw::config::Scope::dataplane);
  EXPECT_TRUE(dp.ok()) << errors_of(dp);

  auto no_access = load_string(std::string(kPorts).replace(std::string(kPorts).find("address = \"10.10"), 0,
                                                          "role = \"trunk\"\n") +
                                   "[sip]\nlisten = [\"10.10.0.1\"]\n",
                               "a.toml");
  EXPECT_TRUE(has_error(no_access, "a.toml:4:8: port[0].role: no [[port]] has role = \"access\"")) << errors_of(no_access);

  auto good = load_string(std::string(kPorts) + "[sip]\nlisten = [\"10.10.0.1\", \"0.0.0.0:5080\"]\n", "g.toml");
  EXPECT_TRUE(good.ok()) << errors_of(good);
}

TEST(ConfigCheck, ListenAddressesParsedBindableAndOurs) {
  auto r = load_string(std::string(kPorts) + R"([sip]
listen = ["10.10.0.1", "gw.example.net", "10.10.0.1:5060", "10.30.0.1:5060", "10.10.0.1:70000"]
)", "l.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r, "l.toml:11:24: sip.listen: 'gw.example.net' is not an IPv4 address[:port]")) << errors_of(r);
  EXPECT_TRUE(has_error(r, "l.toml:11:42: sip.listen: '10.10.0.1:5060' is listed twice")) << errors_of(r);
  EXPECT_TRUE(has_error(r, "l.toml:11:60: sip.listen: '10.30.0.1' is no [[port]] address")) << errors_of(r);
  EXPECT_TRUE(has_error(r, "l.toml:11:78: sip.listen: '10.10.0.1:70000' is not an IPv4")) << errors_of(r);
}

TEST(ConfigCheck, TrunkAddressAndEmptyNames) {
  auto r = load_fragment(R"([[trunk]]
name = ""
address = "10.20.0.300"
[[route]]
name = ""
prefix = "1"
trunks = []
[[subscriber]]
user = ""
password = "p"
[[port]]
name = ""
device = ""
address = "10.0.0.1"
)", "n.toml");
  ASSERT_FALSE(r.ok());
  for (const char* want :
       {"n.toml:2:8: trunk[0].name: must not be empty", "n.toml:3:11: trunk[0].address: '10.20.0.300' is neither",
        "n.toml:5:8: route[0].name: must not be empty", "n.toml:7:10: route[0].trunks: must name at least one",
        "n.toml:9:8: subscriber[0].user: must not be empty", "n.toml:12:8: port[0].name: must not be empty",
        "n.toml:13:10: port[0].device: must not be empty"})
    EXPECT_TRUE(has_error(r, want)) << want << "\n" << errors_of(r);
}

TEST(ConfigCheck, InstanceNameMustBeSafeAsAFileName) {
  for (const char* bad : {"../etc", "a/b", "", ".hidden", "-x", "a b"}) {
    auto r = load_fragment(std::string("[instance]\nname = \"") + bad + "\"\n", "i.toml");
    EXPECT_TRUE(has_error(r, "i.toml:2:8: instance.name: ")) << bad << "\n" << errors_of(r);
  }
  EXPECT_TRUE(load_fragment("[instance]\nname = \"rig-2_b.x\"\n", "i.toml").ok());
  EXPECT_EQ(msgw::config::instance_name_problem(std::string(65, 'a')), "is longer than 64 characters");
}

TEST(ConfigCheck, CrossReferencesReportedWithOtherErrorsAtTheirKeys) {
  auto r = load_fragment(R"([dataplane]
memory_mb = "lots"
[[subscriber]]
user = "a"
password = "x"
dids = ["1", "2"]
[[subscriber]]
user = "a"
password = "y"
dids = ["2"]
[[trunk]]
name = "t"
address = "10.0.0.1"
port = "nope"
[[trunk]]
name = "t"
address = "10.0.0.2"
[[route]]
name = "r"
prefix = "1"
trunks = ["t", "missing"]
[[route]]
name = "r"
prefix = "2"
trunks = ["t"]
)", "x.toml");
  ASSERT_FALSE(r.ok());
  for (const char* want :
       {"x.toml:2:13: dataplane.memory_mb: expected an integer", "x.toml:8:8: subscriber[1].user: duplicate user 'a'",
        "x.toml:10:9: subscriber[1].dids[0]: DID '2' is used twice", "x.toml:14:8: trunk[0].port: no [[port]] named 'nope'",
        "x.toml:16:8: trunk[1].name: duplicate trunk 't'", "x.toml:21:16: route[0].trunks[1]: no [[trunk]] named 'missing'",
        "x.toml:23:8: route[1].name: duplicate route 'r'"})
    EXPECT_TRUE(has_error(r, want)) << want << "\n" << errors_of(r);
  for (const auto& e : r.errors) EXPECT_NE(e.line, 0u) << e.to_string();
}

TEST(ConfigCheck, ValueErrorsPointAtTheKeyNotTheTable) {
  auto r = load_fragment(R"([media]
port_min = 16385
port_max = 16000
[sip]
realm = ""
min_expires_s = 100
max_expires_s = 50
[[subscriber]]
user = "a"
ha1 = "00112233445566778899aabbccddeeff"
dids = ["12", "x"]
codecs = ["PCMU", "OPUS"]
[dataplane]
worker_lcores = [1, 2, 1]
)", "p.toml");
  for (const char* want :
       {"p.toml:2:12: media.port_min: must be even", "p.toml:3:12: media.port_max: must be larger",
        "p.toml:5:9: sip.realm: must not be empty", "p.toml:6:17: sip.min_expires_s: is larger",
        "p.toml:11:15: subscriber[0].dids: 'x' is not a number", "p.toml:12:19: subscriber[0].codecs: unknown codec 'OPUS'",
        "p.toml:14:24: dataplane.worker_lcores: lcore 1 is listed twice"})
    EXPECT_TRUE(has_error(r, want)) << want << "\n" << errors_of(r);
  auto many = load_fragment("[dataplane]\nworker_lcores = [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n", "w.toml");
  EXPECT_TRUE(has_error(many, "w.toml:2:17: dataplane.worker_lcores: msgw-dataplane runs at most 16 workers"))
      << errors_of(many);
}

TEST(ConfigCheck, CheckWholeOnABuiltConfigHasNoPositions) {
  msgw::config::Config c;
  c.file = "built";
  c.routes.push_back({"r", "1", "", {"gone"}});
  auto errors = msgw::config::check_whole(c, msgw::config::Scope::fragment, nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "built:0:0: route[0].trunks[0]: no [[trunk]] named 'gone'");
}

}  // namespace

// ---- The reload table: every key classified once; the README's table is it.
#include <fstream>
#include <set>
#include <sstream>

#include "msgw/config/reload.hpp"

namespace {

TEST(ReloadTable, EveryKeyTheLoaderReadsIsClassifiedOnce) {
  std::set<std::string> table;
  for (const auto& k : msgw::config::key_classes())
    EXPECT_TRUE(table.insert(std::string(k.key)).second) << "twice: " << k.key;
  const auto schema = msgw::config::schema_keys();
  const std::set<std::string> keys(schema.begin(), schema.end());
  EXPECT_GT(keys.size(), 60u);
  for (const auto& k : keys) EXPECT_TRUE(table.count(k)) << "not classified in config/src/reload.cpp: " << k;
  for (const auto& k : table) EXPECT_TRUE(keys.count(k)) << "classified but not read by the loader: " << k;
}

TEST(ReloadTable, ReadmeShowsTheTable) {
  std::ifstream in(std::string(MSGW_SOURCE_ROOT) + "/config/README.md");
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string readme = ss.str();
  const std::string begin = "<!-- reload table: generated by key_classes_markdown(), checked by config_unit -->\n";
  const auto at = readme.find(begin);
  ASSERT_NE(at, std::string::npos);
  const auto end = readme.find("<!-- end of reload table -->", at);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(readme.substr(at + begin.size(), end - at - begin.size()), msgw::config::key_classes_markdown())
      << "paste key_classes_markdown() into config/README.md:\n" << msgw::config::key_classes_markdown();
}

msgw::config::Config example() {
  auto r = msgw::config::load_file(std::string(MSGW_SOURCE_ROOT) + "/config/examples/spa-to-carrier.toml");
  EXPECT_TRUE(r.ok()) << errors_of(r);
  return *r.config;
}

std::string describe(const std::vector<msgw::config::ConfigChange>& changes) {
  std::string s;
  for (const auto& c : changes)
    s += c.key + " " + c.what + (c.live ? " live" : "") + (c.restart_control ? " restart-control" : "") +
         (c.restart_dataplane ? " restart-dataplane" : "") + "\n";
  return s;
}

TEST(ReloadPlan, LiveKeysApplyOthersKeepTheirRunningValue) {
  const auto running = example();
  auto file = running;
  file.sip.t1_ms = 250;
  file.sip.max_auth_failures = 9;
  file.sip.min_expires_s = 30;
  file.media.port_min = 20000;
  file.sip.listen.push_back({"0.0.0.0", 5070, true});
  file.dataplane.latch_packets = 7;
  file.instance.log_level = "debug";
  file.ports[1].address.addr += 1;
  auto plan = msgw::config::plan_reload(running, file);
  EXPECT_EQ(describe(plan.changes),
            "instance.log_level changed live restart-dataplane\n"
            "dataplane.latch_packets changed restart-dataplane\n"
            "sip.listen changed restart-control\n"
            "sip.max_auth_failures changed live\n"
            "sip.t1_ms changed live\n"
            "sip.min_expires_s changed live\n"
            "media.port_min changed live\n"
            "port[1].address changed restart-control restart-dataplane\n");
  EXPECT_EQ(plan.apply.sip.t1_ms, 250u);
  EXPECT_EQ(plan.apply.media.port_min, 20000u);
  EXPECT_EQ(plan.apply.instance.log_level, "debug");
  EXPECT_EQ(plan.apply.sip.listen, running.sip.listen);             // until msgw-control restarts
  EXPECT_EQ(plan.apply.dataplane.latch_packets, running.dataplane.latch_packets);
  EXPECT_EQ(plan.apply.ports[1].address, running.ports[1].address);  // until both restart
}

TEST(ReloadPlan, ObjectsAddedRemovedAndChangedByName) {
  const auto running = example();
  auto file = running;
  file.trunks[0].address = {"10.20.0.3", 5060, true};
  file.routes.clear();
  file.subscribers.push_back({.user = "new", .password = "p"});
  auto plan = msgw::config::plan_reload(running, file);
  EXPECT_EQ(describe(plan.changes),
            "subscriber[new] added live\n"
            "trunk[carrier].address changed live\n"
            "route[tollfree] removed live\n");
  EXPECT_TRUE(msgw::config::plan_reload(running, running).changes.empty());
}

}  // namespace

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
    ASSERT_FALSE(r.ok()) << bad;
    // At its line and column, as the other keys' value errors.
    EXPECT_NE(errors_of(r).find("bad.toml:3:18: sip.metrics_listen: '"), std::string::npos)
        << bad << "\n" << errors_of(r);
  }
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
source_limit_exempt = ["10.20.0.0/24", "192.0.2.7"]
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
  EXPECT_EQ(s.source_limit_exempt, (std::vector<std::string>{"10.20.0.0/24", "192.0.2.7"}));

  auto bad = load_fragment(R"([sip]
overload_queue_age_ms = 100
overload_resume_age_ms = 150
source_block_s = 0
source_table_size = 1
source_limit_exempt = ["10.0.0.0/40", "pbx.example"]
)", "bad.toml");
  ASSERT_FALSE(bad.ok());
  const std::string all = errors_of(bad);
  for (const char* want : {"sip.overload_resume_age_ms: is larger than overload_queue_age_ms", "sip.source_block_s",
                           "sip.source_table_size", "'10.0.0.0/40' is not an IPv4 address or prefix",
                           "'pbx.example' is not an IPv4 address or prefix"})
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
}

// A float where an integer belongs is an error, never a cast: toml++'s
// float-to-integer conversion of an out-of-range double is undefined
// behaviour (fuzz_config found it through worker_lcores).
TEST(Config, FloatWhereAnIntegerBelongsIsAnError) {
  auto r = load_fragment("[dataplane]\nworker_lcores = [1, 2.2e300]\nmemory_mb = 1e300\n", "f.toml");
  ASSERT_FALSE(r.ok());
  const std::string all = errors_of(r);
  EXPECT_NE(all.find("dataplane.worker_lcores: expected integers"), std::string::npos) << all;
  EXPECT_NE(all.find("dataplane.memory_mb: expected an integer"), std::string::npos) << all;
}
