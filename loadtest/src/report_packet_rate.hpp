// SPDX-License-Identifier: GPL-3.0-or-later
// The packet-rate test's part of the reports: the JSON object "packet_rate"
// (its keys sent, tx_fail, received, skipped, achieved_pps, p50_us, p90_us,
// p99_us are the ones scripts/bench-dataplane.sh reads) and the HTML section
// (the counts, sent and received per second, the latency histogram).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "packet_rate_count.hpp"

namespace msgw::loadtest {

nlohmann::json packet_rate_json(const PacketRateResult& r);
std::string packet_rate_html(const PacketRateResult& r);

}  // namespace msgw::loadtest
