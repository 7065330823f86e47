// SPDX-License-Identifier: GPL-3.0-or-later
// The packet-rate test's arithmetic: which flow each packet went to (the
// sender's round over the flows, checked against a simulation of it), the
// per-flow loss of a trial where some flows were never programmed, the
// flow a returning packet's port names, the latency percentiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "latency_match.hpp"
#include "packet_rate_count.hpp"

using namespace msgw::loadtest;

namespace {

// What the sender does, packet by packet (packet_rate_path.cpp).
std::vector<std::uint64_t> simulate(std::uint64_t sent, std::uint32_t flows, bool transcoded) {
  std::vector<std::uint64_t> by_flow(flows, 0);
  for (std::uint64_t k = 0; k < sent; ++k) ++by_flow[transcoded ? (k / 2) % flows : k % flows];
  return by_flow;
}

}  // namespace

TEST(PacketRateCount, SentToFlowMatchesTheSendersRound) {
  for (bool transcoded : {false, true})
    for (std::uint32_t flows : {1u, 3u, 7u, 20u})
      for (std::uint64_t sent : {0ull, 1ull, 2ull, 5ull, 39ull, 40ull, 41ull, 1001ull}) {
        const auto sim = simulate(sent, flows, transcoded);
        std::uint64_t total = 0;
        for (std::uint32_t f = 0; f < flows; ++f) {
          EXPECT_EQ(packet_rate_sent_to_flow(sent, flows, f, transcoded), sim[f])
              << "transcoded " << transcoded << " flows " << flows << " sent " << sent << " flow " << f;
          total += packet_rate_sent_to_flow(sent, flows, f, transcoded);
        }
        EXPECT_EQ(total, sent);
      }
  EXPECT_EQ(packet_rate_sent_to_flow(10, 0, 0, false), 0u);
  EXPECT_EQ(packet_rate_sent_to_flow(10, 4, 4, false), 0u);
}

TEST(PacketRateCount, FlowsNeverProgrammedAreTheLoss) {
  // 25 flows sent to, the target has the first 20: everything else came back.
  const std::uint64_t sent = 4013;
  auto back = simulate(sent, 25, false);
  std::uint64_t expect_lost = 0;
  for (std::uint32_t f = 20; f < 25; ++f) {
    expect_lost += back[f];
    back[f] = 0;
  }
  const auto r = packet_rate_flows(back, sent, false);
  EXPECT_EQ(r.with_loss, 5u);
  EXPECT_EQ(r.silent, 5u);
  EXPECT_EQ(r.lost, expect_lost);
  EXPECT_EQ(r.extra, 0u);
  EXPECT_EQ(expect_lost, 5 * (sent / 25) + 0 /* 4013 % 25 = 13 < 20 */);

  PacketRateResult res;
  res.sent = sent;
  res.received = std::accumulate(back.begin(), back.end(), std::uint64_t{0});
  res.offered_pps = 2000;
  res.seconds = 2;
  packet_rate_finish_counts(res);
  EXPECT_EQ(res.lost, expect_lost);
  EXPECT_NEAR(res.loss_percent, 100.0 * double(expect_lost) / double(sent), 1e-9);
  EXPECT_FALSE(res.generator_bound);  // 4013 >= 95 % of 4000
  EXPECT_DOUBLE_EQ(res.achieved_pps, 2006.5);
}

TEST(PacketRateCount, ExtraPacketsAreNotLossAndDoNotHideIt) {
  // A transcoder concealing a gap in flow 0 sends one more than it got; flow 1 lost 3.
  auto back = simulate(400, 2, true);
  back[0] += 1;
  back[1] -= 3;
  const auto r = packet_rate_flows(back, 400, true);
  EXPECT_EQ(r.with_loss, 1u);
  EXPECT_EQ(r.silent, 0u);
  EXPECT_EQ(r.lost, 3u);
  EXPECT_EQ(r.extra, 1u);
}

TEST(PacketRateCount, ShortOfTheOfferedLoadIsGeneratorBound) {
  PacketRateResult r;
  r.offered_pps = 1000;
  r.seconds = 10;
  r.sent = 9499;
  r.received = 9600;  // more back than sent: no loss below 0
  packet_rate_finish_counts(r);
  EXPECT_TRUE(r.generator_bound);
  EXPECT_EQ(r.lost, 0u);
  r.sent = 9500;
  packet_rate_finish_counts(r);
  EXPECT_FALSE(r.generator_bound);
}

TEST(PacketRateCount, FlowOfPort) {
  EXPECT_EQ(packet_rate_flow_of_port(40000, 20), 0);
  EXPECT_EQ(packet_rate_flow_of_port(40038, 20), 19);
  EXPECT_EQ(packet_rate_flow_of_port(40040, 20), -1);  // flow 20: not in this trial
  EXPECT_EQ(packet_rate_flow_of_port(40001, 20), -1);  // RTCP
  EXPECT_EQ(packet_rate_flow_of_port(39998, 20), -1);
  // Reflected as sent (a loopback forwarder): the gateway's port names the flow.
  EXPECT_EQ(packet_rate_flow_of_port(20000, 20), 0);
  EXPECT_EQ(packet_rate_flow_of_port(20038, 20), 19);
  EXPECT_EQ(packet_rate_flow_of_port(20040, 20), -1);
  EXPECT_EQ(packet_rate_flow_of_port(19998, 20), -1);
  EXPECT_EQ(packet_rate_flow_of_port(65534, kPacketRateMaxFlows), std::int64_t(kPacketRateMaxFlows) - 1);
}

TEST(PacketRateCount, LatencyNearestRank) {
  std::vector<std::uint32_t> ns(1000);
  for (std::uint32_t i = 0; i < ns.size(); ++i) ns[i] = (i + 1) * 1000;  // 1..1000 us
  std::reverse(ns.begin(), ns.end());
  std::vector<std::uint64_t> hist;
  const auto l = packet_rate_latency(ns, &hist);
  EXPECT_EQ(l.n, 1000u);
  EXPECT_DOUBLE_EQ(l.p50, 500);
  EXPECT_DOUBLE_EQ(l.p90, 900);
  EXPECT_DOUBLE_EQ(l.p99, 990);
  EXPECT_DOUBLE_EQ(l.p999, 999);
  EXPECT_DOUBLE_EQ(l.max, 1000);
  EXPECT_DOUBLE_EQ(l.mean, 500.5);
  ASSERT_EQ(hist.size(), std::size_t(kLatencyBins));
  EXPECT_EQ(std::accumulate(hist.begin(), hist.end(), std::uint64_t{0}), 1000u);
  // The largest sample, 1 ms, is in the highest bin used.
  const auto top = std::size_t(latency_bin(1.0));
  EXPECT_GT(hist[top], 0u);
  for (std::size_t b = top + 1; b < hist.size(); ++b) EXPECT_EQ(hist[b], 0u) << b;

  std::vector<std::uint32_t> none;
  const auto e = packet_rate_latency(none, &hist);
  EXPECT_EQ(e.n, 0u);
  EXPECT_EQ(e.p99, -1);  // bench-dataplane.sh reads -1 as "no stamps"
}
