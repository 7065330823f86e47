// SPDX-License-Identifier: GPL-3.0-or-later
#include "report_packet_rate.hpp"

#include <sstream>

#include "latency_match.hpp"
#include "report.hpp"

namespace msgw::loadtest {
namespace {

std::string esc(const std::string& s) { return html_escape(s); }
std::string num(double v, int digits = 1) { return format_fixed(v, digits); }
bool zero_loss(const PacketRateResult& r) { return r.sent > 0 && r.received >= r.sent && r.tx_fail == 0; }

}  // namespace

nlohmann::json packet_rate_json(const PacketRateResult& r) {
  auto timeline = nlohmann::json::array();
  for (const auto& s : r.timeline) timeline.push_back({{"t_s", s.t_s}, {"sent", s.sent}, {"received", s.received}});
  const auto& l = r.latency_us;
  return {{"mode", r.transcoded ? "transcoded" : "relayed"},
          {"flows", r.flows},
          {"offered_pps", r.offered_pps},
          {"seconds", r.seconds},
          {"port", r.port},
          {"sent", r.sent},
          {"tx_fail", r.tx_fail},
          {"received", r.received},
          {"received_outside_flows", r.received_outside_flows},
          {"skipped", r.skipped},
          {"achieved_pps", r.achieved_pps},
          {"lost", r.lost},
          {"loss_percent", r.loss_percent},
          {"zero_loss", zero_loss(r)},
          {"flows_with_loss", r.by_flow.with_loss},
          {"flows_silent", r.by_flow.silent},
          {"lost_in_flows", r.by_flow.lost},
          {"extra_in_flows", r.by_flow.extra},
          {"latency_samples", l.n},
          {"p50_us", l.p50},
          {"p90_us", l.p90},
          {"p99_us", l.p99},
          {"p99_9_us", l.p999},
          {"max_us", l.max},
          {"mean_us", l.mean},
          {"latency_histogram",
           {{"bins", kLatencyBins}, {"min_ms", kLatencyBinMinMs}, {"max_ms", kLatencyBinMaxMs}, {"counts", r.latency_hist}}},
          {"timeline", std::move(timeline)},
          {"tsc_hz", r.tsc_hz},
          {"generator_bound", r.generator_bound}};
}

std::string packet_rate_html(const PacketRateResult& r) {
  std::ostringstream o;
  o << "<h2>Packet rate (DPDK), " << (r.transcoded ? "transcoded" : "relayed") << ": " << r.flows
    << (r.transcoded ? " sessions" : " flows") << ", " << num(r.offered_pps, 0) << " packets/s offered for "
    << num(r.seconds, 0) << " s &mdash; <span class='" << (zero_loss(r) ? "pass'>zero loss" : "fail'>loss")
    << "</span></h2>\n<p>Port " << esc(r.port)
    << ". 20 ms RTP into flows the target already has; what comes back is counted per flow by its "
       "destination port"
    << (r.transcoded ? "." : ", and its latency read from a TSC stamp in the payload (one host, one TSC).")
    << "</p>\n<table><tr><th>sent</th><th>achieved pps</th><th>received</th><th>lost</th><th>loss %</th>"
       "<th>TX refused</th><th>skipped (tool late)</th><th>flows with loss</th><th>silent flows</th>"
       "<th>received outside the flows</th><th>latency p50/p90/p99/p99.9/max µs</th></tr>\n<tr><td>"
    << r.sent << "</td><td>" << num(r.achieved_pps, 0) << "</td><td>" << r.received << "</td><td>" << r.lost
    << "</td><td>" << num(r.loss_percent, 4) << "</td><td>" << r.tx_fail << "</td><td>" << r.skipped << "</td><td>"
    << r.by_flow.with_loss << "</td><td>" << r.by_flow.silent << "</td><td>" << r.received_outside_flows
    << "</td><td>"
    << (r.latency_us.n ? num(r.latency_us.p50) + "/" + num(r.latency_us.p90) + "/" + num(r.latency_us.p99) + "/" +
                             num(r.latency_us.p999) + "/" + num(r.latency_us.max)
                       : std::string("-"))
    << "</td></tr></table>\n";
  Series sent{"sent", "#1f77b4", {}}, received{"received", "#2a9d3a", {}};
  double prev = 0;
  for (const auto& s : r.timeline) {
    const double span = s.t_s - prev;
    if (span > 0) {
      sent.points.push_back({s.t_s, static_cast<double>(s.sent) / span});
      received.points.push_back({s.t_s, static_cast<double>(s.received) / span});
    }
    prev = s.t_s;
  }
  o << line_chart("Packets per second (the last point: the rest of the trial and its 200 ms drain)",
                  "seconds since the trial started", "packets/s", {sent, received})
    << "\n";
  if (r.latency_us.n)
    o << latency_histogram_svg(r.latency_hist, r.latency_us.p50 / 1000, r.latency_us.p99 / 1000,
                               r.latency_us.p999 / 1000, "Latency through the target (the tool's TX to its RX)")
      << "\n";
  return o.str();
}

}  // namespace msgw::loadtest
