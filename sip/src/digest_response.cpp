// SPDX-License-Identifier: GPL-3.0-or-later
// Digest authentication, the hashing: HA1 and the request digest (RFC 7616
// §3.4.1) for MD5 and SHA-256, with and without -sess, on the stack.
#include "msgw/sip/digest.hpp"

#include <cstring>

#include "digest_detail.hpp"
#include "msgw/sip/digest_hash.hpp"

namespace msgw::sip {
namespace digest_detail {
namespace {

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

}  // namespace

std::size_t response_hex(DigestAlgorithm alg, const Ha1& ha1, std::string_view nonce,
                         std::string_view nc, std::string_view cnonce, std::string_view qop,
                         std::string_view method, std::string_view uri, char out[64]) {
  if (alg == DigestAlgorithm::sha256 || alg == DigestAlgorithm::sha256_sess)
    return compute_response_hex<hash::Sha256>(alg, ha1, nonce, nc, cnonce, qop, method, uri, out);
  return compute_response_hex<hash::Md5>(alg, ha1, nonce, nc, cnonce, qop, method, uri, out);
}

}  // namespace digest_detail

using namespace digest_detail;

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

std::string compute_digest_response(DigestAlgorithm alg, const Ha1& ha1, std::string_view nonce,
                                    std::string_view nc, std::string_view cnonce,
                                    std::string_view qop, std::string_view method,
                                    std::string_view uri) {
  char buf[64];
  std::size_t n = response_hex(alg, ha1, nonce, nc, cnonce, qop, method, uri, buf);
  return std::string(buf, n);
}

}  // namespace msgw::sip
