// SPDX-License-Identifier: GPL-3.0-or-later
// Out-of-line part of ascii.hpp: what allocates.
#include "msgw/common/ascii.hpp"

namespace msgw::common {

std::string ascii_lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace msgw::common
