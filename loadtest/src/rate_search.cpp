// SPDX-License-Identifier: GPL-3.0-or-later
#include "rate_search.hpp"

#include <algorithm>

namespace msgw::loadtest {

RateSearch::RateSearch(SearchLimits limits) : limits_(limits) {
  limits_.max = std::max<std::uint32_t>(limits_.max, 1);
  limits_.start = std::clamp<std::uint32_t>(limits_.start, 1, limits_.max);
  limits_.resolution = std::max<std::uint32_t>(limits_.resolution, 1);
  current_ = limits_.start;
}

std::optional<SearchStep> RateSearch::next() const {
  if (phase_ == SearchPhase::done) return std::nullopt;
  return SearchStep{current_, phase_ == SearchPhase::confirming};
}

std::uint32_t RateSearch::highest_pass_below(std::uint32_t rate) const {
  std::uint32_t best = 0;
  for (auto r : passed_)
    if (r < rate) best = std::max(best, r);
  return best;
}

void RateSearch::bisect_or_finish() {
  const std::uint32_t lo = highest_pass_below(lowest_fail_);
  if (lowest_fail_ - lo <= limits_.resolution) {
    found_ = lo;
    if (lo > 0 && limits_.confirm && confirmations_ < limits_.max_confirmations) {
      phase_ = SearchPhase::confirming;
      current_ = lo;
    } else {
      phase_ = SearchPhase::done;
    }
    return;
  }
  phase_ = SearchPhase::bisecting;
  current_ = lo + (lowest_fail_ - lo) / 2;
}

void RateSearch::record(bool passed) {
  switch (phase_) {
    case SearchPhase::done:
      return;
    case SearchPhase::expanding:
    case SearchPhase::bisecting:
      if (passed) {
        passed_.push_back(current_);
        found_ = std::max(found_, current_);
        if (phase_ == SearchPhase::expanding) {
          if (current_ >= limits_.max) {
            // Every rate up to the ceiling passed: confirm the ceiling.
            lowest_fail_ = limits_.max + 1;
          } else {
            current_ = std::min<std::uint32_t>(current_ * 2, limits_.max);
            return;
          }
        }
      } else {
        lowest_fail_ = lowest_fail_ ? std::min(lowest_fail_, current_) : current_;
      }
      if (lowest_fail_ == 0) return;  // cannot happen: a pass in expanding returned above
      bisect_or_finish();
      return;
    case SearchPhase::confirming:
      ++confirmations_;
      if (passed) {
        confirmed_ = true;
        phase_ = SearchPhase::done;
        return;
      }
      // The found rate did not hold for the longer run: it is now a failure.
      passed_.erase(std::remove(passed_.begin(), passed_.end(), current_), passed_.end());
      lowest_fail_ = current_;
      found_ = 0;
      bisect_or_finish();
      return;
  }
}

}  // namespace msgw::loadtest
