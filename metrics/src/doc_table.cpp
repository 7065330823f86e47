// SPDX-License-Identifier: GPL-3.0-or-later
// The metrics documentation table (doc_table.hpp).
#include "msgw/metrics/doc_table.hpp"

namespace msgw::metrics {

namespace {
// A pipe in a cell would split it.
std::string cell(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}
}  // namespace

std::string doc_table(std::span<const Family> families) {
  std::string out = "| name | type | labels | help |\n|---|---|---|---|\n";
  for (const Family& f : families) {
    std::string labels;
    for (auto k : label_keys(f)) labels += (labels.empty() ? "`" : ", `") + std::string(k) + "`";
    out += "| `" + std::string(f.name) + "` | " + std::string(type_name(f.type)) + " | " + labels + " | " +
           cell(f.help) + " |\n";
  }
  return out;
}

std::string doc_table_in(std::string_view document) {
  const size_t b = document.find(kDocBegin);
  if (b == std::string_view::npos) return {};
  const size_t start = document.find('\n', b);
  const size_t e = document.find(kDocEnd, b);
  if (start == std::string_view::npos || e == std::string_view::npos || e < start) return {};
  return std::string(document.substr(start + 1, e - start - 1));
}

}  // namespace msgw::metrics
