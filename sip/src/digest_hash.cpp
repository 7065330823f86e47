// SPDX-License-Identifier: GPL-3.0-or-later
// MD5 / SHA-256 / HMAC-SHA256 straight from RFC 1321, FIPS 180-4 and RFC 2104.
#include "msgw/sip/digest_hash.hpp"

#include <bit>
#include <cstring>

#include "msgw/common/byte_order.hpp"

namespace msgw::sip::hash {
namespace {

constexpr std::uint32_t kMd5K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
constexpr int kMd5S[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                           5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

constexpr std::uint32_t kShaK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

using common::load_be32;
using common::load_le32;

// Shared Merkle–Damgård finish: 0x80, zeros to 56 mod 64, the message length
// in bits, then the state words; MD5 writes both little-endian, SHA-256
// big-endian. `state` is read after the last block has gone through it.
template <bool kBigEndian, class H, std::size_t kWords>
std::array<std::uint8_t, 4 * kWords> pad_and_output(H& h, std::size_t used, std::uint64_t total,
                                                    const std::uint32_t (&state)[kWords]) noexcept {
  static constexpr std::uint8_t pad[64] = {0x80};
  h.update(pad, used < 56 ? 56 - used : 120 - used);
  std::uint8_t len[8];
  if constexpr (kBigEndian) common::store_be64(len, total * 8);
  else common::store_le64(len, total * 8);
  h.update(len, 8);
  std::array<std::uint8_t, 4 * kWords> out;
  for (std::size_t i = 0; i < kWords; ++i) {
    if constexpr (kBigEndian) common::store_be32(out.data() + 4 * i, state[i]);
    else common::store_le32(out.data() + 4 * i, state[i]);
  }
  return out;
}

// Shared Merkle–Damgård buffering: both hashes use 64-byte blocks.
template <class H>
void buffered_update(H&& h, std::uint8_t* buf, std::size_t& used, std::uint64_t& total,
                     const void* data, std::size_t len) noexcept {
  const auto* p = static_cast<const std::uint8_t*>(data);
  total += len;
  if (used) {
    std::size_t take = 64 - used < len ? 64 - used : len;
    std::memcpy(buf + used, p, take);
    used += take;
    p += take;
    len -= take;
    if (used < 64) return;
    h(buf);
    used = 0;
  }
  while (len >= 64) {
    h(p);
    p += 64;
    len -= 64;
  }
  if (len) {
    std::memcpy(buf, p, len);
    used = len;
  }
}

}  // namespace

void Md5::reset() noexcept {
  h_[0] = 0x67452301;
  h_[1] = 0xefcdab89;
  h_[2] = 0x98badcfe;
  h_[3] = 0x10325476;
  total_ = 0;
  used_ = 0;
}

void Md5::block(const std::uint8_t* p) noexcept {
  std::uint32_t m[16];
  for (int i = 0; i < 16; ++i) m[i] = load_le32(p + 4 * i);
  std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3];
  // One loop per round so each has a fixed F and message schedule the
  // compiler can unroll; a single loop with a branch per step is ~2x slower.
  auto step = [&](std::uint32_t f, int i, int g) {
    std::uint32_t tmp = d;
    d = c;
    c = b;
    b = b + std::rotl(a + f + kMd5K[i] + m[g], kMd5S[i]);
    a = tmp;
  };
  for (int i = 0; i < 16; ++i) step((b & c) | (~b & d), i, i);
  for (int i = 16; i < 32; ++i) step((d & b) | (~d & c), i, (5 * i + 1) & 15);
  for (int i = 32; i < 48; ++i) step(b ^ c ^ d, i, (3 * i + 5) & 15);
  for (int i = 48; i < 64; ++i) step(c ^ (b | ~d), i, (7 * i) & 15);
  h_[0] += a;
  h_[1] += b;
  h_[2] += c;
  h_[3] += d;
}

void Md5::update(const void* data, std::size_t len) noexcept {
  buffered_update([this](const std::uint8_t* p) { block(p); }, buf_, used_, total_, data, len);
}

std::array<std::uint8_t, Md5::kSize> Md5::finish() noexcept {
  auto out = pad_and_output<false>(*this, used_, total_, h_);
  reset();
  return out;
}

void Sha256::reset() noexcept {
  static constexpr std::uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::memcpy(h_, init, sizeof h_);
  total_ = 0;
  used_ = 0;
}

void Sha256::block(const std::uint8_t* p) noexcept {
  std::uint32_t w[64];
  for (int i = 0; i < 16; ++i) w[i] = load_be32(p + 4 * i);
  for (int i = 16; i < 64; ++i) {
    std::uint32_t s0 = std::rotr(w[i - 15], 7) ^ std::rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    std::uint32_t s1 = std::rotr(w[i - 2], 17) ^ std::rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
                h = h_[7];
  for (int i = 0; i < 64; ++i) {
    std::uint32_t S1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
    std::uint32_t ch = (e & f) ^ (~e & g);
    std::uint32_t t1 = h + S1 + ch + kShaK[i] + w[i];
    std::uint32_t S0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
    std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    std::uint32_t t2 = S0 + maj;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h_[0] += a;
  h_[1] += b;
  h_[2] += c;
  h_[3] += d;
  h_[4] += e;
  h_[5] += f;
  h_[6] += g;
  h_[7] += h;
}

void Sha256::update(const void* data, std::size_t len) noexcept {
  buffered_update([this](const std::uint8_t* p) { block(p); }, buf_, used_, total_, data, len);
}

std::array<std::uint8_t, Sha256::kSize> Sha256::finish() noexcept {
  auto out = pad_and_output<true>(*this, used_, total_, h_);
  reset();
  return out;
}

HmacSha256::HmacSha256(std::span<const std::uint8_t> key) noexcept {
  std::uint8_t k[64] = {};
  if (key.size() > 64) {
    Sha256 kh;
    kh.update(key.data(), key.size());
    auto d = kh.finish();
    std::memcpy(k, d.data(), d.size());
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  std::uint8_t ipad[64], opad[64];
  for (int i = 0; i < 64; ++i) {
    ipad[i] = k[i] ^ 0x36;
    opad[i] = k[i] ^ 0x5c;
  }
  inner_.update(ipad, 64);
  outer_.update(opad, 64);
}

std::array<std::uint8_t, 32> HmacSha256::mac(std::span<const std::uint8_t> msg) const noexcept {
  Sha256 inner = inner_;
  inner.update(msg.data(), msg.size());
  auto ih = inner.finish();
  Sha256 outer = outer_;
  outer.update(ih.data(), ih.size());
  return outer.finish();
}

std::array<std::uint8_t, 32> hmac_sha256(std::span<const std::uint8_t> key,
                                         std::span<const std::uint8_t> msg) noexcept {
  return HmacSha256(key).mac(msg);
}

void to_hex(const std::uint8_t* bytes, std::size_t len, char* out) noexcept {
  static constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < len; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
}

std::string to_hex(const std::uint8_t* bytes, std::size_t len) {
  std::string s(2 * len, '\0');
  to_hex(bytes, len, s.data());
  return s;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  volatile unsigned char acc = 0;
  unsigned char x = 0;
  for (std::size_t i = 0; i < a.size(); ++i) x |= static_cast<unsigned char>(a[i] ^ b[i]);
  acc = x;
  return acc == 0;
}

}  // namespace msgw::sip::hash
