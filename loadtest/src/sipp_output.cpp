// SPDX-License-Identifier: GPL-3.0-or-later
#include "sipp_output.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace msgw::loadtest {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

template <typename T>
bool to_number(std::string_view s, T& out) {
  s = trim(s);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool to_double(std::string_view s, double& out) {
  s = trim(s);
  if (s.empty() || s.size() > 64) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Iterates over complete lines; returns the length consumed.
template <typename F>
std::size_t for_each_line(std::string_view text, F&& f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;
    f(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return pos;
}

}  // namespace

std::optional<double> parse_sipp_duration(std::string_view text) {
  auto parts = split(trim(text), ':');
  if (parts.size() != 3 && parts.size() != 4) return std::nullopt;
  std::uint64_t v[4] = {0, 0, 0, 0};
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (parts[i].size() > 9 || !to_number(parts[i], v[i])) return std::nullopt;
  if (v[1] >= 60 || v[2] >= 60) return std::nullopt;
  return static_cast<double>(v[0] * 3600 + v[1] * 60 + v[2]) + static_cast<double>(v[3]) / 1e6;
}

StatCsv parse_stat_csv(std::string_view text) {
  StatCsv out;
  std::vector<std::string_view> header;
  struct Column {
    const char* name;
    int index = -1;
  };
  enum { elapsed, rate, total, incoming, current, ok, failed, retrans, maxudp, unexpected, timeout, n_cols };
  Column cols[n_cols] = {{"ElapsedTime(C)"},         {"CallRate(C)"},     {"TotalCallCreated"},
                         {"IncomingCall(C)"},        {"CurrentCall"},     {"SuccessfulCall(C)"},
                         {"FailedCall(C)"},          {"Retransmissions(C)"}, {"FailedMaxUDPRetrans(C)"},
                         {"FailedUnexpectedMessage(C)"}, {"FailedTimeoutOnRecv(C)"}};
  bool have_header = false;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty()) return;
    auto fields = split(line, ';');
    if (!have_header) {
      if (line.find("TotalCallCreated") == std::string_view::npos) {
        ++out.bad_rows;
        return;
      }
      for (auto& c : cols)
        for (std::size_t i = 0; i < fields.size(); ++i)
          if (trim(fields[i]) == c.name) c.index = static_cast<int>(i);
      for (auto& c : cols)
        if (c.index < 0 && out.error.empty()) out.error = std::string("no column ") + c.name;
      have_header = true;
      return;
    }
    if (!out.error.empty()) return;
    auto field = [&](int col) { return fields[static_cast<std::size_t>(cols[col].index)]; };
    for (auto& c : cols)
      if (static_cast<std::size_t>(c.index) >= fields.size()) {
        ++out.bad_rows;
        return;
      }
    StatRow r;
    auto el = parse_sipp_duration(field(elapsed));
    bool good = el.has_value() && to_double(field(rate), r.call_rate) &&
                to_number(field(total), r.total_created) && to_number(field(incoming), r.incoming) &&
                to_number(field(current), r.current) && to_number(field(ok), r.successful) &&
                to_number(field(failed), r.failed) && to_number(field(retrans), r.retransmissions) &&
                to_number(field(maxudp), r.failed_max_udp_retrans) &&
                to_number(field(unexpected), r.failed_unexpected) &&
                to_number(field(timeout), r.failed_timeout_recv);
    if (!good) {
      ++out.bad_rows;
      return;
    }
    r.elapsed_s = *el;
    out.rows.push_back(r);
  });
  if (!have_header && out.error.empty()) out.error = "no header row";
  return out;
}

RttCsv parse_rtt_csv(std::string_view text, std::size_t* consumed) {
  RttCsv out;
  auto used = for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty() || line.starts_with("Date_ms")) return;
    auto f = split(line, ';');
    RttSample s;
    if (f.size() < 3 || !to_double(f[0], s.at_ms) || !to_double(f[1], s.value_ms) || s.value_ms < 0 ||
        trim(f[2]).empty() || trim(f[2]).size() > 64) {
      ++out.bad_rows;
      return;
    }
    s.rtd = std::string(trim(f[2]));
    out.samples.push_back(std::move(s));
  });
  if (consumed) *consumed = used;
  return out;
}

std::map<int, std::uint64_t> parse_error_log_codes(std::string_view text) {
  // Only the response that aborted a call counts; the "Dead call" lines that
  // follow (its retransmissions, the answer to SIPp's clean-up) do not.
  std::map<int, std::uint64_t> codes;
  constexpr std::string_view abort_marker = "Aborting call on unexpected message";
  constexpr std::string_view marker = "received 'SIP/2.0 ";
  std::size_t pos = 0;
  while ((pos = text.find(abort_marker, pos)) != std::string_view::npos) {
    pos += abort_marker.size();
    const auto eol = text.find('\n', pos);
    const auto at = text.find(marker, pos);
    if (at == std::string_view::npos || (eol != std::string_view::npos && at > eol)) continue;
    const auto code_at = at + marker.size();
    int code = 0;
    if (code_at + 3 <= text.size() && to_number(text.substr(code_at, 3), code) && code >= 100 && code <= 699)
      ++codes[code];
  }
  return codes;
}

std::optional<MediaEvent> parse_media_event(std::string_view line) {
  line = trim(line);
  auto f = split(line, ' ');
  if (f.size() < 3 || f[0] != "lt") return std::nullopt;
  MediaEvent ev;
  if (!to_number(f[2], ev.call)) return std::nullopt;
  if (f[1] == "stop" && f.size() == 3) {
    ev.kind = MediaEvent::Kind::stop;
    return ev;
  }
  if (f[1] != "start" || f.size() != 5) return std::nullopt;
  ev.kind = MediaEvent::Kind::start;
  if (f[3].size() > 15) return std::nullopt;
  std::string ip(f[3]);
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return std::nullopt;
  ev.ip = ntohl(a.s_addr);
  std::uint32_t port = 0;
  if (!to_number(f[4], port) || port == 0 || port > 65535) return std::nullopt;
  ev.port = static_cast<std::uint16_t>(port);
  return ev;
}

std::optional<RejectEvent> parse_reject_event(std::string_view line) {
  auto f = split(trim(line), ' ');
  if ((f.size() != 4 && f.size() != 5) || f[0] != "lt" || f[1] != "reject") return std::nullopt;
  RejectEvent ev;
  if (!to_number(f[2], ev.call) || !to_number(f[3], ev.code) || ev.code < 300 || ev.code > 699) return std::nullopt;
  if (f.size() == 5) {
    if (!to_number(f[4], ev.retry_after_s)) return std::nullopt;
    ev.retry_after = true;
  }
  return ev;
}

double creation_rate(const std::vector<StatRow>& rows, std::uint64_t created) {
  if (created == 0) return 0;
  double before_s = 0, pace = 0;  // pace: calls/s created over the previous row's interval
  std::uint64_t before = 0;
  for (const auto& r : rows) {
    if (r.total_created >= created && r.elapsed_s > 0) {
      // Within this row's interval SIPp went on at the previous interval's
      // pace, then stopped at its -m count (or was cut short).
      double done_s = r.elapsed_s;
      if (pace > 0) done_s = std::min(done_s, before_s + static_cast<double>(created - before) / pace);
      return static_cast<double>(created) / done_s;
    }
    if (r.elapsed_s > before_s)
      pace = static_cast<double>(r.total_created - std::min(r.total_created, before)) / (r.elapsed_s - before_s);
    before_s = r.elapsed_s;
    before = r.total_created;
  }
  return 0;
}

}  // namespace msgw::loadtest
