// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/control/nonce_keys.hpp"

#include <sys/random.h>

#include <cerrno>
#include <stdexcept>

#include "msgw/control/state_store.hpp"

namespace msgw::control {

NonceKey NonceKeys::random_key() {
  NonceKey k{};
  std::size_t got = 0;
  while (got < k.size()) {
    // getrandom(2) blocks only until the kernel's pool is first seeded.
    ssize_t r = getrandom(k.data() + got, k.size() - got, 0);
    if (r > 0) got += static_cast<std::size_t>(r);
    else if (r < 0 && errno != EINTR) throw std::runtime_error("getrandom: no randomness for the nonce key");
  }
  return k;
}

NonceKeys load_or_create_nonce_keys(StateStore* store) {
  if (store == nullptr) return NonceKeys::fresh();
  if (auto keys = store->nonce_keys()) return *keys;
  NonceKeys keys = NonceKeys::fresh();
  store->put_nonce_keys(keys);
  return keys;
}

}  // namespace msgw::control
