// SPDX-License-Identifier: GPL-3.0-or-later
// msgwctl's side of the management socket: one request, one answer.
#pragma once

#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

#include "msgw/mgmt/verbs.hpp"

namespace msgw::mgmt {

struct Answer {
  bool delivered = false;  // a readable answer came back (ok or not)
  nlohmann::json reply;    // when delivered
  std::string error;       // when not: one line, without "msgwctl: "
};

// Connects, sends `request`, waits up to `timeout_s` for the answer line.
Answer ask(const std::string& socket_path, const nlohmann::json& request, int timeout_s = 10);

// Prints a successful answer the way its verb's shape says: with --json the
// data (or {}), else a table, "key: value" lines or "ok".
void print_answer(const Verb& verb, const nlohmann::json& reply, bool json, std::ostream& out);

}  // namespace msgw::mgmt
