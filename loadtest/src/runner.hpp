// Runs one test: writes the scenarios, searches the rate step by step (each
// step a UAC SIPp run, with a UAS SIPp for the carrier side and the media
// engine when asked), watches each step while it runs (ends it at the first
// failure, draws the progress line) and collects what the reports show.
#pragma once

#include "options.hpp"
#include "results.hpp"

namespace msgw::loadtest {

RunResult run_test(const Options& options);

// RFC 6076 §4.8/4.9 from a step's counts: SER = answered / attempts;
// SEER leaves out of the attempts those answered 3xx and counts 480, 486,
// 600, 603 (the callee's own answers) as established. Percent.
double session_establishment_ratio(std::uint64_t attempts, std::uint64_t answered);
double session_establishment_effectiveness_ratio(std::uint64_t attempts, std::uint64_t answered,
                                                 const std::map<int, std::uint64_t>& failure_codes);

}  // namespace msgw::loadtest
