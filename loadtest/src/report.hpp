// SPDX-License-Identifier: GPL-3.0-or-later
// The two reports of a run: one JSON object (the last line of stdout) and one
// self-contained HTML page whose plots are inline SVG drawn here (no script,
// no external style sheet).
#pragma once

#include <string>

#include "results.hpp"

namespace msgw::loadtest {

std::string json_report(const RunResult& r);  // one line
std::string html_report(const RunResult& r);

}  // namespace msgw::loadtest
