// Digest authentication: header parsing, stateless nonces, verification,
// challenges and the client-side answer. See digest.hpp for the contract.
#include "msgw/sip/digest.hpp"
#include "osip_digest.hpp"
#include "osip_message.hpp"

#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>
#include <sys/random.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "msgw/sip/digest_hash.hpp"

namespace msgw::sip {
namespace {

constexpr char kLower[] = "abcdefghijklmnopqrstuvwxyz";

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool is_lws(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_lws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_lws(s.back())) s.remove_suffix(1);
  return s;
}

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

bool is_token_char(char c) noexcept {
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
  s = trim(s);
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

std::string unescape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) ++i;
    out.push_back(v[i]);
  }
  return out;
}

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

bool uri_part_equal(std::string_view a, std::string_view b, bool ci) {
  return ci ? iequals(a, b) : a == b;
}

struct UriParts {
  std::string_view scheme, user, host, port;
};

bool split_uri(std::string_view u, UriParts& p) {
  u = trim(u);
  auto colon = u.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  p.scheme = u.substr(0, colon);
  std::string_view rest = u.substr(colon + 1);
  auto end = rest.find_first_of(";?");
  if (end != std::string_view::npos) rest = rest.substr(0, end);
  auto at = rest.rfind('@');
  std::string_view hostport = rest;
  if (at != std::string_view::npos) {
    p.user = rest.substr(0, at);
    auto pw = p.user.find(':');
    if (pw != std::string_view::npos) p.user = p.user.substr(0, pw);
    hostport = rest.substr(at + 1);
  }
  if (!hostport.empty() && hostport.front() == '[') {
    auto rb = hostport.find(']');
    if (rb == std::string_view::npos) return false;
    p.host = hostport.substr(0, rb + 1);
    std::string_view after = hostport.substr(rb + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      p.port = after.substr(1);
    }
  } else {
    auto pc = hostport.find(':');
    p.host = hostport.substr(0, pc);
    if (pc != std::string_view::npos) p.port = hostport.substr(pc + 1);
  }
  return !p.host.empty();
}

// RFC 2617 §3.2.2.5 wants the digest uri to designate the Request-URI. Exact
// text first; otherwise compare scheme, user, host and port the way RFC 3261
// §19.1.4 does, ignoring parameters (clients re-order or drop them).
bool uri_matches(std::string_view digest_uri, std::string_view request_uri) {
  if (digest_uri == request_uri) return true;
  UriParts a, b;
  if (!split_uri(digest_uri, a) || !split_uri(request_uri, b)) return false;
  return uri_part_equal(a.scheme, b.scheme, true) && uri_part_equal(a.user, b.user, false) &&
         uri_part_equal(a.host, b.host, true) && a.port == b.port;
}

// ---- response digest computation without heap ----

template <class H>
void hex_digest(H& h, char* out) {
  auto d = h.finish();
  hash::to_hex(d.data(), d.size(), out);
}

template <class H>
std::size_t compute_response_hex(DigestAlgorithm alg, const Ha1& ha1, std::string_view nonce,
                                 std::string_view nc, std::string_view cnonce,
                                 std::string_view qop, std::string_view method,
                                 std::string_view uri, char* out) {
  constexpr std::size_t n = H::kSize;
  char ha1hex[2 * n];
  hash::to_hex(ha1.bytes.data(), n, ha1hex);
  if (alg == DigestAlgorithm::md5_sess || alg == DigestAlgorithm::sha256_sess) {
    H h;
    h.update(ha1hex, 2 * n);
    h.update(":", 1);
    h.update(nonce);
    h.update(":", 1);
    h.update(cnonce);
    hex_digest(h, ha1hex);
  }
  char ha2hex[2 * n];
  {
    H h;
    h.update(method);
    h.update(":", 1);
    h.update(uri);
    hex_digest(h, ha2hex);
  }
  H h;
  h.update(ha1hex, 2 * n);
  h.update(":", 1);
  h.update(nonce);
  h.update(":", 1);
  if (!qop.empty()) {
    h.update(nc);
    h.update(":", 1);
    h.update(cnonce);
    h.update(":", 1);
    h.update(qop);
    h.update(":", 1);
  }
  h.update(ha2hex, 2 * n);
  hex_digest(h, out);
  return 2 * n;
}

std::size_t response_hex(DigestAlgorithm alg, const Ha1& ha1, std::string_view nonce,
                         std::string_view nc, std::string_view cnonce, std::string_view qop,
                         std::string_view method, std::string_view uri, char out[64]) {
  if (alg == DigestAlgorithm::sha256 || alg == DigestAlgorithm::sha256_sess)
    return compute_response_hex<hash::Sha256>(alg, ha1, nonce, nc, cnonce, qop, method, uri, out);
  return compute_response_hex<hash::Md5>(alg, ha1, nonce, nc, cnonce, qop, method, uri, out);
}

bool is_sha256_family(DigestAlgorithm a) noexcept {
  return a == DigestAlgorithm::sha256 || a == DigestAlgorithm::sha256_sess;
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

// issue time (8), instance id (4), counter (4), truncated HMAC-SHA256 (16)
constexpr std::size_t kNonceBin = 8 + 4 + 4 + 16;
constexpr std::size_t kNonceMacAt = 16;

}  // namespace

// ---------------------------------------------------------------------------

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
  t = trim(t);
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

std::string Ha1::hex() const { return hash::to_hex(bytes.data(), size); }

std::optional<Ha1> Ha1::from_hex(std::string_view hex) noexcept {
  Ha1 h;
  if (hex.size() != 32 && hex.size() != 64) return std::nullopt;
  if (!decode_hex(hex, h.bytes.data(), hex.size() / 2)) return std::nullopt;
  h.size = std::uint8_t(hex.size() / 2);
  return h;
}

Ha1 compute_ha1(DigestAlgorithm alg, std::string_view username, std::string_view realm,
                std::string_view password) {
  Ha1 out;
  auto feed = [&](auto& h) {
    h.update(username);
    h.update(":", 1);
    h.update(realm);
    h.update(":", 1);
    h.update(password);
    auto d = h.finish();
    std::memcpy(out.bytes.data(), d.data(), d.size());
    out.size = std::uint8_t(d.size());
  };
  if (is_sha256_family(alg)) {
    hash::Sha256 h;
    feed(h);
  } else {
    hash::Md5 h;
    feed(h);
  }
  return out;
}

// ---- InMemoryCredentialStore ----

struct InMemoryCredentialStore::Impl {
  std::unordered_map<std::string, Ha1> map;
  static std::string key(std::string_view u, std::string_view r, std::size_t size) {
    std::string k;
    k.reserve(u.size() + r.size() + 3);
    k.append(u).push_back('\0');
    k.append(r).push_back('\0');
    k.push_back(char(size));
    return k;
  }
};

InMemoryCredentialStore::InMemoryCredentialStore() : impl_(std::make_unique<Impl>()) {}
InMemoryCredentialStore::~InMemoryCredentialStore() = default;
InMemoryCredentialStore::InMemoryCredentialStore(InMemoryCredentialStore&&) noexcept = default;
InMemoryCredentialStore& InMemoryCredentialStore::operator=(InMemoryCredentialStore&&) noexcept =
    default;

void InMemoryCredentialStore::add_password(std::string_view u, std::string_view r,
                                           std::string_view password) {
  add_ha1(u, r, compute_ha1(DigestAlgorithm::md5, u, r, password));
  add_ha1(u, r, compute_ha1(DigestAlgorithm::sha256, u, r, password));
}

void InMemoryCredentialStore::add_ha1(std::string_view u, std::string_view r, const Ha1& ha1) {
  if (ha1.size != 16 && ha1.size != 32) return;
  impl_->map[Impl::key(u, r, ha1.size)] = ha1;
}

bool InMemoryCredentialStore::remove(std::string_view u, std::string_view r) {
  bool a = impl_->map.erase(Impl::key(u, r, 16)) > 0;
  bool b = impl_->map.erase(Impl::key(u, r, 32)) > 0;
  return a || b;
}

std::size_t InMemoryCredentialStore::size() const noexcept { return impl_->map.size(); }

bool InMemoryCredentialStore::lookup_ha1(std::string_view u, std::string_view r,
                                         DigestAlgorithm alg, Ha1& out) const {
  auto it = impl_->map.find(Impl::key(u, r, digest_size(alg)));
  if (it == impl_->map.end()) return false;
  out = it->second;
  return true;
}

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
    std::string_view t = trim(value);
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

std::string compute_digest_response(DigestAlgorithm alg, const Ha1& ha1, std::string_view nonce,
                                    std::string_view nc, std::string_view cnonce,
                                    std::string_view qop, std::string_view method,
                                    std::string_view uri) {
  char buf[64];
  std::size_t n = response_hex(alg, ha1, nonce, nc, cnonce, qop, method, uri, buf);
  return std::string(buf, n);
}

std::int64_t auth_now_s() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- DigestAuthenticator ----

struct DigestAuthenticator::Impl {
  AuthConfig cfg;
  const CredentialStore& store;
  std::array<std::uint8_t, 32> key{};
  std::optional<hash::HmacSha256> hmac;
  std::uint32_t counter = 0;
  AuthStats stats;

  // Nonce-count replay state, keyed by the nonce's MAC. Bounded: when full,
  // the oldest-used entries go and `watermark` rises to their issue time, so an
  // evicted nonce is answered stale instead of having its counter forgotten.
  struct NcEntry {
    std::uint32_t last_nc;
    std::int64_t issued;
  };
  std::unordered_map<std::string, NcEntry> nc_table;
  std::deque<std::pair<std::int64_t, std::string>> nc_order;  // (issued, key), insertion order
  std::int64_t watermark = INT64_MIN;
  // Nonces carry the issuing instance's id. Another instance's nonce (before a
  // restart or config reload, same key) is still valid without qop, as cached
  // nonces must be, but its counters are unknown here: with qop it is answered
  // stale once instead of letting an old request be replayed.
  std::uint32_t instance = 0;

  Impl(AuthConfig c, const CredentialStore& s) : cfg(std::move(c)), store(s) {
    if (cfg.nonce_key) {
      key = *cfg.nonce_key;
    } else {
      std::size_t got = 0;
      while (got < key.size()) {
        ssize_t r = getrandom(key.data() + got, key.size() - got, 0);
        if (r > 0) got += std::size_t(r);
      }
    }
    hmac.emplace(key);
    if (getrandom(&instance, sizeof instance, GRND_NONBLOCK) != sizeof instance)
      instance = std::uint32_t(std::chrono::steady_clock::now().time_since_epoch().count());
    if (cfg.nc_table_capacity == 0) cfg.nc_table_capacity = 1;
  }

  void mac(const std::uint8_t* fields, std::uint8_t out[16]) const {
    // The realm is mixed in so a nonce issued for one realm is useless in another.
    std::uint8_t msg[kNonceMacAt + 256];
    std::size_t rl = cfg.realm.size() < 256 ? cfg.realm.size() : 256;
    std::memcpy(msg, fields, kNonceMacAt);
    std::memcpy(msg + kNonceMacAt, cfg.realm.data(), rl);
    auto d = hmac->mac(std::span<const std::uint8_t>(msg, kNonceMacAt + rl));
    std::memcpy(out, d.data(), 16);
  }

  std::string make_nonce(std::int64_t now) {
    std::uint8_t bin[kNonceBin];
    auto t = std::uint64_t(now);
    for (int i = 0; i < 8; ++i) bin[i] = std::uint8_t(t >> (56 - 8 * i));
    std::uint32_t s = ++counter;
    for (int i = 0; i < 4; ++i) bin[8 + i] = std::uint8_t(instance >> (24 - 8 * i));
    for (int i = 0; i < 4; ++i) bin[12 + i] = std::uint8_t(s >> (24 - 8 * i));
    mac(bin, bin + kNonceMacAt);
    return hash::to_hex(bin, kNonceBin);
  }

  // Returns false for anything this instance did not issue.
  bool check_nonce(std::string_view nonce, std::int64_t& issued, bool& ours,
                   std::string_view& mac_hex) const {
    std::uint8_t bin[kNonceBin];
    if (!decode_hex(nonce, bin, kNonceBin)) return false;
    std::uint8_t want[16];
    mac(bin, want);
    if (!hash::constant_time_equal(
            std::string_view(reinterpret_cast<const char*>(want), 16),
            std::string_view(reinterpret_cast<const char*>(bin + kNonceMacAt), 16)))
      return false;
    std::uint64_t t = 0;
    for (int i = 0; i < 8; ++i) t = t << 8 | bin[i];
    issued = std::int64_t(t);
    std::uint32_t id = 0;
    for (int i = 8; i < 12; ++i) id = id << 8 | bin[i];
    ours = id == instance;
    mac_hex = nonce.substr(2 * kNonceMacAt);
    return true;
  }

  // True if `nc` is fresh for this nonce (and records it).
  bool accept_nc(std::string_view mac_hex, std::int64_t issued, std::uint32_t nc,
                 std::int64_t now) {
    if (nc == 0) return false;
    std::string k(mac_hex);
    auto it = nc_table.find(k);
    if (it != nc_table.end()) {
      if (nc <= it->second.last_nc) return false;
      it->second.last_nc = nc;
      return true;
    }
    if (issued <= watermark) return false;
    if (nc_table.size() >= cfg.nc_table_capacity) evict(now);
    nc_table.emplace(k, NcEntry{nc, issued});
    nc_order.emplace_back(issued, std::move(k));
    return true;
  }

  void evict(std::int64_t now) {
    // Expired nonces are dropped without raising the watermark: they fail the
    // lifetime check anyway.
    const std::int64_t horizon = now - std::int64_t(cfg.nonce_lifetime_s);
    std::size_t target = cfg.nc_table_capacity - cfg.nc_table_capacity / 8;
    if (target == cfg.nc_table_capacity) target = cfg.nc_table_capacity - 1;
    while (!nc_order.empty() && nc_table.size() > target) {
      auto& [issued, k] = nc_order.front();
      if (issued >= horizon && issued > watermark) watermark = issued;
      if (nc_table.erase(k)) ++stats.nc_table_evictions;
      nc_order.pop_front();
    }
  }
};

DigestAuthenticator::DigestAuthenticator(AuthConfig config, const CredentialStore& store)
    : impl_(std::make_unique<Impl>(std::move(config), store)) {}
DigestAuthenticator::~DigestAuthenticator() = default;

const AuthConfig& DigestAuthenticator::config() const noexcept { return impl_->cfg; }
const AuthStats& DigestAuthenticator::stats() const noexcept { return impl_->stats; }

namespace {
AuthResult make_result(AuthVerdict v, ChallengeKind kind, AuthStats& stats) {
  ++stats.by_verdict[static_cast<std::size_t>(v)];
  AuthResult r;
  r.verdict = v;
  switch (v) {
    case AuthVerdict::ok: r.status = 0; break;
    case AuthVerdict::malformed:
      r.status = 400;
      r.reason = "Malformed Digest Credentials";
      break;
    case AuthVerdict::wrong_uri:
      r.status = 400;
      r.reason = "Digest URI Does Not Match Request-URI";
      break;
    case AuthVerdict::stale:
    case AuthVerdict::replayed_nc:
      r.status = challenge_status(kind);
      r.stale = true;
      break;
    default: r.status = challenge_status(kind); break;
  }
  return r;
}
}  // namespace

AuthResult DigestAuthenticator::verify(const DigestCredentials& c, std::string_view method,
                                       std::string_view request_uri, std::int64_t now) {
  return verify_as(c, method, request_uri, challenge_kind_for(method), now);
}

AuthResult DigestAuthenticator::verify_as(const DigestCredentials& c, std::string_view method,
                                          std::string_view request_uri, ChallengeKind kind,
                                          std::int64_t now) {
  Impl& m = *impl_;
  auto done = [&](AuthVerdict v) {
    AuthResult r = make_result(v, kind, m.stats);
    r.username = c.username;
    r.algorithm = c.algorithm;
    return r;
  };
  if (c.response.empty() || c.nonce.empty()) return done(AuthVerdict::malformed);
  if (c.realm != m.cfg.realm) return done(AuthVerdict::wrong_realm);
  bool offered = false;
  for (auto a : m.cfg.algorithms) offered |= (a == c.algorithm);
  if (!offered) return done(AuthVerdict::unsupported_algorithm);
  if (c.has_qop) {
    if (!iequals(c.qop, "auth")) return done(AuthVerdict::unsupported_qop);
  } else {
    if (!m.cfg.allow_rfc2069) return done(AuthVerdict::unsupported_qop);
    if ((c.algorithm == DigestAlgorithm::md5_sess || c.algorithm == DigestAlgorithm::sha256_sess) &&
        c.cnonce.empty())
      return done(AuthVerdict::malformed);
  }
  if (!uri_matches(c.uri, request_uri)) return done(AuthVerdict::wrong_uri);
  std::int64_t issued = 0;
  bool ours = false;
  std::string_view mac_hex;
  if (!m.check_nonce(c.nonce, issued, ours, mac_hex)) return done(AuthVerdict::bad_nonce);
  if (issued > now + std::int64_t(m.cfg.clock_skew_s)) return done(AuthVerdict::bad_nonce);
  if (c.userhash) return done(AuthVerdict::unknown_user);
  Ha1 ha1;
  const bool known = m.store.lookup_ha1(c.username, c.realm, c.algorithm, ha1) &&
                     ha1.size == digest_size(c.algorithm);
  if (!known) {
    // Do the same hashing for an unknown user so response time does not tell
    // which user names exist.
    ha1 = Ha1{};
    ha1.size = std::uint8_t(digest_size(c.algorithm));
  }
  char want[64];
  std::size_t n = response_hex(c.algorithm, ha1, c.nonce, c.nc, c.cnonce,
                               c.has_qop ? c.qop : std::string_view{}, method, c.uri, want);
  char got[64];
  if (c.response.size() != n)
    return done(known ? AuthVerdict::bad_response : AuthVerdict::unknown_user);
  for (std::size_t i = 0; i < n; ++i) got[i] = lower(c.response[i]);
  const bool match = hash::constant_time_equal(std::string_view(want, n), std::string_view(got, n));
  if (!known) return done(AuthVerdict::unknown_user);
  if (!match) return done(AuthVerdict::bad_response);
  // Only a correct digest earns stale=true: the client then retries silently
  // with a fresh nonce instead of prompting for a password.
  if (now - issued > std::int64_t(m.cfg.nonce_lifetime_s)) return done(AuthVerdict::stale);
  if (c.has_qop && (!ours || !m.accept_nc(mac_hex, issued, c.nc_value, now)))
    return done(AuthVerdict::replayed_nc);
  return done(AuthVerdict::ok);
}

AuthResult DigestAuthenticator::verify_header(std::string_view value, std::string_view method,
                                              std::string_view request_uri, ChallengeKind kind,
                                              std::int64_t now) {
  DigestCredentials c;
  AuthVerdict v = parse_digest_credentials(value, c);
  if (v != AuthVerdict::ok) {
    AuthResult r = make_result(v, kind, impl_->stats);
    return r;
  }
  return verify_as(c, method, request_uri, kind, now);
}

AuthResult DigestAuthenticator::verify(MessageRef req_ref, std::int64_t now) {
  const osip_message_t* req = req_ref.get();
  Impl& m = *impl_;
  if (req == nullptr || req->sip_method == nullptr || req->req_uri == nullptr) {
    return make_result(AuthVerdict::malformed, ChallengeKind::proxy, m.stats);
  }
  const std::string_view method(req->sip_method);
  const ChallengeKind kind = challenge_kind_for(method);
  const osip_list_t* list =
      kind == ChallengeKind::www ? &req->authorizations : &req->proxy_authorizations;
  const int count = osip_list_size(list);
  if (count <= 0) return make_result(AuthVerdict::missing, kind, m.stats);

  // Credentials for our realm win; otherwise report the most telling failure.
  DigestCredentials creds;
  AuthVerdict first_failure = AuthVerdict::wrong_realm;
  const osip_authorization* mine = nullptr;
  for (int i = 0; i < count; ++i) {
    auto* h = static_cast<const osip_authorization*>(osip_list_get(list, i));
    if (h == nullptr) continue;
    AuthVerdict v = digest_credentials_from_osip(*h, creds);
    if (v == AuthVerdict::ok && creds.realm == m.cfg.realm) {
      mine = h;
      break;
    }
    if (v != AuthVerdict::ok && first_failure == AuthVerdict::wrong_realm) {
      // Only a failure in a header for our realm (or one we cannot read) counts.
      if (creds.realm.data() == nullptr || creds.realm == m.cfg.realm) first_failure = v;
    }
  }
  if (mine == nullptr) return make_result(first_failure, kind, m.stats);
  char* uri = nullptr;
  if (osip_uri_to_str(req->req_uri, &uri) != 0 || uri == nullptr) {
    return make_result(AuthVerdict::malformed, kind, m.stats);
  }
  AuthResult r = verify_as(creds, method, uri, kind, now);
  osip_free(uri);
  // creds views point into `mine` (owned by the request), still valid.
  return r;
}

std::string DigestAuthenticator::make_nonce(std::int64_t now) { return impl_->make_nonce(now); }

std::string DigestAuthenticator::challenge_value(DigestAlgorithm alg, bool stale,
                                                 std::int64_t now) {
  Impl& m = *impl_;
  std::string nonce = m.make_nonce(now);
  std::string v = "Digest realm=" + quote(m.cfg.realm) + ", nonce=\"" + nonce +
                  "\", algorithm=" + std::string(to_string(alg));
  if (m.cfg.offer_qop) v += ", qop=\"auth\"";
  if (stale) v += ", stale=true";
  ++m.stats.challenges_built;
  return v;
}

int DigestAuthenticator::add_challenges(Message& resp_msg, ChallengeKind kind, bool stale,
                                        std::int64_t now) {
  osip_message_t* resp = resp_msg.get();
  if (resp == nullptr) return OSIP_BADPARAMETER;
  for (auto alg : impl_->cfg.algorithms) {
    std::string v = challenge_value(alg, stale, now);
    int rc = kind == ChallengeKind::www ? osip_message_set_www_authenticate(resp, v.c_str())
                                        : osip_message_set_proxy_authenticate(resp, v.c_str());
    if (rc != 0) return rc;
  }
  return 0;
}

// ---- client side ----

bool parse_digest_challenge(std::string_view value, DigestChallenge& out) {
  out = DigestChallenge{};
  std::string_view scheme;
  bool have_nonce = false, have_realm = false, bad_alg = false;
  bool ok = parse_auth_header(value, scheme, [&](const Param& p) {
    std::string v = p.has_escape ? unescape(p.value) : std::string(p.value);
    if (iequals(p.name, "realm")) {
      out.realm = v;
      have_realm = true;
    } else if (iequals(p.name, "nonce")) {
      out.nonce = v;
      have_nonce = true;
    } else if (iequals(p.name, "opaque")) {
      out.opaque = v;
    } else if (iequals(p.name, "algorithm")) {
      auto a = parse_digest_algorithm(v);
      if (!a) bad_alg = true;
      else out.algorithm = *a;
    } else if (iequals(p.name, "qop")) {
      out.qop_options = v;
      std::string_view rest = out.qop_options;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        if (iequals(trim(rest.substr(0, comma)), "auth")) out.offers_auth_qop = true;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else if (iequals(p.name, "stale")) {
      out.stale = iequals(v, "true");
    }
    return true;
  });
  return ok && !bad_alg && iequals(scheme, "Digest") && have_nonce && !out.nonce.empty() &&
         have_realm;
}

std::string build_digest_authorization(const DigestChallenge& ch, std::string_view username,
                                       std::string_view password, std::string_view method,
                                       std::string_view uri, std::string_view cnonce_in,
                                       std::uint32_t nc) {
  Ha1 ha1 = compute_ha1(ch.algorithm, username, ch.realm, password);
  std::string v = "Digest username=" + quote(username) + ", realm=" + quote(ch.realm) +
                  ", nonce=" + quote(ch.nonce) + ", uri=" + quote(uri);
  std::string resp;
  if (ch.offers_auth_qop || ch.algorithm == DigestAlgorithm::md5_sess ||
      ch.algorithm == DigestAlgorithm::sha256_sess) {
    std::string cnonce(cnonce_in);
    if (cnonce.empty()) {
      std::uint8_t r[8] = {};
      if (getrandom(r, sizeof r, GRND_NONBLOCK) != sizeof r) {
        auto t = std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
        std::memcpy(r, &t, sizeof r);
      }
      cnonce = hash::to_hex(r, sizeof r);
    }
    char ncs[9];
    static constexpr char hx[] = "0123456789abcdef";
    for (int i = 0; i < 8; ++i) ncs[i] = hx[(nc >> (28 - 4 * i)) & 15];
    ncs[8] = '\0';
    std::string_view qop = ch.offers_auth_qop ? "auth" : "";
    resp = compute_digest_response(ch.algorithm, ha1, ch.nonce, qop.empty() ? "" : ncs, cnonce,
                                   qop, method, uri);
    v += ", response=\"" + resp + "\", algorithm=" + std::string(to_string(ch.algorithm));
    v += ", cnonce=" + quote(cnonce);
    if (!qop.empty()) v += ", qop=auth, nc=" + std::string(ncs, 8);
  } else {
    resp = compute_digest_response(ch.algorithm, ha1, ch.nonce, "", "", "", method, uri);
    v += ", response=\"" + resp + "\", algorithm=" + std::string(to_string(ch.algorithm));
  }
  if (!ch.opaque.empty()) v += ", opaque=" + quote(ch.opaque);
  return v;
}

}  // namespace msgw::sip
