// SPDX-License-Identifier: GPL-3.0-or-later
// The overload-shedding rule on a SIP request's raw bytes, written once for
// the two places that shed: msgw-control's pre-scan (sip/src/
// stack_admission.cpp) and msgw-dataplane's worker (dataplane/src/
// sip_shed.cpp), neither of which may depend on the other's folder.
//
// What may be shed: a request whose first line is INVITE or REGISTER (the
// work that starts a call or a binding), with no To tag (out of any dialog)
// and without Authorization / Proxy-Authorization (a request with
// credentials completes a call whose challenge was already paid for; the
// control plane sheds those only when twice as far behind, the dataplane
// never).  Header-only, constexpr, no allocation: the dataplane calls these
// per packet on its exception path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "msgw/common/ascii.hpp"

namespace msgw::common {

// Which requests shedding and the per-source limits act on, from the
// first bytes (CRLF keep-alives before the start line skipped).  Methods
// are case-sensitive (RFC 3261 §7.1).
enum class LimitedMethod : uint8_t { none, invite, register_ };
constexpr LimitedMethod limited_method(std::string_view d) noexcept {
  std::size_t p = 0;
  while (p < d.size() && (d[p] == '\r' || d[p] == '\n')) ++p;
  d.remove_prefix(p);
  if (d.substr(0, 7) == "INVITE ") return LimitedMethod::invite;
  if (d.substr(0, 9) == "REGISTER ") return LimitedMethod::register_;
  return LimitedMethod::none;
}

// A To/From value carries a tag parameter (after the URI's closing '>' when
// there is one: a parameter inside <...> belongs to the URI).  Returns the
// position just past "tag" LWS "=" in v, or npos.
constexpr std::size_t tag_param_value_pos(std::string_view v) noexcept {
  const std::size_t gt = v.rfind('>');
  const std::size_t from = gt == std::string_view::npos ? 0 : gt;
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  for (std::size_t i = from; i < v.size(); ++i) {
    if (v[i] != ';') continue;
    std::size_t j = i + 1;
    while (j < v.size() && ws(v[j])) ++j;
    if (j + 3 > v.size()) return std::string_view::npos;
    if (ascii_lower(v[j]) != 't' || ascii_lower(v[j + 1]) != 'a' || ascii_lower(v[j + 2]) != 'g') continue;
    j += 3;
    while (j < v.size() && ws(v[j])) ++j;
    if (j < v.size() && v[j] == '=') return j + 1;
  }
  return std::string_view::npos;
}
constexpr bool has_tag_param(std::string_view v) noexcept {
  return tag_param_value_pos(v) != std::string_view::npos;
}

// A header line (from its first byte) is Authorization or
// Proxy-Authorization (name, optional SP/HT, ':').
constexpr bool is_credentials_header(std::string_view line) noexcept {
  constexpr std::string_view kNames[] = {"authorization", "proxy-authorization"};
  for (std::string_view name : kNames) {
    if (line.size() <= name.size() || !iequals(line.substr(0, name.size()), name)) continue;
    std::size_t i = name.size();
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i < line.size() && line[i] == ':') return true;
  }
  return false;
}

// Any header line of the header section `head` (start line first) carries
// credentials.
constexpr bool carries_credentials(std::string_view head) noexcept {
  for (std::size_t p = head.find('\n'); p != std::string_view::npos; p = head.find('\n', p + 1))
    if (is_credentials_header(head.substr(p + 1))) return true;
  return false;
}

}  // namespace msgw::common
