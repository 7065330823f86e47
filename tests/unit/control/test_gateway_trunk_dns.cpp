// SPDX-License-Identifier: GPL-3.0-or-later
// A trunk given by name through the Gateway: its SRV targets become the
// call's successive targets, an unresolved name is skipped and counted, and
// inbound INVITEs from its resolved addresses are trusted as the trunk's.
#include <cstdio>

#include "gateway_fixture.hpp"
#include "msgw/control/trunk_resolver.hpp"

using namespace msgw;
using namespace msgw_test;

namespace {

// Answers at once from a table; names not in it: no records.
class TableDns final : public control::DnsQuerier {
 public:
  void query_srv(const std::string& name, std::function<void(control::SrvAnswer)> done) override {
    control::SrvAnswer a;
    a.status = srv.count(name) ? control::DnsStatus::ok : control::DnsStatus::no_records;
    if (a.status == control::DnsStatus::ok) a.records = srv[name];
    a.ttl_s = 60;
    done(a);
  }
  void query_a(const std::string& name, std::function<void(control::AAnswer)> done) override {
    control::AAnswer a;
    a.status = addr.count(name) ? control::DnsStatus::ok : control::DnsStatus::no_records;
    if (a.status == control::DnsStatus::ok) a.addresses = addr[name];
    a.ttl_s = 60;
    done(a);
  }
  std::map<std::string, std::vector<control::SrvRecord>> srv;
  std::map<std::string, std::vector<uint32_t>> addr;
};

uint32_t ip(const char* t) { return *config::parse_ipv4(t); }

class TrunkDnsTest : public GatewayFixture<::testing::Test> {
 protected:
  void SetUp() override {
    std::string text = kConfig;
    const std::string literal = "address = \"10.20.0.2:5060\"";
    text.replace(text.find(literal), literal.size(), "address = \"sip.carrier.example\"");
    config_text = text;
    GatewayFixture::SetUp();
    resolver = std::make_unique<control::TrunkResolver>(
        dns, [] { return control::TrunkResolver::Clock::now(); }, [](uint32_t) { return 0u; });
    gw->set_resolver(resolver.get());
  }
  void TearDown() override {
    GatewayFixture::TearDown();  // the gateway first: it points at the resolver
    resolver.reset();
  }
  void serve_carrier() {
    dns.srv["_sip._udp.sip.carrier.example"] = {{20, 0, 5070, "b.carrier.example", {}},
                                                {10, 0, 5060, "a.carrier.example", {}}};
    dns.addr["a.carrier.example"] = {ip("10.20.0.2")};
    dns.addr["b.carrier.example"] = {ip("10.20.0.4")};
    resolver->tick();
  }
  TableDns dns;
  std::unique_ptr<control::TrunkResolver> resolver;
};

TEST_F(TrunkDnsTest, CallTriesTheSrvTargetsInPriorityOrderThenTheNextTrunk) {
  serve_carrier();
  Msg inv = place_call("dns1@10.10.0.2", spa_offer());
  EXPECT_EQ(inv.dst.str(), "10.20.0.2:5060");
  EXPECT_NE(inv.raw.find("INVITE sip:18005551212@sip.carrier.example SIP/2.0"), std::string::npos) << inv.raw;
  inject("10.20.0.2", 5060, carrier_response(inv, 503, "Service Unavailable", ""));
  auto out = take();
  const Msg* second = find(out, "INVITE");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->dst.str(), "10.20.0.4:5070");  // the carrier's priority-20 target
  inject("10.20.0.4", 5070, carrier_response(*second, 503, "Service Unavailable", ""));
  out = take();
  const Msg* third = find(out, "INVITE");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->dst.str(), "10.20.0.3:5060");  // then the route's backup trunk
  EXPECT_EQ(gw->stats().failovers, 2u);
  EXPECT_EQ(gw->stats().trunks_unresolved, 0u);
}

TEST_F(TrunkDnsTest, UnresolvedNameIsSkippedAndCounted) {
  resolver->tick();  // no records for the name yet
  Msg inv = place_call("dns2@10.10.0.2", spa_offer());
  EXPECT_EQ(inv.dst.str(), "10.20.0.3:5060");  // straight to the backup
  EXPECT_EQ(gw->stats().trunks_unresolved, 1u);
  EXPECT_EQ(manage(*gw, {{"cmd", "show"}, {"what", "stats"}})["data"]["trunks_unresolved"], 1);
}

TEST_F(TrunkDnsTest, InboundFromAResolvedAddressIsTheTrunks) {
  serve_carrier();
  std::string sdp = sdp_offer("10.20.0.4", 7000, "0", {"rtpmap:0 PCMU/8000"});
  auto inv = [&](const std::string& id) {
    return "INVITE sip:15559999999@10.20.0.1 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 10.20.0.4:5070;branch=z9hG4bK-" + id + "\r\n"
           "From: <sip:2125551212@sip.carrier.example>;tag=c1\r\nTo: <sip:15559999999@10.20.0.1>\r\n"
           "Call-ID: " + id + "\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:2125551212@10.20.0.4:5070>\r\nContent-Type: application/sdp\r\n"
           "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
  };
  inject("10.20.0.4", 5070, inv("dnsin1"));
  auto out = take();
  EXPECT_TRUE(find(out, "404"));   // the trunk's call, to a DID nobody has
  EXPECT_FALSE(find(out, "407"));  // not challenged: trusted by its resolved address
  // An address the name does not resolve to is a stranger.
  inject("10.20.0.9", 5060, inv("dnsin2"));
  EXPECT_TRUE(find(take(), "407"));
}

}  // namespace
