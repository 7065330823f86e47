// SPDX-License-Identifier: GPL-3.0-or-later
// ASCII case-insensitive comparison and hashing, for protocol tokens whose
// case does not matter (SIP header and parameter names, SDP encoding names,
// digest algorithms, ...).
//
// Only 'A'-'Z' and 'a'-'z' fold; every other byte, including UTF-8 and
// Latin-1 letters, compares exactly: these are protocol tokens, not text, and
// the C library's tolower() would depend on the locale.  Header-only and
// constexpr: the SIP parser calls them per header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace msgw::common {

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}
constexpr char ascii_upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c;
}

// a == b ignoring ASCII case.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// s begins with prefix, ignoring ASCII case.
constexpr bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// FNV-1a (64-bit) of s folded to lower case: iequals(a, b) implies
// ihash(a) == ihash(b).
constexpr std::uint64_t ihash(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= std::uint8_t(ascii_lower(c));
    h *= 0x100000001b3ull;
  }
  return h;
}

// For std::unordered_map<std::string, V, IHash, IEqual>: keys that differ only
// in ASCII case are the same key.  Transparent, so string_view lookups do not
// build a std::string.
struct IHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::size_t(ihash(s)); }
};
struct IEqual {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return iequals(a, b); }
};

// A lower-case copy (setup paths: canonical keys, URI schemes and hosts).
std::string ascii_lowered(std::string_view s);

}  // namespace msgw::common
