// SPDX-License-Identifier: GPL-3.0-or-later
// The oSIP2 timer rules msgw applies itself (sip/src/osip_timers.cpp): each
// of the ten transaction timers fires only in the states oSIP2's state
// machines handle it in (RFC 3261 §17), only once its deadline is strictly
// past, in oSIP2's check order, as the timeout event oSIP2 expects; and the
// deadline indexed for a transaction is that of the earliest timer that can
// fire.  Transactions are built by hand here so that every state can be
// reached; tests/unit/sip/test_core_timers.cpp runs the timers through the
// stack.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "osip_timers.hpp"

namespace msgw::sip {
namespace {

struct FakeTransaction {
  osip_transaction_t tr;
  osip_ict_t ict{};
  osip_ist_t ist{};
  osip_nict_t nict{};
  osip_nist_t nist{};

  explicit FakeTransaction(osip_fsm_type_t kind, state_t state) {
    std::memset(&tr, 0, sizeof tr);
    tr.ctx_type = kind;
    tr.state = state;
    tr.transactionid = 4711;
    if (kind == ICT) tr.ict_context = &ict;
    if (kind == IST) tr.ist_context = &ist;
    if (kind == NICT) tr.nict_context = &nict;
    if (kind == NIST) tr.nist_context = &nist;
    for (char t : std::string("ABDEFGHIJK")) timer(t).tv_sec = -1;  // oSIP2's "not started"
  }
  timeval& timer(char name) {
    switch (name) {
      case 'A': return ict.timer_a_start;
      case 'B': return ict.timer_b_start;
      case 'D': return ict.timer_d_start;
      case 'E': return nict.timer_e_start;
      case 'F': return nict.timer_f_start;
      case 'K': return nict.timer_k_start;
      case 'G': return ist.timer_g_start;
      case 'H': return ist.timer_h_start;
      case 'I': return ist.timer_i_start;
      default: return nist.timer_j_start;
    }
  }
  void arm(char name, int64_t at_us) { timer(name) = timeval{time_t(at_us / 1000000), suseconds_t(at_us % 1000000)}; }
};

struct EventDeleter {
  void operator()(osip_event_t* e) const { osip_free(e); }
};
using EventPtr = std::unique_ptr<osip_event_t, EventDeleter>;

struct TimerCase {
  char name;
  osip_fsm_type_t kind;
  type_t event;
  std::vector<state_t> fires_in;
};

// RFC 3261 §17.1.1.2 (A, B in Calling; D in Completed), §17.1.2.2 (E, F in
// Trying/Proceeding; K in Completed), §17.2.1 (G, H in Completed; I in
// Confirmed), §17.2.2 (J in Completed).
const TimerCase kTimers[] = {
    {'A', ICT, TIMEOUT_A, {ICT_CALLING}},
    {'B', ICT, TIMEOUT_B, {ICT_CALLING}},
    {'D', ICT, TIMEOUT_D, {ICT_COMPLETED}},
    {'E', NICT, TIMEOUT_E, {NICT_TRYING, NICT_PROCEEDING}},
    {'F', NICT, TIMEOUT_F, {NICT_TRYING, NICT_PROCEEDING}},
    {'K', NICT, TIMEOUT_K, {NICT_COMPLETED}},
    {'G', IST, TIMEOUT_G, {IST_COMPLETED}},
    {'H', IST, TIMEOUT_H, {IST_COMPLETED}},
    {'I', IST, TIMEOUT_I, {IST_CONFIRMED}},
    {'J', NIST, TIMEOUT_J, {NIST_COMPLETED}},
};

std::vector<state_t> states_of(osip_fsm_type_t kind) {
  auto range = [](state_t first, state_t last) {
    std::vector<state_t> v;
    for (int s = first; s <= last; ++s) v.push_back(state_t(s));
    return v;
  };
  switch (kind) {
    case ICT: return range(ICT_PRE_CALLING, ICT_TERMINATED);
    case IST: return range(IST_PRE_PROCEEDING, IST_TERMINATED);
    case NICT: return range(NICT_PRE_TRYING, NICT_TERMINATED);
    case NIST: return range(NIST_PRE_TRYING, NIST_TERMINATED);
  }
  return {};
}

bool contains(const std::vector<state_t>& v, state_t s) { return std::find(v.begin(), v.end(), s) != v.end(); }

TEST(CoreOsipTimers, EachTimerFiresOnlyInItsStatesOnceItsDeadlinePassed) {
  const int64_t now = osip_now_us();
  const int64_t past = now - 1000000, future = now + 1000000;
  int fired = 0;
  for (const TimerCase& c : kTimers) {
    for (state_t s : states_of(c.kind)) {
      SCOPED_TRACE(std::string("timer ") + c.name + " state " + std::to_string(s));
      const bool may_fire = contains(c.fires_in, s);
      FakeTransaction due(c.kind, s);
      due.arm(c.name, past);
      EventPtr ev(due_timer_event(&due.tr, now));
      if (may_fire) {
        ASSERT_NE(ev, nullptr);
        EXPECT_EQ(ev->type, c.event);
        EXPECT_EQ(ev->transactionid, 4711);
        EXPECT_EQ(ev->sip, nullptr);
        EXPECT_EQ(next_timer_deadline(&due.tr), past);
        ++fired;
      } else {
        EXPECT_EQ(ev, nullptr) << "fired in a state oSIP2 ignores it in";
        EXPECT_EQ(next_timer_deadline(&due.tr), kNever) << "indexed in a state it cannot fire in";
      }
      FakeTransaction later(c.kind, s);
      later.arm(c.name, future);
      EXPECT_EQ(EventPtr(due_timer_event(&later.tr, now)), nullptr) << "fired before its deadline";
      EXPECT_EQ(next_timer_deadline(&later.tr), may_fire ? future : kNever);
      // oSIP2 fires once `now` is strictly past the deadline.
      FakeTransaction exact(c.kind, s);
      exact.arm(c.name, now);
      EXPECT_EQ(EventPtr(due_timer_event(&exact.tr, now)), nullptr);
      EXPECT_EQ(EventPtr(due_timer_event(&exact.tr, now + 1)) != nullptr, may_fire);
      // Disarmed: never.
      FakeTransaction off(c.kind, s);
      EXPECT_EQ(EventPtr(due_timer_event(&off.tr, now)), nullptr);
      EXPECT_EQ(next_timer_deadline(&off.tr), kNever);
    }
  }
  EXPECT_EQ(fired, 12);  // A, B, D, E x2, F x2, K, G, H, I, J
}

// Where two timers can be due in the same state, the one that ends the
// transaction wins (oSIP2's order): B over A, F over E, H over G.
TEST(CoreOsipTimers, TheTransactionEndingTimerIsCheckedFirst) {
  const int64_t now = osip_now_us();
  struct Pair {
    osip_fsm_type_t kind;
    state_t state;
    char ending, retransmit;
    type_t want;
  };
  const Pair pairs[] = {{ICT, ICT_CALLING, 'B', 'A', TIMEOUT_B},
                        {NICT, NICT_TRYING, 'F', 'E', TIMEOUT_F},
                        {NICT, NICT_PROCEEDING, 'F', 'E', TIMEOUT_F},
                        {IST, IST_COMPLETED, 'H', 'G', TIMEOUT_H}};
  for (const Pair& p : pairs) {
    FakeTransaction t(p.kind, p.state);
    t.arm(p.retransmit, now - 2000);  // due earlier, still second
    t.arm(p.ending, now - 1000);
    EventPtr ev(due_timer_event(&t.tr, now));
    ASSERT_NE(ev, nullptr);
    EXPECT_EQ(ev->type, p.want) << p.ending;
    // Only the retransmission timer due: it fires.
    t.arm(p.ending, now + 1000);
    ev.reset(due_timer_event(&t.tr, now));
    ASSERT_NE(ev, nullptr);
    EXPECT_NE(ev->type, p.want) << p.retransmit;
  }
}

// The deadline indexed is the earliest of the timers that can fire, later
// than `after` (the stack passes the time of a check that fired nothing).
TEST(CoreOsipTimers, NextDeadlineIsTheEarliestFirableAfterTheGivenTime) {
  FakeTransaction ict(ICT, ICT_CALLING);
  ict.arm('A', 5'000'000);
  ict.arm('B', 40'000'000);
  ict.arm('D', 1'000'000);  // armed but D cannot fire in Calling
  EXPECT_EQ(next_timer_deadline(&ict.tr), 5'000'000);
  EXPECT_EQ(next_timer_deadline(&ict.tr, 5'000'000), 40'000'000);
  EXPECT_EQ(next_timer_deadline(&ict.tr, 40'000'000), kNever);
  ict.tr.state = ICT_COMPLETED;
  EXPECT_EQ(next_timer_deadline(&ict.tr), 1'000'000);

  FakeTransaction nict(NICT, NICT_PROCEEDING);
  nict.arm('E', 3'000'000);
  nict.arm('F', 2'000'000);
  nict.arm('K', 1'000'000);
  EXPECT_EQ(next_timer_deadline(&nict.tr), 2'000'000);

  // A transaction without its context (never the case for oSIP2's own)
  // has no timers.
  FakeTransaction bare(IST, IST_COMPLETED);
  bare.arm('H', 1'000'000);
  bare.tr.ist_context = nullptr;
  EXPECT_EQ(next_timer_deadline(&bare.tr), kNever);
  EXPECT_EQ(EventPtr(due_timer_event(&bare.tr, osip_now_us())), nullptr);
}

}  // namespace
}  // namespace msgw::sip
