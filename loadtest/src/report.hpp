// SPDX-License-Identifier: GPL-3.0-or-later
// The two reports of a run: one JSON object (the last line of stdout) and one
// self-contained HTML page whose plots are inline SVG drawn here (no script,
// no external style sheet).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "results.hpp"

namespace msgw::loadtest {

std::string json_report(const RunResult& r);  // one line
std::string html_report(const RunResult& r);

// HTML building blocks shared by the report's sections (report_html.cpp).
std::string html_escape(const std::string& s);
std::string format_fixed(double v, int digits = 1);  // "%.*f"
struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;
};
std::string line_chart(const std::string& title, const std::string& xl, const std::string& yl,
                       const std::vector<Series>& series);
// A latency histogram over latency_match.hpp's log-scaled bins, with the
// p50, p99 and p99.9 marked (report_throughput.cpp).
std::string latency_histogram_svg(const std::vector<std::uint64_t>& hist, double p50_ms, double p99_ms,
                                  double p999_ms, const std::string& title);

}  // namespace msgw::loadtest
