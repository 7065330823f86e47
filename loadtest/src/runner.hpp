// SPDX-License-Identifier: GPL-3.0-or-later
// Runs one test: writes the scenarios, searches the rate step by step (each
// step a UAC SIPp run, with a UAS SIPp for the carrier side and the media
// engine when asked), watches each step while it runs (ends it at the first
// failure, draws the progress line) and collects what the reports show.
#pragma once

#include "options.hpp"
#include "results.hpp"

namespace msgw::loadtest {

RunResult run_test(const Options& options);

}  // namespace msgw::loadtest
