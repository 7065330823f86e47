// SPDX-License-Identifier: GPL-3.0-or-later
// RFC 4028's two headers, parsed and formatted (see session_timer.hpp).
#include "msgw/sip/session_timer.hpp"

#include <charconv>

#include "msgw/common/ascii.hpp"
#include "msgw/common/text.hpp"
#include "osip_message.hpp"

namespace msgw::sip {
namespace {

using common::trim_lws;

// delta-seconds (RFC 3261 §25.1: 1*DIGIT); values past 2^32-1 are refused
// rather than wrapped.
std::optional<uint32_t> delta_seconds(std::string_view s) {
  s = trim_lws(s);
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

}  // namespace

std::optional<SessionExpires> parse_session_expires(std::string_view value) {
  const std::size_t semi = value.find(';');
  auto interval = delta_seconds(value.substr(0, semi));
  if (!interval || *interval == 0) return std::nullopt;
  SessionExpires se;
  se.interval_s = *interval;
  std::string_view rest = semi == std::string_view::npos ? std::string_view{} : value.substr(semi + 1);
  while (!rest.empty()) {
    const std::size_t next = rest.find(';');
    std::string_view param = trim_lws(rest.substr(0, next));
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
    const std::size_t eq = param.find('=');
    if (!common::iequals(trim_lws(param.substr(0, eq)), "refresher")) continue;  // other generic-params
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view who = trim_lws(param.substr(eq + 1));
    if (common::iequals(who, "uac")) se.refresher = Refresher::uac;
    else if (common::iequals(who, "uas")) se.refresher = Refresher::uas;
    else return std::nullopt;
  }
  return se;
}

std::string format_session_expires(const SessionExpires& se) {
  std::string s = std::to_string(se.interval_s);
  if (se.refresher == Refresher::uac) s += ";refresher=uac";
  if (se.refresher == Refresher::uas) s += ";refresher=uas";
  return s;
}

SessionTimerHeaders session_timer_of(MessageRef m) {
  SessionTimerHeaders t;
  if (!m) return t;
  std::string se = m.header("Session-Expires");
  if (se.empty()) se = m.header("x");  // the compact form
  if (!se.empty()) {
    t.session_expires = parse_session_expires(se);
    t.malformed = !t.session_expires;
  }
  const std::string min_se = m.header("Min-SE");
  if (auto v = delta_seconds(std::string_view(min_se).substr(0, min_se.find(';')))) t.min_se = *v;
  for (const char* h : {"supported", "k", "require"})
    for (const std::string& tag : option_tags(m.get(), h))
      if (common::iequals(tag, "timer")) t.timer_supported = true;
  return t;
}

}  // namespace msgw::sip
