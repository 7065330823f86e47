// SPDX-License-Identifier: GPL-3.0-or-later
// Writing the configuration file for msgwctl's provisioning verbs: the path
// it edits, an atomic replacement that keeps the previous version, and the
// audit trail of every change.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace msgw::mgmt {

// -c FILE, else $MSGW_CONFIG, else /etc/msgw/msgw.toml.
std::string config_path(const nlohmann::json& request);
bool read_whole(const std::string& path, std::string* text);

// FILE becomes `text`: FILE.prev gets `previous` (what FILE held), then a
// temporary file beside FILE (same mode) is written, fsync'ed and renamed
// over it, and the directory fsync'ed. A crash leaves either version whole.
// false (FILE untouched) with *why.
bool replace_file(const std::string& path, const std::string& previous, const std::string& text, std::string* why);

// One line per change, who (the login, and sudo's SUDO_USER), what, when
// (UTC): appended to FILE.audit beside the file, and to syslog (authpriv).
void audit(const std::string& path, const std::string& what);

}  // namespace msgw::mgmt
