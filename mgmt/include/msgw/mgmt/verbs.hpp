// SPDX-License-Identifier: GPL-3.0-or-later
// The management verbs: each declared once, in the table of verbs.cpp, with
// its words, arguments, help, handler and the shape of its answer. msgwctl
// builds its command line and help from the table; msgw-control's server
// dispatches requests through it; the wire names of a request are the
// verb's words and its arguments' keys (protocol.hpp).
//
// Adding a verb: one entry in kVerbs (verbs.cpp) and, when the daemon
// serves it, one method on Service (service.hpp).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "msgw/mgmt/service.hpp"

namespace msgw::mgmt {

enum class VerbId : uint8_t {
  show_calls, show_registrations, show_flows, show_stats, show_cdrs, hangup, reload, rotate_nonce_key,
  config_check, show_trunks, host_check, host_prepare,
  // Provisioning (msgwctl edits the file, then asks msgw-control to reload).
  subscriber_add, subscriber_set, subscriber_passwd, subscriber_del, subscriber_list,
  trunk_add, trunk_set, trunk_del, trunk_list,
  route_add, route_set, route_del, route_list,
  did_add, did_set, did_del, did_list,
  show_running,
};

// What "data" of an answer is: absent, an array of objects (printed as a
// table) or one object (printed as "key: value" lines).
enum class Shape : uint8_t { none, rows, object };

enum class ArgType : uint8_t {
  text,   // a string
  count,  // a whole number within [min, max]
  flag,   // true when given: --KEY takes no value on the command line
};

struct Arg {
  std::string_view key;     // the wire key; --KEY on the command line unless positional
  std::string_view metavar; // CALL, FILE, N
  ArgType type;
  bool positional;
  bool required;
  int64_t min = 0, max = 0, fallback = 0;  // count only; fallback when not given
  std::string_view help;
};

struct Verb {
  VerbId id;
  std::string_view words[2];  // second empty for one-word verbs
  std::span<const Arg> args;
  Shape shape;
  std::string_view help;
  // Served by msgw-control: the whole answer to a validated request.
  nlohmann::json (*serve)(Service& service, const nlohmann::json& request);
  // Run by msgwctl itself (no daemon): exit status; JSON or text on out/err.
  int (*run_local)(const nlohmann::json& request, bool json, std::ostream& out, std::ostream& err);

  size_t word_count() const { return words[1].empty() ? 1 : 2; }
  std::string name() const;  // "show calls"
};

std::span<const Verb> verbs();
const Verb& verb(VerbId id);

// The request's verb, by its words ("cmd" and "what"), with its arguments
// checked against the table. Otherwise the error names the word, key or
// value that was not understood.
struct Lookup {
  const Verb* verb = nullptr;
  std::string error;
};
Lookup find_verb(const nlohmann::json& request);

// The server's answer to one request (never throws).
nlohmann::json dispatch(Service& service, const nlohmann::json& request);

// ---------------------------------------------------------------- msgwctl

struct Invocation {
  const Verb* verb = nullptr;
  nlohmann::json request;   // wire request: words and typed arguments
  bool json = false;        // --json
  bool help = false;        // --help / -h (verb may be null: the whole tree)
  std::string help_prefix;  // the words before --help ("show")
  std::string socket;       // --socket, empty when not given
  std::string config_file;  // -c / --config
};

struct ParseError {
  std::string message;  // without "msgwctl: "
  bool json = false;    // --json was on the line: report the error as JSON
};

std::variant<Invocation, ParseError> parse_command_line(std::span<const std::string> args);

// Usage text for every verb whose words start with `prefix` (all when empty).
std::string help_text(std::string_view prefix);

}  // namespace msgw::mgmt
