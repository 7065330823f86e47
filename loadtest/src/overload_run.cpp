// SPDX-License-Identifier: GPL-3.0-or-later
// The overload test (loadtest/README.md, "Overload"): each --overload factor
// of the base rate (--rate, or the rate an establishment search finds first)
// offered for the step time, every step run to its end; then a step at 1x at
// once, to show whether the target recovers. Per step: good calls/s, 503s
// with and without Retry-After, timeouts, goodput / capacity.
#include <cmath>

#include "step.hpp"

namespace msgw::loadtest {
namespace {

OverloadPoint point_of(const StepResult& s, double factor, bool recovery, std::uint32_t base) {
  OverloadPoint p;
  p.step = s.index;
  p.factor = factor;
  p.recovery = recovery;
  p.offered_rate = s.rate;
  p.achieved_rate = s.achieved_rate;
  p.counts.offered_s = s.duration_s;
  p.counts.attempted = s.uac.attempted;
  p.counts.completed = s.uac.successful;
  p.counts.over_threshold = s.over_threshold;
  p.counts.rejected_retry_after = s.uac.rejected_retry_after;
  p.counts.rejected_no_retry_after = s.uac.rejected_no_retry_after;
  p.counts.timeouts = s.uac.timeouts;
  p.counts.failed = s.uac.failed;
  p.goodput = compute_goodput(p.counts, base);
  return p;
}

}  // namespace

void run_overload(RunContext& c, std::uint32_t& index) {
  const Options& o = c.o;
  RunResult& r = *c.result;
  std::uint32_t base = o.rate;
  if (base) {
    r.overload_base_from = "--rate";
  } else {
    run_search(c, index);
    base = r.found_rate;
    r.overload_base_from = std::string("establishment search") + (r.confirmed ? " (confirmed)" : " (not confirmed)");
    if (!r.error.empty()) return;
    if (base == 0) {
      r.error = "the establishment search found no passing rate to overload";
      return;
    }
    sleep_ms(500);
  }
  r.overload_base_rate = base;
  r.found_rate = base;
  r.confirmed = o.rate == 0 && r.confirmed;
  for (double factor : o.overload_factors) {
    const auto rate = static_cast<std::uint32_t>(std::lround(base * factor));
    StepResult s = run_step(c, ++index, std::max<std::uint32_t>(rate, 1), o.step_s, false, false);
    if (s.uac.attempted == 0) {
      r.error = s.verdict;
      record_step_result(c, std::move(s));
      return;
    }
    r.overload.push_back(point_of(s, factor, false, base));
    record_step_result(c, std::move(s));
    // Recovery: the base rate right after, no pause.
    StepResult rec = run_step(c, ++index, base, o.step_s, false, false);
    r.overload.push_back(point_of(rec, 1.0, true, base));
    record_step_result(c, std::move(rec));
    sleep_ms(500);
  }
}

}  // namespace msgw::loadtest
