// SPDX-License-Identifier: GPL-3.0-or-later
#include "overload.hpp"

namespace msgw::loadtest {

Goodput compute_goodput(const OverloadCounts& c, double capacity_per_s) {
  Goodput g;
  g.good = c.completed > c.over_threshold ? c.completed - c.over_threshold : 0;
  g.good_per_s = c.offered_s > 0 ? static_cast<double>(g.good) / c.offered_s : 0;
  g.ratio = capacity_per_s > 0 ? g.good_per_s / capacity_per_s : 0;
  g.rejected = c.rejected_retry_after + c.rejected_no_retry_after;
  const std::uint64_t explained = g.rejected + c.timeouts;
  g.other_failures = c.failed > explained ? c.failed - explained : 0;
  return g;
}

}  // namespace msgw::loadtest
