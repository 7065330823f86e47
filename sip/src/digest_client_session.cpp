// SPDX-License-Identifier: GPL-3.0-or-later
// The gateway as a digest client: the cached challenge, nonce counting and
// the answer to a carrier's 401/407 (see digest_client.hpp).
#include "msgw/sip/digest_client.hpp"

#include <sys/random.h>

#include <chrono>
#include <cstring>

#include "digest_detail.hpp"
#include "msgw/sip/digest_hash.hpp"
#include "osip_message.hpp"

namespace msgw::sip {

using namespace digest_detail;

namespace {

std::string nc_hex(uint32_t nc) {
  static constexpr char hx[] = "0123456789abcdef";
  std::string s(8, '0');
  for (int i = 0; i < 8; ++i) s[std::size_t(i)] = hx[(nc >> (28 - 4 * i)) & 15];
  return s;
}

std::string random_cnonce() {
  std::uint8_t r[12] = {};
  if (getrandom(r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r)) {
    auto t = std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    std::memcpy(r, &t, sizeof t);
  }
  return hash::to_hex(r, sizeof r);
}

bool same_family(DigestAlgorithm a, const Ha1& h) { return is_sha256_family(a) ? h.size == 32 : h.size == 16; }

}  // namespace

std::string_view to_string(ChallengeOutcome o) noexcept {
  switch (o) {
    case ChallengeOutcome::answer: return "answer";
    case ChallengeOutcome::no_usable: return "no usable challenge";
    case ChallengeOutcome::wrong_realm: return "wrong realm";
    case ChallengeOutcome::rejected: return "credentials rejected";
  }
  return "?";
}

std::vector<std::string> challenge_values(MessageRef resp) {
  std::vector<std::string> out;
  if (!resp) return out;
  osip_message_t* m = const_cast<osip_message_t*>(resp.get());
  // oSIP2 keeps these in typed lists, not the generic header list.
  for (int i = 0;; ++i) {
    osip_www_authenticate_t* w = nullptr;
    if (resp.status() == 407) osip_message_get_proxy_authenticate(m, i, &w);
    else osip_message_get_www_authenticate(m, i, &w);
    if (!w) break;
    char* str = nullptr;
    if (osip_www_authenticate_to_str(w, &str) == 0 && str) out.emplace_back(str);
    osip_free(str);
  }
  return out;
}

std::string digest_authorization_value(const DigestChallenge& ch, const Ha1& ha1, std::string_view username,
                                       std::string_view method, std::string_view uri, std::string_view cnonce,
                                       uint32_t nc) {
  std::string v = "Digest username=" + quote(username) + ", realm=" + quote(ch.realm) + ", nonce=" +
                  quote(ch.nonce) + ", uri=" + quote(uri);
  const bool sess = ch.algorithm == DigestAlgorithm::md5_sess || ch.algorithm == DigestAlgorithm::sha256_sess;
  const std::string ncs = nc_hex(nc);
  const std::string_view qop = ch.offers_auth_qop ? "auth" : "";
  const bool with_cnonce = !qop.empty() || sess;
  std::string resp = compute_digest_response(ch.algorithm, ha1, ch.nonce, qop.empty() ? "" : ncs,
                                             with_cnonce ? cnonce : "", qop, method, uri);
  v += ", response=\"" + resp + "\", algorithm=" + std::string(to_string(ch.algorithm));
  if (with_cnonce) v += ", cnonce=" + quote(cnonce);
  if (!qop.empty()) v += ", qop=auth, nc=" + ncs;
  if (!ch.opaque.empty()) v += ", opaque=" + quote(ch.opaque);
  return v;
}

DigestClient::DigestClient(DigestAccount account) : account_(std::move(account)) {
  if (account_.ha1) {
    (account_.ha1->size == 32 ? sha256_ : md5_) = account_.ha1;
  }
}

const std::string& DigestClient::realm() const noexcept {
  static const std::string kNone;
  return cached_ ? cached_->realm : kNone;
}

std::optional<Ha1> DigestClient::ha1_for(const DigestChallenge& ch) const {
  if (account_.ha1) {
    const auto& h = is_sha256_family(ch.algorithm) ? sha256_ : md5_;
    if (h && same_family(ch.algorithm, *h)) return h;
    return std::nullopt;
  }
  return compute_ha1(ch.algorithm, account_.username, ch.realm, account_.password);
}

ChallengeOutcome DigestClient::take_challenge(MessageRef response, bool retry) {
  return take_challenge(challenge_values(response), response.status(), retry);
}

ChallengeOutcome DigestClient::take_challenge(const std::vector<std::string>& values, int status,
                                              bool retry) {
  ++challenges_;
  // The strongest usable challenge first (RFC 8760 lets the server order
  // them; SHA-256 is preferred when both are offered and we can answer it).
  std::optional<DigestChallenge> best;
  bool realm_mismatch = false;
  for (const auto& v : values) {
    DigestChallenge ch;
    if (!parse_digest_challenge(v, ch)) continue;
    if (!account_.realm.empty() && ch.realm != account_.realm) {
      realm_mismatch = true;
      continue;
    }
    if (!ha1_for(ch)) continue;
    if (!best || (is_sha256_family(ch.algorithm) && !is_sha256_family(best->algorithm))) best = std::move(ch);
  }
  cached_.reset();
  nc_ = 0;
  if (!best) return realm_mismatch ? ChallengeOutcome::wrong_realm : ChallengeOutcome::no_usable;
  // The request already answered a challenge and the nonce was good: the
  // credentials are wrong (a stale nonce is answered once more).
  if (retry && !best->stale) return ChallengeOutcome::rejected;
  cached_ = std::move(best);
  proxy_ = status == 407;
  return ChallengeOutcome::answer;
}

std::optional<DigestClient::Header> DigestClient::authorization(std::string_view method, std::string_view uri,
                                                                std::string_view cnonce) {
  if (!cached_) return std::nullopt;
  auto ha1 = ha1_for(*cached_);
  if (!ha1) return std::nullopt;
  ++nc_;
  const std::string cn = cnonce.empty() ? random_cnonce() : std::string(cnonce);
  return Header{proxy_ ? "Proxy-Authorization" : "Authorization",
                digest_authorization_value(*cached_, *ha1, account_.username, method, uri, cn, nc_)};
}

}  // namespace msgw::sip
