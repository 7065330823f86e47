// SPDX-License-Identifier: GPL-3.0-or-later
// Rate-based overload control inside the box (the idea of RFC 7415): while
// msgw-control is overloaded, new INVITEs and REGISTERs are not all shed;
// msgw-dataplane's workers still let a controlled rate of them through
// (SipShedState::admit_rate) and answer only the excess 503.
//
// Why: all-or-nothing shedding oscillates.  Once the workers shed everything
// the receive queue empties, the stack admits again, the whole flood gets in,
// the queue ages, and it sheds again; each admitting window lets in more
// calls than can finish (at 10x offered load: ~58 flips a second, 67 %
// goodput).  A rate holds the stack near what it can finish instead.
//
// AIMD, in steps of kStep, on one signal per step: was the receive queue old
// (the stack's OverloadGate shed at any moment of the step: a datagram older
// than overload_queue_age_ms, not yet one younger than the resume age) or
// young.
//  - normal -> limiting when a step is old.  The rate starts from the new
//    requests the stack took in over the last second (what it was being fed
//    as it fell behind), at least kMinRate.
//  - limiting, an old step: rate x kDecrease (at least kMinRate).
//  - limiting, a young step: rate + max(kIncreaseFraction x rate, kMinIncrease).
//  - limiting -> normal after kCalm of young steps with the rate no longer
//    limiting (more than twice what actually came in over the last second):
//    the flood is over.
// The time is an argument (CLOCK_MONOTONIC ns) so that tests drive it.
#pragma once

#include <array>
#include <cstdint>

namespace msgw::control {

class AdmissionRateController {
 public:
  enum class State : uint8_t { normal, limiting };
  static constexpr int64_t kStep = 100'000'000;   // ns
  static constexpr int64_t kCalm = 1'000'000'000;  // ns
  static constexpr double kDecrease = 0.75;
  static constexpr double kIncreaseFraction = 0.05;
  static constexpr double kMinIncrease = 5;
  static constexpr double kMinRate = 5;

  // Once per loop pass: queue_old = the stack sheds now; new_requests = its
  // running count of new INVITEs/REGISTERs taken in (not shed).
  void update(int64_t now_ns, bool queue_old, uint64_t new_requests);

  State state() const { return state_; }
  bool limiting() const { return state_ == State::limiting; }
  // New calls/s to admit while limiting; 0 in normal.
  uint32_t rate() const { return state_ == State::limiting ? uint32_t(rate_ + 0.5) : 0; }
  uint64_t episodes() const { return episodes_; }
  // New requests a second over the last second (the history kept).
  double measured_rate() const;

 private:
  void step(int64_t now_ns, uint64_t new_requests);

  static constexpr std::size_t kHistory = 11;  // step boundaries: one second
  State state_ = State::normal;
  double rate_ = 0;
  uint64_t episodes_ = 0;
  bool started_ = false;
  int64_t step_start_ns_ = 0;
  bool step_old_ = false;
  int64_t calm_since_ns_ = -1;  // < 0: not calm
  // new_requests at the last kHistory step boundaries (ring), with times.
  std::array<uint64_t, kHistory> count_{};
  std::array<int64_t, kHistory> at_ns_{};
  std::size_t n_hist_ = 0, head_ = 0;
};

}  // namespace msgw::control
