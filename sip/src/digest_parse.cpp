// SPDX-License-Identifier: GPL-3.0-or-later
// Digest authentication, the header side: Authorization / Proxy-Authorization
// credentials from the wire or from oSIP2's parsed header, algorithm and
// verdict names. See digest.hpp for the contract.
#include "msgw/sip/digest.hpp"
#include "osip_digest.hpp"

#include <osipparser2/osip_message.h>

#include "digest_detail.hpp"
#include "msgw/common/ascii.hpp"

namespace msgw::sip {

namespace digest_detail {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decode_hex(std::string_view hex, std::uint8_t* out, std::size_t n) noexcept {
  if (hex.size() != 2 * n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = std::uint8_t(hi << 4 | lo);
  }
  return true;
}

std::string unescape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) ++i;
    out.push_back(v[i]);
  }
  return out;
}

std::string quote(std::string_view v) {
  std::string out;
  out.reserve(v.size() + 2);
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace digest_detail

using common::iequals;
using namespace digest_detail;

namespace {

constexpr char kLower[] = "abcdefghijklmnopqrstuvwxyz";

// Field table shared by the wire parser and the oSIP2 adapter.
enum Field { f_username, f_realm, f_nonce, f_uri, f_response, f_cnonce, f_opaque, f_qop, f_nc,
             f_algorithm, f_userhash, f_count };

std::string_view* field_slot(DigestCredentials& c, Field f) noexcept {
  switch (f) {
    case f_username: return &c.username;
    case f_realm: return &c.realm;
    case f_nonce: return &c.nonce;
    case f_uri: return &c.uri;
    case f_response: return &c.response;
    case f_cnonce: return &c.cnonce;
    case f_opaque: return &c.opaque;
    case f_qop: return &c.qop;
    case f_nc: return &c.nc;
    case f_algorithm: return &c.algorithm_token;
    default: return nullptr;
  }
}

int field_of(std::string_view name) noexcept {
  static constexpr std::string_view names[f_count] = {"username", "realm",  "nonce", "uri",
                                                      "response", "cnonce", "opaque", "qop",
                                                      "nc",       "algorithm", "userhash"};
  for (int i = 0; i < f_count; ++i)
    if (iequals(name, names[i])) return i;
  return -1;
}

// Checks shared by both parsers once the fields are filled in.
AuthVerdict finish_credentials(DigestCredentials& c, std::string_view userhash_token) {
  if (c.username.empty() || c.realm.data() == nullptr || c.nonce.empty() || c.uri.empty() ||
      c.response.empty())
    return AuthVerdict::malformed;
  auto alg = parse_digest_algorithm(c.algorithm_token);
  if (!alg) return AuthVerdict::unsupported_algorithm;
  c.algorithm = *alg;
  c.userhash = iequals(userhash_token, "true");
  c.has_qop = !c.qop.empty();
  if (c.has_qop || !c.nc.empty()) {
    if (c.nc.size() != 8 || c.cnonce.empty()) return AuthVerdict::malformed;
    std::uint32_t v = 0;
    for (char ch : c.nc) {
      int h = hex_value(ch);
      if (h < 0) return AuthVerdict::malformed;
      v = v << 4 | std::uint32_t(h);
    }
    c.nc_value = v;
  }
  const std::size_t want = 2 * digest_size(c.algorithm);
  if (c.response.size() != want) return AuthVerdict::malformed;
  for (char ch : c.response)
    if (hex_value(ch) < 0) return AuthVerdict::malformed;
  return AuthVerdict::ok;
}

void reset_credentials(DigestCredentials& out) {
  auto keep = std::move(out.unescaped);
  out = DigestCredentials{};
  out.unescaped = std::move(keep);
  for (auto& s : out.unescaped) s.clear();
}

// osip keeps quoted-strings with their quotes; strip them and unescape.
std::string_view osip_field(const char* v, DigestCredentials& out, int& unescape_slot, bool& bad) {
  if (v == nullptr) return {};
  std::string_view s(v);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    s = s.substr(1, s.size() - 2);
    if (s.find('\\') != std::string_view::npos) {
      if (unescape_slot >= int(out.unescaped.size())) {
        bad = true;
        return {};
      }
      out.unescaped[unescape_slot] = unescape(s);
      return out.unescaped[unescape_slot++];
    }
    return s;
  }
  if (!s.empty() && s.front() == '"') bad = true;
  if (s.empty()) return std::string_view(v, 0);
  return s;
}

}  // namespace

std::string_view to_string(DigestAlgorithm alg) noexcept {
  switch (alg) {
    case DigestAlgorithm::md5: return "MD5";
    case DigestAlgorithm::md5_sess: return "MD5-sess";
    case DigestAlgorithm::sha256: return "SHA-256";
    case DigestAlgorithm::sha256_sess: return "SHA-256-sess";
  }
  return "MD5";
}

std::optional<DigestAlgorithm> parse_digest_algorithm(std::string_view t) noexcept {
  t = trim_lws(t);
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
  if (t.empty() || iequals(t, "MD5")) return DigestAlgorithm::md5;
  if (iequals(t, "MD5-sess")) return DigestAlgorithm::md5_sess;
  if (iequals(t, "SHA-256")) return DigestAlgorithm::sha256;
  if (iequals(t, "SHA-256-sess")) return DigestAlgorithm::sha256_sess;
  return std::nullopt;
}

std::size_t digest_size(DigestAlgorithm alg) noexcept { return is_sha256_family(alg) ? 32 : 16; }

std::string_view to_string(AuthVerdict v) noexcept {
  switch (v) {
    case AuthVerdict::ok: return "ok";
    case AuthVerdict::missing: return "missing";
    case AuthVerdict::malformed: return "malformed";
    case AuthVerdict::unsupported_scheme: return "unsupported_scheme";
    case AuthVerdict::unsupported_algorithm: return "unsupported_algorithm";
    case AuthVerdict::unsupported_qop: return "unsupported_qop";
    case AuthVerdict::wrong_realm: return "wrong_realm";
    case AuthVerdict::unknown_user: return "unknown_user";
    case AuthVerdict::bad_nonce: return "bad_nonce";
    case AuthVerdict::stale: return "stale";
    case AuthVerdict::bad_response: return "bad_response";
    case AuthVerdict::wrong_uri: return "wrong_uri";
    case AuthVerdict::replayed_nc: return "replayed_nc";
  }
  return "unknown";
}

ChallengeKind challenge_kind_for(std::string_view method) noexcept {
  return iequals(method, "REGISTER") ? ChallengeKind::www : ChallengeKind::proxy;
}

int challenge_status(ChallengeKind kind) noexcept { return kind == ChallengeKind::www ? 401 : 407; }

// ---- parsing ----

AuthVerdict parse_digest_credentials(std::string_view value, DigestCredentials& out) {
  reset_credentials(out);
  std::string_view scheme;
  std::string_view userhash;
  std::uint32_t seen = 0;
  int slot = 0;
  bool dup = false, overflow = false;
  {
    // The scheme decides before the syntax of the rest: "Basic <token68>" is
    // well-formed, just not something we accept.
    std::string_view t = trim_lws(value);
    std::size_t n = 0;
    while (n < t.size() && is_token_char(t[n])) ++n;
    if (n == 0) return AuthVerdict::malformed;
    out.scheme = t.substr(0, n);
    if (!iequals(out.scheme, "Digest")) return AuthVerdict::unsupported_scheme;
  }
  bool ok = parse_auth_header(value, scheme, [&](const Param& p) {
    int f = field_of(p.name);
    if (f < 0) return true;  // unknown auth-params are ignored (RFC 7616 §3.4)
    if (seen & (1u << f)) {
      dup = true;
      return false;
    }
    seen |= 1u << f;
    std::string_view v = p.value;
    if (p.has_escape) {
      if (slot >= int(out.unescaped.size())) {
        overflow = true;
        return false;
      }
      out.unescaped[slot] = unescape(v);
      v = out.unescaped[slot++];
    }
    if (f == f_userhash)
      userhash = v;
    else
      *field_slot(out, Field(f)) = v;
    return true;
  });
  if (!ok || dup || overflow) return AuthVerdict::malformed;
  // realm="" is legal syntax; mark presence with a non-null view.
  if (!(seen & (1u << f_realm))) out.realm = {};
  else if (out.realm.data() == nullptr) out.realm = std::string_view(kLower, 0);
  return finish_credentials(out, userhash);
}

AuthVerdict digest_credentials_from_osip(const osip_authorization& h, DigestCredentials& out) {
  reset_credentials(out);
  if (h.auth_type == nullptr) return AuthVerdict::malformed;
  out.scheme = h.auth_type;
  if (!iequals(out.scheme, "Digest")) return AuthVerdict::unsupported_scheme;
  int slot = 0;
  bool bad = false;
  out.username = osip_field(h.username, out, slot, bad);
  out.realm = osip_field(h.realm, out, slot, bad);
  out.nonce = osip_field(h.nonce, out, slot, bad);
  out.uri = osip_field(h.uri, out, slot, bad);
  out.response = osip_field(h.response, out, slot, bad);
  out.cnonce = osip_field(h.cnonce, out, slot, bad);
  out.opaque = osip_field(h.opaque, out, slot, bad);
  out.qop = osip_field(h.message_qop, out, slot, bad);
  out.nc = osip_field(h.nonce_count, out, slot, bad);
  out.algorithm_token = osip_field(h.algorithm, out, slot, bad);
  if (bad) return AuthVerdict::malformed;
  std::string_view userhash;
  if (h.auth_param != nullptr) {
    // oSIP2 keeps unknown params as one "a=b, c=d" string; only userhash matters.
    std::string_view dummy;
    std::string tmp = std::string("Digest ") + h.auth_param;
    parse_auth_header(tmp, dummy, [&](const Param& p) {
      if (iequals(p.name, "userhash") && iequals(p.value, "true")) userhash = "true";
      return true;
    });
  }
  return finish_credentials(out, userhash);
}

}  // namespace msgw::sip
