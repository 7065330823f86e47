// SPDX-License-Identifier: GPL-3.0-or-later
// Digest authentication, the client side: reading a challenge and answering
// it (RFC 7616 §3.4), for the gateway's own outgoing requests.
#include "msgw/sip/digest.hpp"

#include <sys/random.h>

#include <chrono>
#include <cstring>

#include "digest_detail.hpp"
#include "msgw/common/ascii.hpp"
#include "msgw/sip/digest_hash.hpp"

namespace msgw::sip {

using common::iequals;
using namespace digest_detail;

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
        if (iequals(trim_lws(rest.substr(0, comma)), "auth")) out.offers_auth_qop = true;
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
