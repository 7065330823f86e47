// SPDX-License-Identifier: GPL-3.0-or-later
// Arbitrary bytes as a config file: the loader must answer with a config or
// errors, never crash, and every error must carry a file name and a message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "msgw/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = msgw::config::load_string(text, "fuzz.toml");
  if (r.ok() != r.errors.empty()) std::abort();
  for (const auto& e : r.errors)
    if (e.file.empty() || e.message.empty()) std::abort();
  return 0;
}
