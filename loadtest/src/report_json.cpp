// SPDX-License-Identifier: GPL-3.0-or-later
#include <nlohmann/json.hpp>

#include "report.hpp"
#include "report_packet_rate.hpp"
#include "report_throughput.hpp"

namespace msgw::loadtest {
namespace {

nlohmann::json pct(const Percentiles& p) {
  return {{"n", p.n}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max}, {"mean", p.mean}};
}

nlohmann::json side(const SideCounts& c) {
  nlohmann::json codes = nlohmann::json::object();
  for (const auto& [code, n] : c.failure_codes) codes[std::to_string(code)] = n;
  return {{"attempted", c.attempted},           {"successful", c.successful}, {"failed", c.failed},
          {"retransmissions", c.retransmissions}, {"failure_codes", codes},     {"cpu_percent", c.cpu_percent},
          {"rejected_503_retry_after", c.rejected_retry_after},
          {"rejected_503_no_retry_after", c.rejected_no_retry_after},
          {"timeouts", c.timeouts}};
}

}  // namespace

std::string json_report(const RunResult& r) {
  nlohmann::json j;
  j["test"] = r.test;
  j["target"] = r.target;
  j["started_utc"] = r.started_utc;
  j["rate_unit"] = r.rate_unit;
  j["found_rate"] = r.found_rate;
  j["confirmed"] = r.confirmed;
  j["threshold_ms"] = r.threshold_ms;
  j["hold_ms"] = r.hold_ms;
  j["generator_bound"] = !r.generator_limits.empty();
  j["generator_limits"] = r.generator_limits;
  if (!r.error.empty()) j["error"] = r.error;
  auto steps = nlohmann::json::array();
  Percentiles best_setup;
  std::optional<double> sut_cpu_at_found;
  for (const auto& s : r.steps) {
    nlohmann::json st{{"step", s.index},
                      {"rate", s.rate},
                      {"duration_s", s.duration_s},
                      {"confirmation", s.confirmation},
                      {"passed", s.passed},
                      {"ended_early", s.ended_early},
                      {"verdict", s.verdict},
                      {"started_s", s.started_s},
                      {"elapsed_s", s.elapsed_s},
                      {"achieved_rate", s.achieved_rate},
                      {"uac", side(s.uac)},
                      {"setup_ms", pct(s.setup_ms)},
                      {"disconnect_ms", pct(s.disconnect_ms)},
                      {"over_threshold", s.over_threshold},
                      {"ser_percent", s.ser},
                      {"seer_percent", s.seer},
                      {"generator_limits", s.generator_limits}};
    if (s.tool_cpu_busy >= 0) st["tool_cpu_busy_percent"] = 100.0 * s.tool_cpu_busy;
    if (s.has_sut_cpu) {
      st["sut_cpu_busy_percent"] = 100.0 * s.sut_cpu_busy;
      st["sut_cpu_niced_percent"] = 100.0 * s.sut_cpu_niced;
      st["sut_cpu_s"] = s.sut_cpu_s;
      st["sut_cpu_us_per_call"] = s.sut_cpu_us_per_call ? nlohmann::json(*s.sut_cpu_us_per_call) : nlohmann::json();
    }
    if (s.settle_s >= 0) st["settle_s"] = s.settle_s;
    // The tool's own socket drops (socket_drops.hpp), per side's namespace.
    for (const auto& [side_name, drops] :
         {std::pair{"phone", s.phone_socket_drops}, std::pair{"carrier", s.carrier_socket_drops}})
      if (drops)
        st["tool_socket_drops"][side_name] = {{"receive_buffer", drops->rcvbuf_errors},
                                              {"send_buffer", drops->sndbuf_errors},
                                              {"receive_errors", drops->in_errors}};
    if (s.tool_port_drops > 0) st["tool_port_drops"] = s.tool_port_drops;
    if (s.has_uas) st["uas"] = side(s.uas);
    nlohmann::json hist = nlohmann::json::object();
    for (const auto& [ms, n] : s.setup_ms_histogram) hist[std::to_string(ms)] = n;
    st["setup_ms_histogram"] = std::move(hist);
    if (r.media)
      st["media"] = {{"streams", s.streams},
                     {"loss_percent", pct(s.loss_percent)},
                     {"jitter_ms", pct(s.jitter_ms)},
                     {"mos", pct(s.mos)}};
    if (s.level)
      st["capacity"] = {{"level", s.level},
                        {"clean_level", s.capacity.clean_level},
                        {"first_fault", s.capacity.reason},
                        {"level_reached_s", s.capacity.level_reached_s},
                        {"held_s", s.capacity.held_s},
                        {"generator_suspect", s.capacity.generator_suspect}};
    if (s.passed && s.rate == r.found_rate) {
      best_setup = s.setup_ms;
      sut_cpu_at_found = s.sut_cpu_us_per_call;
    }
    steps.push_back(std::move(st));
  }
  j["steps"] = std::move(steps);
  j["setup_ms_at_found_rate"] = pct(best_setup);
  if (!r.sut_cpus.empty()) {
    j["sut_cpus"] = r.sut_cpus;
    if (r.sut_idle_busy) j["sut_idle_busy_percent"] = 100.0 * *r.sut_idle_busy;
    j["sut_cpu_us_per_call_at_found"] = sut_cpu_at_found ? nlohmann::json(*sut_cpu_at_found) : nlohmann::json();
  }
  if (!r.capacity_samples.empty()) {
    auto samples = nlohmann::json::array();
    for (const auto& c : r.capacity_samples)
      samples.push_back({{"t_s", c.t_s},
                         {"calls_up", c.calls_up},
                         {"calls_with_media", c.calls_with_media},
                         {"failed", c.failed},
                         {"over_threshold", c.over_threshold},
                         {"packets_expected", c.packets_expected},
                         {"packets_lost", c.packets_lost},
                         {"silent_streams", c.silent_streams}});
    j["capacity"] = {{"calls", r.found_rate}, {"confirmed", r.confirmed}, {"samples", std::move(samples)}};
  }
  if (!r.overload.empty() || r.overload_base_rate) {
    auto points = nlohmann::json::array();
    for (const auto& p : r.overload)
      points.push_back({{"step", p.step},
                        {"factor", p.factor},
                        {"recovery", p.recovery},
                        {"offered_rate", p.offered_rate},
                        {"achieved_rate", p.achieved_rate},
                        {"attempted", p.counts.attempted},
                        {"completed", p.counts.completed},
                        {"good", p.goodput.good},
                        {"goodput_per_s", p.goodput.good_per_s},
                        {"goodput_ratio", p.goodput.ratio},
                        {"rejected_503_retry_after", p.counts.rejected_retry_after},
                        {"rejected_503_no_retry_after", p.counts.rejected_no_retry_after},
                        {"timeouts", p.counts.timeouts},
                        {"other_failures", p.goodput.other_failures},
                        {"over_threshold", p.counts.over_threshold}});
    j["overload"] = {{"base_rate", r.overload_base_rate}, {"base_from", r.overload_base_from},
                     {"points", std::move(points)}};
  }
  // --media-dpdk without media: the DPDK ports carried the signalling alone.
  if (!r.media && r.media_engine == "dpdk") j["signalling_link"] = "dpdk";
  if (r.media) {
    const auto& m = r.media_summary;
    std::uint64_t lost = 0, expected = 0, withheld = 0;
    struct Side {
      std::uint64_t streams = 0, expected = 0, lost = 0, received = 0;
    } by_side[2];
    for (const auto& s : m.streams) {
      lost += s.lost;
      expected += s.expected;
      withheld += s.withheld;
      auto& b = by_side[static_cast<int>(s.side)];
      ++b.streams;
      b.expected += s.expected;
      b.lost += s.lost;
      b.received += s.received;
    }
    auto side_json = [](const Side& b) {
      return nlohmann::json{{"streams", b.streams},
                            {"packets_received", b.received},
                            {"packets_expected", b.expected},
                            {"packets_lost", b.lost},
                            {"loss_percent", b.expected ? 100.0 * static_cast<double>(b.lost) /
                                                              static_cast<double>(b.expected)
                                                        : 0.0}};
    };
    j["media"] = {{"codec", r.codec},
                  {"engine", r.media_engine},
                  {"streams", m.streams.size()},
                  {"packets_sent", m.packets_sent},
                  {"packets_received", m.packets_received},
                  {"packets_expected", expected},
                  {"packets_lost", lost},
                  {"loss_percent", expected ? 100.0 * static_cast<double>(lost) / static_cast<double>(expected) : 0.0},
                  {"packets_withheld_by_test_aid", withheld},
                  {"unmatched_packets", m.unmatched_packets},
                  {"send_errors", m.send_errors},
                  {"tool_receive_drops", m.receive_drops},
                  {"sender_slots", m.slots},
                  {"sender_late_slots", m.late_slots},
                  {"sender_max_lateness_ms", m.max_lateness_ms},
                  {"rtp_thread_cpu_s", m.thread_cpu_s},
                  {"rtp_cpu_us_per_packet",
                   m.packets_sent + m.packets_received
                       ? 1e6 * m.thread_cpu_s / static_cast<double>(m.packets_sent + m.packets_received)
                       : 0.0},
                  // What each side received: the phone side gets the carrier's streams.
                  {"received_by", {{"phone", side_json(by_side[0])}, {"carrier", side_json(by_side[1])}}}};
  }
  if (!r.throughput.empty()) j["media_throughput"] = throughput_json(r);
  if (r.packet_rate) j["packet_rate"] = packet_rate_json(*r.packet_rate);
  return j.dump();
}

}  // namespace msgw::loadtest
