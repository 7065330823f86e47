// SPDX-License-Identifier: GPL-3.0-or-later
// AdmissionRateController: AIMD on the receive queue's age (admission_rate.hpp).
#include "msgw/control/admission_rate.hpp"

#include <algorithm>

namespace msgw::control {

double AdmissionRateController::measured_rate() const {
  if (n_hist_ < 2) return 0;
  const std::size_t newest = (head_ + kHistory - 1) % kHistory;
  const std::size_t oldest = (head_ + kHistory - n_hist_) % kHistory;
  const int64_t span = at_ns_[newest] - at_ns_[oldest];
  if (span <= 0) return 0;
  return double(count_[newest] - count_[oldest]) * 1e9 / double(span);
}

void AdmissionRateController::update(int64_t now_ns, bool queue_old, uint64_t new_requests) {
  if (!started_) {
    started_ = true;
    step_start_ns_ = now_ns;
    count_[0] = new_requests;
    at_ns_[0] = now_ns;
    n_hist_ = 1;
    head_ = 1;
  }
  step_old_ = step_old_ || queue_old;
  // Entering overload is not left to the next step boundary.
  if (state_ == State::normal && queue_old) {
    state_ = State::limiting;
    ++episodes_;
    rate_ = std::max(kMinRate, measured_rate());
    calm_since_ns_ = -1;
    step_start_ns_ = now_ns;
    step_old_ = false;  // the first cut comes a step later, if still old
    return;
  }
  if (now_ns - step_start_ns_ >= kStep) step(now_ns, new_requests);
}

void AdmissionRateController::step(int64_t now_ns, uint64_t new_requests) {
  count_[head_] = new_requests;
  at_ns_[head_] = now_ns;
  head_ = (head_ + 1) % kHistory;
  n_hist_ = std::min(n_hist_ + 1, kHistory);
  const bool old = step_old_;
  step_old_ = false;
  step_start_ns_ = now_ns;
  if (state_ != State::limiting) return;
  if (old) {
    rate_ = std::max(kMinRate, rate_ * kDecrease);
    calm_since_ns_ = -1;
    return;
  }
  rate_ += std::max(kMinIncrease, rate_ * kIncreaseFraction);
  if (rate_ > 2 * measured_rate()) {
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
