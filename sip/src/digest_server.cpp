// SPDX-License-Identifier: GPL-3.0-or-later
// Digest authentication, the server side: stateless nonces with a bounded
// nonce-count replay table, verification of credentials against a
// CredentialStore, and the challenges a 401/407 carries.
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

#include "digest_detail.hpp"
#include "msgw/common/ascii.hpp"
#include "msgw/common/byte_order.hpp"
#include "msgw/common/wall_clock.hpp"
#include "msgw/sip/digest_hash.hpp"

namespace msgw::sip {

using common::iequals;
using namespace digest_detail;

namespace {

bool uri_part_equal(std::string_view a, std::string_view b, bool ci) {
  return ci ? iequals(a, b) : a == b;
}

struct UriParts {
  std::string_view scheme, user, host, port;
};

bool split_uri(std::string_view u, UriParts& p) {
  u = trim_lws(u);
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

// issue time (8), instance id (4), counter (4), truncated HMAC-SHA256 (16)
constexpr std::size_t kNonceBin = 8 + 4 + 4 + 16;
constexpr std::size_t kNonceMacAt = 16;

}  // namespace

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

std::int64_t auth_now_s() noexcept { return common::wall_s(); }

// ---- DigestAuthenticator ----

struct DigestAuthenticator::Impl {
  AuthConfig cfg;
  const CredentialStore& store;
  std::array<std::uint8_t, 32> key{};
  std::optional<hash::HmacSha256> hmac;
  std::optional<hash::HmacSha256> previous_hmac;  // the key before the last rotation
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
    if (cfg.previous_nonce_key) previous_hmac.emplace(*cfg.previous_nonce_key);
    if (getrandom(&instance, sizeof instance, GRND_NONBLOCK) != sizeof instance)
      instance = std::uint32_t(std::chrono::steady_clock::now().time_since_epoch().count());
    if (cfg.nc_table_capacity == 0) cfg.nc_table_capacity = 1;
  }

  void mac(const std::uint8_t* fields, std::uint8_t out[16]) const { mac_with(*hmac, fields, out); }

  void mac_with(const hash::HmacSha256& h, const std::uint8_t* fields, std::uint8_t out[16]) const {
    // The realm is mixed in so a nonce issued for one realm is useless in another.
    std::uint8_t msg[kNonceMacAt + 256];
    std::size_t rl = cfg.realm.size() < 256 ? cfg.realm.size() : 256;
    std::memcpy(msg, fields, kNonceMacAt);
    std::memcpy(msg + kNonceMacAt, cfg.realm.data(), rl);
    auto d = h.mac(std::span<const std::uint8_t>(msg, kNonceMacAt + rl));
    std::memcpy(out, d.data(), 16);
  }

  std::string make_nonce(std::int64_t now) {
    std::uint8_t bin[kNonceBin];
    common::store_be64(bin, std::uint64_t(now));
    common::store_be32(bin + 8, instance);
    common::store_be32(bin + 12, ++counter);
    mac(bin, bin + kNonceMacAt);
    return hash::to_hex(bin, kNonceBin);
  }

  // Returns false for anything this instance did not issue under the
  // current key or the one before it (`retired` says which).
  bool check_nonce(std::string_view nonce, std::int64_t& issued, bool& ours,
                   std::string_view& mac_hex, bool& retired) const {
    std::uint8_t bin[kNonceBin];
    if (!decode_hex(nonce, bin, kNonceBin)) return false;
    auto mac_is = [&](const hash::HmacSha256& h) {
      std::uint8_t want[16];
      mac_with(h, bin, want);
      return hash::constant_time_equal(std::string_view(reinterpret_cast<const char*>(want), 16),
                                       std::string_view(reinterpret_cast<const char*>(bin + kNonceMacAt), 16));
    };
    retired = false;
    if (!mac_is(*hmac)) {
      if (!previous_hmac || !mac_is(*previous_hmac)) return false;
      retired = true;
    }
    issued = std::int64_t(common::load_be64(bin));
    ours = common::load_be32(bin + 8) == instance;
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
  bool ours = false, retired = false;
  std::string_view mac_hex;
  if (!m.check_nonce(c.nonce, issued, ours, mac_hex, retired)) return done(AuthVerdict::bad_nonce);
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
  for (std::size_t i = 0; i < n; ++i) got[i] = common::ascii_lower(c.response[i]);
  const bool match = hash::constant_time_equal(std::string_view(want, n), std::string_view(got, n));
  if (!known) return done(AuthVerdict::unknown_user);
  if (!match) return done(AuthVerdict::bad_response);
  // Only a correct digest earns stale=true: the client then retries silently
  // with a fresh nonce instead of prompting for a password.
  if (now - issued > std::int64_t(m.cfg.nonce_lifetime_s)) return done(AuthVerdict::stale);
  // Under the rotated-out key after its grace: the nonce failed only because
  // the key changed.
  if (retired && now > m.cfg.previous_key_grace_until_s) return done(AuthVerdict::stale);
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

bool DigestAuthenticator::carries_credentials(MessageRef req_ref) {
  const osip_message_t* req = req_ref.get();
  if (req == nullptr || req->sip_method == nullptr) return false;
  const osip_list_t* list = challenge_kind_for(req->sip_method) == ChallengeKind::www ? &req->authorizations
                                                                                      : &req->proxy_authorizations;
  return osip_list_size(list) > 0;
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
  return add_challenges(resp_msg, kind, stale, impl_->cfg.algorithms, now);
}

int DigestAuthenticator::add_challenges(Message& resp_msg, ChallengeKind kind, bool stale,
                                        const std::vector<DigestAlgorithm>& algorithms, std::int64_t now) {
  osip_message_t* resp = resp_msg.get();
  if (resp == nullptr) return OSIP_BADPARAMETER;
  for (auto alg : algorithms) {
    std::string v = challenge_value(alg, stale, now);
    int rc = kind == ChallengeKind::www ? osip_message_set_www_authenticate(resp, v.c_str())
                                        : osip_message_set_proxy_authenticate(resp, v.c_str());
    if (rc != 0) return rc;
  }
  return 0;
}

}  // namespace msgw::sip
