// SPDX-License-Identifier: GPL-3.0-or-later
// Lookups over the verb table shared by the server's dispatch (verbs.cpp)
// and msgwctl's command line (command_line.cpp).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "msgw/mgmt/verbs.hpp"

namespace msgw::mgmt {

// "calls | registrations | ..." after `head`, or the first words when empty.
std::string expected_words(std::string_view head, bool served_only);
// The verb of `first` [`second`]; the error names the word not understood.
Lookup lookup_words(std::string_view first, const std::string* second, bool served_only);
// Checks arguments by key against the verb's, filling in fallbacks; returns
// what does not fit, or empty.
std::string check_args(const Verb& v, nlohmann::json& given);
// An aligned table of rows (render.cpp), as msgwctl prints rows answers.
void print_rows_table(const nlohmann::json& rows, std::ostream& out);

}  // namespace msgw::mgmt
