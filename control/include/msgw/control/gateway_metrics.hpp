// SPDX-License-Identifier: GPL-3.0-or-later
// What msgw-control's /metrics shows, defined once: every metric family
// (name, type, help, labels) is in one table, generated where a list exists
// already (MSGW_GATEWAY_COUNTERS, MSGW_CALL_ERRORS, MSGW_CALL_STATES, the
// trunk state lists, sip's MSGW_SIP_METHODS, the dataplane's counter and drop
// lists in counters.hpp).  The exposition is written from that table and the
// documentation table in metrics/README.md is generated from it (a unit test
// compares the two).
#pragma once

#include <span>
#include <string>

#include "msgw/metrics/exposition.hpp"
#include "msgw/metrics/http_server.hpp"

namespace msgw::control {

class Gateway;

// Every family, in the order the exposition writes them.
std::span<const metrics::Family> metric_families();

// The whole exposition: the gateway's calls, SIP, registrations and trunks,
// the dataplane's workers and ports (as last published in the segment), and
// the metrics server's own requests.
std::string render_metrics(const Gateway& gateway, const metrics::HttpServer::Stats& http);

}  // namespace msgw::control
