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

// HTML building blocks shared by the report's sections (report_html.cpp).
std::string html_escape(const std::string& s);
std::string format_fixed(double v, int digits = 1);  // "%.*f"

}  // namespace msgw::loadtest
