// SPDX-License-Identifier: GPL-3.0-or-later
// The keys digest nonces are MACed with (sip::AuthConfig::nonce_key): the
// current one and the one a rotation replaced, with the end of its grace.
//
// Kept in the state database (StateStore::nonce_keys), created at the first
// start and loaded at every later one, so a nonce a phone cached before a
// restart of msgw-control still verifies after it (the reference SPA call
// opens with one). `msgwctl rotate nonce-key` makes a new current key; the
// old one verifies as before until the grace ends (one nonce lifetime), and
// after that a correct answer on one of its nonces gets stale=true (the
// phone retries with a fresh nonce), not a counted authentication failure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace msgw::control {

using NonceKey = std::array<std::uint8_t, 32>;

struct NonceKeys {
  NonceKey current{};
  std::optional<NonceKey> previous;
  std::int64_t previous_grace_until_s = 0;  // wall clock, seconds

  // A fresh key from the kernel's CSPRNG (getrandom(2)); throws
  // std::runtime_error when there is no randomness to be had.
  static NonceKey random_key();
  static NonceKeys fresh() { return NonceKeys{random_key(), std::nullopt, 0}; }
  // `current` becomes `previous`, valid until grace_until_s; a new current key.
  NonceKeys rotated(std::int64_t grace_until_s) const { return NonceKeys{random_key(), current, grace_until_s}; }
};

class StateStore;
// The stored keys, or fresh ones stored now (first start); without a store,
// fresh ones every time.
NonceKeys load_or_create_nonce_keys(StateStore* store);

}  // namespace msgw::control
