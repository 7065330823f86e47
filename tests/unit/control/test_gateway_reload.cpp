// SPDX-License-Identifier: GPL-3.0-or-later
// Reload of each class of key (config/src/reload.cpp): live ones applied to
// what starts after the reload, calls in progress keep theirs; restart ones
// reported per daemon and kept as they run; a file whose live part does not
// fit the running rest refused.
#include <fstream>
#include <set>

#include "gateway_fixture.hpp"
#include "msgw/control/port_allocator.hpp"

using namespace msgw;
using namespace msgw_test;

namespace {

using ReloadTest = GatewayFixture<::testing::Test>;

// The fixture's file with `edit` applied (text replaced), as SetUp wrote it.
void rewrite(const std::filesystem::path& dir, const std::vector<std::pair<std::string, std::string>>& edits) {
  std::string full = kConfig;
  full.insert(full.find("[media]"), "state_db = \"" + (dir / "state.db").string() + "\"\n");
  for (const auto& [from, to] : edits) {
    auto at = full.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    full.replace(at, from.size(), to);
  }
  std::ofstream(dir / "gw.toml") << full;
}

uint16_t audio_port(const std::string& sdp) {
  auto at = sdp.find("m=audio ");
  return at == std::string::npos ? 0 : static_cast<uint16_t>(std::stoi(sdp.substr(at + 8)));
}

TEST_F(ReloadTest, LiveKeysApplyToWhatStartsAfterAndTheCallInProgressSurvives) {
  auto [inv, ok] = answered_call("live1@10.10.0.2", spa_offer());
  const uint16_t old_port = audio_port(inv.body());
  ASSERT_GE(old_port, 16384);
  ASSERT_LE(old_port, 16483);
  take();

  rewrite(dir, {{"max_auth_failures = 3", "max_auth_failures = 7\nt1_ms = 250\nmin_expires_s = 120"},
                {"port_min = 16384\nport_max = 16483", "port_min = 20000\nport_max = 20099"},
                {"address = \"10.20.0.2:5060\"", "address = \"10.20.0.4:5060\""},
                {"[[route]]\nname = \"tollfree\"\nprefix = \"1800\"", "[[route]]\nname = \"intl\"\nprefix = \"011\""}});
  auto j = manage(*gw, {{"cmd", "reload"}});
  ASSERT_TRUE(j["ok"].get<bool>()) << j.dump();
  const auto& applied = j["data"]["applied"];
  for (const char* key : {"sip.max_auth_failures", "sip.t1_ms", "sip.min_expires_s", "media.port_min",
                          "media.port_max", "trunk[carrier].address", "route[tollfree] (removed)",
                          "route[intl] (added)"})
    EXPECT_NE(std::find(applied.begin(), applied.end(), key), applied.end()) << key << " " << j.dump();
  EXPECT_TRUE(j["data"]["restart_msgw_control"].empty()) << j.dump();
  EXPECT_TRUE(j["data"]["restart_msgw_dataplane"].empty()) << j.dump();

  EXPECT_EQ(stack->config().timers.t1, std::chrono::milliseconds(250));
  EXPECT_EQ(gw->registrar().config().min_expires, 120u);
  EXPECT_EQ(gw->config().sip.max_auth_failures, 7u);

  // The removed route routes no more; the new one to the moved trunk, from the new port range.
  inject("10.10.0.2", 5062, invite("gone1", "", spa_offer(), "18005551212"));
  auto out = take();
  std::string auth = answer_challenge(*find(out, "407"), "INVITE", "sip:18005551212@10.10.0.1");
  inject("10.10.0.2", 5062, invite("gone1", auth, spa_offer(), "18005551212", 103));
  out = take();
  EXPECT_TRUE(find(out, "404"));
  EXPECT_FALSE(find(out, "INVITE"));
  Msg inv2 = place_call("new1@10.10.0.2", spa_offer(), "0114420");
  ASSERT_TRUE(inv2.m);
  EXPECT_EQ(inv2.dst.str(), "10.20.0.4:5060");
  EXPECT_GE(audio_port(inv2.body()), 20000);
  EXPECT_LE(audio_port(inv2.body()), 20099);

  // The call in progress still ends normally: BYE from the phone reaches the
  // carrier where the call was placed, and its port leaves the pool.
  inject("10.10.0.2", 5062, phone_request("BYE", "live1@10.10.0.2", ok, 104));
  out = take();
  const Msg* bye = find(out, "BYE");
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->dst.str(), "10.20.0.2:5060");
}

TEST_F(ReloadTest, RestartKeysAreReportedPerDaemonAndKeptAsTheyRun) {
  rewrite(dir, {{"listen = [\"10.10.0.1:5060\", \"10.20.0.1:5060\"]", "listen = [\"10.10.0.1:5070\", \"10.20.0.1:5060\"]"},
                {"address = \"10.20.0.1/24\"", "address = \"10.20.0.9/24\""},
                {"[sip]", "[dataplane]\nlatch_packets = 5\n[sip]"}});
  // The listen address must be the port's: move it with it.
  {
    std::ifstream in(dir / "gw.toml");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    text.replace(text.find("\"10.20.0.1:5060\""), 16, "\"10.20.0.9:5060\"");
    std::ofstream(dir / "gw.toml") << text;
  }
  auto j = manage(*gw, {{"cmd", "reload"}});
  ASSERT_TRUE(j["ok"].get<bool>()) << j.dump();
  EXPECT_EQ(j["data"]["restart_msgw_control"], nlohmann::json({"sip.listen", "port[1].address"})) << j.dump();
  EXPECT_EQ(j["data"]["restart_msgw_dataplane"], nlohmann::json({"dataplane.latch_packets", "port[1].address"}))
      << j.dump();
  EXPECT_TRUE(j["data"]["applied"].empty()) << j.dump();
  EXPECT_EQ(gw->config().sip.listen[0].port, 5060);
  EXPECT_EQ(config::format_ipv4(gw->config().ports[1].address.addr), "10.20.0.1");
  EXPECT_EQ(gw->config().dataplane.latch_packets, 3u);
  // Calls go on with the running ports.
  Msg inv = place_call("rs1@10.10.0.2", spa_offer());
  EXPECT_NE(inv.body().find("c=IN IP4 10.20.0.1"), std::string::npos) << inv.body();
}

TEST_F(ReloadTest, LivePartThatNeedsARestartedPortIsRefused) {
  rewrite(dir, {{"name = \"trunk\"\ndevice", "name = \"cside\"\ndevice"},
                {"codecs = [\"G729\"]\nport = \"trunk\"", "codecs = [\"G729\"]\nport = \"cside\""},
                {"codecs = [\"G729\", \"PCMU\"]\nport = \"trunk\"", "codecs = [\"G729\", \"PCMU\"]\nport = \"cside\""}});
  auto j = manage(*gw, {{"cmd", "reload"}});
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_NE(j["error"].get<std::string>().find("no [[port]] named 'cside'"), std::string::npos) << j.dump();
  EXPECT_EQ(gw->config().trunks[0].port, "trunk");
}

TEST(PortAllocatorRange, NewRangeForNewCallsPortsInUseKept) {
  control::PortAllocator p(16384, 16391);  // 4 pairs
  auto a = p.allocate(), b = p.allocate();
  ASSERT_TRUE(a && b);
  p.set_range(16388, 16395);  // a (16384) and b (16386) now outside, still in use
  EXPECT_EQ(p.in_use(), 2u);
  std::set<uint16_t> got;
  while (auto n = p.allocate()) got.insert(*n);
  EXPECT_EQ(got, (std::set<uint16_t>{16388, 16390, 16392, 16394}));
  EXPECT_TRUE(p.release(*a));   // outside the range: leaves the pool
  EXPECT_FALSE(p.release(*a));  // and only once
  EXPECT_EQ(p.in_use(), 5u);
  EXPECT_FALSE(p.allocate());

  control::PortAllocator q(16384, 16391);
  auto x = q.allocate();
  q.set_range(16384, 16387);  // x stays inside and in use
  auto y = q.allocate();
  ASSERT_TRUE(y);
  EXPECT_NE(*y, *x);
  EXPECT_FALSE(q.allocate());
  EXPECT_TRUE(q.release(*x));
  EXPECT_EQ(q.allocate(), x);
}

}  // namespace
