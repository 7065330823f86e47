// SPDX-License-Identifier: GPL-3.0-or-later
// The documentation table of a program's metrics, generated from its one
// table of Families, so the README cannot drift from the exposition: a unit
// test compares the table between the markers in the README with this.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "msgw/metrics/exposition.hpp"

namespace msgw::metrics {

inline constexpr std::string_view kDocBegin = "<!-- metrics table: generated, do not edit -->";
inline constexpr std::string_view kDocEnd = "<!-- end of metrics table -->";

// A Markdown table: name | type | labels | help, one row per family.
std::string doc_table(std::span<const Family> families);

// The text between kDocBegin and kDocEnd in a document (without the marker
// lines); empty when the markers are missing.
std::string doc_table_in(std::string_view document);

}  // namespace msgw::metrics
