// SPDX-License-Identifier: GPL-3.0-or-later
// AdmissionRateController (admission_rate.hpp): the rate and the state,
// driven step by step with a made-up clock and counts.
#include "msgw/control/admission_rate.hpp"

#include <gtest/gtest.h>

using msgw::control::AdmissionRateController;

namespace {

constexpr int64_t kMs = 1'000'000;

// Drives the controller in 10 ms passes: `per_s` new requests a second
// taken in, the queue old or not.
struct Driver {
  AdmissionRateController c;
  int64_t now = 1'000 * kMs;
  double total = 0;
  void run(int64_t ms, double per_s, bool old) {
    for (int64_t t = 0; t < ms; t += 10) {
      now += 10 * kMs;
      total += per_s / 100;
      c.update(now, old, uint64_t(total));
    }
  }
};

}  // namespace

TEST(AdmissionRate, NormalWhileYoungRateZero) {
  Driver d;
  d.run(3000, 500, false);
  EXPECT_EQ(d.c.state(), AdmissionRateController::State::normal);
  EXPECT_EQ(d.c.rate(), 0u);
  EXPECT_NEAR(d.c.measured_rate(), 500, 10);
  EXPECT_EQ(d.c.episodes(), 0u);
}

TEST(AdmissionRate, EntersFromTheMeasuredRateThenCutsWhileOld) {
  Driver d;
  d.run(2000, 800, false);
  d.run(10, 800, true);
  ASSERT_TRUE(d.c.limiting());
  EXPECT_EQ(d.c.episodes(), 1u);
  EXPECT_NEAR(d.c.rate(), 800, 10);
  // A step later, still old: x0.75; another: x0.75 again.
  d.run(100, 800, true);
  EXPECT_NEAR(d.c.rate(), 600, 10);
  d.run(100, 600, true);
  EXPECT_NEAR(d.c.rate(), 450, 10);
  // Never below the floor.
  d.run(3000, 0, true);
  EXPECT_EQ(d.c.rate(), uint32_t(AdmissionRateController::kMinRate));
}

TEST(AdmissionRate, AddsBackWhileYoungAndStaysWhileTheRateLimits) {
  Driver d;
  d.run(2000, 400, false);
  d.run(10, 400, true);
  ASSERT_NEAR(d.c.rate(), 400, 10);
  // Young, and everything the rate lets in is taken: +5 % a step, and the
  // flood still there (what comes in follows the rate), so it stays.
  double r = d.c.rate();
  for (int i = 0; i < 20; ++i) {
    d.run(100, d.c.rate(), false);
    r += std::max(5.0, r * 0.05);
    EXPECT_NEAR(d.c.rate(), r, 2) << i;
    EXPECT_TRUE(d.c.limiting()) << i;
  }
  // A small rate adds at least kMinIncrease.
  d.run(2000, 0, true);
  const uint32_t low = d.c.rate();
  d.run(100, low, false);
  EXPECT_EQ(d.c.rate(), low + uint32_t(AdmissionRateController::kMinIncrease));
}

TEST(AdmissionRate, LeavesAfterASecondYoungWithTheRateNoLongerLimiting) {
  Driver d;
  d.run(2000, 600, false);
  d.run(10, 600, true);
  d.run(300, 450, true);
  ASSERT_TRUE(d.c.limiting());
  // The flood ends: 100/s come in, the queue is young.  After the history
  // forgets the flood and a calm second: normal, rate cleared.
  d.run(900, 100, false);
  EXPECT_TRUE(d.c.limiting());
  d.run(1500, 100, false);
  EXPECT_FALSE(d.c.limiting());
  EXPECT_EQ(d.c.rate(), 0u);
  // An old moment in the calm restarts it (a new episode).
  d.run(10, 100, true);
  EXPECT_TRUE(d.c.limiting());
  EXPECT_EQ(d.c.episodes(), 2u);
}

TEST(AdmissionRate, AnOldStepResetsTheCalm) {
  Driver d;
  d.run(2000, 600, false);
  d.run(10, 600, true);
  d.run(1200, 50, false);  // calm builds...
  d.run(10, 50, true);     // ...an old moment: cut, calm reset
  d.run(600, 50, false);
  EXPECT_TRUE(d.c.limiting());
  d.run(1000, 50, false);
  EXPECT_FALSE(d.c.limiting());
}
