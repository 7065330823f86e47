// SPDX-License-Identifier: GPL-3.0-or-later
// The worker's light-load nap (light_load_nap.hpp): flat out when loaded,
// doubling to the bound when idle, halving in between.
#include <gtest/gtest.h>

#include "msgw/dataplane/light_load_nap.hpp"

namespace msgw::dataplane {
namespace {

constexpr unsigned kB = 32;
constexpr uint64_t kMax = 500'000;

TEST(LightLoadNap, OffWhenTheBoundIsZero) {
  EXPECT_EQ(next_nap_ns(0, 0, kB, 0), 0u);
  EXPECT_EQ(next_nap_ns(8000, 1, kB, 0), 0u);
}

TEST(LightLoadNap, IdlePassesDoubleFromOneMicrosecondToTheBound) {
  uint64_t nap = 0;
  std::vector<uint64_t> seen;
  for (int i = 0; i < 12; ++i) seen.push_back(nap = next_nap_ns(nap, 0, kB, kMax));
  EXPECT_EQ(seen.front(), kFirstNapNs);
  EXPECT_EQ(seen[1], 2 * kFirstNapNs);
  EXPECT_EQ(seen.back(), kMax);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i], seen[i - 1]);
}

TEST(LightLoadNap, AFullBurstPollsFlatOut) {
  EXPECT_EQ(next_nap_ns(kMax, kB, kB, kMax), 0u);
  EXPECT_EQ(next_nap_ns(kMax, 3 * kB, kB, kMax), 0u);
}

TEST(LightLoadNap, HalfABurstHalvesTheNapInsteadOfRestarting) {
  EXPECT_EQ(next_nap_ns(kMax, kB / 2, kB, kMax), kMax / 2);
  EXPECT_EQ(next_nap_ns(kMax / 2, kB - 1, kB, kMax), kMax / 4);
  // Then an idle pass climbs back in one step, not nine.
  EXPECT_EQ(next_nap_ns(kMax / 2, 1, kB, kMax), kMax);
  // Below the first nap it stops napping.
  EXPECT_EQ(next_nap_ns(kFirstNapNs, kB / 2, kB, kMax), 0u);
  EXPECT_EQ(next_nap_ns(0, kB / 2, kB, kMax), 0u);
}

TEST(LightLoadNap, FewPacketsKeepDoubling) {
  EXPECT_EQ(next_nap_ns(4000, kB / 2 - 1, kB, kMax), 8000u);
}

}  // namespace
}  // namespace msgw::dataplane
