// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer: msgw-loadtest's parsers of what SIPp writes (stat CSV, RTT CSV,
// error log, the scenarios' media and rejection log lines, and the UDP MIB
// of /proc/net/snmp that counts the tool's socket drops). Any input must parse to rows or
// to counted bad rows, never crash; what is returned must be consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sipp_output.hpp"
#include "socket_drops.hpp"

using namespace msgw::loadtest;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto stat = parse_stat_csv(text);
  for (const auto& r : stat.rows)
    if (r.elapsed_s < 0) std::abort();
  std::size_t used = 0;
  auto rtt = parse_rtt_csv(text, &used);
  if (used > text.size()) std::abort();
  for (const auto& s : rtt.samples)
    if (s.value_ms < 0 || s.rtd.empty()) std::abort();
  for (const auto& [code, n] : parse_error_log_codes(text))
    if (code < 100 || code > 699 || n == 0) std::abort();
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    auto line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (auto ev = parse_media_event(line); ev && ev->kind == MediaEvent::Kind::start && ev->port == 0) std::abort();
    if (auto rej = parse_reject_event(line); rej && (rej->code < 300 || rej->code > 699)) std::abort();
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  (void)parse_sipp_duration(text);
  (void)parse_snmp_udp(text);
  return 0;
}
