// SPDX-License-Identifier: GPL-3.0-or-later
// MD5 (RFC 1321), SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for digest
// authentication. Written here rather than pulled from a crypto library so the
// SIP stack adds no dependency; validated against the RFC / FIPS test vectors
// in tests/unit/sip/test_session_digest.cpp. Incremental, no heap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace msgw::sip::hash {

class Md5 {
 public:
  static constexpr std::size_t kSize = 16;
  Md5() noexcept { reset(); }
  void reset() noexcept;
  void update(const void* data, std::size_t len) noexcept;
  void update(std::string_view s) noexcept { update(s.data(), s.size()); }
  std::array<std::uint8_t, kSize> finish() noexcept;

 private:
  void block(const std::uint8_t* p) noexcept;
  std::uint32_t h_[4];
  std::uint64_t total_;
  std::uint8_t buf_[64];
  std::size_t used_;
};

class Sha256 {
 public:
  static constexpr std::size_t kSize = 32;
  Sha256() noexcept { reset(); }
  void reset() noexcept;
  void update(const void* data, std::size_t len) noexcept;
  void update(std::string_view s) noexcept { update(s.data(), s.size()); }
  std::array<std::uint8_t, kSize> finish() noexcept;

 private:
  void block(const std::uint8_t* p) noexcept;
  std::uint32_t h_[8];
  std::uint64_t total_;
  std::uint8_t buf_[64];
  std::size_t used_;
};

// HMAC with the key's pad blocks absorbed once, so each MAC of a short
// message costs two compressions instead of four.
class HmacSha256 {
 public:
  explicit HmacSha256(std::span<const std::uint8_t> key) noexcept;
  std::array<std::uint8_t, 32> mac(std::span<const std::uint8_t> msg) const noexcept;

 private:
  Sha256 inner_, outer_;
};

std::array<std::uint8_t, 32> hmac_sha256(std::span<const std::uint8_t> key,
                                         std::span<const std::uint8_t> msg) noexcept;

// Lowercase hex into `out` (2*len chars).
void to_hex(const std::uint8_t* bytes, std::size_t len, char* out) noexcept;
std::string to_hex(const std::uint8_t* bytes, std::size_t len);

// Constant-time equality of two equal-length byte strings; different lengths
// compare unequal (the length itself is not secret).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace msgw::sip::hash
