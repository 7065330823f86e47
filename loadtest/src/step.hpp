// SPDX-License-Identifier: GPL-3.0-or-later
// One step of a run (private to the runner and the tests built on it): a UAC
// SIPp run at a rate, with a UAS SIPp for the carrier side and the media
// engine when asked. The search runs plain steps; capacity and overload shape
// theirs with a StepPlan (how many calls, how long each is held, a watcher
// that may end the step at once).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "msgw/common/monotonic_clock.hpp"

#include "media.hpp"
#include "options.hpp"
#include "results.hpp"
#include "sipp_output.hpp"

namespace msgw::loadtest {

enum class Workload : std::uint8_t { calls, registration, reregistration };

struct RunContext {
  const Options& o;
  Workload workload;
  bool self_test;
  std::filesystem::path work;
  std::string target_host;
  std::uint16_t target_port;
  MediaEngine* media = nullptr;
  double run_start = 0;
  RunResult* result = nullptr;
  std::uint32_t steps_left_estimate = 0;
};

// What the watcher sees about every 200 ms while a step runs.
struct StepWatch {
  double since_run_start_s = 0;
  const StatRow* uac = nullptr;     // the phone side's last statistics row (nullptr before the first)
  std::uint64_t over_threshold = 0;  // setups slower than the threshold so far
  std::uint64_t rejected = 0;        // 503s so far (SIPp counts them completed)
};

struct StepPlan {
  std::string uac_scenario = "uac";  // the scenario file's stem in the work directory
  std::uint64_t calls = 0;           // SIPp -m; 0: rate x duration
  std::uint64_t open_limit = 0;      // SIPp -l; 0: from the rate and the hold
  std::uint32_t hold_ms = 0;         // SIPp -d, for a scenario that holds for it
  // True ends the step now: the calls in progress are aborted (SIPp sends
  // their BYEs) and their streams stopped.
  std::function<bool(const StepWatch&)> watch;
};

// end_early: the search's steps stop at the first failure (RFC 7502).
StepResult run_step(RunContext& c, std::uint32_t index, std::uint32_t rate, std::uint32_t duration_s,
                    bool confirmation, bool end_early, const StepPlan* plan = nullptr);

// Appends a step to the run's result (its generator limits prefixed), with the step's line on stderr.
void record_step_result(RunContext& c, StepResult s);

using common::sleep_ms;

// The RFC 7502 search (double, bisect, confirm); sets found_rate and confirmed.
void run_search(RunContext& c, std::uint32_t& index);

// The tests built on steps (capacity_run.cpp, overload_run.cpp); each fills c.result.
void run_capacity(RunContext& c, std::uint32_t& index);
void run_overload(RunContext& c, std::uint32_t& index);

}  // namespace msgw::loadtest
