// SPDX-License-Identifier: GPL-3.0-or-later
// msgwctl's command line, built from the verb table: words pick the verb,
// the verb's arguments are its positionals and --options, and the global
// options (--socket, -c/--config, --json, --help) may stand anywhere.
#include <algorithm>
#include <charconv>
#include <vector>

#include "msgw/mgmt/verbs.hpp"
#include "verbs_internal.hpp"

namespace msgw::mgmt {

namespace {

struct Option {
  std::string name;  // without the dashes
  std::string value;
  bool bare = false;  // given without a value (a flag)
};

// Options are read before the verb is known: a name some verb declares as
// a flag takes no value (that it belongs to this verb is checked later).
bool is_flag_name(const std::string& name) {
  for (const Verb& v : verbs())
    for (const Arg& a : v.args)
      if (a.type == ArgType::flag && a.key == name) return true;
  return false;
}

std::string option_usage(const Arg& a) {
  return a.type == ArgType::flag ? "--" + std::string(a.key) : "--" + std::string(a.key) + " " + std::string(a.metavar);
}

std::string arg_usage(const Arg& a) {
  std::string u = a.positional ? std::string(a.metavar) : option_usage(a);
  return a.required ? u : "[" + u + "]";
}

std::string verb_usage(const Verb& v) {
  std::string u = v.name();
  for (const Arg& a : v.args) u += " " + arg_usage(a);
  return u;
}

void pad_to(std::string& s, size_t col) {
  s += s.size() < col ? std::string(col - s.size(), ' ') : std::string("  ");
}

}  // namespace

std::string help_text(std::string_view prefix) {
  std::string out =
      // help2man's shape (the package's man page is made from this text):
      // "Usage:" lines become the SYNOPSIS, the paragraph after them the
      // DESCRIPTION, "Verbs:" a subsection of it, "Options:" the OPTIONS.
      "Usage: msgwctl [--socket PATH | -c FILE] [--json] VERB [ARGUMENTS]\n"
      "Provision and query the msgw gateway: validate and edit its configuration,\n"
      "prepare the host for its dataplane, and ask the running msgw-control\n"
      "(through its management socket) for calls, registrations, flows, trunks,\n"
      "counters and CDRs.\n\nVerbs:\n";
  for (const Verb& v : verbs()) {
    if (!prefix.empty() && v.words[0] != prefix && v.name() != prefix) continue;
    std::string line = "  " + verb_usage(v);
    pad_to(line, 34);
    out += line + std::string(v.help) + "\n";
    for (const Arg& a : v.args) {
      std::string al = "      " + (a.positional ? std::string(a.metavar) : option_usage(a));
      pad_to(al, 34);
      out += al + std::string(a.help) + "\n";
    }
  }
  out +=
      "\nOptions:\n"
      "  --socket PATH                   msgw-control's management socket\n"
      "                                  (default /run/msgw/control.sock, or $MSGW_SOCKET)\n"
      "  -c, --config FILE               take the socket from this file's [sip] section;\n"
      "                                  host check|prepare read it (default /etc/msgw/msgw.toml)\n"
      "  --json                          print the answer, or the error, as JSON on stdout\n"
      "  -h, --help                      this text; after words, the verbs they start\n";
  return out;
}

std::variant<Invocation, ParseError> parse_command_line(std::span<const std::string> args) {
  Invocation inv;
  inv.json = std::find(args.begin(), args.end(), "--json") != args.end();
  auto fail = [&](std::string message) { return ParseError{std::move(message), inv.json}; };

  std::vector<std::string> words;
  std::vector<Option> options;
  bool only_words = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_words || a.empty() || a[0] != '-' || a == "-") {
      words.push_back(a);
      continue;
    }
    if (a == "--") {
      only_words = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      inv.help = true;
      continue;
    }
    if (a == "--json") continue;
    std::string name, value;
    bool has_value = false;
    if (a.rfind("--", 0) == 0) {
      name = a.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
        has_value = true;
      }
    } else if (a == "-c") {
      name = "config";
    } else {
      return fail("unknown option '" + a + "'");
    }
    if (!has_value && is_flag_name(name)) {
      options.push_back({name, "", true});
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return fail("--" + name + " needs a value");
      value = args[++i];
    }
    if (name == "socket") inv.socket = value;
    else if (name == "config") inv.config_file = value;
    else options.push_back({name, value});
  }

  if (inv.help) {
    if (!words.empty() && !expected_words(words[0], false).empty()) inv.help_prefix = words[0];
    return inv;
  }
  if (words.empty()) return fail("missing word (expected: " + expected_words("", false) + ")");
  Lookup l = lookup_words(words[0], words.size() > 1 ? &words[1] : nullptr, /*served_only=*/false);
  if (l.verb == nullptr) return fail(l.error);
  const Verb& v = *l.verb;
  inv.verb = &v;

  nlohmann::json given = nlohmann::json::object();
  std::string said = v.name();  // the words understood so far, for errors
  size_t w = v.word_count();
  for (const Arg& a : v.args) {
    if (!a.positional || w >= words.size()) continue;
    given[std::string(a.key)] = words[w];
    said += " " + words[w];
    ++w;
  }
  if (w < words.size()) return fail("unknown word '" + words[w] + "' after '" + said + "'");
  for (const Option& o : options) {
    const Arg* arg = nullptr;
    for (const Arg& a : v.args)
      if (!a.positional && a.key == o.name) arg = &a;
    if (arg == nullptr) return fail("unknown option '--" + o.name + "' for '" + v.name() + "'");
    if (arg->type == ArgType::flag) {
      if (!o.bare) return fail("--" + o.name + " takes no value");
      given[o.name] = true;
    } else if (arg->type == ArgType::count) {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(o.value.data(), o.value.data() + o.value.size(), n);
      if (ec != std::errc() || end != o.value.data() + o.value.size() || o.value.empty())
        return fail("--" + o.name + " wants a whole number from " + std::to_string(arg->min) + " to " +
                    std::to_string(arg->max) + ", not '" + o.value + "'");
      given[o.name] = n;
    } else {
      given[o.name] = o.value;
    }
  }
  nlohmann::json checked = given;
  if (std::string why = check_args(v, checked); !why.empty()) return fail(why);

  // The wire request carries what was given; the server fills in fallbacks.
  inv.request = {{"cmd", std::string(v.words[0])}};
  if (v.word_count() == 2) inv.request["what"] = std::string(v.words[1]);
  for (const auto& [key, value] : given.items()) inv.request[key] = value;
  return inv;
}

}  // namespace msgw::mgmt
