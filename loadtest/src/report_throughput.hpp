// SPDX-License-Identifier: GPL-3.0-or-later
// The media-throughput test's part of the reports: the JSON object
// "media_throughput" and the HTML section (per mode: the session ladder with
// pass/fail per trial, the latency distribution, the table of trials).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "results.hpp"

namespace msgw::loadtest {

nlohmann::json throughput_json(const RunResult& r);
std::string throughput_html(const RunResult& r);

}  // namespace msgw::loadtest
