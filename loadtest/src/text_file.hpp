// SPDX-License-Identifier: GPL-3.0-or-later
// A whole file as text (SIPp's logs and CSVs, /proc files): empty when it
// cannot be read.  One definition for the tool's readers.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace msgw::loadtest {

inline std::string read_text_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace msgw::loadtest
