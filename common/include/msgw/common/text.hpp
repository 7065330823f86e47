// SPDX-License-Identifier: GPL-3.0-or-later
// Small parsing helpers for protocol text: trimming linear white space and
// strict unsigned decimals.  Header-only (templates, and the SIP parser calls
// them per header).
#pragma once

#include <charconv>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace msgw::common {

// SP, HT, CR, LF: the white space that can surround a value on a SIP or SDP line.
constexpr bool is_lws(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// s without linear white space at either end.
constexpr std::string_view trim_lws(std::string_view s) noexcept {
  while (!s.empty() && is_lws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_lws(s.back())) s.remove_suffix(1);
  return s;
}

// The whole of s as an unsigned decimal that fits T: digits only (no sign,
// no white space, no "0x"), not empty, no overflow.  out is written only on
// success.
template <class T>
bool parse_uint(std::string_view s, T& out) noexcept {
  static_assert(std::is_unsigned_v<T>, "parse_uint is for unsigned types");
  if (s.empty() || s.front() < '0' || s.front() > '9') return false;
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  out = v;
  return true;
}

}  // namespace msgw::common
