// SPDX-License-Identifier: GPL-3.0-or-later
#include "report.hpp"
#include "report_throughput.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace msgw::loadtest {
namespace {

nlohmann::json latency(const LatencySummary& l) {
  return {{"n", l.n}, {"p50", l.p50}, {"p99", l.p99}, {"p99_9", l.p999}, {"min", l.min}, {"max", l.max}, {"mean", l.mean}};
}

nlohmann::json direction(const DirectionCounts& d) {
  return {{"packets_sent", d.sent},      {"packets_received", d.matched}, {"packets_lost", d.lost()},
          {"duplicates", d.duplicates},  {"concealed_by_target", d.concealed},
          {"unmatched", d.unmatched},    {"withheld_by_test_aid", d.withheld},
          {"loss_percent", d.sent ? 100.0 * static_cast<double>(d.lost()) / static_cast<double>(d.sent) : 0.0}};
}

std::string esc(const std::string& s) { return html_escape(s); }
std::string num(double v, int digits = 1) { return format_fixed(v, digits); }

constexpr double kW = 720, kH = 240, kL = 60, kR = 20, kT = 30, kB = 40;

// Axes, title, labels, and the y axis's 0 and top value.
std::string svg_open(const std::string& title, const std::string& xl, const std::string& yl, double ymax) {
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << kW << "' height='" << kH << "' viewBox='0 0 " << kW << " "
    << kH << "'><rect width='100%' height='100%' fill='#fff'/><text x='" << kW / 2
    << "' y='18' text-anchor='middle' font-size='14' font-weight='bold'>" << esc(title) << "</text><line x1='" << kL
    << "' y1='" << kH - kB << "' x2='" << kW - kR << "' y2='" << kH - kB << "' stroke='#000'/><line x1='" << kL
    << "' y1='" << kT << "' x2='" << kL << "' y2='" << kH - kB << "' stroke='#000'/><text x='" << (kL + kW - kR) / 2
    << "' y='" << kH - 6 << "' text-anchor='middle' font-size='11'>" << esc(xl) << "</text><text x='14' y='"
    << (kT + kH - kB) / 2 << "' font-size='11' transform='rotate(-90 14 " << (kT + kH - kB) / 2
    << ")' text-anchor='middle'>" << esc(yl) << "</text><text x='" << kL - 4 << "' y='" << kT + 4
    << "' text-anchor='end' font-size='10'>" << num(ymax, 0) << "</text><text x='" << kL - 4 << "' y='" << kH - kB
    << "' text-anchor='end' font-size='10'>0</text>";
  return o.str();
}

// One bar per trial: its sessions, green pass, red fail.
std::string ladder(const ThroughputMode& m) {
  if (m.trials.empty()) return "<p>No trials ran.</p>";
  double ymax = 0;
  for (const auto& t : m.trials) ymax = std::max<double>(ymax, t.sessions);
  ymax *= 1.15;
  std::ostringstream o;
  o << svg_open(std::string("Session ladder, ") + media_mode_name(m.mode) + " (green: zero loss, red: fail)", "trial",
                "sessions", ymax);
  const double slot = (kW - kL - kR) / static_cast<double>(m.trials.size());
  for (std::size_t i = 0; i < m.trials.size(); ++i) {
    const auto& t = m.trials[i];
    const double h = t.sessions / ymax * (kH - kT - kB);
    const double x = kL + slot * static_cast<double>(i) + slot * 0.15;
    o << "<rect x='" << num(x) << "' y='" << num(kH - kB - h) << "' width='" << num(slot * 0.7) << "' height='"
      << num(h) << "' fill='" << (t.passed ? "#2a9d3a" : "#d33") << "'><title>trial " << t.index << ": "
      << t.sessions << " sessions, " << esc(t.verdict) << "</title></rect><text x='" << num(x + slot * 0.35)
      << "' y='" << num(kH - kB - h - 3) << "' text-anchor='middle' font-size='10'>" << t.sessions << "</text>"
      << "<text x='" << num(x + slot * 0.35) << "' y='" << kH - kB + 14 << "' text-anchor='middle' font-size='10'>"
      << t.index << "</text>";
  }
  o << "</svg>";
  return o.str();
}

}  // namespace

std::string latency_histogram_svg(const std::vector<std::uint64_t>& hist, double p50_ms, double p99_ms,
                                  double p999_ms, const std::string& title) {
  if (hist.empty() || *std::max_element(hist.begin(), hist.end()) == 0)
    return "<p>" + esc(title) + ": no packets matched</p>";
  int lo = kLatencyBins, hi = 0;
  for (int i = 0; i < kLatencyBins; ++i)
    if (hist[static_cast<std::size_t>(i)]) {
      lo = std::min(lo, i);
      hi = std::max(hi, i);
    }
  const double ymax = static_cast<double>(*std::max_element(hist.begin(), hist.end())) * 1.1;
  std::ostringstream o;
  o << svg_open(title, "one-way latency, ms (log scale)", "packets", ymax);
  const int bins = hi - lo + 1;
  const double w = (kW - kL - kR) / bins;
  auto edge = [](int b) {
    return kLatencyBinMinMs * std::pow(kLatencyBinMaxMs / kLatencyBinMinMs, static_cast<double>(b) / kLatencyBins);
  };
  for (int i = 0; i < bins; ++i) {
    const double v = static_cast<double>(hist[static_cast<std::size_t>(lo + i)]);
    const double h = v / ymax * (kH - kT - kB);
    o << "<rect x='" << num(kL + w * i + 1) << "' y='" << num(kH - kB - h) << "' width='" << num(std::max(1.0, w - 2))
      << "' height='" << num(h) << "' fill='#1f77b4'><title>" << num(edge(lo + i), 3) << "-" << num(edge(lo + i + 1), 3)
      << " ms: " << v << "</title></rect>";
    if (i % std::max(1, bins / 6) == 0)
      o << "<text x='" << num(kL + w * i) << "' y='" << kH - kB + 14 << "' text-anchor='middle' font-size='10'>"
        << num(edge(lo + i), 3) << "</text>";
  }
  for (auto [q, name, color] : {std::tuple{p50_ms, "p50", "#2a9d3a"}, std::tuple{p99_ms, "p99", "#d62728"},
                                std::tuple{p999_ms, "p99.9", "#000"}}) {
    const double x = kL + (std::log10(q / edge(lo)) / std::log10(edge(hi + 1) / edge(lo))) * (kW - kL - kR);
    if (!(x >= kL)) continue;
    o << "<line x1='" << num(x) << "' y1='" << kT << "' x2='" << num(x) << "' y2='" << kH - kB << "' stroke='" << color
      << "' stroke-dasharray='4 3'/><text x='" << num(x + 3) << "' y='" << kT + 10 << "' font-size='10' fill='" << color
      << "'>" << name << " " << num(q, 3) << "</text>";
  }
  o << "</svg>";
  return o.str();
}

namespace {

// The latency histogram of one trial.
std::string latency_plot(const ThroughputTrial& t, const std::string& title) {
  if (t.latency_ms.n == 0) return "<p>" + esc(title) + ": no packets matched</p>";
  return latency_histogram_svg(t.latency_hist, t.latency_ms.p50, t.latency_ms.p99, t.latency_ms.p999, title);
}

const ThroughputTrial* best_trial(const ThroughputMode& m) {
  const ThroughputTrial* best = nullptr;
  for (const auto& t : m.trials)
    if (t.passed && (!best || t.sessions > best->sessions)) best = &t;
  return best;
}

}  // namespace

nlohmann::json throughput_json(const RunResult& r) {
  auto modes = nlohmann::json::array();
  for (const auto& m : r.throughput) {
    auto trials = nlohmann::json::array();
    for (const auto& t : m.trials) {
      const std::uint64_t sent = t.to_phone.sent + t.to_carrier.sent, lost = t.to_phone.lost() + t.to_carrier.lost();
      trials.push_back({{"trial", t.index},
                        {"sessions", t.sessions},
                        {"streams", 2 * t.sessions},
                        {"duration_s", t.duration_s},
                        {"passed", t.passed},
                        {"verdict", t.verdict},
                        {"calls_set_up", t.calls_set_up},
                        {"calls_up", t.calls_up},
                        {"packets_sent", sent},
                        {"packets_received", t.to_phone.matched + t.to_carrier.matched},
                        {"packets_lost", lost},
                        {"loss_percent", sent ? 100.0 * static_cast<double>(lost) / static_cast<double>(sent) : 0.0},
                        {"concealed_by_target", t.to_phone.concealed + t.to_carrier.concealed},
                        {"withheld_by_test_aid", t.to_phone.withheld + t.to_carrier.withheld},
                        {"offered_pps", t.offered_pps},
                        {"received_pps", t.received_pps},
                        {"latency_ms", latency(t.latency_ms)},
                        {"to_carrier", direction(t.to_carrier)},
                        {"to_phone", direction(t.to_phone)},
                        {"latency_to_carrier_ms", latency(t.latency_to_carrier_ms)},
                        {"latency_to_phone_ms", latency(t.latency_to_phone_ms)},
                        {"sender_slots", t.slots},
                        {"sender_late_slots", t.late_slots},
                        {"sender_max_lateness_ms", t.max_lateness_ms},
                        {"send_errors", t.send_errors},
                        {"tool_cpu_s", t.cpu_s},
                        {"tool_cpu_us_per_packet", t.cpu_us_per_packet},
                        {"generator_bound", t.generator_bound}});
    }
    nlohmann::json mj{{"mode", media_mode_name(m.mode)},
                      {"phone_codec", m.phone_codec},
                      {"carrier_codec", m.carrier_codec},
                      {"found_sessions", m.found_sessions},
                      {"found_streams", 2 * m.found_sessions},
                      {"trials", std::move(trials)}};
    // The figures at the found count: its best passing trial.
    if (const ThroughputTrial* b = best_trial(m)) {
      mj["pps_at_found"] = b->received_pps;
      mj["latency_ms_at_found"] = latency(b->latency_ms);
      mj["tool_cpu_us_per_packet_at_found"] = b->cpu_us_per_packet;
      mj["generator_bound_at_found"] = b->generator_bound;
    }
    modes.push_back(std::move(mj));
  }
  return {{"trial_s", r.throughput.empty() || r.throughput[0].trials.empty() ? 0 : r.throughput[0].trials[0].duration_s},
          {"modes", std::move(modes)}};
}

std::string throughput_html(const RunResult& r) {
  std::ostringstream o;
  o << "<h2>Media throughput (RFC 2544 adapted), latency (RFC 8219)</h2>\n<p>Each trial sets up its sessions "
       "through the target, then sends 20 ms RTP both ways on every call for the trial's duration; zero loss "
       "passes. One-way latency: the tool's send time to the kernel's receive timestamp, one clock.</p>\n";
  for (const auto& m : r.throughput) {
    o << "<h3>" << media_mode_name(m.mode) << ": phone " << esc(m.phone_codec) << ", carrier " << esc(m.carrier_codec)
      << " &mdash; " << m.found_sessions << " sessions (" << 2 * m.found_sessions << " streams) with zero loss</h3>\n";
    o << "<table><tr><th>trial</th><th>sessions</th><th>s</th><th>verdict</th><th>sent</th><th>received</th>"
         "<th>lost</th><th>concealed by target</th><th>withheld (test aid)</th><th>pps offered/received</th>"
         "<th>latency p50/p99/p99.9/max ms</th><th>sender late slots</th><th>tool µs/packet</th></tr>\n";
    for (const auto& t : m.trials) {
      o << "<tr><td>" << t.index << "</td><td>" << t.sessions << "</td><td>" << t.duration_s << "</td><td class='"
        << (t.passed ? "pass" : "fail") << "'>" << esc(t.verdict) << (t.generator_bound ? " (generator bound)" : "")
        << "</td><td>" << t.to_phone.sent + t.to_carrier.sent << "</td><td>" << t.to_phone.matched + t.to_carrier.matched
        << "</td><td>" << t.to_phone.lost() + t.to_carrier.lost() << "</td><td>"
        << t.to_phone.concealed + t.to_carrier.concealed << "</td><td>" << t.to_phone.withheld + t.to_carrier.withheld
        << "</td><td>" << num(t.offered_pps, 0) << "/" << num(t.received_pps, 0) << "</td><td>"
        << num(t.latency_ms.p50, 3) << "/" << num(t.latency_ms.p99, 3) << "/" << num(t.latency_ms.p999, 3) << "/"
        << num(t.latency_ms.max, 3) << "</td><td>" << t.late_slots << " of " << t.slots << "</td><td>"
        << num(t.cpu_us_per_packet, 2) << "</td></tr>\n";
    }
    o << "</table>\n" << ladder(m) << "\n";
    const ThroughputTrial* b = best_trial(m);
    if (!b && !m.trials.empty()) b = &m.trials.back();
    if (b)
      o << latency_plot(*b, std::string("One-way latency, ") + media_mode_name(m.mode) + ", trial " +
                                std::to_string(b->index) + " (" + std::to_string(b->sessions) + " sessions)")
        << "\n";
  }
  return o.str();
}

}  // namespace msgw::loadtest
