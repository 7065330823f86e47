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

#include "msgw/config/config.hpp"

namespace msgw::mgmt {

// The verb table's handler for every provisioning verb (the request's cmd
// and what say which). The request also carries "config_file" and "socket"
// when msgwctl was given -c / --socket.
int run_provision(const nlohmann::json& request, bool json, std::ostream& out, std::ostream& err);

// The rows the list verbs print for `kind` (subscriber, trunk, route, did)
// of a configuration: the file's (msgwctl) and the running one's (`show
// running`, served by msgw-control) come from this one function, so that
// msgwctl can compare them row by row.
bool is_provisioned_kind(const std::string& kind);
nlohmann::json provisioned_rows(const std::string& kind, const config::Config& config);

// The file's rows marked against the running gateway's: each row gets a
// "state": "running" (msgw-control runs it as listed), "added, pending
// reload" / "changed, pending reload" (the file differs: a reload applies
// it), and rows msgw-control still runs that the file no longer has are
// appended as "removed, pending reload". `running` null: not compared, every
// state "unknown".
nlohmann::json mark_pending(const std::string& kind, const nlohmann::json& file_rows, const nlohmann::json* running);

// The text of FILE with the request's change applied, or the error (exposed
// for tests; run_provision validates, writes and reloads around it).
struct Edited {
  std::string text;      // the whole new file
  std::string summary;   // "subscriber alice added" (never a secret)
  std::string error;     // set: nothing to write
};
Edited edit_config(const std::string& file, const std::string& text, const nlohmann::json& request);

}  // namespace msgw::mgmt
