// SPDX-License-Identifier: GPL-3.0-or-later
// AdmissionRateController (admission_rate.hpp): the rate and the state,
// driven step by step with a made-up clock, counts and queue ages.
#include "msgw/control/admission_rate.hpp"

#include <gtest/gtest.h>

#include <cmath>

using msgw::control::AdmissionRateController;

namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kTarget = 50'000;  // us

// Drives the controller in 10 ms passes: `per_s` new requests a second
// taken in, the newest datagram `age_us` old (none met when `idle`), the
// stack's gate shedding or not.
struct Driver {
  AdmissionRateController c;
  int64_t now = 1'000 * kMs;
  double total = 0;
  uint64_t messages = 0;
  int64_t dp_shed = -1;      // the workers' count; < 0: unknown
  double dp_shed_per_s = 0;  // while known, how fast it grows
  double dp_total = 0;
  void run(int64_t ms, double per_s, int64_t age_us, bool gate = false, bool idle = false) {
    for (int64_t t = 0; t < ms; t += 10) {
      now += 10 * kMs;
      total += per_s / 100;
      if (!idle) ++messages;
      if (dp_shed >= 0) {
        dp_total += dp_shed_per_s / 100;
        // Published every 200 ms.
        if ((now / kMs) % 200 == 0) dp_shed = int64_t(dp_total);
      }
      c.update(now, {.gate_shedding = gate,
                     .messages = messages,
                     .newest_age_us = age_us,
                     .new_requests = uint64_t(total),
                     .target_age_us = kTarget,
                     .dataplane_shed = dp_shed});
    }
  }
  // Into limiting at `rate` (measured over a calm second first).
  void enter(double rate) {
    run(4000, rate, 1'000);
    run(10, rate, 250'000, true);
  }
};

}  // namespace

TEST(AdmissionRate, NormalWhileTheGateAdmits) {
  Driver d;
  d.run(3000, 500, 150'000);  // old, but the stack's gate does not shed: no entry
  EXPECT_EQ(d.c.state(), AdmissionRateController::State::normal);
  EXPECT_EQ(d.c.rate(), 0u);
  EXPECT_NEAR(d.c.measured_rate(), 500, 10);
  EXPECT_EQ(d.c.episodes(), 0u);
}

TEST(AdmissionRate, EntersAtTheGateFromTheMeasuredRate) {
  Driver d;
  d.enter(800);
  ASSERT_TRUE(d.c.limiting());
  EXPECT_EQ(d.c.episodes(), 1u);
  EXPECT_NEAR(d.c.rate(), 800, 10);
}

TEST(AdmissionRate, HoldsAtTheTargetAgeAndCutsInProportionAbove) {
  Driver d;
  d.enter(800);
  d.run(100, 800, kTarget);  // the step that ends the entry's (old) step
  // Steady at the target: the rate holds.
  d.run(100, 800, kTarget);
  const double at_target = d.c.rate();
  d.run(300, 800, kTarget);
  EXPECT_NEAR(d.c.rate(), at_target, 1);
  // A rise to 1.08 x the target: the proportional and the derivative term.
  d.run(100, 800, 54'000);
  const double risen = d.c.rate();
  EXPECT_NEAR(risen, at_target * (1 - 0.08 * AdmissionRateController::kP - 0.08 * AdmissionRateController::kD), 2);
  // Steady there: the proportional term alone.
  d.run(100, 800, 54'000);
  EXPECT_NEAR(d.c.rate(), risen * (1 - 0.08 * AdmissionRateController::kP), 2);
  // A rise to 1.4 x: the terms ask for -22 %; the step is bounded.
  const double before_jump = d.c.rate();
  d.run(100, 800, 70'000);
  EXPECT_NEAR(d.c.rate(), before_jump * AdmissionRateController::kMinFactor, 2);
}

TEST(AdmissionRate, AnOldButDrainingQueueIsNotCut) {
  Driver d;
  d.enter(800);
  d.run(100, 800, 400'000);
  d.run(100, 800, 400'000);
  const double before = d.c.rate();
  // 400 ms -> 300 ms in a step: draining fast; the derivative outweighs
  // the age: no cut at all (bounded at kMaxFactor).
  d.run(100, 800, 300'000);
  EXPECT_GE(d.c.rate(), before);
  // 300 -> 290 ms: draining slowly, still old: held, not cut.
  const double held = d.c.rate();
  d.run(100, 800, 290'000);
  EXPECT_NEAR(d.c.rate(), held, 1);
  // 290 -> 295 ms: growing again: cut (as far as a step may).
  d.run(100, 800, 295'000);
  EXPECT_NEAR(d.c.rate(), held * AdmissionRateController::kMinFactor, 2);
}

TEST(AdmissionRate, CutsAreBoundedAndFloored) {
  Driver d;
  d.enter(1000);
  d.run(100, 1000, 100'000);
  const double r = d.c.rate();
  // A jump to a very old queue: at most x kMinFactor a step.
  d.run(100, 1000, 900'000);
  EXPECT_NEAR(d.c.rate(), r * AdmissionRateController::kMinFactor, 2);
  // Floored at kFloorOfGood x what the stack kept up with (1,000/s,
  // decayed a little), and never under kMinRate.
  d.run(5000, 0, 900'000);
  EXPECT_NEAR(d.c.rate(), AdmissionRateController::kFloorOfGood * d.c.good_rate(), 1);
  EXPECT_GE(d.c.rate(), 90u);
  Driver fresh;  // nothing kept up with yet: kMinRate
  fresh.run(10, 1000, 250'000, true);
  fresh.run(5000, 0, 900'000);
  EXPECT_EQ(fresh.c.rate(), uint32_t(AdmissionRateController::kMinRate));
}

TEST(AdmissionRate, GrowsWhileYoungUpToWhatTheFloodFills) {
  Driver d;
  d.enter(400);
  d.run(100, 400, 0);
  // Young, every token taken (what comes in follows the rate), no cut yet
  // in this episode: fast, like a slow start (bounded by kCapOverTaken x
  // what the last steps took in).
  for (int i = 0; i < 4; ++i) {
    const double r = d.c.rate();
    d.run(100, r, 0);
    EXPECT_GE(d.c.rate(), r * AdmissionRateController::kFastGrowth - 1) << i;
    EXPECT_LE(d.c.rate(), r * AdmissionRateController::kFastGrowth + 1) << i;
  }
  // A step past the target cuts and sets the ceiling; young again, it comes
  // back fast to kFastBelowCeiling x that, then x(1 + kP) a step.
  const double ceiling = d.c.rate();
  d.run(100, ceiling, 2 * kTarget);
  ASSERT_LT(d.c.rate(), ceiling);
  for (int i = 0; i < 5; ++i) d.run(100, d.c.rate(), 0);
  ASSERT_GE(d.c.rate(), AdmissionRateController::kFastBelowCeiling * ceiling - 1);
  for (int i = 0; i < 5; ++i) {
    const double r = d.c.rate();
    d.run(100, r, 0);
    EXPECT_NEAR(d.c.rate(), std::round(r * (1 + AdmissionRateController::kP)), 2) << i;
    EXPECT_TRUE(d.c.limiting()) << i;
  }
  // A flood that stopped filling it (it still sheds what is over 300/s):
  // the rate grows no further than kCapOverTaken x what comes in.
  d.run(3000, 300, 0);
  EXPECT_LE(d.c.rate(), uint32_t(300 * AdmissionRateController::kCapOverTaken + AdmissionRateController::kMinRate + 2));
}

TEST(AdmissionRate, AStaleAgeIsNotAnAge) {
  Driver d;
  d.enter(600);
  d.run(100, 600, kTarget);
  const double r = d.c.rate();
  // No datagram met: the last age the stack reported (very old) is stale;
  // the step counts as young.
  d.run(100, 0, 900'000, false, true);
  EXPECT_GT(d.c.rate(), r);
}

TEST(AdmissionRate, LeavesOnceYoungAndNoLongerLimiting) {
  Driver d;
  d.enter(600);
  d.run(500, 600, 60'000);
  ASSERT_TRUE(d.c.limiting());
  // The flood ends: 100/s come in, the queue is young.  Once the last
  // second's intake is under kNotLimiting x the rate and kCalm passed:
  // normal, rate cleared.
  d.run(300, 100, 1'000);
  EXPECT_TRUE(d.c.limiting());
  d.run(1500, 100, 1'000);
  EXPECT_FALSE(d.c.limiting());
  EXPECT_EQ(d.c.rate(), 0u);
  // The gate shedding again starts a new episode.
  d.run(10, 100, 250'000, true);
  EXPECT_TRUE(d.c.limiting());
  EXPECT_EQ(d.c.episodes(), 2u);
}

TEST(AdmissionRate, AnOldStepResetsTheCalm) {
  Driver d;
  d.enter(600);
  d.run(1000, 600, kTarget);  // held at the target
  d.run(300, 0, 1'000);       // the flood stops: calm builds...
  ASSERT_TRUE(d.c.limiting());
  d.run(100, 0, 80'000);      // ...a step past the target resets it
  d.run(400, 0, 1'000);
  EXPECT_TRUE(d.c.limiting());
  d.run(300, 0, 1'000);
  EXPECT_FALSE(d.c.limiting());
}

TEST(AdmissionRate, EntersFromWhatAYoungSecondTookInNotFromAQuietSpell) {
  Driver d;
  d.run(4000, 900, 1'000);  // 900/s with a young queue
  EXPECT_NEAR(d.c.good_rate(), 900, 15);
  d.run(1500, 0, 0, false, true);  // a quiet spell: nothing comes in
  d.run(100, 4000, 100'000);       // a flood begins
  d.run(10, 4000, 250'000, true);
  ASSERT_TRUE(d.c.limiting());
  // Not the last second's intake (~400/s), not the flood: what the stack
  // was seen to take in while young (decayed a little since).
  EXPECT_NEAR(d.c.rate(), 880, 30);
}

TEST(AdmissionRate, EntersFromHalfTheLastSecondWhenThatIsMore) {
  Driver d;
  d.run(4000, 100, 1'000);  // a light day: 100/s
  d.run(500, 6000, 100'000);  // a flood's first half second
  d.run(10, 6000, 250'000, true);
  ASSERT_TRUE(d.c.limiting());
  // Half the last second's intake (the history ends at the last step
  // boundary: 0.4-0.5 s of the flood in it), far more than the 100/s.
  EXPECT_GT(d.c.rate(), 0.5 * (0.6 * 100 + 0.4 * 6000) - 20);
  EXPECT_LT(d.c.rate(), 0.5 * (0.5 * 100 + 0.5 * 6000) + 20);
}

TEST(AdmissionRate, BelowTheRateItKeptUpWithAYoungQueueGrowsFast) {
  Driver d;
  d.enter(1000);  // kept up with 1,000/s
  for (int i = 0; i < 20; ++i) d.run(100, d.c.rate(), 900'000 + 5'000 * i);  // old and growing: cut
  const double low = d.c.rate();
  ASSERT_LT(low, 400);
  // Young but the age rising (the derivative alone would cut): still x
  // kFastGrowth a step while below the 1,000/s kept up with.
  d.run(100, low, 10'000);  // draining from 995 ms: up by the bound
  const double grown = d.c.rate();
  EXPECT_NEAR(grown, low * AdmissionRateController::kMaxFactor, 2);
  d.run(100, grown, 40'000);  // 10 -> 40 ms: the terms ask for -25 %
  EXPECT_NEAR(d.c.rate(), grown * AdmissionRateController::kFastGrowth, 2);
  // Back near 1,000 (decayed a little) in about two seconds.
  for (int i = 0; i < 25; ++i) d.run(100, d.c.rate(), 0);
  EXPECT_GE(d.c.rate(), 970u);
}

// With the workers' shed count known, the flood is over when they shed
// nothing, not when the intake looks low next to the rate.
TEST(AdmissionRate, WithTheWorkersCountLeavesOnlyOnceTheyShedNothing) {
  Driver d;
  d.dp_shed = 0;
  d.enter(600);
  d.dp_shed_per_s = 8000;  // a 10x flood answered 503 by the workers
  d.run(500, 600, 60'000);
  // The stack young and taking in little next to the rate: still limiting
  // while the workers shed.
  d.run(2000, 50, 1'000);
  EXPECT_TRUE(d.c.limiting());
  EXPECT_GE(d.c.rate(), 60u);  // never below kFloorOfGood x the kept-up-with 600/s
  // The flood ends: nothing shed for kCalm, young: normal.
  d.dp_shed_per_s = 0;
  d.run(400, 300, 1'000);
  EXPECT_TRUE(d.c.limiting());
  d.run(400, 300, 1'000);
  EXPECT_FALSE(d.c.limiting());
}

// While the queue is old the stack may take in almost nothing (its own gate
// sheds what the workers let in): that is no reason to cut the rate to it.
TEST(AdmissionRate, LittleTakenInIsNoCut) {
  Driver d;
  d.enter(800);
  d.run(100, 800, kTarget);
  const double r = d.c.rate();
  d.run(300, 2, kTarget);  // at the target, next to nothing taken in
  EXPECT_NEAR(d.c.rate(), r, 1);
}
