// SPDX-License-Identifier: GPL-3.0-or-later
// The capacity test's detection of the first fault from samples, and the
// overload test's goodput arithmetic, on made-up data.
#include <gtest/gtest.h>

#include <vector>

#include "capacity.hpp"
#include "overload.hpp"
#include "sipp_output.hpp"

using namespace msgw::loadtest;

namespace {

// A ramp at 100 calls/s: second i has 100 * i calls with media, no fault.
std::vector<CapacitySample> clean_ramp(int seconds) {
  std::vector<CapacitySample> v;
  for (int i = 1; i <= seconds; ++i) {
    CapacitySample s;
    s.t_s = i;
    s.calls_with_media = s.calls_up = 100u * static_cast<unsigned>(i);
    s.packets_expected = 5000u * static_cast<unsigned>(i * i);
    v.push_back(s);
  }
  return v;
}

}  // namespace

TEST(Capacity, CleanRampReachesAndHoldsTheLevel) {
  auto v = clean_ramp(5);
  for (int i = 6; i <= 9; ++i) {  // held at 500 for four more seconds
    auto s = v.back();
    s.t_s = i;
    v.push_back(s);
  }
  const auto a = assess_capacity(v, 500);
  EXPECT_FALSE(a.first_bad);
  EXPECT_TRUE(a.reason.empty());
  EXPECT_EQ(a.clean_level, 500u);
  EXPECT_DOUBLE_EQ(a.level_reached_s, 5);
  EXPECT_DOUBLE_EQ(a.held_s, 4);
}

TEST(Capacity, FirstLossEndsTheCleanRunAtThePreviousSample) {
  auto v = clean_ramp(8);
  // Loss appears in the 6th second's interval (600 calls): 500 is the clean level.
  for (std::size_t i = 5; i < v.size(); ++i) v[i].packets_lost = 3 + 10 * (i - 5);
  const auto a = assess_capacity(v, 10000);
  ASSERT_TRUE(a.first_bad);
  EXPECT_EQ(*a.first_bad, 5u);
  EXPECT_EQ(a.clean_level, 500u);
  EXPECT_EQ(a.reason, "3 packets lost at 600 calls with media");
  EXPECT_FALSE(a.generator_suspect);
  EXPECT_LT(a.level_reached_s, 0);  // 10000 never reached
}

TEST(Capacity, WithoutMediaTheLevelIsCallsUpAndAFailedCallEndsIt) {
  // capacity --no-media: no stream ever flows, so calls_with_media stays 0.
  auto v = clean_ramp(6);
  for (auto& s : v) s.calls_with_media = 0;
  v[4].failed = 2;  // the 5th second's interval (500 calls up)
  const auto a = assess_capacity(v, 10000, false);
  ASSERT_TRUE(a.first_bad);
  EXPECT_EQ(*a.first_bad, 4u);
  EXPECT_EQ(a.clean_level, 400u);
  EXPECT_EQ(a.reason, "2 failed calls at 500 calls up");
  // The same samples read with media: nothing flowed, so nothing was reached.
  EXPECT_EQ(assess_capacity(v, 10000).clean_level, 0u);
  // Held without a fault: the level is reached and held.
  auto held = clean_ramp(3);
  for (int i = 4; i <= 6; ++i) {
    auto s = held.back();
    s.t_s = i;
    held.push_back(s);
  }
  for (auto& s : held) s.calls_with_media = 0;
  const auto h = assess_capacity(held, 300, false);
  EXPECT_FALSE(h.first_bad);
  EXPECT_EQ(h.clean_level, 300u);
  EXPECT_DOUBLE_EQ(h.level_reached_s, 3);
  EXPECT_DOUBLE_EQ(h.held_s, 3);
}

TEST(Capacity, FailedCallsSlowSetupsAndSilentStreamsAreFaults) {
  auto v = clean_ramp(4);
  v[2].failed = 2;
  v[2].over_threshold = 1;
  auto a = assess_capacity(v, 0);
  ASSERT_TRUE(a.first_bad);
  EXPECT_EQ(*a.first_bad, 2u);
  EXPECT_EQ(a.reason, "2 failed calls, 1 setups over the threshold at 300 calls with media");
  EXPECT_EQ(a.clean_level, 200u);

  v = clean_ramp(4);
  v[3].silent_streams = 7;
  a = assess_capacity(v, 0);
  ASSERT_TRUE(a.first_bad);
  EXPECT_EQ(*a.first_bad, 3u);
  EXPECT_EQ(a.reason, "7 streams with no packet received at 400 calls with media");
}

TEST(Capacity, LossWithTheSenderLateIsMarkedAsPossiblyTheTool) {
  auto v = clean_ramp(4);
  v[1].late_slots = 2;  // late, but no loss: not a fault
  v[2].late_slots = 2;
  v[3].late_slots = 9;
  v[3].packets_lost = 1;
  auto a = assess_capacity(v, 0);
  ASSERT_TRUE(a.first_bad);
  EXPECT_EQ(*a.first_bad, 3u);
  EXPECT_TRUE(a.generator_suspect);
  v[3].late_slots = 2;  // lateness earlier, not in the faulty interval
  v[3].send_errors = 0;
  a = assess_capacity(v, 0);
  EXPECT_FALSE(a.generator_suspect);
  v[3].send_errors = 4;
  EXPECT_TRUE(assess_capacity(v, 0).generator_suspect);
}

TEST(Capacity, LossWithTheToolsPortsDroppingIsMarkedAsPossiblyTheTool) {
  auto v = clean_ramp(4);
  v[1].receive_drops = 5;  // drops earlier, no loss then: not this fault's
  v[2].receive_drops = 5;
  v[3].receive_drops = 5;
  v[3].packets_lost = 5;
  auto a = assess_capacity(v, 0);
  ASSERT_TRUE(a.first_bad);
  EXPECT_EQ(*a.first_bad, 3u);
  EXPECT_FALSE(a.generator_suspect);  // the target lost these: the tool's ports dropped nothing since
  v[3].receive_drops = 10;
  EXPECT_TRUE(assess_capacity(v, 0).generator_suspect);
}

TEST(Capacity, FaultInTheFirstSampleLeavesNoCleanLevel) {
  auto v = clean_ramp(3);
  v[0].packets_lost = 1;
  const auto a = assess_capacity(v, 0);
  EXPECT_EQ(*a.first_bad, 0u);
  EXPECT_EQ(a.clean_level, 0u);
  EXPECT_FALSE(assess_capacity({}, 10).first_bad);
}

TEST(Capacity, NextLevelAfterAFailedConfirmation) {
  EXPECT_EQ(next_capacity_level(1000, 950), 900u);  // at most 90 %
  EXPECT_EQ(next_capacity_level(1000, 700), 700u);  // or the failed run's clean level
  EXPECT_EQ(next_capacity_level(5, 5), 4u);
  EXPECT_EQ(next_capacity_level(1, 1), 0u);
}

TEST(Goodput, CompletedCallsWithinTheThresholdPerSecond) {
  OverloadCounts c;
  c.offered_s = 10;
  c.attempted = 2000;
  c.completed = 1300;
  c.over_threshold = 100;
  c.rejected_retry_after = 500;
  c.rejected_no_retry_after = 100;
  c.timeouts = 50;
  c.failed = 700;
  const auto g = compute_goodput(c, 100);
  EXPECT_EQ(g.good, 1200u);
  EXPECT_DOUBLE_EQ(g.good_per_s, 120);
  EXPECT_DOUBLE_EQ(g.ratio, 1.2);
  EXPECT_EQ(g.rejected, 600u);
  EXPECT_EQ(g.other_failures, 50u);
}

TEST(Goodput, CollapseAndUnknownCapacity) {
  OverloadCounts c;
  c.offered_s = 5;
  c.completed = 10;
  c.over_threshold = 40;  // slower than the threshold: none of them good
  c.failed = 3;
  c.timeouts = 5;  // more timeouts than failures: no negative "other"
  auto g = compute_goodput(c, 0);
  EXPECT_EQ(g.good, 0u);
  EXPECT_DOUBLE_EQ(g.good_per_s, 0);
  EXPECT_DOUBLE_EQ(g.ratio, 0);
  EXPECT_EQ(g.other_failures, 0u);
  c.offered_s = 0;
  c.over_threshold = 0;
  EXPECT_DOUBLE_EQ(compute_goodput(c, 10).good_per_s, 0);
}

TEST(RejectEvent, ParsesCodeAndRetryAfter) {
  auto e = parse_reject_event("lt reject 17 503 30");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->call, 17u);
  EXPECT_EQ(e->code, 503);
  EXPECT_TRUE(e->retry_after);
  EXPECT_EQ(e->retry_after_s, 30u);
  e = parse_reject_event("lt reject 4 503 \r\n");  // SIPp leaves an unset variable empty
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->retry_after);
  EXPECT_FALSE(parse_reject_event("lt reject 4 abc"));
  EXPECT_FALSE(parse_reject_event("lt reject 4 200"));
  EXPECT_FALSE(parse_reject_event("lt reject 4 503 x"));
  EXPECT_FALSE(parse_reject_event("lt start 4 10.0.0.1 4000"));
  EXPECT_FALSE(parse_media_event("lt reject 4 503 1"));
}
