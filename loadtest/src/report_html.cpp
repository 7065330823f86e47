// SPDX-License-Identifier: GPL-3.0-or-later
// The HTML report: summary table, and inline SVG plots: the rate ladder
// (each step's offered rate, green pass / red fail), setup delay p50/p99 per
// second, concurrent calls, and with media the loss, jitter and MOS
// distributions over streams. packet-rate's page is its own section only
// (report_packet_rate.cpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "options.hpp"
#include "report.hpp"
#include "report_packet_rate.hpp"
#include "report_throughput.hpp"

namespace msgw::loadtest {

std::string html_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    switch (ch) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += ch;
    }
  }
  return o;
}

std::string format_fixed(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

namespace {

std::string esc(const std::string& s) { return html_escape(s); }
std::string num(double v, int digits = 1) { return format_fixed(v, digits); }

constexpr double kW = 720, kH = 260, kL = 60, kR = 20, kT = 30, kB = 40;

// Axes with 5 ticks each, the title on top.
void axes(std::ostringstream& o, const std::string& title, const std::string& xl, const std::string& yl,
          double xmin, double xmax, double ymax) {
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << kW << "' height='" << kH << "' viewBox='0 0 " << kW
    << " " << kH << "'><rect width='100%' height='100%' fill='#fff'/>"
    << "<text x='" << kW / 2 << "' y='18' text-anchor='middle' font-size='14' font-weight='bold'>" << esc(title)
    << "</text><line x1='" << kL << "' y1='" << kH - kB << "' x2='" << kW - kR << "' y2='" << kH - kB
    << "' stroke='#000'/><line x1='" << kL << "' y1='" << kT << "' x2='" << kL << "' y2='" << kH - kB
    << "' stroke='#000'/>";
  for (int i = 0; i <= 4; ++i) {
    const double y = kH - kB - (kH - kT - kB) * i / 4;
    const double x = kL + (kW - kL - kR) * i / 4;
    o << "<text x='" << kL - 4 << "' y='" << y + 4 << "' text-anchor='end' font-size='10'>"
      << num(ymax * i / 4, ymax < 10 ? 2 : 0) << "</text><line x1='" << kL << "' y1='" << y << "' x2='" << kW - kR
      << "' y2='" << y << "' stroke='#eee'/>"
      << "<text x='" << x << "' y='" << kH - kB + 14 << "' text-anchor='middle' font-size='10'>"
      << num(xmin + (xmax - xmin) * i / 4, xmax - xmin < 10 ? 1 : 0) << "</text>";
  }
  o << "<text x='" << (kL + kW - kR) / 2 << "' y='" << kH - 6 << "' text-anchor='middle' font-size='11'>" << esc(xl)
    << "</text><text x='14' y='" << (kT + kH - kB) / 2 << "' font-size='11' transform='rotate(-90 14 "
    << (kT + kH - kB) / 2 << ")' text-anchor='middle'>" << esc(yl) << "</text>";
}

}  // namespace

std::string line_chart(const std::string& title, const std::string& xl, const std::string& yl,
                       const std::vector<Series>& series) {
  double xmin = 1e300, xmax = -1e300, ymax = 0;
  for (const auto& s : series)
    for (auto [x, y] : s.points) {
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymax = std::max(ymax, y);
    }
  if (xmin > xmax) return "<p>" + esc(title) + ": no data</p>";
  if (xmax <= xmin) xmax = xmin + 1;
  ymax = ymax > 0 ? ymax * 1.1 : 1;
  std::ostringstream o;
  axes(o, title, xl, yl, xmin, xmax, ymax);
  int legend = 0;
  for (const auto& s : series) {
    o << "<polyline fill='none' stroke='" << s.color << "' stroke-width='1.5' points='";
    for (auto [x, y] : s.points)
      o << num(kL + (x - xmin) / (xmax - xmin) * (kW - kL - kR), 1) << ","
        << num(kH - kB - y / ymax * (kH - kT - kB), 1) << " ";
    o << "'/><text x='" << kW - kR - 4 << "' y='" << kT + 12 + 14 * legend++ << "' text-anchor='end' font-size='11' fill='"
      << s.color << "'>" << esc(s.name) << "</text>";
  }
  o << "</svg>";
  return o.str();
}

namespace {

std::string ladder(const RunResult& r) {
  if (r.steps.empty()) return "<p>No steps ran.</p>";
  double ymax = 0;
  for (const auto& s : r.steps) ymax = std::max<double>(ymax, s.rate);
  ymax *= 1.15;
  std::ostringstream o;
  axes(o, "Rate ladder (" + r.rate_unit + " per step; green pass, red fail)", "step", r.rate_unit, 0,
       static_cast<double>(r.steps.size()), ymax);
  const double slot = (kW - kL - kR) / static_cast<double>(r.steps.size());
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    const auto& s = r.steps[i];
    const double h = s.rate / ymax * (kH - kT - kB);
    const double x = kL + slot * static_cast<double>(i) + slot * 0.15;
    o << "<rect x='" << num(x) << "' y='" << num(kH - kB - h) << "' width='" << num(slot * 0.7) << "' height='"
      << num(h) << "' fill='" << (s.passed ? "#2a9d3a" : "#d33") << "'" << (s.confirmation ? " stroke='#000' stroke-width='2'" : "")
      << "><title>step " << s.index << ": " << s.rate << "/s " << esc(s.verdict) << "</title></rect>"
      << "<text x='" << num(x + slot * 0.35) << "' y='" << num(kH - kB - h - 3)
      << "' text-anchor='middle' font-size='10'>" << s.rate << (s.confirmation ? " C" : "") << "</text>";
  }
  o << "</svg>";
  return o.str();
}

std::string histogram(const std::string& title, const std::string& xl, std::vector<double> v, const char* color) {
  if (v.empty()) return "<p>" + esc(title) + ": no streams</p>";
  const double lo = *std::min_element(v.begin(), v.end());
  double hi = *std::max_element(v.begin(), v.end());
  if (hi <= lo) hi = lo + 1;
  constexpr int kBins = 20;
  std::vector<double> bins(kBins, 0);
  for (double x : v) bins[std::min(kBins - 1, static_cast<int>((x - lo) / (hi - lo) * kBins))] += 1;
  const double ymax = *std::max_element(bins.begin(), bins.end()) * 1.1;
  std::ostringstream o;
  axes(o, title, xl, "streams", lo, hi, ymax);
  const double w = (kW - kL - kR) / kBins;
  for (int i = 0; i < kBins; ++i) {
    const double h = bins[static_cast<std::size_t>(i)] / ymax * (kH - kT - kB);
    o << "<rect x='" << num(kL + w * i + 1) << "' y='" << num(kH - kB - h) << "' width='" << num(w - 2)
      << "' height='" << num(h) << "' fill='" << color << "'/>";
  }
  o << "</svg>";
  return o.str();
}

// Capacity: calls with media flowing and packets lost per sample interval, over time.
std::string capacity_charts(const RunResult& r) {
  Series calls{"calls with media flowing", "#2a9d3a", {}}, up{"calls up (phone side SIPp)", "#999", {}},
      lost{"packets lost in the second", "#d62728", {}};
  std::uint64_t prev_lost = 0;
  double prev_t = -1;
  for (const auto& s : r.capacity_samples) {
    calls.points.push_back({s.t_s, static_cast<double>(s.calls_with_media)});
    up.points.push_back({s.t_s, static_cast<double>(s.calls_up)});
    // Counters restart with each step (the time goes on): a drop is a new step.
    const std::uint64_t d = s.t_s > prev_t && s.packets_lost >= prev_lost ? s.packets_lost - prev_lost : s.packets_lost;
    lost.points.push_back({s.t_s, static_cast<double>(d)});
    prev_lost = s.packets_lost;
    prev_t = s.t_s;
  }
  const std::string confirmed = r.confirmed ? " (confirmed)" : " (not confirmed)";
  if (!r.media)  // capacity --no-media: signalling-only calls, nothing to lose
    return "<h2>Session capacity: " + std::to_string(r.found_rate) + " calls, no media" + confirmed + "</h2>\n" +
           line_chart("Concurrent calls (sampled each second)", "seconds since start", "calls", {up}) + "\n";
  return "<h2>Session capacity: " + std::to_string(r.found_rate) + " calls with media" + confirmed + "</h2>\n" +
         line_chart("Concurrent calls with media (sampled each second)", "seconds since start", "calls", {calls, up}) +
         "\n" + line_chart("RTP packets lost per second", "seconds since start", "packets", {lost}) + "\n";
}

// Overload: goodput against the offered rate, the table of every step.
std::string overload_section(const RunResult& r) {
  std::ostringstream o;
  Series good{"good calls/s (overload steps)", "#2a9d3a", {}}, offered{"offered calls/s", "#999", {}},
      cap{"capacity (base rate)", "#1f77b4", {}};
  std::vector<const OverloadPoint*> over;
  for (const auto& p : r.overload)
    if (!p.recovery) over.push_back(&p);
  std::sort(over.begin(), over.end(), [](auto* a, auto* b) { return a->offered_rate < b->offered_rate; });
  const double base = r.overload_base_rate;
  good.points.push_back({base, base});  // 1x: the capacity itself
  offered.points.push_back({base, base});
  for (const auto* p : over) {
    good.points.push_back({static_cast<double>(p->offered_rate), p->goodput.good_per_s});
    offered.points.push_back({static_cast<double>(p->offered_rate), static_cast<double>(p->offered_rate)});
  }
  if (!over.empty()) {
    cap.points.push_back({base, base});
    cap.points.push_back({static_cast<double>(over.back()->offered_rate), base});
  }
  o << "<h2>Overload (base rate " << r.overload_base_rate << " calls/s, from " << esc(r.overload_base_from)
    << ")</h2>\n"
    << line_chart("Overload goodput: good calls/s against offered calls/s", "offered calls/s", "calls/s",
                  {offered, cap, good})
    << "\n<table><tr><th>step</th><th>factor</th><th>offered /s</th><th>achieved /s</th><th>attempted</th>"
       "<th>good</th><th>goodput /s</th><th>goodput / capacity</th><th>503 with / without Retry-After</th>"
       "<th>timeouts</th><th>other failures</th></tr>\n";
  for (const auto& p : r.overload)
    o << "<tr><td>" << p.step << "</td><td>" << (p.recovery ? "1 (recovery)" : num(p.factor, 1)) << "</td><td>"
      << p.offered_rate << "</td><td>" << num(p.achieved_rate) << "</td><td>" << p.counts.attempted << "</td><td>"
      << p.goodput.good << "</td><td>" << num(p.goodput.good_per_s) << "</td><td>" << num(100 * p.goodput.ratio)
      << " %</td><td>" << p.counts.rejected_retry_after << " / " << p.counts.rejected_no_retry_after << "</td><td>"
      << p.counts.timeouts << "</td><td>" << p.goodput.other_failures << "</td></tr>\n";
  o << "</table>\n";
  return o.str();
}

// Where the tool, not the target, may have been the limit: a warning box.
std::string generator_limits_html(const RunResult& r) {
  if (r.generator_limits.empty()) return {};
  std::string o = "<div class='warn'><b>The tool may have been the limit:</b><ul>";
  for (const auto& l : r.generator_limits) o += "<li>" + esc(l) + "</li>";
  return o + "</ul></div>\n";
}

}  // namespace

std::string html_report(const RunResult& r) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>msgw-loadtest " << esc(r.test) << " "
    << esc(r.target) << "</title><style>body{font-family:sans-serif;margin:20px;max-width:1000px}"
    << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;text-align:right}"
    << ".fail{color:#c00}.pass{color:#080}.warn{background:#fff3c4;padding:6px}</style></head><body>\n";
  o << "<h1>msgw-loadtest: " << esc(r.test) << "</h1>\n<p>Target " << esc(r.target) << ", started "
    << esc(r.started_utc) << ".";
  const bool packet_rate = r.test == test_name(TestKind::packet_rate);
  if (!packet_rate)
    o << " Establishment threshold " << r.threshold_ms << " ms, hold " << r.hold_ms << " ms.";
  o << "</p>\n";
  if (!r.error.empty()) o << "<p class='fail'>Error: " << esc(r.error) << "</p>\n";
  if (packet_rate) {  // no SIP, no steps
    o << generator_limits_html(r);
    if (r.packet_rate) o << packet_rate_html(*r.packet_rate);
    o << "</body></html>\n";
    return o.str();
  }
  o << "<h2>Result: " << r.found_rate << " " << esc(r.rate_unit) << (r.confirmed ? " (confirmed)" : " (not confirmed)")
    << "</h2>\n";
  o << generator_limits_html(r);
  o << "<table><tr><th>step</th><th>rate</th><th>s</th><th>verdict</th><th>attempts</th><th>ok</th><th>failed</th>"
       "<th>UAS in/ok/failed</th><th>setup p50/p99/max ms</th><th>disconnect p99 ms</th><th>SER %</th><th>SEER %</th>"
       "<th>SIPp CPU % (UAC/UAS)</th>"
    << (r.sut_cpus.empty() ? "" : "<th>SUT CPU % / µs per call</th>")
    << (r.media ? "<th>streams</th><th>loss % p99</th><th>jitter ms p99</th><th>MOS p50/mean</th>" : "") << "</tr>\n";
  for (const auto& s : r.steps) {
    o << "<tr><td>" << s.index << (s.confirmation ? " (confirm)" : "") << "</td><td>" << s.rate << "</td><td>"
      << s.duration_s << "</td><td class='" << (s.passed ? "pass" : "fail") << "'>" << esc(s.verdict)
      << (s.ended_early ? " (ended early)" : "") << "</td><td>" << s.uac.attempted << "</td><td>" << s.uac.successful
      << "</td><td>" << s.uac.failed << "</td><td>"
      << (s.has_uas ? std::to_string(s.uas.attempted) + "/" + std::to_string(s.uas.successful) + "/" +
                          std::to_string(s.uas.failed)
                    : "-")
      << "</td><td>" << num(s.setup_ms.p50) << "/" << num(s.setup_ms.p99) << "/" << num(s.setup_ms.max) << "</td><td>"
      << num(s.disconnect_ms.p99) << "</td><td>" << num(s.ser, 2) << "</td><td>" << num(s.seer, 2) << "</td><td>"
      << num(s.uac.cpu_percent, 0) << "/" << num(s.uas.cpu_percent, 0) << "</td>";
    if (!r.sut_cpus.empty())
      o << "<td>"
        << (s.has_sut_cpu ? num(100 * s.sut_cpu_busy, 0) + " / " +
                                (s.sut_cpu_us_per_call ? num(*s.sut_cpu_us_per_call, 0) : std::string("-"))
                          : std::string("-"))
        << "</td>";
    if (r.media)
      o << "<td>" << s.streams << "</td><td>" << num(s.loss_percent.p99, 2) << "</td><td>" << num(s.jitter_ms.p99, 2)
        << "</td><td>" << num(s.mos.p50, 2) << "/" << num(s.mos.mean, 2) << "</td>";
    o << "</tr>\n";
  }
  o << "</table>\n<h2>Plots</h2>\n" << ladder(r) << "\n";
  Series p50{"setup p50", "#1f77b4", {}}, p99{"setup p99", "#d62728", {}}, mx{"setup max", "#999", {}},
      conc{"concurrent calls (phone side)", "#2a9d3a", {}};
  for (const auto& t : r.timeline) {
    if (t.has_setup) {
      p50.points.push_back({t.t_s, t.setup_p50});
      p99.points.push_back({t.t_s, t.setup_p99});
      mx.points.push_back({t.t_s, t.setup_max});
    }
    if (t.has_concurrent) conc.points.push_back({t.t_s, static_cast<double>(t.concurrent)});
  }
  o << line_chart("Setup delay per second (RFC 6076 SRD)", "seconds since start", "ms", {p50, p99, mx}) << "\n";
  o << line_chart("Concurrent calls", "seconds since start", "calls", {conc}) << "\n";
  if (!r.capacity_samples.empty()) o << capacity_charts(r);
  if (!r.overload.empty()) o << overload_section(r);
  if (r.media) {
    std::vector<double> loss, jitter, mos;
    for (const auto& s : r.media_summary.streams)
      if (s.received > 0) {
        loss.push_back(s.loss_percent);
        jitter.push_back(s.jitter_ms);
        mos.push_back(s.mos);
      }
    const auto& m = r.media_summary;
    o << "<h2>Media (" << esc(r.codec) << ", 20 ms, both ways; "
      << (r.media_engine == "dpdk" ? "DPDK ports" : "UDP sockets") << ")</h2><p>" << m.streams.size() << " streams, "
      << m.packets_sent << " packets sent, " << m.packets_received << " received, " << m.unmatched_packets
      << " unmatched, " << m.receive_drops << " dropped by the tool's ports; sender late in " << m.late_slots << " of " << m.slots << " slots (max "
      << num(m.max_lateness_ms) << " ms); the RTP thread used " << num(m.thread_cpu_s, 2) << " CPU-s ("
      << num(m.packets_sent + m.packets_received ? 1e6 * m.thread_cpu_s / static_cast<double>(m.packets_sent + m.packets_received) : 0, 2)
      << " µs per packet sent or received).</p>\n";
    o << histogram("RTP loss per stream (RFC 3550)", "loss %", loss, "#d62728") << "\n";
    o << histogram("Interarrival jitter per stream (RFC 3550)", "jitter ms", jitter, "#1f77b4") << "\n";
    o << histogram("MOS per stream (G.107 E-model estimate)", "MOS", mos, "#2a9d3a") << "\n";
  }
  if (!r.throughput.empty()) o << throughput_html(r);
  o << "</body></html>\n";
  return o.str();
}

}  // namespace msgw::loadtest
