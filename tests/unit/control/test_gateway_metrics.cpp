// SPDX-License-Identifier: GPL-3.0-or-later
// msgw-control's /metrics from a live Gateway (gateway_fixture.hpp): the
// call, its setup time on the gateway's clock, failures by cause, SIP by
// method and code, and the one table's rules (names, types, labels).
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "gateway_fixture.hpp"
#include "msgw/control/gateway_metrics.hpp"
#include "msgw/metrics/doc_table.hpp"

using namespace msgw;
using namespace msgw_test;
using control::Gateway;

namespace {

using GatewayMetricsTest = GatewayFixture<::testing::Test>;

std::string scrape(const Gateway& gw) {
  metrics::HttpServer::Stats http;
  http.ok = 1;
  return control::render_metrics(gw, http);
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(GatewayMetricsTable, NamesFollowPrometheusConventionsAndAreUnique) {
  std::set<std::string_view> names;
  for (const auto& f : control::metric_families()) {
    EXPECT_TRUE(metrics::valid_metric_name(f.name)) << f.name;
    EXPECT_TRUE(f.name.starts_with("msgw_")) << f.name;
    EXPECT_TRUE(names.insert(f.name).second) << "twice: " << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    EXPECT_EQ(f.type == metrics::Type::counter, f.name.ends_with("_total")) << f.name;
    if (f.type == metrics::Type::histogram) {
      EXPECT_TRUE(f.name.ends_with("_seconds")) << f.name;
    }
    for (auto k : metrics::label_keys(f)) EXPECT_TRUE(metrics::valid_label_name(k)) << f.name << " " << k;
  }
  // Generated from the lists, not re-listed: a gateway counter, a worker
  // counter, a device counter each made a family.
  EXPECT_TRUE(names.count("msgw_calls_attempted_total"));
  EXPECT_TRUE(names.count("msgw_dataplane_worker_rx_total"));
  EXPECT_TRUE(names.count("msgw_dataplane_port_rx_missed_total"));
}

TEST_F(GatewayMetricsTest, EveryFamilyIsWrittenInTableOrderWithoutMisuse) {
  metrics::Writer w;
  gw->write_metrics(w);
  EXPECT_EQ(w.errors(), 0u);
  const std::string text = scrape(*gw);
  size_t at = 0;
  for (const auto& f : control::metric_families()) {
    const size_t pos = text.find("# TYPE " + std::string(f.name) + " ");
    ASSERT_NE(pos, std::string::npos) << f.name;
    EXPECT_GE(pos, at) << f.name << " out of table order";
    at = pos;
  }
}

TEST_F(GatewayMetricsTest, AnsweredCallShowsActiveSetupTimeAndSipCounts) {
  auto t0 = Gateway::Clock::now();
  gw->now = [&] { return t0; };
  Msg inv = place_call("m1@10.10.0.2", spa_offer());
  inject("10.20.0.2", 5060, carrier_response(inv, 180, "Ringing", ""));
  take();
  // The callee answers 3 s after the INVITE arrived.
  gw->now = [&] { return t0 + std::chrono::milliseconds(3000); };
  inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
  ASSERT_TRUE(find(take(), "200"));

  const std::string text = scrape(*gw);
  EXPECT_TRUE(has_line(text, "msgw_calls_active 1")) << text;
  EXPECT_TRUE(has_line(text, "msgw_calls_in_state{state=\"answered\"} 1"));
  EXPECT_TRUE(has_line(text, "msgw_calls_attempted_total 1"));
  EXPECT_TRUE(has_line(text, "msgw_calls_answered_total 1"));
  EXPECT_TRUE(has_line(text, "msgw_call_setup_seconds_bucket{le=\"2.5\"} 0"));
  EXPECT_TRUE(has_line(text, "msgw_call_setup_seconds_bucket{le=\"5\"} 1"));
  EXPECT_TRUE(has_line(text, "msgw_call_setup_seconds_sum 3"));
  EXPECT_TRUE(has_line(text, "msgw_call_setup_seconds_count 1"));
  // The phone's INVITE twice (challenged, then with credentials).
  EXPECT_TRUE(has_line(text, "msgw_sip_requests_received_total{method=\"INVITE\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "msgw_sip_responses_received_total{code=\"180\"} 1"));
  EXPECT_TRUE(has_line(text, "msgw_sip_responses_received_total{code=\"200\"} 1"));
  EXPECT_TRUE(has_line(text, "msgw_sip_responses_sent_total{code=\"407\"} 1"));
  EXPECT_TRUE(has_line(text, "msgw_sip_responses_sent_total{code=\"200\"} 1"));
  EXPECT_TRUE(has_line(text, "msgw_metrics_requests_total{code=\"200\"} 1"));
  // The fixture's trunks are routable; no dataplane counters from the fake.
  EXPECT_TRUE(has_line(text, "msgw_trunk_health{trunk=\"carrier\",state=\"up\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "msgw_trunk_up{trunk=\"carrier\"} 1"));
  EXPECT_EQ(text.find("msgw_dataplane_worker_rx_total{"), std::string::npos);
}

TEST_F(GatewayMetricsTest, FailuresAreCountedByCause) {
  inject("10.10.0.2", 5062, invite("nr1", "", spa_offer(), "2125551212"));
  auto out = take();
  std::string auth = answer_challenge(*find(out, "407"), "INVITE", "sip:2125551212@10.10.0.1");
  inject("10.10.0.2", 5062, invite("nr1", auth, spa_offer(), "2125551212", 103));
  ASSERT_TRUE(find(take(), "404"));
  const std::string text = scrape(*gw);
  EXPECT_TRUE(has_line(text, "msgw_call_failures_total{cause=\"no_route\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "msgw_call_failures_total{cause=\"no_trunk_available\"} 0"));
  EXPECT_TRUE(has_line(text, "msgw_calls_failed_total 1"));
}


// The table in metrics/README.md is generated from the one definition:
// MSGW_UPDATE_DOCS=1 rewrites it (then review the diff and commit).
TEST(GatewayMetricsTable, ReadmeTableIsTheGeneratedOne) {
  const std::string path = std::string(MSGW_SOURCE_ROOT) + "/metrics/README.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream buf;
  buf << in.rdbuf();
  std::string doc = buf.str();
  const std::string want = metrics::doc_table(control::metric_families());
  if (std::getenv("MSGW_UPDATE_DOCS") != nullptr) {
    const size_t b = doc.find(metrics::kDocBegin), e = doc.find(metrics::kDocEnd);
    ASSERT_TRUE(b != std::string::npos && e != std::string::npos && b < e);
    const size_t start = doc.find('\n', b) + 1;
    doc.replace(start, e - start, want);
    std::ofstream(path) << doc;
  }
  EXPECT_EQ(metrics::doc_table_in(doc), want) << "metrics/README.md's table is stale: run this test with "
                                                 "MSGW_UPDATE_DOCS=1";
}

}  // namespace
