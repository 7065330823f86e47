// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include <vector>

#include "rate_search.hpp"

using namespace msgw::loadtest;

namespace {
// Drives a search against a target that passes every rate <= capacity
// (and, optionally, fails its confirmation run at `flaky`).
struct Trace {
  std::vector<std::uint32_t> rates;
  std::vector<bool> confirmations;
};
Trace drive(RateSearch& s, std::uint32_t capacity, std::uint32_t flaky = 0) {
  Trace t;
  for (int guard = 0; guard < 100; ++guard) {
    auto step = s.next();
    if (!step) break;
    t.rates.push_back(step->rate);
    t.confirmations.push_back(step->confirmation);
    bool pass = step->rate <= capacity && !(step->confirmation && step->rate == flaky);
    s.record(pass);
  }
  return t;
}
}  // namespace

TEST(RateSearch, DoublesThenBisectsThenConfirms) {
  RateSearch s({100, 5000, 10, true, 3});
  auto t = drive(s, 730);
  // 100 200 400 800(fail) 600 700 750(fail) 725 737(fail) 731(fail) 728 ... until the gap <= 10
  ASSERT_GE(t.rates.size(), 6u);
  EXPECT_EQ(t.rates[0], 100u);
  EXPECT_EQ(t.rates[1], 200u);
  EXPECT_EQ(t.rates[2], 400u);
  EXPECT_EQ(t.rates[3], 800u);
  EXPECT_EQ(t.rates[4], 600u);
  EXPECT_TRUE(t.confirmations.back());
  EXPECT_EQ(s.phase(), SearchPhase::done);
  EXPECT_TRUE(s.confirmed());
  EXPECT_LE(s.found(), 730u);
  EXPECT_GE(s.found(), 720u);  // within the resolution of the true capacity
  EXPECT_EQ(t.rates.back(), s.found());
}

TEST(RateSearch, EveryRatePassesUpToTheCeiling) {
  RateSearch s({50, 300, 10, true, 3});
  auto t = drive(s, 100000);
  EXPECT_EQ(t.rates, (std::vector<std::uint32_t>{50, 100, 200, 300, 300}));
  EXPECT_TRUE(t.confirmations.back());
  EXPECT_EQ(s.found(), 300u);
  EXPECT_TRUE(s.confirmed());
}

TEST(RateSearch, NothingPasses) {
  RateSearch s({40, 1000, 10, true, 3});
  auto t = drive(s, 0);
  EXPECT_EQ(t.rates, (std::vector<std::uint32_t>{40, 20, 10}));  // 10 - 0 <= resolution: done
  EXPECT_EQ(s.found(), 0u);
  EXPECT_FALSE(s.confirmed());
  EXPECT_EQ(s.phase(), SearchPhase::done);
}

TEST(RateSearch, FailedConfirmationSearchesBelow) {
  RateSearch s({100, 400, 10, true, 3});
  auto t = drive(s, 400, /*flaky=*/400);
  // 100 200 400 400(confirm, fails) -> bisect between 200 and 400 ... confirm the new rate.
  EXPECT_EQ(t.rates[3], 400u);
  EXPECT_TRUE(t.confirmations[3]);
  EXPECT_EQ(t.rates[4], 300u);
  EXPECT_TRUE(s.confirmed());
  EXPECT_GE(s.found(), 390u);
  EXPECT_LT(s.found(), 400u);
}

TEST(RateSearch, WithoutConfirmation) {
  RateSearch s({100, 1000, 50, false, 3});
  auto t = drive(s, 250);
  for (bool c : t.confirmations) EXPECT_FALSE(c);
  EXPECT_EQ(s.found(), 250u);  // 100 200 400(f) 300(f) 250 -> 300-250 <= 50
  EXPECT_FALSE(s.confirmed());
}

TEST(RateSearch, RecordAfterDoneChangesNothing) {
  RateSearch s({10, 10, 1, false, 3});
  s.record(true);
  EXPECT_EQ(s.phase(), SearchPhase::done);
  s.record(false);
  EXPECT_EQ(s.found(), 10u);
  EXPECT_FALSE(s.next().has_value());
}
