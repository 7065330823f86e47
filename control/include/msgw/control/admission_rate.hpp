// SPDX-License-Identifier: GPL-3.0-or-later
// Rate-based overload control inside the box (the idea of RFC 7415): while
// msgw-control is overloaded, new INVITEs and REGISTERs are not all shed;
// msgw-dataplane's workers still let a controlled rate of them through
// (SipShedState::admit_rate) and answer only the excess 503.
//
// Why a rate: all-or-nothing shedding oscillates.  Once the workers shed
// everything the receive queue empties, the stack admits again, the whole
// flood gets in, the queue ages, and it sheds again (at 10x offered load:
// ~58 flips a second, 67 % goodput).  A rate holds the stack near what it
// can finish instead.
//
// Why on the queue's age, proportional and derivative (the idea of PIE,
// RFC 8033, with an admitted rate where PIE has a drop probability): an
// admitted call's work reaches the stack over its whole life (the INVITE
// and its challenge at once, the authenticated INVITE a round trip later,
// the BYE a hold time later), so the age answers a rate change late.  The
// first controller cut by a fixed 25 % on every 100 ms step in which the
// stack's gate shed at all (which stays on until the queue is younger than
// the resume age), so it kept cutting while the backlog of calls it had
// already let in drained: it sawed between a fraction of the capacity and
// past it (66 % goodput at 10x).  Here each step scales the rate by
//   1 - kP (age - target) / target - kD (age - previous age) / target,
// bounded to [kMinFactor, kMaxFactor], 5 % either way: a queue growing is
// cut at once in proportion to how fast, within that bound; one that is old
// but draining is not cut (what
// drains is mostly the calls already let in, which a lower rate would not
// hurry: cutting on the age alone took a 2x flood's rate from 900 to 60/s
// while the core idled); a young one grows, by kFastGrowth a step while
// below the rate the stack was lately seen to keep up with or below
// kFastBelowCeiling x the rate at the episode's last cut (before any cut:
// always, like TCP's slow start, so that a flood on a cold stack finds its
// capacity in a few steps: at x(1 + kP) a 2x flood's first episode got
// 34-58 % through), else by at most kP.
// Why 5 % a step: the loop's delay is the call's life, about a second
// (the BYE a 1 s hold later), ten steps; at the earlier bounds (x0.7 to
// x1.25 a step) a 10x flood's rate swung between 560 and 8,100/s with a
// period of about 2.5 s on a stack that completes ~2,500 calls/s, the core
// idled in the troughs, and good calls were 61 / 87 % of capacity in the
// two runs without generator drops, against 87 / 88 % at 5 % (interleaved,
// same hour; the rate then stayed within 2,000-4,000/s).  The slow start
// keeps kFastGrowth = kMaxFactor for the same reason.
//
// In steps of kStep, from the newest datagram's age the stack met (the
// largest over the step; 0 when none arrived):
//  - normal -> limiting when the stack's gate sheds (a datagram older than
//    its shed age).  The rate starts from the most the stack has lately
//    been seen to take in over a second it kept up with (see kGoodSteps; a
//    maximum that decays by kGoodDecay a step), or half of what it took in
//    over the last second if that is more.  Not the last second alone: a
//    flood that begins after a quiet spell finds it near zero (entered at
//    176/s, a 900/s stack took 3 s to climb back), and one that begins
//    in the middle of traffic finds it swollen by the flood's first
//    hundreds of milliseconds.
//  - limiting: the rate scales as above, at least kMinRate and
//    kFloorOfGood x that kept-up-with rate (whatever else keeps the queue
//    old, some new calls still get in); it grows past kCapOverTaken x what
//    was taken in over the last kRecentSteps (+kMinRate) no further: a
//    rate the flood does not fill stops growing (but is not cut for it).
//  - limiting -> normal at a step with the queue younger than the target
//    once msgw-dataplane's workers shed nothing for kCalm (their sip_shed
//    count, published every 200 ms): the flood is over.  Where that count
//    is unknown (no dataplane), after kCalm of such steps with the rate no
//    longer limiting: what the last kRecentSteps took in below
//    kNotLimiting x the rate.  Not
//    that test alone: at a rate cut to a few calls a second it is noise, and
//    the controller left in the middle of a 10x flood, which then came in
//    whole.
// "New requests" are the class shedding acts on (INVITE/REGISTER, no To
// tag, no credentials: Stats::rx_new_requests), one per call or binding,
// the same thing the workers' rate counts.  The time is an argument
// (CLOCK_MONOTONIC ns) so that tests drive it.
#pragma once

#include <array>
#include <cstdint>

namespace msgw::control {

class AdmissionRateController {
 public:
  enum class State : uint8_t { normal, limiting };
  static constexpr int64_t kStep = 100'000'000;  // ns
  static constexpr int64_t kCalm = 500'000'000;  // ns
  static constexpr double kP = 0.05;
  static constexpr double kD = 0.5;
  static constexpr double kMinFactor = 0.95;
  static constexpr double kMaxFactor = 1.05;
  static constexpr double kFastGrowth = kMaxFactor;  // the slow start at the step bound (above)
  static constexpr double kFastBelowCeiling = 0.9;
  static constexpr double kMinRate = 5;
  static constexpr double kFloorOfGood = 0.1;
  static constexpr double kCapOverTaken = 1.5;
  static constexpr double kNotLimiting = 0.8;
  // What was taken in "lately", for the cap and the exit: a rate growing
  // kMaxFactor a step is at most 1.33x what these steps took in, so a
  // flood that fills it is not taken for its end.
  static constexpr std::size_t kRecentSteps = 3;
  static constexpr double kGoodDecay = 1.0 / 600;  // a step: e^-1 a minute
  // A second's intake counts as one the stack kept up with when none of
  // the last kGoodSteps met a datagram older than kGoodAgeTargets targets
  // (at its capacity the queue's age wanders past the target now and
  // then).  A call's later work (its BYE) comes a hold time after its
  // INVITE, so this may overestimate; the cuts correct it.  (Three
  // seconds instead cost more at a flood's start than they saved.)
  static constexpr int64_t kGoodAgeTargets = 2;
  static constexpr std::size_t kGoodSteps = 10;

  // What the stack reports, once per loop pass.
  struct Sample {
    bool gate_shedding = false;   // the stack's gate sheds now (Stats::overloaded)
    uint64_t messages = 0;        // running count of datagrams met (Stats::rx_messages)
    int64_t newest_age_us = 0;    // the last one's age (Stats::rx_queue_age_last_us)
    uint64_t new_requests = 0;    // running count (Stats::rx_new_requests)
    // The age the rate holds the queue near: [sip] overload_resume_age_ms
    // (where the stack's own shedding would end), live; <= 0: 50 ms.
    int64_t target_age_us = 50'000;
    // Running count of new requests msgw-dataplane's workers answered 503
    // (their sip_shed counters summed); < 0: unknown.
    int64_t dataplane_shed = -1;
  };

  void update(int64_t now_ns, const Sample& s);

  State state() const { return state_; }
  bool limiting() const { return state_ == State::limiting; }
  // New calls/s to admit while limiting; 0 in normal.
  uint32_t rate() const { return state_ == State::limiting ? uint32_t(rate_ + 0.5) : 0; }
  uint64_t episodes() const { return episodes_; }
  // New requests a second taken in over the last second (the history kept).
  double measured_rate() const;
  // The most taken in over a young second lately (decaying); 0: none yet.
  double good_rate() const { return good_rate_; }

 private:
  void step(int64_t now_ns, uint64_t new_requests);
  // New requests a second taken in over the last `steps` steps.
  double taken_rate(std::size_t steps) const;

  static constexpr std::size_t kHistory = 11;  // step boundaries: one second
  int64_t target_us_ = 50'000;
  State state_ = State::normal;
  double rate_ = 0;
  uint64_t episodes_ = 0;
  bool started_ = false;
  int64_t step_start_ns_ = 0;
  uint64_t messages_ = 0;         // at the last pass
  int64_t step_max_age_us_ = 0;   // the step's largest age met
  int64_t prev_age_us_ = 0;       // the previous step's
  int64_t calm_since_ns_ = -1;    // < 0: not calm
  double good_rate_ = 0;
  double ceiling_ = 0;             // the rate at the episode's last cut; 0: none yet
  int64_t shed_seen_ = -1;         // the workers' count as last seen
  int64_t shed_changed_ns_ = 0;    // when it last grew
  std::size_t young_steps_ = 0;   // consecutive steps younger than the target
  // new_requests at the last kHistory step boundaries (ring), with times.
  std::array<uint64_t, kHistory> count_{};
  std::array<int64_t, kHistory> at_ns_{};
  std::size_t n_hist_ = 0, head_ = 0;
};

}  // namespace msgw::control
