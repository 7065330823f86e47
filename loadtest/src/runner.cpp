// SPDX-License-Identifier: GPL-3.0-or-later
#include "runner.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "msgw/common/monotonic_clock.hpp"

#include "packet_rate.hpp"
#include "rate_search.hpp"
#include "scenario.hpp"
#include "sipp_output.hpp"
#include "sipp_process.hpp"
#include "socket_drops.hpp"
#include "step.hpp"
#include "text_file.hpp"
#include "tool_cpu.hpp"

namespace msgw::loadtest {
namespace fs = std::filesystem;

namespace {

using common::monotonic_s;

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

// Reads what was appended to a file since the last call; complete lines only.
class Tail {
 public:
  explicit Tail(fs::path p) : path_(std::move(p)) {}
  std::string lines() {
    std::ifstream f(path_, std::ios::binary);
    if (!f) return {};
    f.seekg(static_cast<std::streamoff>(offset_));
    std::string chunk((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto last_nl = chunk.rfind('\n');
    if (last_nl == std::string::npos) return {};
    chunk.resize(last_nl + 1);
    offset_ += chunk.size();
    return chunk;
  }
  void set_path(fs::path p) {
    path_ = std::move(p);
    offset_ = 0;
  }

 private:
  fs::path path_;
  std::size_t offset_ = 0;
};

// SIPp names its RTT file after the scenario and its pid.
fs::path rtt_path(const fs::path& dir, const std::string& scenario_stem, pid_t pid) {
  return dir / (scenario_stem + "_" + std::to_string(pid) + "_rtt.csv");
}

std::string fmt_duration(double s) {
  char b[32];
  if (s < 0) s = 0;
  if (s >= 3600) std::snprintf(b, sizeof b, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  else if (s >= 60) std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  else std::snprintf(b, sizeof b, "%ds", static_cast<int>(s));
  return b;
}

void progress(const RunContext& c, const StepResult& s, double step_elapsed, const StatRow* row,
              std::uint64_t over) {
  // A redrawn line on a terminal; in a log, only each step's summary (below).
  static const bool tty = isatty(2);
  if (c.o.quiet || !tty) return;
  char line[256];
  const double step_left = std::max(0.0, static_cast<double>(s.duration_s) - step_elapsed);
  const double eta = step_left + static_cast<double>(c.steps_left_estimate) * (c.o.step_s + 2.0);
  std::snprintf(line, sizeof line,
                "\r%s step %u%s %u/s  %s/%us  attempts %llu  up %llu  ok %llu  failed %llu  slow %llu%s  ETA %s   ",
                test_name(c.o.test), s.index, s.confirmation ? " (confirm)" : "", s.rate,
                fmt_duration(step_elapsed).c_str(), s.duration_s,
                static_cast<unsigned long long>(row ? row->total_created : 0),
                static_cast<unsigned long long>(row ? row->current : 0),
                static_cast<unsigned long long>(row ? row->successful : 0),
                static_cast<unsigned long long>(row ? row->failed : 0), static_cast<unsigned long long>(over),
                c.media ? (" rtp " + std::to_string(c.media->active_streams())).c_str() : "",
                fmt_duration(eta).c_str());
  std::fputs(line, stderr);
  std::fflush(stderr);
}

SideCounts counts_from(const StatCsv& stat, const fs::path& err_file, bool uas) {
  SideCounts c;
  if (stat.rows.empty()) return c;
  const auto& last = stat.rows.back();
  c.attempted = uas ? last.incoming : last.total_created;
  c.successful = last.successful;
  c.failed = last.failed;
  c.retransmissions = last.retransmissions;
  c.failure_codes = parse_error_log_codes(read_text_file(err_file));
  return c;
}

}  // namespace

// end_early: the search's steps stop at the first failure (RFC 7502); the
// fixed steps of --rates run to their end so that every count is complete.
StepResult run_step(RunContext& c, std::uint32_t index, std::uint32_t rate, std::uint32_t duration_s,
                    bool confirmation, bool end_early, const StepPlan* plan) {
  const Options& o = c.o;
  StepResult s;
  s.index = index;
  s.rate = rate;
  s.duration_s = duration_s;
  s.confirmation = confirmation;
  s.started_s = monotonic_s() - c.run_start;
  const fs::path dir = c.work / ("step-" + std::to_string(index));
  fs::create_directories(dir);
  const bool media = c.media != nullptr;
  const bool calls = c.workload == Workload::calls;
  std::string error;
  // The tool's own socket drops over the step (socket_drops.hpp).
  const std::string phone_ns = c.self_test ? std::string() : o.phone_netns;
  const std::string carrier_ns = c.self_test ? std::string() : o.carrier_netns;
  const bool carrier_apart = calls && carrier_ns != phone_ns;
  const auto phone_udp_before = read_netns_udp(phone_ns);
  const auto carrier_udp_before = carrier_apart ? read_netns_udp(carrier_ns) : std::nullopt;
  // And its DPDK ports' (the engine's snapshot, at most 100 ms old).
  const std::uint64_t port_drops_before = media ? c.media->snapshot().receive_drops : 0;

  // The carrier side (or the loopback target of --self-test).
  std::unique_ptr<SippProcess> uas;
  if (calls) {
    uas = std::make_unique<SippProcess>();
    std::vector<std::string> argv{o.sipp, "-sf", (c.work / (c.self_test ? "target.xml" : "uas.xml")).string(),
                                  "-i", c.self_test ? "127.0.0.1" : o.carrier_ip, "-p",
                                  std::to_string(c.self_test ? c.target_port : o.carrier_sip_port),
                                  "-nostdin", "-max_socket", "65000", "-buff_size", std::to_string(o.socket_buffer),
                                  "-trace_stat", "-stf", (dir / "uas-stat.csv").string(), "-fd", "1", "-trace_err", "-error_file",
                                  (dir / "uas.err").string()};
    if (media) {
      argv.insert(argv.end(), {"-trace_logs", "-log_file", (dir / "uas-media.log").string()});
    }
    if (!uas->start(argv, c.self_test ? std::string() : o.carrier_netns, dir.string(), (dir / "uas.out").string(),
                    &error)) {
      s.verdict = "carrier side: " + error;
      return s;
    }
    s.has_uas = true;
    sleep_ms(300);
    if (!uas->running()) {
      s.verdict = "carrier side SIPp exited at once (status " + std::to_string(uas->exit_status()) + ", see " +
                  (dir / "uas.out").string() + ")";
      return s;
    }
  }

  // The phone side.
  const std::string scenario = calls ? (plan ? plan->uac_scenario : "uac") : "register";
  const std::uint64_t total =
      plan && plan->calls ? plan->calls : static_cast<std::uint64_t>(rate) * duration_s;
  const std::uint32_t recv_timeout_ms = std::max<std::uint32_t>(2 * o.threshold_ms, 4000);
  const std::uint32_t hold = calls ? (plan && plan->hold_ms ? plan->hold_ms : o.hold_ms) : 0;
  const std::uint64_t limit =
      plan && plan->open_limit ? plan->open_limit
                               : static_cast<std::uint64_t>(rate) * (hold / 1000 + recv_timeout_ms / 1000 + 2) + 100;
  const std::string target = c.target_host + ":" + std::to_string(c.target_port);
  const std::string auth_uri =
      calls ? o.number + "@" + c.target_host + ":" + std::to_string(c.target_port) : target;
  std::vector<std::string> argv{o.sipp, "-sf", (c.work / (scenario + ".xml")).string(), "-s", o.number,
                                "-i", c.self_test ? "127.0.0.1" : o.phone_ip, "-p",
                                std::to_string(o.phone_sip_port), "-r", std::to_string(rate), "-m",
                                std::to_string(total), "-l", std::to_string(limit), "-nostdin",
                                "-max_socket", "65000", "-buff_size", std::to_string(o.socket_buffer),
                                "-recv_timeout", std::to_string(recv_timeout_ms),
                                "-timeout",
                                std::to_string(total / std::max<std::uint32_t>(rate, 1) + 1 + hold / 1000 +
                                               recv_timeout_ms / 1000 + 20) + "s",
                                "-trace_stat", "-stf", (dir / "uac-stat.csv").string(), "-fd", "1",
                                "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-error_file",
                                (dir / "uac.err").string(), "-auth_uri", auth_uri};
  // The phone side's log: media start/stop and the 503s it took.
  if (calls) argv.insert(argv.end(), {"-trace_logs", "-log_file", (dir / "uac-media.log").string()});
  if (plan && plan->hold_ms) argv.insert(argv.end(), {"-d", std::to_string(plan->hold_ms)});
  argv.push_back(target);
  SippProcess uac;
  const std::set<int> tool_cpus = allowed_cpus();
  const auto cpu_before = read_proc_stat();
  const double t0 = monotonic_s();
  if (!uac.start(argv, c.self_test ? std::string() : o.phone_netns, dir.string(), (dir / "uac.out").string(),
                 &error)) {
    s.verdict = "phone side: " + error;
    return s;
  }
  const std::string rtd_timed = c.workload == Workload::calls          ? "setup"
                                : c.workload == Workload::registration ? "register"
                                                                       : "reregister";
  Tail rtt_tail(rtt_path(dir, scenario, uac.pid()));
  Tail uac_media(dir / "uac-media.log"), uas_media(dir / "uas-media.log");
  std::vector<double> setup, disconnect;
  std::vector<RttSample> timed_samples;
  double uac_cpu = 0, uas_cpu = 0;
  std::uint64_t rejected = 0;
  auto feed_media = [&]() {
    if (!calls) return;
    for (int side = 0; side < (media ? 2 : 1); ++side) {
      std::string text = side == 0 ? uac_media.lines() : uas_media.lines();
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);) {
        if (auto ev = parse_media_event(line); ev && media) {
          c.media->on_event(static_cast<Side>(side), index, *ev);
        } else if (auto rej = parse_reject_event(line); rej && side == 0) {
          ++rejected;
          ++s.uac.failure_codes[rej->code];
          ++(rej->retry_after ? s.uac.rejected_retry_after : s.uac.rejected_no_retry_after);
        }
      }
    }
  };
  auto feed_rtt = [&]() {
    auto parsed = parse_rtt_csv(rtt_tail.lines());
    for (auto& sample : parsed.samples) {
      if (sample.rtd == rtd_timed) {
        setup.push_back(sample.value_ms);
        if (sample.value_ms > o.threshold_ms) ++s.over_threshold;
        sample.at_ms += (t0 - c.run_start) * 1000;
        timed_samples.push_back(sample);
      } else if (sample.rtd == "disconnect") {
        disconnect.push_back(sample.value_ms);
      }
    }
  };
  StatRow last_row{};
  bool have_row = false;
  while (uac.running()) {
    sleep_ms(200);
    feed_media();
    feed_rtt();
    auto stat = parse_stat_csv(read_text_file(dir / "uac-stat.csv"));
    if (!stat.rows.empty()) {
      last_row = stat.rows.back();
      have_row = true;
    }
    if (auto cpu = uac.cpu_seconds(); cpu > 0) uac_cpu = cpu;
    if (uas)
      if (auto cpu = uas->cpu_seconds(); cpu > 0) uas_cpu = cpu;
    const double elapsed = monotonic_s() - t0;
    progress(c, s, elapsed, have_row ? &last_row : nullptr, s.over_threshold);
    // RFC 7502: a failed attempt or a setup past the threshold fails the step; stop it now.
    if (end_early && !s.ended_early &&
        ((have_row && last_row.failed > 0) || rejected > 0 || s.over_threshold > 0)) {
      s.ended_early = true;
      // No new calls; those in progress finish (hold, BYE) before SIPp is
      // killed: a call cut short stays on the target (its 2xx resent to a
      // phone that is gone, for 32 s) and burdens the next step.
      uac.stop(static_cast<int>(hold + o.threshold_ms + 1500));
    }
    if (plan && plan->watch && !s.ended_early &&
        plan->watch({monotonic_s() - c.run_start, have_row ? &last_row : nullptr, s.over_threshold, rejected})) {
      s.ended_early = true;
      if (c.media) c.media->stop_source(index);  // the step is over; aborted calls log no stop
      uac.abort_calls();
      // SIPp sends the BYEs at once but lingers over its aborted calls: the
      // BYEs are out and answered well within a second, then it is killed.
      if (!uac.wait(1000)) uac.stop(0);
    }
  }
  const double uac_wall = monotonic_s() - t0;
  feed_rtt();
  if (uas) {
    sleep_ms(300);  // the last ACK/200 of BYE on its way
    feed_media();
    uas_cpu = std::max(uas_cpu, uas->cpu_seconds());
    uas->stop();
  }
  feed_media();
  s.elapsed_s = monotonic_s() - t0;
  if (auto after = read_netns_udp(phone_ns); after && phone_udp_before)
    s.phone_socket_drops = udp_drops_delta(*phone_udp_before, *after);
  if (auto after = carrier_apart ? read_netns_udp(carrier_ns) : std::nullopt; after && carrier_udp_before)
    s.carrier_socket_drops = udp_drops_delta(*carrier_udp_before, *after);
  if (media) {
    const std::uint64_t after = c.media->snapshot().receive_drops;
    s.tool_port_drops = after > port_drops_before ? after - port_drops_before : 0;
  }
  const auto cpu_after = read_proc_stat();
  if (auto busy = busy_share(cpu_before, cpu_after, tool_cpus)) s.tool_cpu_busy = *busy;
  std::uint64_t sut_ticks = 0;  // the target's work on its cores (--sut-cpus), per call below
  if (!o.sut_cpus.empty())
    if (auto d = cpu_delta(cpu_before, cpu_after, o.sut_cpus)) {
      sut_ticks = sut_work_ticks(*d);
      s.has_sut_cpu = true;
      s.sut_cpu_busy = sut_work_share(*d);
      s.sut_cpu_niced = static_cast<double>(d->nice) / static_cast<double>(d->total);
      s.sut_cpu_s = static_cast<double>(sut_ticks) / static_cast<double>(clock_ticks_per_s());
    }

  auto uac_stat = parse_stat_csv(read_text_file(dir / "uac-stat.csv"));
  if (!uac_stat.error.empty() || uac_stat.rows.empty()) {
    s.verdict = "no statistics from the phone side SIPp (" +
                (uac_stat.error.empty() ? std::string("empty") : uac_stat.error) + "; see " +
                (dir / "uac.out").string() + ")";
    return s;
  }
  {
    SideCounts logged = s.uac;  // the 503s the scenario logged
    s.uac = counts_from(uac_stat, dir / "uac.err", false);
    for (const auto& [code, n] : logged.failure_codes) s.uac.failure_codes[code] += n;
    s.uac.rejected_retry_after = logged.rejected_retry_after;
    s.uac.rejected_no_retry_after = logged.rejected_no_retry_after;
    // SIPp counts a call that took the 503 branch as completed: it failed.
    const std::uint64_t moved = std::min(rejected, s.uac.successful);
    s.uac.successful -= moved;
    s.uac.failed += rejected;
    const auto& last = uac_stat.rows.back();
    s.uac.timeouts = last.failed_timeout_recv + last.failed_max_udp_retrans;
  }
  s.uac.cpu_percent = uac_wall > 0 ? 100.0 * uac_cpu / uac_wall : 0;
  // Per call completed (the rejections taken out above).
  if (s.has_sut_cpu) s.sut_cpu_us_per_call = cpu_us_per_call(sut_ticks, clock_ticks_per_s(), s.uac.successful);
  if (uas) {
    auto uas_stat = parse_stat_csv(read_text_file(dir / "uas-stat.csv"));
    s.uas = counts_from(uas_stat, dir / "uas.err", true);
    s.uas.cpu_percent = s.elapsed_s > 0 ? 100.0 * uas_cpu / (s.elapsed_s + 0.3) : 0;
  }
  // Achieved offered rate: attempts over the time SIPp took to create them.
  s.achieved_rate = creation_rate(uac_stat.rows, s.uac.attempted);
  if (s.achieved_rate == 0) s.achieved_rate = uac_stat.rows.back().call_rate;
  s.setup_ms = summarize(setup);
  for (double v : setup) ++s.setup_ms_histogram[std::llround(v)];
  s.disconnect_ms = summarize(disconnect);
  s.ser = session_establishment_ratio(s.uac.attempted, s.uac.successful);
  s.seer = session_establishment_effectiveness_ratio(s.uac.attempted, s.uac.successful, s.uac.failure_codes);

  // Timeline: setup delay percentiles per second, concurrent calls per -fd row.
  std::map<long, std::vector<double>> per_second;
  for (const auto& t : timed_samples) per_second[static_cast<long>(t.at_ms / 1000)].push_back(t.value_ms);
  for (auto& [sec, v] : per_second) {
    TimePoint p;
    p.t_s = static_cast<double>(sec);
    auto sum = summarize(v);
    p.setup_p50 = sum.p50;
    p.setup_p99 = sum.p99;
    p.setup_max = sum.max;
    p.setups = sum.n;
    p.has_setup = true;
    c.result->timeline.push_back(p);
  }
  for (const auto& r : uac_stat.rows) {
    TimePoint p;
    p.t_s = (t0 - c.run_start) + r.elapsed_s;
    p.concurrent = r.current;
    p.has_concurrent = true;
    c.result->timeline.push_back(p);
  }

  // Verdict (RFC 7502): every attempt established, none past the threshold.
  if (s.uac.failed > 0) {
    s.verdict = std::to_string(s.uac.failed) + " failed attempts";
  } else if (s.over_threshold > 0) {
    s.verdict = std::to_string(s.over_threshold) + " setups over " + std::to_string(o.threshold_ms) + " ms";
  } else if (s.uac.successful < total) {
    s.verdict = "only " + std::to_string(s.uac.successful) + " of " + std::to_string(total) + " attempts completed";
  } else {
    s.passed = true;
    s.verdict = "pass";
  }
  // Where the tool itself may have been the limit.
  if (s.uac.cpu_percent > 90) s.generator_limits.push_back("phone-side SIPp CPU " + std::to_string(static_cast<int>(s.uac.cpu_percent)) + " %");
  if (s.uas.cpu_percent > 90) s.generator_limits.push_back("carrier-side SIPp CPU " + std::to_string(static_cast<int>(s.uas.cpu_percent)) + " %");
  // Both SIPps on one pinned core, each under 90 %, the core itself full.
  if (s.tool_cpu_busy > kToolCpuBusyLimit) {
    std::string list;
    for (int cpu : tool_cpus) list += (list.empty() ? "" : ",") + std::to_string(cpu);
    s.generator_limits.push_back("the tool's CPU" + std::string(tool_cpus.size() > 1 ? "s " : " ") + list + " " +
                                 std::to_string(static_cast<int>(100 * s.tool_cpu_busy)) + " % busy");
  }
  // A datagram the tool's own socket dropped is a call the target answered
  // and the tool saw as unanswered (retransmitted, late or timed out).
  for (const auto& [side, drops] : {std::pair{"phone", s.phone_socket_drops}, std::pair{"carrier", s.carrier_socket_drops}})
    if (drops && drops->total() > 0)
      s.generator_limits.push_back(
          "the tool's sockets on the " + std::string(side) + " side dropped " + std::to_string(drops->total()) +
          " datagrams (receive buffer full: " + std::to_string(drops->rcvbuf_errors) + "; --socket-buffer " +
          std::to_string(o.socket_buffer) + " bytes, net.core.rmem_max " + std::to_string(read_rmem_max()) + ")");
  if (s.tool_port_drops > 0)
    s.generator_limits.push_back("the tool's DPDK ports dropped " + std::to_string(s.tool_port_drops) +
                                 " received packets (RX ring full or no mbuf)");
  if (!s.ended_early && s.achieved_rate < 0.9 * rate)
    s.generator_limits.push_back("offered " + std::to_string(static_cast<int>(s.achieved_rate)) + "/s of " +
                                 std::to_string(rate) + "/s");
  return s;
}

namespace {

}  // namespace

void record_step_result(RunContext& c, StepResult s) {
  RunResult& result = *c.result;
  for (const auto& l : s.generator_limits)
    result.generator_limits.push_back("step " + std::to_string(s.index) + " (" + std::to_string(s.rate) + "/s): " + l);
  if (!c.o.quiet)
    std::fprintf(stderr, "\r%s step %u%s %u/s: %s; %llu attempts, %llu ok, %llu failed, setup p99 %.0f ms%*s\n",
                 test_name(c.o.test), s.index, s.confirmation ? " (confirm)" : "", s.rate, s.verdict.c_str(),
                 static_cast<unsigned long long>(s.uac.attempted), static_cast<unsigned long long>(s.uac.successful),
                 static_cast<unsigned long long>(s.uac.failed), s.setup_ms.p99, 20, "");
  result.steps.push_back(std::move(s));
}

void run_search(RunContext& c, std::uint32_t& index) {
  const Options& o = c.o;
  RunResult& result = *c.result;
  RateSearch search({o.start_rate, o.max_rate, o.resolution, o.confirm_s > 0, 3});
  // With --sut-cpus the trials are kept independent (RFC 7502): each starts
  // once the target's cores are back near their share before the first.
  std::optional<SettlePolicy> settle;
  if (!o.sut_cpus.empty())
    if (auto idle = sample_busy_share(o.sut_cpus, 1000)) {
      settle = SettlePolicy{};
      settle->idle_share = *idle;
      result.sut_idle_busy = *idle;
    }
  while (auto step = search.next()) {
    if (index >= o.max_steps) break;
    const auto span = std::max<std::uint32_t>(o.max_rate - o.start_rate, 1);
    c.steps_left_estimate = static_cast<std::uint32_t>(std::ceil(std::log2(static_cast<double>(span) / o.resolution + 1))) + 1 > index
                                ? static_cast<std::uint32_t>(std::ceil(std::log2(static_cast<double>(span) / o.resolution + 1))) + 1 - index
                                : 1;
    auto s = run_step(c, ++index, step->rate, step->confirmation ? o.confirm_s : o.step_s, step->confirmation, true);
    if (s.uac.attempted == 0 && !s.passed) {
      result.error = s.verdict;
      record_step_result(c, std::move(s));
      break;
    }
    search.record(s.passed);
    sleep_ms(500);  // let the target settle between steps
    if (settle)
      s.settle_s = wait_until_settled(*settle, [&](int ms) { return sample_busy_share(o.sut_cpus, ms); }) / 1000.0;
    record_step_result(c, std::move(s));
  }
  result.found_rate = search.found();
  result.confirmed = search.confirmed();
}

namespace {

std::string utc_now() {
  char b[32];
  std::time_t t = std::time(nullptr);
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

std::string ip_string(const std::string& s, std::uint32_t* out, std::string* error) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) {
    *error = "not an IPv4 address: " + s;
    return {};
  }
  *out = ntohl(a.s_addr);
  return s;
}

}  // namespace

RunResult run_test(const Options& o) {
  RunResult result;
  result.test = test_name(o.test);
  result.started_utc = utc_now();
  result.threshold_ms = o.threshold_ms;
  result.hold_ms = o.hold_ms;
  result.sut_cpus.assign(o.sut_cpus.begin(), o.sut_cpus.end());
  if (o.test == TestKind::packet_rate) {  // no SIP, no work directory; says itself when not built
    run_packet_rate(o, result);
    return result;
  }
  if (!test_built(o.test)) {
    result.error = std::string("the ") + result.test + " test is designed (its options parse) but not built yet";
    return result;
  }
  const bool self_test = o.test == TestKind::self_test;
  const Workload workload = o.test == TestKind::registration     ? Workload::registration
                            : o.test == TestKind::reregistration ? Workload::reregistration
                                                                 : Workload::calls;
  if (workload != Workload::calls) result.rate_unit = o.test == TestKind::registration ? "registrations/s" : "re-registrations/s";
  fs::path work = o.work_dir.empty() ? fs::path() : fs::path(o.work_dir);
  if (work.empty()) {
    char tmpl[] = "/tmp/msgw-loadtest.XXXXXX";
    if (!mkdtemp(tmpl)) {
      result.error = "cannot create a work directory in /tmp";
      return result;
    }
    work = tmpl;
  }
  fs::create_directories(work);
  if (o.test == TestKind::media_throughput) {
    run_media_throughput(o, work, result);
    if (!o.keep_work && o.work_dir.empty()) {
      std::error_code ec;
      fs::remove_all(work, ec);
    }
    return result;
  }
  RunContext c{o, workload, self_test, work, self_test ? "127.0.0.1" : o.target_host,
               self_test ? static_cast<std::uint16_t>(5099) : o.target_port};
  result.target = c.target_host + ":" + std::to_string(c.target_port);
  c.result = &result;

  // Scenarios.
  CallScenarioParams call;
  const auto& info = codecs::codec_info(o.codec.id);
  call.codec.payload_type = o.codec.payload_type;
  call.codec.name = std::string(info.sdp_name);
  if (o.codec.id == codecs::CodecId::G729) call.codec.fmtp = "annexb=no";
  call.user = o.user;
  call.password = self_test ? "loopback" : o.password;
  call.hold_ms = o.hold_ms;
  // The capacity test is calls with media by definition, unless --no-media.
  call.media_events = (o.media || (o.test == TestKind::capacity && !o.capacity_no_media)) && !self_test;
  call.media_ip = self_test ? "127.0.0.1" : o.phone_ip;
  call.media_port = o.phone_rtp_port;
  write_file(work / "uac.xml", uac_call_scenario(call));
  if (o.test == TestKind::capacity) {
    CallScenarioParams held = call;  // each step holds its calls for its own -d
    held.hold_from_command_line = true;
    write_file(work / "uac-capacity.xml", uac_call_scenario(held));
  }
  CallScenarioParams carrier = call;
  carrier.media_ip = o.carrier_ip;
  carrier.media_port = o.carrier_rtp_port;
  carrier.reject_every = o.reject_every;
  write_file(work / "uas.xml", uas_call_scenario(carrier));
  write_file(work / "target.xml", self_target_scenario(call));
  RegisterScenarioParams reg{o.user, o.password, 3600, workload == Workload::reregistration};
  write_file(work / "register.xml", register_scenario(reg));

  // With --media-dpdk the engine's ports are the tool's link to the target:
  // without media it still runs, bridging the signalling (no streams start).
  std::unique_ptr<MediaEngine> media;
  if (call.media_events || (o.media_dpdk && !self_test)) {
    MediaConfig mc;
    mc.codec = o.codec;
    std::string error;
    ip_string(o.phone_ip, &mc.phone.ip, &error);
    ip_string(o.carrier_ip, &mc.carrier.ip, &error);
    mc.phone.port = o.phone_rtp_port;
    mc.carrier.port = o.carrier_rtp_port;
    mc.phone.netns = o.phone_netns;
    mc.carrier.netns = o.carrier_netns;
    mc.carrier_withhold_every = o.withhold_rtp_every;
    mc.dpdk = o.media_dpdk;
    mc.eal_args = o.eal_args;
    mc.tap[0] = o.phone_tap;
    mc.tap[1] = o.carrier_tap;
    if (error.empty()) media = MediaEngine::open(mc, &error);
    if (!media) {
      result.error = "media: " + error;
      return result;
    }
    media->start();
    result.media_engine = o.media_dpdk ? "dpdk" : "sockets";
    if (call.media_events) {
      c.media = media.get();
      result.media = true;
      result.codec = o.codec_name;
    }
  }

  c.run_start = monotonic_s();
  std::uint32_t index = 0;
  auto record_step = [&](StepResult s) { record_step_result(c, std::move(s)); };
  if (o.test == TestKind::capacity) {
    run_capacity(c, index);
  } else if (o.test == TestKind::overload) {
    run_overload(c, index);
  } else if (!o.rates.empty()) {
    for (auto r : o.rates) {
      c.steps_left_estimate = static_cast<std::uint32_t>(o.rates.size()) - index - 1;
      auto s = run_step(c, ++index, r, o.step_s, false, false);
      if (s.uac.attempted == 0 && !s.passed) {
        result.error = s.verdict;
        record_step(std::move(s));
        break;
      }
      if (s.passed) result.found_rate = std::max(result.found_rate, r);
      // Past the first step that could not complete its calls, higher rates only load the target.
      const bool incomplete = s.uac.failed > 0 || s.uac.successful < static_cast<std::uint64_t>(r) * o.step_s;
      record_step(std::move(s));
      if (o.stop_on_failed_call && incomplete) break;
    }
  } else {
    run_search(c, index);
  }

  if (media) {
    result.media_summary = media->finish(500);
    const MediaSummary& ms = result.media_summary;
    if (ms.sender_late())
      result.generator_limits.push_back("RTP sender late (> 5 ms) in " + std::to_string(ms.late_slots) + " of " +
                                        std::to_string(ms.slots) + " slots");
    for (auto& s : result.steps) {
      std::vector<double> loss, jitter, mos;
      for (const auto& st : result.media_summary.streams)
        if (st.source == s.index && st.received > 0) {
          loss.push_back(st.loss_percent);
          jitter.push_back(st.jitter_ms);
          mos.push_back(st.mos);
        }
      s.streams = loss.size();
      s.loss_percent = summarize(loss);
      s.jitter_ms = summarize(jitter);
      s.mos = summarize(mos);
    }
  }
  std::sort(result.timeline.begin(), result.timeline.end(),
            [](const TimePoint& a, const TimePoint& b) { return a.t_s < b.t_s; });
  if (!o.keep_work && o.work_dir.empty()) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  return result;
}

}  // namespace msgw::loadtest
