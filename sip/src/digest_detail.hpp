// SPDX-License-Identifier: GPL-3.0-or-later
// Helpers shared by the digest files (sip/src/digest_*.cpp): the auth-param
// splitter both the server's credential parser and the client's challenge
// parser use, hex and quoting, and the response computation. Private to sip/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "msgw/common/text.hpp"
#include "msgw/sip/digest.hpp"

namespace msgw::sip::digest_detail {

using common::is_lws;
using common::trim_lws;

int hex_value(char c) noexcept;
bool decode_hex(std::string_view hex, std::uint8_t* out, std::size_t n) noexcept;

inline bool is_token_char(char c) noexcept {
  // RFC 3261 token characters.
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("-.!%*_+`'~", c) != nullptr && c != '\0';
}

// One auth-param as seen on the wire. `raw_quoted` keeps escapes; callers
// unescape only when `has_escape` is set.
struct Param {
  std::string_view name, value;
  bool quoted = false, has_escape = false;
};

// Splits "Scheme p1=v1, p2="v2", ..." into the scheme and its params. Returns
// false on syntax errors (unterminated quote, missing '=', junk between params).
template <class F>
bool parse_auth_header(std::string_view s, std::string_view& scheme, F&& on_param) {
  s = trim_lws(s);
  std::size_t i = 0;
  while (i < s.size() && is_token_char(s[i])) ++i;
  if (i == 0) return false;
  scheme = s.substr(0, i);
  auto skip_lws = [&] {
    while (i < s.size() && is_lws(s[i])) ++i;
  };
  skip_lws();
  if (i == s.size()) return true;  // scheme without params
  bool first = true;
  while (i < s.size()) {
    if (!first) {
      skip_lws();
      if (i == s.size()) break;
      if (s[i] != ',') return false;
      ++i;
      skip_lws();
      if (i == s.size()) break;  // tolerate a trailing comma
      if (s[i] == ',') continue;
    }
    first = false;
    std::size_t n0 = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    if (i == n0) return false;
    Param p;
    p.name = s.substr(n0, i - n0);
    skip_lws();
    if (i == s.size() || s[i] != '=') return false;
    ++i;
    skip_lws();
    if (i < s.size() && s[i] == '"') {
      ++i;
      std::size_t v0 = i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\\') {
          if (i + 1 >= s.size()) return false;
          p.has_escape = true;
          i += 2;
          continue;
        }
        if (s[i] == '"') {
          closed = true;
          break;
        }
        ++i;
      }
      if (!closed) return false;
      p.value = s.substr(v0, i - v0);
      p.quoted = true;
      ++i;
    } else {
      std::size_t v0 = i;
      while (i < s.size() && s[i] != ',' && !is_lws(s[i])) {
        if (s[i] == '"') return false;
        ++i;
      }
      p.value = s.substr(v0, i - v0);
    }
    if (!on_param(p)) return false;
  }
  return true;
}

// The value with backslash escapes removed.
std::string unescape(std::string_view v);
// v as a quoted-string.
std::string quote(std::string_view v);

inline bool is_sha256_family(DigestAlgorithm a) noexcept {
  return a == DigestAlgorithm::sha256 || a == DigestAlgorithm::sha256_sess;
}

// The response digest as lower-case hex into out, without touching the heap;
// returns its length (32 or 64).
std::size_t response_hex(DigestAlgorithm alg, const Ha1& ha1, std::string_view nonce,
                         std::string_view nc, std::string_view cnonce, std::string_view qop,
                         std::string_view method, std::string_view uri, char out[64]);

}  // namespace msgw::sip::digest_detail
