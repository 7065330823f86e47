// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "stats.hpp"

using namespace msgw::loadtest;

TEST(Percentile, NearestRank) {
  std::vector<double> v{15, 20, 35, 40, 50};  // the classic nearest-rank example
  EXPECT_EQ(percentile(v, 0.05), 15);
  EXPECT_EQ(percentile(v, 0.30), 20);
  EXPECT_EQ(percentile(v, 0.40), 20);
  EXPECT_EQ(percentile(v, 0.50), 35);
  EXPECT_EQ(percentile(v, 1.00), 50);
  EXPECT_EQ(percentile({}, 0.5), 0);
}

TEST(Percentile, SummaryOfHundred) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  auto p = summarize(v);
  EXPECT_EQ(p.n, 100u);
  EXPECT_EQ(p.p50, 50);
  EXPECT_EQ(p.p90, 90);
  EXPECT_EQ(p.p99, 99);
  EXPECT_EQ(p.max, 100);
  EXPECT_DOUBLE_EQ(p.mean, 50.5);
}

TEST(SequenceTracker, CountsGapsAsLoss) {
  SequenceTracker t;
  for (int s = 100; s < 200; ++s)
    if (s % 10 != 9) t.on_packet(static_cast<std::uint16_t>(s));
  EXPECT_EQ(t.expected(), 99u);  // 100 .. 198 (199 was the last withheld: not seen)
  EXPECT_EQ(t.received(), 90u);
  EXPECT_EQ(t.lost(), 9u);
}

TEST(SequenceTracker, WrapsAround) {
  SequenceTracker t;
  for (int i = 0; i < 100; ++i) t.on_packet(static_cast<std::uint16_t>(65500 + i));  // crosses 65535
  EXPECT_EQ(t.expected(), 100u);
  EXPECT_EQ(t.lost(), 0u);
}

TEST(SequenceTracker, LateAndDuplicateAreNotLoss) {
  SequenceTracker t;
  for (std::uint16_t s : {1, 2, 4, 3, 5, 5, 6}) t.on_packet(s);
  EXPECT_EQ(t.expected(), 6u);
  EXPECT_EQ(t.lost(), 0u);  // 7 received for 6 expected: clamped at 0
  EXPECT_EQ(t.duplicates_or_reordered(), 2u);
}

TEST(Jitter, SteadyStreamHasNone) {
  JitterEstimator j;
  for (int i = 0; i < 100; ++i) j.on_packet(static_cast<std::uint32_t>(1000 + 160 * i), 5.0 + 0.02 * i, 8000);
  EXPECT_NEAR(j.jitter_ms(8000), 0.0, 1e-6);
}

TEST(Jitter, ConvergesToTheMeanDeviation) {
  // Arrivals alternate 5 ms early and 5 ms late: |D| is 10 ms every packet,
  // so J -> 10 ms (80 timestamp units at 8 kHz) by J += (|D| - J) / 16.
  JitterEstimator j;
  for (int i = 0; i < 400; ++i)
    j.on_packet(static_cast<std::uint32_t>(160 * i), 0.02 * i + (i % 2 ? 0.005 : -0.005), 8000);
  EXPECT_NEAR(j.jitter_ms(8000), 10.0, 0.01);
  EXPECT_NEAR(j.jitter_units(), 80.0, 0.1);
}

TEST(Jitter, FirstStepOfTheRecurrence) {
  JitterEstimator j;
  j.on_packet(0, 0.0, 8000);
  j.on_packet(160, 0.036, 8000);  // 16 ms late: D = 128 units, J = 128/16 = 8
  EXPECT_NEAR(j.jitter_units(), 8.0, 1e-9);
}

// ITU-T G.107 values with every parameter at its default: R = 93.2.
TEST(EModel, DefaultsGiveR93_2AndMos4_41) {
  EModelInput in{{0, 4.3}, 0, 1, 0};
  EXPECT_NEAR(r_factor(in), 93.2, 1e-9);
  EXPECT_NEAR(mos_from_r(93.2), 4.41, 0.005);
}

TEST(EModel, MosFromR) {
  EXPECT_DOUBLE_EQ(mos_from_r(-5), 1.0);
  EXPECT_DOUBLE_EQ(mos_from_r(0), 1.0);
  EXPECT_DOUBLE_EQ(mos_from_r(100), 4.5);
  EXPECT_NEAR(mos_from_r(50), 2.575, 1e-9);  // 1 + 1.75 + 50*(-10)*50*7e-6
  EXPECT_NEAR(mos_from_r(80), 4.024, 1e-9);  // 1 + 2.8 + 80*20*20*7e-6
  EXPECT_NEAR(mos_from_r(70), 3.6, 0.01);    // G.107 Table B.1 "many users dissatisfied" boundary ~3.6
}

TEST(EModel, LossImpairmentG113) {
  // G.711 without PLC (G.113 App. I: Ie 0, Bpl 4.3), 1 % random loss:
  // Ie_eff = 95 * 1 / (1 + 4.3) = 17.92.
  EModelInput in{{0, 4.3}, 1.0, 1, 0};
  EXPECT_NEAR(effective_equipment_impairment(in), 17.9245, 1e-3);
  // G.711 with PLC (Bpl 25.1), 2 %: 95 * 2 / 27.1 = 7.011.
  in = {{0, 25.1}, 2.0, 1, 0};
  EXPECT_NEAR(effective_equipment_impairment(in), 7.0111, 1e-3);
  // G.729A (Ie 11, Bpl 19), no loss: Ie_eff = Ie; R = 82.2.
  in = {{11, 19}, 0, 1, 0};
  EXPECT_NEAR(r_factor(in), 82.2, 1e-9);
  // Bursty loss (BurstR 2) hurts more than random at the same rate.
  EModelInput bursty{{0, 25.1}, 2.0, 2.0, 0};
  EXPECT_GT(effective_equipment_impairment(bursty), 7.0111);
}

TEST(EModel, DelayImpairment) {
  EXPECT_EQ(delay_impairment_ms(50), 0);
  EXPECT_EQ(delay_impairment_ms(100), 0);
  // Ta = 200 ms: X = 1, Idd = 25 * (2^(1/6) - 3 * (1 + 3^-6)^(1/6) + 2) = 3.044.
  EXPECT_NEAR(delay_impairment_ms(200), 3.044, 0.002);
  // Ta = 400 ms: X = 2: 25 * (65^(1/6) - 3 * (1 + (2/3)^6)^(1/6) + 2) = 24.07.
  EXPECT_NEAR(delay_impairment_ms(400), 24.07, 0.01);
  EModelInput in{{0, 25.1}, 0, 1, 200};
  EXPECT_NEAR(r_factor(in), 93.2 - 3.044, 0.002);
}

TEST(SessionEstablishment, SerAndSeer) {
  EXPECT_DOUBLE_EQ(session_establishment_ratio(100, 90), 90.0);
  EXPECT_DOUBLE_EQ(session_establishment_ratio(0, 0), 0.0);
  // 100 attempts, 80 answered, 10 busy (486), 5 redirected (302), 5 server errors (503):
  // SEER = (80 + 10) / (100 - 5) = 94.74 %; the 503s stay failures.
  std::map<int, std::uint64_t> codes{{486, 10}, {302, 5}, {503, 5}};
  EXPECT_NEAR(session_establishment_effectiveness_ratio(100, 80, codes), 100.0 * 90 / 95, 1e-9);
  EXPECT_DOUBLE_EQ(session_establishment_effectiveness_ratio(100, 90, {{503, 10}}), 90.0);
  EXPECT_DOUBLE_EQ(session_establishment_effectiveness_ratio(5, 0, {{301, 5}}), 0.0);  // nothing left to count
}
