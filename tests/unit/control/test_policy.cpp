// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include "msgw/control/auth_guard.hpp"
#include "msgw/control/media_policy.hpp"
#include "msgw/control/port_allocator.hpp"

using namespace msgw::control;
using C = msgw::codecs::CodecId;

namespace {

// The reference SPA offer (PT 2 0 4 8 18 ...) as codec ids, G.723 left out
// because the engine does not know it.
const std::vector<C> kSpaOffer = {C::G726_32, C::Pcmu, C::Pcma, C::G729};
const std::vector<C> kSpa1Prefs = {C::Pcmu, C::Pcma, C::G726_32, C::G729};

TEST(MediaPolicy, ReferenceCallOffersTrunkG729AndRelays) {
  auto a = usable_offer(kSpaOffer, kSpa1Prefs);
  EXPECT_EQ(a, (std::vector<C>{C::Pcmu, C::Pcma, C::G726_32, C::G729}));
  EXPECT_EQ(trunk_offer(a, {C::G729}), std::vector<C>{C::G729});
  auto plan = plan_answer(a, C::G729);
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->transcode);  // the SPA offered G.729 too: relay
  EXPECT_EQ(plan->a_codec, C::G729);
}

TEST(MediaPolicy, PhoneWithoutG729IsTranscodedFromItsBestCodec) {
  auto a = usable_offer({C::Pcma, C::Pcmu}, kSpa1Prefs);
  EXPECT_EQ(a, (std::vector<C>{C::Pcmu, C::Pcma}));  // subscriber preference decides
  auto plan = plan_answer(a, C::G729);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->transcode);
  EXPECT_EQ(plan->a_codec, C::Pcmu);
  EXPECT_EQ(plan->b_codec, C::G729);
}

TEST(MediaPolicy, SharedCodecsAreOfferedToTheTrunkFirst) {
  auto a = usable_offer({C::Pcma}, kSpa1Prefs);
  EXPECT_EQ(trunk_offer(a, {C::G729, C::Pcmu, C::Pcma}), (std::vector<C>{C::Pcma, C::G729, C::Pcmu}));
}

TEST(MediaPolicy, NothingUsableMeans488) {
  EXPECT_TRUE(usable_offer({C::G729}, {C::Pcmu}).empty());
  EXPECT_FALSE(plan_answer({}, C::Pcmu));
}

TEST(MediaPolicy, TelephoneEventWhenEitherSideOffersIt) {
  EXPECT_TRUE(want_telephone_event(true, false));
  EXPECT_TRUE(want_telephone_event(false, true));
  EXPECT_FALSE(want_telephone_event(false, false));
}

TEST(PortAllocator, EvenPairsFromTheRangeAndFreedPairsReusedLast) {
  PortAllocator p(16385, 16393);  // rounds to 16386; pairs 16386 16388 16390 16392
  EXPECT_EQ(p.capacity(), 4u);
  EXPECT_EQ(p.allocate(), 16386);
  EXPECT_EQ(p.allocate(), 16388);
  EXPECT_TRUE(p.release(16386));
  EXPECT_FALSE(p.release(16386));  // double free refused
  EXPECT_EQ(p.allocate(), 16390);
  EXPECT_EQ(p.allocate(), 16392);
  EXPECT_EQ(p.allocate(), 16386);  // the freed pair comes back only now
  EXPECT_FALSE(p.allocate());      // exhausted
  EXPECT_EQ(p.in_use(), 4u);
}

TEST(PortAllocator, ReserveForRestoredCalls) {
  PortAllocator p(20000, 20007);
  EXPECT_TRUE(p.reserve(20002));
  EXPECT_FALSE(p.reserve(20002));
  EXPECT_FALSE(p.reserve(20003));  // odd
  EXPECT_FALSE(p.reserve(20008));  // out of range
  EXPECT_EQ(p.allocate(), 20000);
  EXPECT_EQ(p.allocate(), 20004);  // 20002 skipped: reserved
  EXPECT_TRUE(p.release(20002));
  EXPECT_EQ(p.allocate(), 20006);
  EXPECT_EQ(p.allocate(), 20002);
  EXPECT_FALSE(p.allocate());
}

TEST(AuthGuard, BlocksAfterRepeatedFailuresWithinTheWindow) {
  using namespace std::chrono_literals;
  AuthGuard g(3, 60s, 300s);
  auto t = AuthGuard::Clock::time_point{} + 1000s;
  g.failure("10.10.0.2", t);
  g.failure("10.10.0.2", t + 1s);
  EXPECT_FALSE(g.blocked("10.10.0.2", t + 2s));
  g.failure("10.10.0.2", t + 2s);
  EXPECT_TRUE(g.blocked("10.10.0.2", t + 3s));
  EXPECT_FALSE(g.blocked("10.10.0.3", t + 3s));
  g.success("10.10.0.2", t + 4s);                 // a right guess does not lift the block
  EXPECT_TRUE(g.blocked("10.10.0.2", t + 5s));
  EXPECT_FALSE(g.blocked("10.10.0.2", t + 303s));  // block expires
}

TEST(AuthGuard, FailuresOutsideTheWindowDoNotAddUp) {
  using namespace std::chrono_literals;
  AuthGuard g(2, 10s, 60s);
  auto t = AuthGuard::Clock::time_point{} + 1000s;
  g.failure("a", t);
  g.failure("a", t + 11s);
  EXPECT_FALSE(g.blocked("a", t + 12s));
  g.success("a", t + 12s);
  EXPECT_EQ(g.tracked(), 0u);
}

TEST(AuthGuard, MemoryIsBounded) {
  using namespace std::chrono_literals;
  AuthGuard g(5, 60s, 60s, 100);
  auto t = AuthGuard::Clock::time_point{} + 1000s;
  for (int i = 0; i < 1000; ++i) g.failure("src" + std::to_string(i), t);
  EXPECT_EQ(g.tracked(), 100u);
}

}  // namespace
