// SPDX-License-Identifier: GPL-3.0-or-later
// SIP digest authentication (RFC 7616 / RFC 2617, with RFC 2069 compatibility
// for clients such as the SPA that answer without qop), server and client side.
//
// Server side: a DigestAuthenticator checks Authorization / Proxy-Authorization
// credentials against HA1 values from a CredentialStore and builds the
// WWW-Authenticate / Proxy-Authenticate challenges. Nonces are stateless
// (issue time + salt + HMAC-SHA256 under a per-instance key), so any nonce the
// instance issued and that has not expired is accepted, including a nonce the
// phone cached from an earlier transaction (the reference SPA sends its first
// INVITE with such a cached nonce). The only state kept is the nonce-count
// table used for replay protection when qop is in use; it is bounded.
//
// Verification parses into string_views over the caller's buffers; the only
// heap use is a rare unescape of a quoted-string with backslashes and the
// challenge strings built for responses.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>


#include "msgw/sip/message.hpp"

namespace msgw::sip {

enum class DigestAlgorithm : std::uint8_t { md5, md5_sess, sha256, sha256_sess };

// "MD5", "MD5-sess", "SHA-256", "SHA-256-sess".
std::string_view to_string(DigestAlgorithm alg) noexcept;
// Case-insensitive; an empty token means MD5 (RFC 2617 default).
std::optional<DigestAlgorithm> parse_digest_algorithm(std::string_view token) noexcept;
// Size in bytes of the algorithm's hash (16 for MD5, 32 for SHA-256).
std::size_t digest_size(DigestAlgorithm alg) noexcept;

// Outcome of checking one request's credentials. Every value other than `ok`
// is counted in AuthStats.
enum class AuthVerdict : std::uint8_t {
  ok,
  missing,                // no credentials (for our realm) at all → challenge
  malformed,              // credentials present but unparsable / required field missing → 400
  unsupported_scheme,     // not "Digest" → challenge
  unsupported_algorithm,  // algorithm we do not offer → challenge
  unsupported_qop,        // qop other than "auth", or no qop while RFC 2069 mode is off → challenge
  wrong_realm,            // credentials for another realm → challenge
  unknown_user,           // no HA1 for user@realm → challenge (indistinguishable from bad password)
  bad_nonce,              // nonce not issued by this instance (bad MAC / format) → challenge
  stale,                  // correct response on an expired nonce → challenge with stale=true
  bad_response,           // wrong password (response digest mismatch) → challenge
  wrong_uri,              // digest uri does not match the Request-URI → 400
  replayed_nc,            // nonce-count not above the last one seen for this nonce → challenge, stale=true
};
inline constexpr std::size_t kAuthVerdictCount = 13;
std::string_view to_string(AuthVerdict v) noexcept;

// Which challenge a request gets: REGISTER is challenged by the registrar
// (401 + WWW-Authenticate, client answers with Authorization), everything else
// by the proxy role of the gateway (407 + Proxy-Authenticate / Proxy-Authorization).
enum class ChallengeKind : std::uint8_t { www, proxy };
ChallengeKind challenge_kind_for(std::string_view method) noexcept;
int challenge_status(ChallengeKind kind) noexcept;  // 401 or 407

// A stored credential: H(username ":" realm ":" password) in binary form.
// Only this is kept at rest, never the password.
struct Ha1 {
  std::array<std::uint8_t, 32> bytes{};
  std::uint8_t size = 0;  // 16 (MD5) or 32 (SHA-256); 0 = empty
  std::string hex() const;
  // Accepts 32 or 64 hex digits; nullopt on anything else.
  static std::optional<Ha1> from_hex(std::string_view hex) noexcept;
};
// The hash family is what matters for HA1: md5 and md5_sess share the stored value.
Ha1 compute_ha1(DigestAlgorithm alg, std::string_view username, std::string_view realm,
                std::string_view password);

class CredentialStore {
 public:
  virtual ~CredentialStore() = default;
  // HA1 for user@realm in the algorithm's hash family; false if unknown.
  virtual bool lookup_ha1(std::string_view username, std::string_view realm, DigestAlgorithm alg,
                          Ha1& out) const = 0;
};

// Simple map-backed store, used by the control plane after loading subscribers
// and by tests. Passwords handed to add_password() are hashed immediately and
// not retained.
class InMemoryCredentialStore final : public CredentialStore {
 public:
  InMemoryCredentialStore();
  ~InMemoryCredentialStore() override;
  InMemoryCredentialStore(InMemoryCredentialStore&&) noexcept;
  InMemoryCredentialStore& operator=(InMemoryCredentialStore&&) noexcept;
  // Stores the MD5 and SHA-256 HA1 for user@realm.
  void add_password(std::string_view username, std::string_view realm, std::string_view password);
  // Stores one provisioned HA1 (its size selects the hash family).
  void add_ha1(std::string_view username, std::string_view realm, const Ha1& ha1);
  bool remove(std::string_view username, std::string_view realm);
  std::size_t size() const noexcept;
  bool lookup_ha1(std::string_view username, std::string_view realm, DigestAlgorithm alg,
                  Ha1& out) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parsed digest credentials (Authorization / Proxy-Authorization value).
// Views point into the parsed buffer, which must outlive this object.
struct DigestCredentials {
  std::string_view scheme;  // "Digest"
  std::string_view username, realm, nonce, uri, response, cnonce, opaque, qop, nc;
  std::string_view algorithm_token;  // as sent; empty if absent
  DigestAlgorithm algorithm = DigestAlgorithm::md5;
  bool has_qop = false;
  bool userhash = false;  // RFC 7616 userhash=true (not supported: verified as unknown_user)
  std::uint32_t nc_value = 0;
  // Backing store for quoted-strings that needed unescaping (rare).
  std::array<std::string, 4> unescaped;
};

// Parses the value of an Authorization / Proxy-Authorization header (text after
// the colon). Returns ok, malformed or unsupported_scheme/unsupported_algorithm.
AuthVerdict parse_digest_credentials(std::string_view header_value, DigestCredentials& out);

// Response digest (lowercase hex) exactly as RFC 7616 §3.4.1 defines it; qop
// empty = RFC 2069 form H(HA1:nonce:HA2). Used by the verifier and by the
// client side below.
std::string compute_digest_response(DigestAlgorithm alg, const Ha1& ha1, std::string_view nonce,
                                    std::string_view nc, std::string_view cnonce,
                                    std::string_view qop, std::string_view method,
                                    std::string_view uri);

struct AuthConfig {
  std::string realm = "msgw";
  // Challenges are sent in this order (RFC 8760: most preferred first);
  // answers are accepted in any of them. MD5 first: SPA-class ATAs know no
  // other, and some user agents abort on a challenge they cannot answer.
  std::vector<DigestAlgorithm> algorithms{DigestAlgorithm::md5, DigestAlgorithm::sha256};
  bool offer_qop = true;          // qop="auth" in challenges
  bool allow_rfc2069 = true;      // accept responses without qop (SPA-class clients)
  std::uint32_t nonce_lifetime_s = 300;
  std::uint32_t clock_skew_s = 5;  // tolerated nonce timestamps in the future
  std::size_t nc_table_capacity = 65536;
  // HMAC key for nonces; random per instance when not given. Sharing a key
  // across a restart keeps cached nonces valid.
  std::optional<std::array<std::uint8_t, 32>> nonce_key;
  // The key `nonce_key` replaced (a rotation). Its nonces verify as before
  // until `previous_key_grace_until_s` (wall clock); after that a correct
  // answer on one is `stale` (the client retries with a fresh nonce, no
  // password prompt, no failure counted), never `bad_nonce`.
  std::optional<std::array<std::uint8_t, 32>> previous_nonce_key;
  std::int64_t previous_key_grace_until_s = 0;
};

struct AuthResult {
  AuthVerdict verdict = AuthVerdict::missing;
  // 0 when ok; else 400 (malformed / wrong_uri) or 401 / 407 (challenge).
  int status = 0;
  bool stale = false;          // challenge must carry stale=true
  std::string_view reason;     // reason phrase for a 400
  std::string_view username;   // authenticated (or claimed) user; view into the request
  DigestAlgorithm algorithm = DigestAlgorithm::md5;
};

struct AuthStats {
  std::array<std::uint64_t, kAuthVerdictCount> by_verdict{};
  std::uint64_t challenges_built = 0;
  std::uint64_t nc_table_evictions = 0;
  std::uint64_t of(AuthVerdict v) const noexcept { return by_verdict[static_cast<std::size_t>(v)]; }
};

// Current wall-clock time in seconds (nonce timestamps are wall-clock so that
// they survive a restart when the key is kept).
std::int64_t auth_now_s() noexcept;

class DigestAuthenticator {
 public:
  DigestAuthenticator(AuthConfig config, const CredentialStore& store);
  ~DigestAuthenticator();
  DigestAuthenticator(const DigestAuthenticator&) = delete;
  DigestAuthenticator& operator=(const DigestAuthenticator&) = delete;

  const AuthConfig& config() const noexcept;

  // Checks already-parsed credentials for a request with this method and
  // Request-URI (the uri parameter must designate the same URI).
  AuthResult verify(const DigestCredentials& creds, std::string_view method,
                    std::string_view request_uri, std::int64_t now_s = auth_now_s());
  // Parses and checks one header value.
  AuthResult verify_header(std::string_view header_value, std::string_view method,
                           std::string_view request_uri, ChallengeKind kind,
                           std::int64_t now_s = auth_now_s());
  // Checks a parsed request: Authorization for REGISTER, Proxy-
  // Authorization for other methods; among several headers, the one for our
  // realm is used (RFC 3261 §22.3).
  AuthResult verify(MessageRef request, std::int64_t now_s = auth_now_s());
  // The request has the header verify() checks (any realm): verify() would
  // not answer `missing`.  Free of verify()'s side effects (nonce counts, stats).
  static bool carries_credentials(MessageRef request);

  // A fresh nonce issued now.
  std::string make_nonce(std::int64_t now_s = auth_now_s());
  // One challenge header value: Digest realm="..", nonce="..", algorithm=.., qop="auth"[, stale=true]
  std::string challenge_value(DigestAlgorithm alg, bool stale, std::int64_t now_s = auth_now_s());
  // Adds one WWW-Authenticate (www) or Proxy-Authenticate (proxy) header per
  // configured algorithm to `response`. Returns 0, or -1 when it cannot.
  int add_challenges(Message& response, ChallengeKind kind, bool stale,
                     std::int64_t now_s = auth_now_s());
  // The same with these algorithms, in this order (a subscriber's own list).
  int add_challenges(Message& response, ChallengeKind kind, bool stale,
                     const std::vector<DigestAlgorithm>& algorithms, std::int64_t now_s = auth_now_s());

  const AuthStats& stats() const noexcept;

 private:
  AuthResult verify_as(const DigestCredentials& creds, std::string_view method,
                       std::string_view request_uri, ChallengeKind kind, std::int64_t now_s);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- Client side (the gateway authenticating itself to a carrier trunk) ----

struct DigestChallenge {
  std::string realm, nonce, opaque, qop_options;  // qop_options as sent, e.g. "auth,auth-int"
  DigestAlgorithm algorithm = DigestAlgorithm::md5;
  bool stale = false;
  bool offers_auth_qop = false;
};
// Parses a WWW-Authenticate / Proxy-Authenticate value; false if not a usable Digest challenge.
bool parse_digest_challenge(std::string_view header_value, DigestChallenge& out);
// Builds an Authorization / Proxy-Authorization value answering `ch`. When the
// challenge offers qop=auth, `cnonce` and `nc` are used; otherwise RFC 2069 form.
std::string build_digest_authorization(const DigestChallenge& ch, std::string_view username,
                                       std::string_view password, std::string_view method,
                                       std::string_view uri, std::string_view cnonce = {},
                                       std::uint32_t nc = 1);

}  // namespace msgw::sip
