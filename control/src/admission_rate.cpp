// SPDX-License-Identifier: GPL-3.0-or-later
// AdmissionRateController: the admitted rate on the receive queue's age
// (admission_rate.hpp).
#include "msgw/control/admission_rate.hpp"

#include <algorithm>

namespace msgw::control {

double AdmissionRateController::measured_rate() const { return taken_rate(kHistory - 1); }

double AdmissionRateController::taken_rate(std::size_t steps) const {
  if (n_hist_ < 2) return 0;
  const std::size_t newest = (head_ + kHistory - 1) % kHistory;
  const std::size_t oldest = (head_ + kHistory - std::min(n_hist_, steps + 1)) % kHistory;
  const int64_t span = at_ns_[newest] - at_ns_[oldest];
  if (span <= 0) return 0;
  return double(count_[newest] - count_[oldest]) * 1e9 / double(span);
}

void AdmissionRateController::update(int64_t now_ns, const Sample& s) {
  if (!started_) {
    started_ = true;
    step_start_ns_ = now_ns;
    messages_ = s.messages;
    count_[0] = s.new_requests;
    at_ns_[0] = now_ns;
    n_hist_ = 1;
    head_ = 1;
  }
  target_us_ = s.target_age_us > 0 ? s.target_age_us : 50'000;
  if (s.dataplane_shed != shed_seen_) {
    if (s.dataplane_shed > shed_seen_ && shed_seen_ >= 0) shed_changed_ns_ = now_ns;
    shed_seen_ = s.dataplane_shed;
  }
  if (s.messages != messages_) step_max_age_us_ = std::max(step_max_age_us_, s.newest_age_us);
  messages_ = s.messages;
  // Entering overload is not left to the next step boundary.
  if (state_ == State::normal && s.gate_shedding) {
    state_ = State::limiting;
    ++episodes_;
    rate_ = std::max({kMinRate, good_rate_, 0.5 * measured_rate()});
    ceiling_ = 0;
    calm_since_ns_ = -1;
    // The first step is judged a step from now, against the age that tripped it.
    step_start_ns_ = now_ns;
    prev_age_us_ = std::max(step_max_age_us_, s.newest_age_us);
    step_max_age_us_ = 0;
    return;
  }
  if (now_ns - step_start_ns_ >= kStep) step(now_ns, s.new_requests);
}

void AdmissionRateController::step(int64_t now_ns, uint64_t new_requests) {
  count_[head_] = new_requests;
  at_ns_[head_] = now_ns;
  head_ = (head_ + 1) % kHistory;
  n_hist_ = std::min(n_hist_ + 1, kHistory);
  const int64_t age = step_max_age_us_;
  const int64_t prev = prev_age_us_;
  prev_age_us_ = age;
  step_max_age_us_ = 0;
  step_start_ns_ = now_ns;
  young_steps_ = age < kGoodAgeTargets * target_us_ ? young_steps_ + 1 : 0;
  good_rate_ *= 1.0 - kGoodDecay;
  if (young_steps_ >= kGoodSteps) good_rate_ = std::max(good_rate_, measured_rate());
  if (state_ != State::limiting) return;

  const double target = double(target_us_);
  double factor = 1.0 - kP * (double(age) - target) / target - kD * double(age - prev) / target;
  // Old but draining: what it drains is mostly the calls already let in,
  // which a lower rate would not hurry; no cut.
  if (age > target_us_ && age < prev) factor = std::max(factor, 1.0);
  double next = rate_ * std::clamp(factor, kMinFactor, kMaxFactor);
  if (next < rate_) ceiling_ = rate_;
  // Young and below what the stack was lately seen to keep up with, or
  // below the last cut's rate (no cut yet: no limit): up there fast.
  if (age < target_us_) {
    const double limit = std::max(good_rate_, ceiling_ > 0 ? kFastBelowCeiling * ceiling_ : 1e12);
    if (rate_ < limit) next = std::max(next, std::min(rate_ * kFastGrowth, limit));
  }
  const double taken = taken_rate(kRecentSteps);
  const double floor = std::max(kMinRate, kFloorOfGood * good_rate_);
  // The cap holds growth back, never cuts: while the queue is old the stack
  // may take in almost nothing (its gate sheds what the workers let in),
  // and a cap that cut took a 2x flood's rate from 840 to 5/s in a step.
  const double cap = std::max(rate_, kCapOverTaken * taken + kMinRate);
  rate_ = std::clamp(next, floor, std::max(floor, cap));

  if (shed_seen_ >= 0) {  // the workers' count: a flood is over when they shed nothing
    if (age < target_us_ && now_ns - shed_changed_ns_ >= kCalm) {
      state_ = State::normal;
      rate_ = 0;
    }
    return;
  }
  if (age < target_us_ && taken < kNotLimiting * rate_) {
    if (calm_since_ns_ < 0) calm_since_ns_ = now_ns;
    if (now_ns - calm_since_ns_ >= kCalm) {
      state_ = State::normal;
      rate_ = 0;
      calm_since_ns_ = -1;
    }
  } else {
    calm_since_ns_ = -1;
  }
}

}  // namespace msgw::control
