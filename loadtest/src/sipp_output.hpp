// SPDX-License-Identifier: GPL-3.0-or-later
// Parsers for what SIPp writes: the -trace_stat CSV (one row per -fd
// period, cumulative and periodic counters), the -trace_rtt CSV (one row per
// response-time measurement: setup and disconnect delay per call), the
// -trace_err log (the final response of each failed call) and the lines
// the tool's own scenarios <log> (a call's media address when it is set up,
// its end). Bad input is never fatal: a malformed row is skipped and counted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace msgw::loadtest {

struct StatRow {
  double elapsed_s = 0;  // ElapsedTime(C)
  double call_rate = 0;  // CallRate(C): calls created per second since start
  std::uint64_t total_created = 0;
  std::uint64_t incoming = 0;  // IncomingCall(C): calls a UAS received
  std::uint64_t current = 0;   // CurrentCall: calls in progress
  std::uint64_t successful = 0;
  std::uint64_t failed = 0;
  std::uint64_t retransmissions = 0;
  std::uint64_t failed_max_udp_retrans = 0;
  std::uint64_t failed_unexpected = 0;
  std::uint64_t failed_timeout_recv = 0;
};

struct StatCsv {
  std::vector<StatRow> rows;
  std::size_t bad_rows = 0;
  std::string error;  // set when the header is missing or lacks a required column
};
StatCsv parse_stat_csv(std::string_view text);
// The rate at which SIPp created `created` calls: over the time it took,
// interpolated between the one-second rows around the moment the count was
// reached (a step that creates its calls in 1.2 s is not offered at half
// its rate for being seen complete at the 2 s row). 0 when no row reached it.
double creation_rate(const std::vector<StatRow>& rows, std::uint64_t created);
// "HH:MM:SS" or "HH:MM:SS:uuuuuu" -> seconds; nullopt when malformed.
std::optional<double> parse_sipp_duration(std::string_view text);

struct RttSample {
  double at_ms = 0;     // Date_ms: since the SIPp process started
  double value_ms = 0;  // response_time_ms
  std::string rtd;      // the rtd name in the scenario ("setup", "disconnect", ...)
};
struct RttCsv {
  std::vector<RttSample> samples;
  std::size_t bad_rows = 0;
};
// Parses complete lines only; *consumed (if given) is the length parsed, so a
// caller tailing a growing file keeps the unfinished last line for later.
RttCsv parse_rtt_csv(std::string_view text, std::size_t* consumed = nullptr);

// SIPp's error log: counts the final responses that aborted calls
// ("... while expecting '200' ..., received 'SIP/2.0 503 ...'"), by status code.
std::map<int, std::uint64_t> parse_error_log_codes(std::string_view text);

// Lines the tool's scenarios log: "lt start CALL IP PORT" when a call's
// media starts (the peer's SDP address), "lt stop CALL" when it ends.
struct MediaEvent {
  enum class Kind : std::uint8_t { start, stop };
  Kind kind = Kind::start;
  std::uint64_t call = 0;
  std::uint32_t ip = 0;  // host order
  std::uint16_t port = 0;
};
std::optional<MediaEvent> parse_media_event(std::string_view line);

// "lt reject CALL CODE [RETRY_AFTER]": the phone side's scenario took a
// final refusal (503) of the call, with the Retry-After seconds when present.
struct RejectEvent {
  std::uint64_t call = 0;
  int code = 0;
  bool retry_after = false;
  std::uint32_t retry_after_s = 0;
};
std::optional<RejectEvent> parse_reject_event(std::string_view line);

}  // namespace msgw::loadtest
