// SPDX-License-Identifier: GPL-3.0-or-later
// Loading a file: defaults, [instance], [dataplane] and [[port]], errors at
// their file:line:column, and the whole-file checks the daemons rely on at
// start ([sip] and its element sections: test_config_sip.cpp; reload:
// test_config_reload.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "config_test_support.hpp"

namespace {

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
  EXPECT_EQ(r.errors.size(), 3u) << errors_of(r);
  expect_errors(r, {"x.toml:2:17: dataplane.latch_packets: value 0 out of range [1, 100]",
                    "dataplane.hugepages: 'maybe' is not one of: auto, on, off",
                    "x.toml:4:1: dataplane.flow_capacty: unknown key"});
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
  expect_errors(r, {"p.toml:4:11: port[0].address: '10.0.0.300/24' is not an IPv4 address/prefix",
                    "port[1].address: '10.0.0.2/33'",
                    "port[1].name: duplicate port name 'a'",
                    "port[2].name: required key is missing"});
}

TEST(Config, WorkerMayNotBeMainLcore) {
  auto r = load_fragment("[dataplane]\nmain_lcore = 1\nworker_lcores = [1, 2]\n", "l.toml");
  expect_errors(r, {"lcore 1 is also the main lcore"});
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

// Found by fuzz_config: toml++'s debug assertion aborted on a bad table key.
TEST(Config, BadTableKeyIsASyntaxErrorNotAnAbort) {
  auto r = load_fragment("[?a]\nx = 1\n", "k.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].key, "(syntax)");
  EXPECT_EQ(r.errors[0].line, 1u);
}

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

// A float where an integer belongs is an error, never a cast: toml++'s
// float-to-integer conversion of an out-of-range double is undefined
// behaviour (fuzz_config found it through worker_lcores).
TEST(Config, FloatWhereAnIntegerBelongsIsAnError) {
  auto r = load_fragment("[dataplane]\nworker_lcores = [1, 2.2e300]\nmemory_mb = 1e300\n", "f.toml");
  expect_errors(r, {"dataplane.worker_lcores: expected integers", "dataplane.memory_mb: expected an integer"});
}

// ---- Everything the daemons refuse at start is caught here, all at once,
// each at its key's line and column.

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

TEST(ConfigCheck, DeploymentNeedsPortsAccessPortAndListen) {
  auto none = load_string("", "e.toml");
  expect_errors(none, {"e.toml:0:0: port: at least one [[port]] is needed",
                       "sip.listen: msgw-control needs at least one address"});
  // The dataplane alone needs ports, not [sip].
  auto dp = load_string(kPorts, "d.toml", msgw::config::Scope::dataplane);
  EXPECT_TRUE(dp.ok()) << errors_of(dp);

  auto no_access = load_string(std::string(kPorts).replace(std::string(kPorts).find("address = \"10.10"), 0,
                                                          "role = \"trunk\"\n") +
                                   "[sip]\nlisten = [\"10.10.0.1\"]\n",
                               "a.toml");
  expect_errors(no_access, {"a.toml:4:8: port[0].role: no [[port]] has role = \"access\""});

  auto good = load_string(std::string(kPorts) + "[sip]\nlisten = [\"10.10.0.1\", \"0.0.0.0:5080\"]\n", "g.toml");
  EXPECT_TRUE(good.ok()) << errors_of(good);
}

TEST(ConfigCheck, ListenAddressesParsedBindableAndOurs) {
  auto r = load_string(std::string(kPorts) + R"([sip]
listen = ["10.10.0.1", "gw.example.net", "10.10.0.1:5060", "10.30.0.1:5060", "10.10.0.1:70000"]
)", "l.toml");
  expect_errors(r, {"l.toml:11:24: sip.listen: 'gw.example.net' is not an IPv4 address[:port]",
                    "l.toml:11:42: sip.listen: '10.10.0.1:5060' is listed twice",
                    "l.toml:11:60: sip.listen: '10.30.0.1' is no [[port]] address",
                    "l.toml:11:78: sip.listen: '10.10.0.1:70000' is not an IPv4"});
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
  expect_errors(r, {"n.toml:2:8: trunk[0].name: must not be empty",
                    "n.toml:3:11: trunk[0].address: '10.20.0.300' is neither",
                    "n.toml:5:8: route[0].name: must not be empty",
                    "n.toml:7:10: route[0].trunks: must name at least one",
                    "n.toml:9:8: subscriber[0].user: must not be empty",
                    "n.toml:12:8: port[0].name: must not be empty",
                    "n.toml:13:10: port[0].device: must not be empty"});
}

TEST(ConfigCheck, InstanceNameMustBeSafeAsAFileName) {
  for (const char* bad : {"../etc", "a/b", "", ".hidden", "-x", "a b"}) {
    auto r = load_fragment(std::string("[instance]\nname = \"") + bad + "\"\n", "i.toml");
    SCOPED_TRACE(bad);
    expect_errors(r, {"i.toml:2:8: instance.name: "});
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
  expect_errors(r, {"x.toml:2:13: dataplane.memory_mb: expected an integer",
                    "x.toml:8:8: subscriber[1].user: duplicate user 'a'",
                    "x.toml:10:9: subscriber[1].dids[0]: DID '2' is used twice",
                    "x.toml:14:8: trunk[0].port: no [[port]] named 'nope'",
                    "x.toml:16:8: trunk[1].name: duplicate trunk 't'",
                    "x.toml:21:16: route[0].trunks[1]: no [[trunk]] named 'missing'",
                    "x.toml:23:8: route[1].name: duplicate route 'r'"});
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
  expect_errors(r, {"p.toml:2:12: media.port_min: must be even",
                    "p.toml:3:12: media.port_max: must be larger",
                    "p.toml:5:9: sip.realm: must not be empty",
                    "p.toml:6:17: sip.min_expires_s: is larger",
                    "p.toml:11:15: subscriber[0].dids: 'x' is not a number",
                    "p.toml:12:19: subscriber[0].codecs: unknown codec 'OPUS'",
                    "p.toml:14:24: dataplane.worker_lcores: lcore 1 is listed twice"});
  auto many = load_fragment("[dataplane]\nworker_lcores = [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n", "w.toml");
  expect_errors(many, {"w.toml:2:17: dataplane.worker_lcores: msgw-dataplane runs at most 16 workers"});
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
