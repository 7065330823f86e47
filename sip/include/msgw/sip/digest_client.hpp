// SPDX-License-Identifier: GPL-3.0-or-later
// The gateway as a digest client (RFC 7616 / RFC 2617): one account at one
// peer (a carrier trunk), its cached challenge and nonce count.
//
// A 401/407 is taken once per request (`take_challenge`); the answer
// (`authorization`) carries qop=auth with a fresh cnonce and the next nc
// when the challenge offers it, RFC 2069 form otherwise. The challenge is
// kept, so the next request to the same peer is sent with credentials at
// once (nc + 1) until the peer challenges again with stale=true (a new
// nonce, answered once more) or without it (the credentials are wrong: the
// caller gives up). Passwords are hashed to HA1 at construction and not kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgw/sip/digest.hpp"
#include "msgw/sip/message.hpp"

namespace msgw::sip {

struct DigestAccount {
  std::string username;
  std::string password;    // or
  std::optional<Ha1> ha1;  // for `realm` (its size selects MD5 or SHA-256)
  std::string realm;       // "": accept the realm the peer names
};

// The challenges in a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate)
// response, as header values, in the order sent.
std::vector<std::string> challenge_values(MessageRef response);

// What taking a challenge led to.
enum class ChallengeOutcome : uint8_t {
  answer,          // answer it: authorization() has credentials for the request
  no_usable,       // no Digest challenge with an algorithm (and HA1 family) we can answer
  wrong_realm,     // the account is bound to another realm
  rejected,        // a second challenge, not stale, to credentials we sent: wrong password
};
std::string_view to_string(ChallengeOutcome o) noexcept;

class DigestClient {
 public:
  explicit DigestClient(DigestAccount account);

  // Takes the challenges of a 401/407 and caches the one to answer. `retry`:
  // the challenged request was itself the answer to a challenge, so a
  // challenge without stale=true means the credentials are wrong (rejected).
  // A first request sent with the cached nonce and challenged is answered
  // once with the new nonce (the peer may have forgotten the old one).
  ChallengeOutcome take_challenge(MessageRef response, bool retry);
  ChallengeOutcome take_challenge(const std::vector<std::string>& values, int status, bool retry);

  // Credentials for a request, from the cached challenge (nc incremented),
  // or nullopt when there is none. `cnonce` empty: a random one.
  struct Header {
    std::string name;  // "Authorization" (401) or "Proxy-Authorization" (407)
    std::string value;
  };
  std::optional<Header> authorization(std::string_view method, std::string_view uri,
                                      std::string_view cnonce = {});

  bool has_challenge() const noexcept { return cached_.has_value(); }
  const std::string& realm() const noexcept;
  uint32_t nonce_count() const noexcept { return nc_; }
  uint64_t challenges_taken() const noexcept { return challenges_; }
  void forget() noexcept { cached_.reset(); nc_ = 0; }

 private:
  std::optional<Ha1> ha1_for(const DigestChallenge& ch) const;

  DigestAccount account_;
  std::optional<Ha1> md5_, sha256_;  // per hash family
  std::optional<DigestChallenge> cached_;
  bool proxy_ = false;               // cached challenge came in a 407
  uint32_t nc_ = 0;
  uint64_t challenges_ = 0;
};

// One Authorization / Proxy-Authorization value for `ch` with a given HA1
// (RFC 7616 §3.4): qop=auth when offered, nc as 8 hex digits.
std::string digest_authorization_value(const DigestChallenge& ch, const Ha1& ha1,
                                       std::string_view username, std::string_view method,
                                       std::string_view uri, std::string_view cnonce,
                                       uint32_t nc);

}  // namespace msgw::sip
