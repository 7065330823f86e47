// SPDX-License-Identifier: GPL-3.0-or-later
// The RFC 7502 search for the highest sustained rate: start at a rate,
// double while steps pass, then bisect between the highest passing and the
// lowest failing rate down to the resolution, then confirm the found rate
// with one longer run. A failed confirmation makes that rate the lowest
// failing one and the bisection goes on below it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace msgw::loadtest {

struct SearchLimits {
  std::uint32_t start = 50;       // first rate tried (per second)
  std::uint32_t max = 5000;       // never offered above this
  std::uint32_t resolution = 10;  // stop bisecting when fail - pass <= this
  bool confirm = true;            // run a confirmation step at the found rate
  std::uint32_t max_confirmations = 3;
};

enum class SearchPhase : std::uint8_t { expanding, bisecting, confirming, done };

struct SearchStep {
  std::uint32_t rate = 0;
  bool confirmation = false;
};

class RateSearch {
 public:
  explicit RateSearch(SearchLimits limits);

  // The step to run next; nullopt once the search is done.
  std::optional<SearchStep> next() const;
  // The outcome of the step next() returned.
  void record(bool passed);

  SearchPhase phase() const { return phase_; }
  // Highest rate that passed (confirmed if confirmation is on and done); 0 if none.
  std::uint32_t found() const { return found_; }
  bool confirmed() const { return confirmed_; }

 private:
  void bisect_or_finish();
  std::uint32_t highest_pass_below(std::uint32_t rate) const;

  SearchLimits limits_;
  SearchPhase phase_ = SearchPhase::expanding;
  std::uint32_t current_ = 0;
  std::uint32_t lowest_fail_ = 0;  // 0: none yet
  std::uint32_t found_ = 0;
  bool confirmed_ = false;
  std::uint32_t confirmations_ = 0;
  std::vector<std::uint32_t> passed_;
};

}  // namespace msgw::loadtest
