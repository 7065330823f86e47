// SPDX-License-Identifier: GPL-3.0-or-later
// The management wire protocol between msgwctl and msgw-control.
//
// A Unix stream socket; each request is one JSON object on one line, each
// answer one JSON object on one line. A request names its verb by its words
// ("cmd" the first, "what" the second) and carries the verb's arguments
// under their keys (see verbs.hpp, the one list of verbs):
//   {"cmd":"show","what":"calls"}            -> {"ok":true,"data":[...]}
//   {"cmd":"show","what":"cdrs","limit":10}  -> {"ok":true,"data":[...]}
//   {"cmd":"hangup","call":"<call-id>"}      -> {"ok":true} | {"ok":false,"error":"no such call: ..."}
//   {"cmd":"reload"}                         -> {"ok":false,"error":"reload refused, old configuration kept: ..."}
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace msgw::mgmt {

inline constexpr size_t kMaxRequestBytes = 64 * 1024;
inline constexpr size_t kMaxClients = 64;

inline nlohmann::json ok_reply() { return {{"ok", true}}; }
inline nlohmann::json ok_reply(nlohmann::json data) { return {{"ok", true}, {"data", std::move(data)}}; }
inline nlohmann::json error_reply(const std::string& message) { return {{"ok", false}, {"error", message}}; }

}  // namespace msgw::mgmt
