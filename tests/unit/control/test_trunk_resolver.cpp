// SPDX-License-Identifier: GPL-3.0-or-later
// Trunks by name: RFC 2782 order with an injected random draw, and the
// cache's TTL, refresh and keep-last-good logic with an injected clock and a
// fake DNS (no sockets, no sleeps).
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>

#include "msgw/config/config.hpp"
#include "msgw/control/trunk_resolver.hpp"

using namespace msgw::control;
using namespace std::chrono_literals;

namespace {

uint32_t ip(const char* text) { return *msgw::config::parse_ipv4(text); }

SrvRecord srv(uint16_t prio, uint16_t weight, const std::string& target, uint16_t port = 5060) {
  SrvRecord r;
  r.priority = prio;
  r.weight = weight;
  r.port = port;
  r.target = target;
  return r;
}

std::vector<std::string> names(const std::vector<SrvRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.target);
  return out;
}

// Queries wait until the test answers them.
class FakeDns final : public DnsQuerier {
 public:
  struct Query {
    std::string name;
    bool srv;
    std::function<void(SrvAnswer)> srv_done;
    std::function<void(AAnswer)> a_done;
  };
  void query_srv(const std::string& name, std::function<void(SrvAnswer)> done) override {
    queries.push_back({name, true, std::move(done), {}});
  }
  void query_a(const std::string& name, std::function<void(AAnswer)> done) override {
    queries.push_back({name, false, {}, std::move(done)});
  }
  // Answers the oldest query, which must be for `name`.
  void answer_srv(const std::string& name, SrvAnswer a) {
    ASSERT_FALSE(queries.empty());
    ASSERT_EQ(queries.front().name, name);
    ASSERT_TRUE(queries.front().srv);
    auto q = std::move(queries.front());
    queries.pop_front();
    q.srv_done(std::move(a));
  }
  void answer_a(const std::string& name, AAnswer a) {
    ASSERT_FALSE(queries.empty());
    ASSERT_EQ(queries.front().name, name);
    ASSERT_FALSE(queries.front().srv);
    auto q = std::move(queries.front());
    queries.pop_front();
    q.a_done(std::move(a));
  }
  std::deque<Query> queries;
};

SrvAnswer srv_ok(std::vector<SrvRecord> rs, uint32_t ttl) {
  SrvAnswer a;
  a.status = DnsStatus::ok;
  a.records = std::move(rs);
  a.ttl_s = ttl;
  return a;
}

AAnswer a_ok(std::vector<uint32_t> addrs, uint32_t ttl) {
  AAnswer a;
  a.status = DnsStatus::ok;
  a.addresses = std::move(addrs);
  a.ttl_s = ttl;
  return a;
}

template <class Answer>
Answer failed(const char* why) {
  Answer a;
  a.status = DnsStatus::failed;
  a.error = why;
  return a;
}

struct ResolverTest : ::testing::Test {
  FakeDns dns;
  TrunkResolver::Clock::time_point t0 = TrunkResolver::Clock::time_point{} + 1000h;
  TrunkResolver::Clock::time_point now = t0;
  // The draw picks the smallest value: the first candidate in the running sum.
  TrunkResolver resolver{dns, [this] { return now; }, [](uint32_t) { return 0u; }};
  TrunkResolver::Name carrier{"sip.carrier.example", false, std::nullopt};

  void resolve_two_targets(uint32_t srv_ttl = 60, uint32_t a_ttl = 30) {
    resolver.tick();
    dns.answer_srv("_sip._udp.sip.carrier.example",
                   srv_ok({srv(20, 0, "b.carrier.example", 5070), srv(10, 0, "a.carrier.example")}, srv_ttl));
    dns.answer_a("b.carrier.example", a_ok({ip("10.20.0.3")}, a_ttl));
    dns.answer_a("a.carrier.example", a_ok({ip("10.20.0.2")}, a_ttl + 100));
  }
};

}  // namespace

TEST(OrderSrv, AscendingPriority) {
  auto out = order_srv({srv(30, 5, "c"), srv(10, 5, "a"), srv(20, 5, "b")}, [](uint32_t) { return 0u; });
  EXPECT_EQ(names(out), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(OrderSrv, WeightedDrawWithinAPriority) {
  // Weights 10 and 30 (sum 40): a draw of 0..10 picks the first, 11..40 the
  // second (running sum >= draw, RFC 2782).
  std::vector<SrvRecord> rs{srv(10, 10, "light"), srv(10, 30, "heavy"), srv(20, 0, "backup")};
  std::vector<uint32_t> draws{10};
  auto scripted = [&](uint32_t n) {
    uint32_t v = draws.empty() ? 0 : draws.front();
    if (!draws.empty()) draws.erase(draws.begin());
    EXPECT_LE(v, n);
    return v;
  };
  EXPECT_EQ(names(order_srv(rs, scripted)), (std::vector<std::string>{"light", "heavy", "backup"}));
  draws = {11};
  EXPECT_EQ(names(order_srv(rs, scripted)), (std::vector<std::string>{"heavy", "light", "backup"}));
  draws = {40};
  EXPECT_EQ(names(order_srv(rs, scripted)), (std::vector<std::string>{"heavy", "light", "backup"}));
}

TEST(OrderSrv, ZeroWeightOnlyOnAZeroDrawOrWhenAlone) {
  std::vector<SrvRecord> rs{srv(10, 50, "weighted"), srv(10, 0, "zero")};
  auto always = [](uint32_t v) { return [v](uint32_t n) { return std::min(v, n); }; };
  EXPECT_EQ(names(order_srv(rs, always(0))), (std::vector<std::string>{"zero", "weighted"}));
  EXPECT_EQ(names(order_srv(rs, always(1))), (std::vector<std::string>{"weighted", "zero"}));
}

TEST(OrderSrv, FirstPicksFollowTheWeights) {
  // A seeded uniform draw: over 20,000 orders the first target is chosen in
  // proportion to its weight (1:3:6).
  std::mt19937 rng(12345);
  auto draw = [&](uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n)(rng); };
  std::vector<SrvRecord> rs{srv(1, 10, "a"), srv(1, 30, "b"), srv(1, 60, "c"), srv(2, 100, "z")};
  std::map<std::string, int> first;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    auto out = order_srv(rs, draw);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out.back().target, "z");
    ++first[out.front().target];
  }
  EXPECT_NEAR(first["a"] / double(n), 0.10, 0.015);
  EXPECT_NEAR(first["b"] / double(n), 0.30, 0.015);
  EXPECT_NEAR(first["c"] / double(n), 0.60, 0.015);
}

TEST_F(ResolverTest, NoAnswerYetGivesNoTargets) {
  resolver.track({carrier});
  EXPECT_TRUE(resolver.targets(carrier).empty());
  EXPECT_EQ(resolver.next_timeout_ms(), 0);  // due at once
  resolver.tick();
  ASSERT_EQ(dns.queries.size(), 1u);
  EXPECT_EQ(dns.queries.front().name, "_sip._udp.sip.carrier.example");
  EXPECT_TRUE(resolver.targets(carrier).empty());
  EXPECT_EQ(resolver.next_timeout_ms(), -1);  // in flight: nothing to time
}

TEST_F(ResolverTest, SrvTargetsInPriorityOrderWithTheirAddresses) {
  resolver.track({carrier});
  resolve_two_targets();
  auto t = resolver.targets(carrier);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0], (TrunkAddress{ip("10.20.0.2"), 5060}));
  EXPECT_EQ(t[1], (TrunkAddress{ip("10.20.0.3"), 5070}));
  EXPECT_TRUE(resolver.has_address(carrier, ip("10.20.0.3")));
  EXPECT_FALSE(resolver.has_address(carrier, ip("10.20.0.4")));
}

TEST_F(ResolverTest, TcpTrunkAsksForTcpSrv) {
  TrunkResolver::Name tcp{"sip.carrier.example", true, std::nullopt};
  resolver.track({tcp});
  resolver.tick();
  ASSERT_EQ(dns.queries.size(), 1u);
  EXPECT_EQ(dns.queries.front().name, "_sip._tcp.sip.carrier.example");
}

TEST_F(ResolverTest, ExplicitPortMeansNoSrv) {
  TrunkResolver::Name named{"sip.carrier.example.", false, 5080};
  resolver.track({named});
  resolver.tick();
  dns.answer_a("sip.carrier.example", a_ok({ip("10.20.0.9"), ip("10.20.0.8")}, 60));
  EXPECT_TRUE(dns.queries.empty());
  auto t = resolver.targets(named);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0], (TrunkAddress{ip("10.20.0.9"), 5080}));
  EXPECT_EQ(t[1], (TrunkAddress{ip("10.20.0.8"), 5080}));
}

TEST_F(ResolverTest, NoSrvFallsBackToTheNamesARecordsOnPort5060) {
  resolver.track({carrier});
  resolver.tick();
  SrvAnswer none;
  none.status = DnsStatus::no_records;
  dns.answer_srv("_sip._udp.sip.carrier.example", none);
  dns.answer_a("sip.carrier.example", a_ok({ip("10.20.0.7")}, 60));
  auto t = resolver.targets(carrier);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0], (TrunkAddress{ip("10.20.0.7"), 5060}));
}

TEST_F(ResolverTest, RefreshedBeforeTheSmallestTtlExpires) {
  resolver.track({carrier});
  resolve_two_targets(/*srv_ttl=*/60, /*a_ttl=*/40);  // the answer lives 40 s
  EXPECT_EQ(resolver.next_timeout_ms(), 30000);        // refresh at 3/4 of it
  now = t0 + 29s;
  resolver.tick();
  EXPECT_TRUE(dns.queries.empty());
  now = t0 + 30s;
  resolver.tick();
  ASSERT_EQ(dns.queries.size(), 1u);
  // While the refresh is in flight the old answer is used.
  EXPECT_EQ(resolver.targets(carrier).size(), 2u);
  // The new answer replaces it: one target left.
  dns.answer_srv("_sip._udp.sip.carrier.example", srv_ok({srv(10, 0, "a.carrier.example")}, 60));
  dns.answer_a("a.carrier.example", a_ok({ip("10.20.0.5")}, 60));
  auto t = resolver.targets(carrier);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].ip, ip("10.20.0.5"));
  EXPECT_EQ(resolver.next_timeout_ms(), 45000);
}

TEST_F(ResolverTest, KeepsTheLastGoodAnswerWhenTheServerStopsAnswering) {
  resolver.track({carrier});
  resolve_two_targets(10, 10);
  now = t0 + 8s;  // past 3/4 of 10 s
  resolver.tick();
  dns.answer_srv("_sip._udp.sip.carrier.example", failed<SrvAnswer>("Timeout while contacting DNS servers"));
  EXPECT_EQ(resolver.targets(carrier).size(), 2u);
  EXPECT_EQ(resolver.next_timeout_ms(), int(std::chrono::milliseconds(TrunkResolver::kRetry).count()));
  now = t0 + 60s;  // long past the TTL: still the last good answer, still retried
  EXPECT_EQ(resolver.targets(carrier).size(), 2u);
  resolver.tick();
  ASSERT_EQ(dns.queries.size(), 1u);
  // One SRV target's A query failing while the other answers: the answer
  // is the part that resolved.
  dns.answer_srv("_sip._udp.sip.carrier.example",
                 srv_ok({srv(10, 0, "a.carrier.example"), srv(20, 0, "b.carrier.example")}, 60));
  dns.answer_a("a.carrier.example", failed<AAnswer>("Timeout"));
  dns.answer_a("b.carrier.example", a_ok({ip("10.20.0.3")}, 60));
  auto t = resolver.targets(carrier);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].ip, ip("10.20.0.3"));
}

TEST_F(ResolverTest, ANameThatStopsExistingIsDropped) {
  resolver.track({carrier});
  resolve_two_targets();
  now = t0 + 60s;
  resolver.tick();
  SrvAnswer none;
  none.status = DnsStatus::no_records;
  dns.answer_srv("_sip._udp.sip.carrier.example", none);
  AAnswer nx;
  nx.status = DnsStatus::no_records;
  dns.answer_a("sip.carrier.example", nx);
  EXPECT_TRUE(resolver.targets(carrier).empty());
  // A definite "no such name" is asked again later than a silent server.
  EXPECT_EQ(resolver.next_timeout_ms(), int(std::chrono::milliseconds(TrunkResolver::kNegativeRetry).count()));
}

TEST_F(ResolverTest, TinyTtlIsBoundedAndLateAnswersForDroppedNamesIgnored) {
  resolver.track({carrier});
  resolve_two_targets(0, 0);
  EXPECT_EQ(resolver.next_timeout_ms(), 750);  // kMinTtl 1 s, refreshed at 3/4
  now = t0 + 1s;
  resolver.tick();
  ASSERT_EQ(dns.queries.size(), 1u);
  resolver.track({});  // reload without the trunk
  dns.answer_srv("_sip._udp.sip.carrier.example", srv_ok({srv(1, 0, "x")}, 60));
  EXPECT_TRUE(dns.queries.empty());  // no A query for a dropped name
  EXPECT_TRUE(resolver.targets(carrier).empty());
  EXPECT_EQ(resolver.next_timeout_ms(), -1);
}

TEST_F(ResolverTest, OrderIsDrawnPerCall) {
  std::deque<uint32_t> draws{0, 0, 100, 0};
  TrunkResolver r{dns, [this] { return now; }, [&](uint32_t n) {
                    uint32_t v = std::min(draws.front(), n);
                    draws.pop_front();
                    return v;
                  }};
  r.track({carrier});
  r.tick();
  dns.answer_srv("_sip._udp.sip.carrier.example",
                 srv_ok({srv(10, 50, "a"), srv(10, 50, "b")}, 60));
  dns.answer_a("a", a_ok({ip("10.0.0.1")}, 60));
  dns.answer_a("b", a_ok({ip("10.0.0.2")}, 60));
  auto first = r.targets(carrier);   // draw 0 of 100: a first
  auto second = r.targets(carrier);  // draw 100 of 100: b first
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(first[0].ip, ip("10.0.0.1"));
  EXPECT_EQ(second[0].ip, ip("10.0.0.2"));
}
