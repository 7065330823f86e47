// SPDX-License-Identifier: GPL-3.0-or-later
// The capacity test (loadtest/README.md, "Session capacity"): calls with
// media arrive at --capacity-rate and are held; a sample a second (calls with
// media flowing, packets lost, failed calls, slow setups, silent streams)
// decides when the first fault appeared. The ramp fills towards
// --capacity-max-calls and ends at the first fault; its clean level is then
// confirmed by a fresh fill to that level held for --confirm-s. With
// --no-media the calls carry no RTP: the level is calls up, the faults are
// failed calls and slow setups.
#include <algorithm>
#include <cmath>

#include "step.hpp"

namespace msgw::loadtest {
namespace {

// One step: fill to `level` calls at the arrival rate, hold them all for
// hold_s; a fault ends the step at once (calls aborted with BYE).
StepResult fill_and_hold(RunContext& c, std::uint32_t& index, std::uint64_t level, std::uint32_t hold_s,
                         bool confirmation) {
  const std::uint32_t rate = c.o.capacity_rate;
  const auto fill_s = static_cast<std::uint32_t>((level + rate - 1) / rate);
  std::vector<CapacitySample> samples;
  const bool with_media = c.media != nullptr;
  const MediaSnapshot base = with_media ? c.media->snapshot() : MediaSnapshot{};
  double next_sample = -1;
  StepPlan plan;
  plan.uac_scenario = "uac-capacity";
  plan.calls = level;
  plan.open_limit = level + 10;
  // The last call arrives after fill_s; with a second for its setup, every
  // call is up together for hold_s before the first one's BYE.
  plan.hold_ms = (fill_s + hold_s + 1) * 1000;
  plan.watch = [&](const StepWatch& w) {
    if (w.since_run_start_s < next_sample) return false;
    next_sample = (next_sample < 0 ? w.since_run_start_s : next_sample) + 1.0;
    const MediaSnapshot m = with_media ? c.media->snapshot() : MediaSnapshot{};
    auto since = [](std::uint64_t now, std::uint64_t then) { return now > then ? now - then : 0; };
    CapacitySample s;
    s.t_s = w.since_run_start_s;
    s.calls_up = w.uac ? w.uac->current : 0;
    s.calls_with_media = std::min(m.sending[0], m.sending[1]);
    s.failed = (w.uac ? w.uac->failed : 0) + w.rejected;
    s.over_threshold = w.over_threshold;
    s.packets_expected = since(m.packets_expected, base.packets_expected);
    s.packets_lost = since(m.packets_lost, base.packets_lost);
    s.late_slots = since(m.late_slots, base.late_slots);
    s.send_errors = since(m.send_errors, base.send_errors);
    s.receive_drops = since(m.receive_drops, base.receive_drops);
    s.silent_streams = m.silent_streams;
    samples.push_back(s);
    return assess_capacity(samples, level, with_media).first_bad.has_value();
  };
  StepResult s = run_step(c, ++index, rate, fill_s, confirmation, false, &plan);
  s.level = level;
  s.capacity = assess_capacity(samples, level, with_media);
  const auto& a = s.capacity;
  // Samples are a second apart: held means the last clean sample is within a second of hold_s.
  s.passed = !a.first_bad && a.level_reached_s >= 0 && a.held_s + 1.0 >= hold_s && s.uac.failed == 0;
  if (s.passed) {
    s.verdict = "pass: " + std::to_string(level) + (with_media ? " calls with media held " : " calls held ") +
                std::to_string(static_cast<int>(a.held_s)) + (with_media ? " s, no loss" : " s");
  } else if (a.first_bad) {
    s.verdict = a.reason;
  } else if (s.uac.failed > 0) {
    s.verdict = std::to_string(s.uac.failed) + " failed calls";
  } else {
    s.verdict = "reached " + std::to_string(a.clean_level) + " of " + std::to_string(level) +
                (with_media ? " calls with media" : " calls");
  }
  if (a.generator_suspect)
    s.generator_limits.push_back(
        "the first fault came with the tool's RTP sender late or failing to send, or its ports dropping packets");
  c.result->capacity_samples.insert(c.result->capacity_samples.end(), samples.begin(), samples.end());
  return s;
}

}  // namespace

void run_capacity(RunContext& c, std::uint32_t& index) {
  const Options& o = c.o;
  RunResult& r = *c.result;
  r.rate_unit = "concurrent calls";
  if (!c.media && !o.capacity_no_media) {
    r.error = "capacity needs the media engine (the self-test target has no media)";
    return;
  }
  // The ramp: towards the most calls asked for, held step-s there if reached.
  StepResult ramp = fill_and_hold(c, index, o.capacity_max_calls, o.step_s, false);
  std::uint64_t level = ramp.passed ? o.capacity_max_calls : ramp.capacity.clean_level;
  const bool no_calls = ramp.uac.attempted == 0;
  if (no_calls) r.error = ramp.verdict;
  record_step_result(c, std::move(ramp));
  if (no_calls) return;
  if (o.confirm_s == 0) {
    r.found_rate = static_cast<std::uint32_t>(level);
    return;
  }
  // Confirmation: a fresh fill to the clean level, held confirm-s; a fault
  // lowers the level (to that run's clean level, at most 90 %), three tries.
  for (int attempt = 0; attempt < 3 && level > 0; ++attempt) {
    sleep_ms(1000);  // the target tears the last step's calls down
    StepResult conf = fill_and_hold(c, index, level, o.confirm_s, true);
    const bool passed = conf.passed;
    const std::uint64_t clean = conf.capacity.clean_level;
    record_step_result(c, std::move(conf));
    if (passed) {
      r.found_rate = static_cast<std::uint32_t>(level);
      r.confirmed = true;
      return;
    }
    level = next_capacity_level(level, clean);
  }
}

}  // namespace msgw::loadtest
