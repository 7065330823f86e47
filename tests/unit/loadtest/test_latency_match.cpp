// SPDX-License-Identifier: GPL-3.0-or-later
// The media-throughput test's arithmetic on injected packets: matching by
// RTP timestamp (relayed: the same timestamps; transcoded: shifted by the
// target's offset), latency, loss, concealment of withheld packets,
// duplicates, the latency percentiles, and the RFC 2544 search on sessions.
#include <gtest/gtest.h>

#include <vector>

#include "latency_match.hpp"
#include "rate_search.hpp"

using namespace msgw::loadtest;

namespace {
constexpr std::uint32_t kSpp = 160;  // 20 ms at 8 kHz
constexpr double kPeriod = 0.020;

// Sends n packets from first_ts, one per 20 ms from t0.
void send_all(DirectionMatch& m, std::uint64_t n, double t0 = 100.0) {
  for (std::uint64_t k = 0; k < n; ++k) m.on_sent(k, t0 + kPeriod * static_cast<double>(k));
}
}  // namespace

TEST(LatencyMatch, RelayedKeepsTimestampsLatencyPerPacket) {
  const std::uint32_t ts0 = 1000;
  DirectionMatch m(ts0, kSpp);
  send_all(m, 50);
  for (std::uint64_t k = 0; k < 50; ++k) {
    // 0.3 ms, then 1.3 ms for the second half.
    const double delay = k < 25 ? 0.0003 : 0.0013;
    auto l = m.on_received(static_cast<std::uint32_t>(ts0 + k * kSpp), 100.0 + kPeriod * static_cast<double>(k) + delay);
    ASSERT_TRUE(l.has_value()) << k;
    EXPECT_NEAR(*l, delay, 1e-9);
  }
  EXPECT_EQ(m.offset(), 0u);
  EXPECT_EQ(m.counts().sent, 50u);
  EXPECT_EQ(m.counts().matched, 50u);
  EXPECT_EQ(m.counts().lost(), 0u);
}

TEST(LatencyMatch, TranscodedOffsetLearnedFromPacketZeroAndWraps) {
  // Our timestamps start near 2^32 and the target adds a random offset.
  const std::uint32_t ts0 = 0xFFFFFF00u, offset = 0x89ABCDEFu;
  DirectionMatch m(ts0, kSpp);
  send_all(m, 10);
  // Arrivals out of order after packet 0 (the probe comes first).
  const std::vector<std::uint64_t> order{0, 2, 1, 3, 5, 4, 6, 7, 8, 9};
  for (auto k : order) {
    auto l = m.on_received(static_cast<std::uint32_t>(ts0 + offset + k * kSpp), 100.0 + kPeriod * static_cast<double>(k) + 0.002);
    ASSERT_TRUE(l.has_value()) << k;
    EXPECT_NEAR(*l, 0.002, 1e-9);
  }
  EXPECT_EQ(m.offset(), offset);
  EXPECT_EQ(m.counts().matched, 10u);
  EXPECT_EQ(m.counts().unmatched, 0u);
}

TEST(LatencyMatch, LossIsSentMinusMatched) {
  DirectionMatch m(0, kSpp);
  send_all(m, 20);
  for (std::uint64_t k = 0; k < 20; ++k)
    if (k != 7 && k != 13 && k != 19) m.on_received(static_cast<std::uint32_t>(k * kSpp), 101.0);
  EXPECT_EQ(m.counts().matched, 17u);
  EXPECT_EQ(m.counts().lost(), 3u);  // the last one too: RFC 2544 counts frames sent, not gaps
}

TEST(LatencyMatch, WithheldPacketsConcealedByTheTargetAreLostAndCountedConcealed) {
  DirectionMatch m(500, kSpp);
  for (std::uint64_t k = 0; k < 30; ++k) {
    if ((k + 1) % 10 == 0) m.on_withheld(k);
    else m.on_sent(k, 100.0 + kPeriod * static_cast<double>(k));
  }
  // A transcoder fills the gaps: a packet for every timestamp, the withheld ones too.
  std::uint64_t latencies = 0;
  for (std::uint64_t k = 0; k < 30; ++k)
    if (m.on_received(static_cast<std::uint32_t>(500 + 7 + k * kSpp), 100.0 + kPeriod * static_cast<double>(k) + 0.001))
      ++latencies;
  EXPECT_EQ(m.counts().sent, 30u);
  EXPECT_EQ(m.counts().withheld, 3u);
  EXPECT_EQ(m.counts().concealed, 3u);
  EXPECT_EQ(m.counts().matched, 27u);
  EXPECT_EQ(m.counts().lost(), 3u);  // the injected loss, whatever the target sent in its place
  EXPECT_EQ(latencies, 27u);
}

TEST(LatencyMatch, WithheldPacketsARelayDropsAreLost) {
  DirectionMatch m(500, kSpp);
  for (std::uint64_t k = 0; k < 30; ++k) {
    if ((k + 1) % 10 == 0) m.on_withheld(k);
    else m.on_sent(k, 100.0 + kPeriod * static_cast<double>(k));
  }
  for (std::uint64_t k = 0; k < 30; ++k)
    if ((k + 1) % 10 != 0) m.on_received(static_cast<std::uint32_t>(500 + k * kSpp), 101.0);
  EXPECT_EQ(m.counts().lost(), 3u);
  EXPECT_EQ(m.counts().concealed, 0u);
}

TEST(LatencyMatch, DuplicatesOffGridAndFutureTimestampsAreCounted) {
  DirectionMatch m(0, kSpp);
  send_all(m, 5);
  EXPECT_TRUE(m.on_received(0, 100.001));
  EXPECT_TRUE(m.on_received(kSpp, 100.021));
  EXPECT_FALSE(m.on_received(kSpp, 100.022));      // duplicate
  EXPECT_FALSE(m.on_received(kSpp + 80, 100.03));  // not on our 20 ms grid
  EXPECT_FALSE(m.on_received(9 * kSpp, 100.2));    // a packet we never sent
  EXPECT_EQ(m.counts().duplicates, 1u);
  EXPECT_EQ(m.counts().unmatched, 2u);
  EXPECT_EQ(m.counts().matched, 2u);
  EXPECT_EQ(m.counts().lost(), 3u);
}

TEST(LatencyMatch, NothingReceivedIsAllLost) {
  DirectionMatch m(42, kSpp);
  send_all(m, 8);
  EXPECT_FALSE(m.offset_known());
  EXPECT_EQ(m.counts().lost(), 8u);
}

TEST(LatencySummary, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 1000; i >= 1; --i) v.push_back(i);  // 1..1000, unsorted
  auto s = summarize_latency(v);
  EXPECT_EQ(s.n, 1000u);
  EXPECT_EQ(s.p50, 500);
  EXPECT_EQ(s.p99, 990);
  EXPECT_EQ(s.p999, 999);
  EXPECT_EQ(s.max, 1000);
  EXPECT_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.mean, 500.5);
  EXPECT_EQ(summarize_latency({}).n, 0u);
  auto one = summarize_latency({3.5});
  EXPECT_EQ(one.p50, 3.5);
  EXPECT_EQ(one.p999, 3.5);
}

TEST(LatencyHistogram, LogBinsClampAndOrder) {
  EXPECT_EQ(latency_bin(0), 0);
  EXPECT_EQ(latency_bin(-1), 0);
  EXPECT_EQ(latency_bin(1e9), kLatencyBins - 1);
  int last = 0;
  for (double ms = 0.01; ms < 1000; ms *= 1.3) {
    const int b = latency_bin(ms);
    EXPECT_GE(b, last);
    last = b;
  }
  // Five decades over 50 bins: ten per decade.
  EXPECT_EQ(latency_bin(0.0105), 0);
  EXPECT_EQ(latency_bin(0.105), 10);
  EXPECT_EQ(latency_bin(1.05), 20);
}

TEST(TrialVerdict, ZeroLossWithEveryCallUp) {
  EXPECT_TRUE(trial_passed({1000, 0, true}));
  EXPECT_FALSE(trial_passed({1000, 1, true}));
  EXPECT_FALSE(trial_passed({1000, 0, false}));  // a call missing: not a valid pass
  EXPECT_FALSE(trial_passed({0, 0, true}));      // nothing sent proves nothing
}

namespace {
// The session search against a target that carries up to `ceiling`
// sessions with zero loss; returns the trials offered.
std::vector<std::uint32_t> search_sessions(std::uint32_t start, std::uint32_t max, std::uint32_t resolution,
                                           std::uint32_t ceiling, std::uint32_t* found) {
  RateSearch s({start, max, resolution, false, 0});
  std::vector<std::uint32_t> offered;
  while (auto step = s.next()) {
    EXPECT_FALSE(step->confirmation);
    offered.push_back(step->rate);
    s.record(trial_passed({step->rate * 100ull, step->rate > ceiling ? 1ull : 0ull, true}));
    if (offered.size() > 50) break;
  }
  *found = s.found();
  return offered;
}
}  // namespace

TEST(SessionSearch, DoublesThenBisectsToTheZeroLossCount) {
  std::uint32_t found = 0;
  auto trials = search_sessions(2, 64, 1, 37, &found);
  EXPECT_EQ(found, 37u);
  EXPECT_EQ(trials, (std::vector<std::uint32_t>{2, 4, 8, 16, 32, 64, 48, 40, 36, 38, 37}));
}

TEST(SessionSearch, StopsAtTheMaximumAndAtNothing) {
  std::uint32_t found = 0;
  auto trials = search_sessions(50, 2000, 10, 100000, &found);
  EXPECT_EQ(found, 2000u);
  EXPECT_EQ(trials.back(), 2000u);
  trials = search_sessions(4, 64, 1, 0, &found);
  EXPECT_EQ(found, 0u);
  EXPECT_EQ(trials.front(), 4u);
}
