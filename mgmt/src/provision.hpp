// SPDX-License-Identifier: GPL-3.0-or-later
// msgwctl's provisioning verbs: subscriber|trunk|route|did add|set|del|list
// and subscriber passwd. Each change edits the object's own table in the
// configuration file (toml_edit.hpp), is checked like `config check` against
// the whole resulting file, written atomically with the previous version
// kept as FILE.prev, audited (audit.hpp), and applied live by asking the
// running msgw-control to reload (when it does not answer, the file change
// stands and msgwctl says so).
#pragma once

#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

namespace msgw::mgmt {

// The verb table's handler for every provisioning verb (the request's cmd
// and what say which). The request also carries "config_file" and "socket"
// when msgwctl was given -c / --socket.
int run_provision(const nlohmann::json& request, bool json, std::ostream& out, std::ostream& err);

// The text of FILE with the request's change applied, or the error (exposed
// for tests; run_provision validates, writes and reloads around it).
struct Edited {
  std::string text;      // the whole new file
  std::string summary;   // "subscriber alice added" (never a secret)
  std::string error;     // set: nothing to write
};
Edited edit_config(const std::string& file, const std::string& text, const nlohmann::json& request);

}  // namespace msgw::mgmt
