// SPDX-License-Identifier: GPL-3.0-or-later
// The one list of management verbs, and the server's dispatch through it.
#include "msgw/mgmt/verbs.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "config_check.hpp"
#include "host_verbs.hpp"
#include "provision.hpp"
#include "time_arg.hpp"
#include "verbs_internal.hpp"
#include "msgw/mgmt/protocol.hpp"

namespace msgw::mgmt {

namespace {

using nlohmann::json;

constexpr Arg kCdrsArgs[] = {
    {.key = "limit", .metavar = "N", .type = ArgType::count, .positional = false, .required = false,
     .min = 1, .max = 1000, .fallback = 100, .help = "newest N records (default 100)"},
    {.key = "since", .metavar = "T", .type = ArgType::text, .positional = false, .required = false,
     .help = "only calls started at or after T: unix seconds or ISO-8601 (2026-12-06T03:10:00Z)"},
};
constexpr Arg kHangupArgs[] = {
    {.key = "call", .metavar = "CALL", .type = ArgType::text, .positional = true, .required = true,
     .help = "call id (from show calls)"},
};
constexpr Arg kConfigCheckArgs[] = {
    {.key = "file", .metavar = "FILE", .type = ArgType::text, .positional = true, .required = true,
     .help = "TOML configuration file"},
};
constexpr Arg kHostCheckArgs[] = {
    {.key = "root", .metavar = "DIR", .type = ArgType::text, .positional = false, .required = false,
     .help = "read the host under DIR instead of / (a fixture tree)"},
};
constexpr Arg kHostPrepareArgs[] = {
    {.key = "dry-run", .metavar = "-", .type = ArgType::flag, .positional = false, .required = false,
     .help = "print the actions (as shell commands) without doing them"},
    kHostCheckArgs[0],
};

constexpr Arg kSubscriberEditArgs[] = {
    {.key = "user", .metavar = "USER", .type = ArgType::text, .positional = true, .required = true, .help = "the subscriber's user name"},
    {.key = "password", .metavar = "PASSWORD", .type = ArgType::text, .positional = false, .required = false, .help = "stored as ha1 (MD5 of user:realm:password; ha1_sha256 too when SHA-256 is challenged)"},
    {.key = "ha1", .metavar = "HEX", .type = ArgType::text, .positional = false, .required = false, .help = "HA1 given directly (32 hex digits)"},
    {.key = "display_name", .metavar = "NAME", .type = ArgType::text, .positional = false, .required = false, .help = "display name"},
    {.key = "codecs", .metavar = "LIST", .type = ArgType::text, .positional = false, .required = false, .help = "codec preference, comma-separated (PCMU,PCMA,G726-32,G729)"},
    {.key = "dids", .metavar = "LIST", .type = ArgType::text, .positional = false, .required = false, .help = "inbound numbers, comma-separated"},
    {.key = "digest_algorithms", .metavar = "LIST", .type = ArgType::text, .positional = false, .required = false, .help = "challenged algorithms, comma-separated (MD5,SHA-256)"},
    {.key = "g726_packing", .metavar = "PACKING", .type = ArgType::text, .positional = false, .required = false, .help = "rfc3551 or aal2"},
};
constexpr Arg kSubscriberPasswdArgs[] = {
    {.key = "user", .metavar = "USER", .type = ArgType::text, .positional = true, .required = true, .help = "the subscriber's user name"},
    {.key = "password", .metavar = "PASSWORD", .type = ArgType::text, .positional = false, .required = true, .help = "the new password (stored as HA1)"},
};
constexpr Arg kSubscriberArgs[] = {
    {.key = "user", .metavar = "USER", .type = ArgType::text, .positional = true, .required = true, .help = "the subscriber's user name"},
};
constexpr Arg kTrunkEditArgs[] = {
    {.key = "name", .metavar = "NAME", .type = ArgType::text, .positional = true, .required = true, .help = "the trunk's name"},
    {.key = "address", .metavar = "HOST[:PORT]", .type = ArgType::text, .positional = false, .required = false, .help = "IPv4 address or host name"},
    {.key = "transport", .metavar = "PROTO", .type = ArgType::text, .positional = false, .required = false, .help = "udp or tcp"},
    {.key = "codecs", .metavar = "LIST", .type = ArgType::text, .positional = false, .required = false, .help = "codecs, comma-separated"},
    {.key = "port", .metavar = "PORT", .type = ArgType::text, .positional = false, .required = false, .help = "the [[port]] it is reached through"},
    {.key = "username", .metavar = "USER", .type = ArgType::text, .positional = false, .required = false, .help = "digest user the gateway answers the trunk's challenges with"},
    {.key = "password", .metavar = "PASSWORD", .type = ArgType::text, .positional = false, .required = false, .help = "stored as ha1 of username:realm:password (needs --realm)"},
    {.key = "ha1", .metavar = "HEX", .type = ArgType::text, .positional = false, .required = false, .help = "HA1 given directly (with --realm)"},
    {.key = "realm", .metavar = "REALM", .type = ArgType::text, .positional = false, .required = false, .help = "the trunk's digest realm"},
    {.key = "from_user", .metavar = "USER", .type = ArgType::text, .positional = false, .required = false, .help = "From user of the gateway's requests"},
    {.key = "from_domain", .metavar = "HOST", .type = ArgType::text, .positional = false, .required = false, .help = "From host of the gateway's requests"},
    {.key = "timeout_ms", .metavar = "MS", .type = ArgType::count, .positional = false, .required = false, .min = 100, .max = 120000, .fallback = 8000, .help = "no final answer within this: fail over"},
};
constexpr Arg kTrunkArgs[] = {
    {.key = "name", .metavar = "NAME", .type = ArgType::text, .positional = true, .required = true, .help = "the trunk's name"},
};
constexpr Arg kRouteEditArgs[] = {
    {.key = "name", .metavar = "NAME", .type = ArgType::text, .positional = true, .required = true, .help = "the route's name"},
    {.key = "prefix", .metavar = "DIGITS", .type = ArgType::text, .positional = false, .required = false, .help = "match numbers starting with these digits"},
    {.key = "regex", .metavar = "REGEX", .type = ArgType::text, .positional = false, .required = false, .help = "or: match the whole number (ECMAScript)"},
    {.key = "trunks", .metavar = "LIST", .type = ArgType::text, .positional = false, .required = false, .help = "trunks in failover order, comma-separated"},
};
constexpr Arg kRouteArgs[] = {
    {.key = "name", .metavar = "NAME", .type = ArgType::text, .positional = true, .required = true, .help = "the route's name"},
};
constexpr Arg kDidToArgs[] = {
    {.key = "number", .metavar = "NUMBER", .type = ArgType::text, .positional = true, .required = true, .help = "the DID (digits)"},
    {.key = "subscriber", .metavar = "USER", .type = ArgType::text, .positional = false, .required = true, .help = "the subscriber it reaches"},
};
constexpr Arg kDidArgs[] = {
    {.key = "number", .metavar = "NUMBER", .type = ArgType::text, .positional = true, .required = true, .help = "the DID (digits)"},
};

constexpr Arg kShowRunningArgs[] = {
    {.key = "kind", .metavar = "KIND", .type = ArgType::text, .positional = true, .required = true,
     .help = "subscriber, trunk, route or did"},
};

constexpr Verb kVerbs[] = {
    {VerbId::show_calls, {"show", "calls"}, {}, Shape::rows, "calls in progress, one row each",
     [](Service& s, const json&) { return ok_reply(s.show_calls()); }, nullptr},
    {VerbId::show_registrations, {"show", "registrations"}, {}, Shape::rows,
     "registered contacts of subscribers",
     [](Service& s, const json&) { return ok_reply(s.show_registrations()); }, nullptr},
    {VerbId::show_flows, {"show", "flows"}, {}, Shape::rows,
     "dataplane flows, one row per leg, with packet counters",
     [](Service& s, const json&) { return ok_reply(s.show_flows()); }, nullptr},
    {VerbId::show_stats, {"show", "stats"}, {}, Shape::object, "the gateway's counters",
     [](Service& s, const json&) { return ok_reply(s.show_stats()); }, nullptr},
    {VerbId::show_cdrs, {"show", "cdrs"}, kCdrsArgs, Shape::rows, "call detail records, newest first",
     [](Service& s, const json& a) {
       int64_t since_ms = 0;
       if (a.contains("since")) {
         const std::string t = a["since"].get<std::string>();
         auto ms = parse_time_ms(t);
         if (!ms) return error_reply("T of 'show cdrs' must be unix seconds or ISO-8601 (2026-12-06T03:10:00Z), not '" + t + "'");
         since_ms = *ms;
       }
       return ok_reply(s.show_cdrs(a["limit"].get<int>(), since_ms));
     },
     nullptr},
    {VerbId::hangup, {"hangup", ""}, kHangupArgs, Shape::none, "end a call with BYE on both legs",
     [](Service& s, const json& a) {
       const std::string call = a["call"].get<std::string>();
       return s.hangup(call) ? ok_reply() : error_reply("no such call: " + call);
     },
     nullptr},
    {VerbId::reload, {"reload", ""}, {}, Shape::object,
     "re-read the config file: applies what can be applied live, names the changed keys that need "
     "a restart of which daemon; a bad file changes nothing",
     [](Service& s, const json&) {
       std::string why;
       json report = json::object();
       return s.reload_from_file(&why, &report)
                  ? ok_reply(report)
                  : error_reply("reload refused, old configuration kept: " + why);
     },
     nullptr},
    {VerbId::rotate_nonce_key, {"rotate", "nonce-key"}, {}, Shape::object,
     "new digest nonce key; the old one verifies for one nonce lifetime",
     [](Service& s, const json&) { return ok_reply(s.rotate_nonce_key()); }, nullptr},
    {VerbId::config_check, {"config", "check"}, kConfigCheckArgs, Shape::none,
     "validate a configuration file (here, without msgw-control)", nullptr, run_config_check},
    {VerbId::show_trunks, {"show", "trunks"}, {}, Shape::rows,
     "carrier trunks: health (OPTIONS), registration, digest realm and nonce count",
     [](Service& s, const json&) { return ok_reply(s.show_trunks()); }, nullptr},
    {VerbId::host_check, {"host", "check"}, kHostCheckArgs, Shape::none,
     "is this host ready for -c FILE's dataplane (hugepages, IOMMU, vfio-pci, NUMA, isolation)? (here)",
     nullptr, run_host_check},
    {VerbId::host_prepare, {"host", "prepare"}, kHostPrepareArgs, Shape::none,
     "reserve hugepages, mount hugetlbfs, bind -c FILE's PCI devices to vfio-pci (here)", nullptr,
     run_host_prepare},
    {VerbId::subscriber_add, {"subscriber", "add"}, kSubscriberEditArgs, Shape::none, "add a subscriber (checked, written, applied live)", nullptr, run_provision},
    {VerbId::subscriber_set, {"subscriber", "set"}, kSubscriberEditArgs, Shape::none, "change a subscriber's keys", nullptr, run_provision},
    {VerbId::subscriber_passwd, {"subscriber", "passwd"}, kSubscriberPasswdArgs, Shape::none, "set a subscriber's password (stored as HA1)", nullptr, run_provision},
    {VerbId::subscriber_del, {"subscriber", "del"}, kSubscriberArgs, Shape::none, "remove a subscriber", nullptr, run_provision},
    {VerbId::subscriber_list, {"subscriber", "list"}, {}, Shape::rows, "the file's subscribers", nullptr, run_provision},
    {VerbId::trunk_add, {"trunk", "add"}, kTrunkEditArgs, Shape::none, "add a trunk", nullptr, run_provision},
    {VerbId::trunk_set, {"trunk", "set"}, kTrunkEditArgs, Shape::none, "change a trunk's keys", nullptr, run_provision},
    {VerbId::trunk_del, {"trunk", "del"}, kTrunkArgs, Shape::none, "remove a trunk (refused while a route names it)", nullptr, run_provision},
    {VerbId::trunk_list, {"trunk", "list"}, {}, Shape::rows, "the file's trunks", nullptr, run_provision},
    {VerbId::route_add, {"route", "add"}, kRouteEditArgs, Shape::none, "add a route (tried after the file's others)", nullptr, run_provision},
    {VerbId::route_set, {"route", "set"}, kRouteEditArgs, Shape::none, "change a route's keys", nullptr, run_provision},
    {VerbId::route_del, {"route", "del"}, kRouteArgs, Shape::none, "remove a route", nullptr, run_provision},
    {VerbId::route_list, {"route", "list"}, {}, Shape::rows, "the file's routes, in the order they are tried", nullptr, run_provision},
    {VerbId::did_add, {"did", "add"}, kDidToArgs, Shape::none, "give a subscriber an inbound number", nullptr, run_provision},
    {VerbId::did_set, {"did", "set"}, kDidToArgs, Shape::none, "move an inbound number to another subscriber", nullptr, run_provision},
    {VerbId::did_del, {"did", "del"}, kDidArgs, Shape::none, "remove an inbound number", nullptr, run_provision},
    {VerbId::did_list, {"did", "list"}, {}, Shape::rows, "inbound numbers and their subscribers", nullptr, run_provision},
    {VerbId::show_running, {"show", "running"}, kShowRunningArgs, Shape::rows,
     "the subscribers, trunks, routes or DIDs msgw-control runs with (the list verbs show the file's)",
     [](Service& s, const json& a) {
       const std::string kind = a["kind"].get<std::string>();
       if (!is_provisioned_kind(kind))
         return error_reply("KIND of 'show running' must be subscriber, trunk, route or did, not '" + kind + "'");
       return ok_reply(provisioned_rows(kind, s.running_config()));
     },
     nullptr},
};

// The table's own rules, checked by the compiler.
constexpr bool table_is_consistent() {
  for (size_t i = 0; i < std::size(kVerbs); ++i) {
    const Verb& v = kVerbs[i];
    if (size_t(v.id) != i) return false;                          // verb(id) indexes the table
    if ((v.serve == nullptr) == (v.run_local == nullptr)) return false;  // exactly one handler
    if (v.words[0].empty() || v.help.empty()) return false;
    for (size_t j = 0; j < std::size(kVerbs); ++j) {
      const Verb& o = kVerbs[j];
      if (i == j || v.words[0] != o.words[0]) continue;
      // A first word is either a whole verb or the head of a group.
      if (v.words[1].empty() || o.words[1].empty() || v.words[1] == o.words[1]) return false;
    }
    bool optional_seen = false;
    for (const Arg& a : v.args) {
      if (a.key == "cmd" || a.key == "what" || a.metavar.empty() || a.help.empty()) return false;
      if (a.type == ArgType::flag && (a.positional || a.required)) return false;
      if (a.positional && optional_seen) return false;  // positionals: required ones first
      if (a.positional && !a.required) optional_seen = true;
      if (a.type == ArgType::count && (a.min > a.max || a.fallback < a.min || a.fallback > a.max))
        return false;
    }
  }
  return true;
}
#if defined(__SANITIZE_ADDRESS__) && !defined(__clang__)
// GCC's UBSan (built together with ASan in build-asan) instruments the
// handler pointers' null checks, which makes the function non-constant
// there: the same rules are checked once at start instead.
[[maybe_unused]] const bool kVerbTableChecked = table_is_consistent() ? true : (std::abort(), false);
#else
static_assert(table_is_consistent(), "kVerbs breaks a rule of the verb table");
#endif

std::string join_words(std::string_view head, bool served_only) {
  std::vector<std::string_view> seen;
  std::string out;
  for (const Verb& v : kVerbs) {
    if (served_only && v.serve == nullptr) continue;
    const std::string_view w = head.empty() ? v.words[0] : v.words[0] == head ? v.words[1] : std::string_view{};
    if (w.empty() || std::find(seen.begin(), seen.end(), w) != seen.end()) continue;
    seen.push_back(w);
    if (!out.empty()) out += " | ";
    out += w;
  }
  return out;
}

}  // namespace

std::string Verb::name() const {
  return words[1].empty() ? std::string(words[0]) : std::string(words[0]) + " " + std::string(words[1]);
}

std::span<const Verb> verbs() { return kVerbs; }
const Verb& verb(VerbId id) { return kVerbs[size_t(id)]; }

std::string expected_words(std::string_view head, bool served_only) { return join_words(head, served_only); }

// Finds the verb of `words` (one or two) among the served or all verbs.
Lookup lookup_words(std::string_view first, const std::string* second, bool served_only) {
  Lookup r;
  const Verb* head = nullptr;
  for (const Verb& v : kVerbs)
    if (v.words[0] == first && (!served_only || v.serve != nullptr)) head = &v;
  if (head == nullptr) {
    r.error = "unknown word '" + std::string(first) + "' (expected: " + join_words("", served_only) + ")";
    return r;
  }
  if (head->word_count() == 1) {
    r.verb = head;
    return r;
  }
  if (second == nullptr) {
    r.error = "missing word after '" + std::string(first) + "' (expected: " + join_words(first, served_only) + ")";
    return r;
  }
  for (const Verb& v : kVerbs)
    if (v.words[0] == first && v.words[1] == *second && (!served_only || v.serve != nullptr)) {
      r.verb = &v;
      return r;
    }
  r.error = "unknown word '" + *second + "' after '" + std::string(first) +
            "' (expected: " + join_words(first, served_only) + ")";
  return r;
}

// Checks `given` (the arguments by key) against the verb's and fills in
// fallbacks; the error names the key or value that does not fit.
std::string check_args(const Verb& v, json& given) {
  for (const auto& [key, value] : given.items()) {
    bool known = false;
    for (const Arg& a : v.args) known = known || a.key == key;
    if (!known) return "'" + v.name() + "' takes no argument '" + key + "'";
  }
  for (const Arg& a : v.args) {
    const std::string key(a.key);
    if (!given.contains(key)) {
      if (a.required) return "'" + v.name() + "' needs " + std::string(a.metavar) + " (" + std::string(a.help) + ")";
      if (a.type == ArgType::count) given[key] = a.fallback;
      continue;
    }
    const json& value = given[key];
    if (a.type == ArgType::text && (!value.is_string() || value.get<std::string>().empty()))
      return std::string(a.metavar) + " of '" + v.name() + "' must be a non-empty string";
    if (a.type == ArgType::flag && !value.is_boolean())
      return "--" + key + " of '" + v.name() + "' is a flag (true or false), not " + value.dump();
    if (a.type == ArgType::count &&
        (!value.is_number_integer() || value.get<int64_t>() < a.min || value.get<int64_t>() > a.max))
      return std::string(a.metavar) + " of '" + v.name() + "' must be a whole number from " +
             std::to_string(a.min) + " to " + std::to_string(a.max) + ", not " + value.dump();
  }
  return {};
}

Lookup find_verb(const json& request) {
  if (!request.is_object() || !request.contains("cmd") || !request["cmd"].is_string())
    return {nullptr, "request is not a JSON object with a \"cmd\""};
  const std::string cmd = request["cmd"].get<std::string>();
  std::string what;
  const bool has_what = request.contains("what");
  if (has_what) {
    if (!request["what"].is_string()) return {nullptr, "\"what\" must be a string"};
    what = request["what"].get<std::string>();
  }
  Lookup r = lookup_words(cmd, has_what ? &what : nullptr, /*served_only=*/true);
  if (r.verb != nullptr && r.verb->word_count() == 1 && has_what)
    return {nullptr, "unknown word '" + what + "' after '" + cmd + "' (nothing follows it)"};
  return r;
}

json dispatch(Service& service, const json& request) {
  Lookup l = find_verb(request);
  if (l.verb == nullptr) return error_reply(l.error);
  json args = json::object();
  for (const auto& [key, value] : request.items())
    if (key != "cmd" && key != "what") args[key] = value;
  if (std::string why = check_args(*l.verb, args); !why.empty()) return error_reply(why);
  json reply;
  try {
    reply = l.verb->serve(service, args);
  } catch (const std::exception& e) {
    return error_reply(std::string("internal error: ") + e.what());
  }
  // The declared shape is a promise to msgwctl's printer and to scripts.
  if (reply.value("ok", false)) {
    const bool has = reply.contains("data");
    const bool fits = l.verb->shape == Shape::none     ? !has
                      : l.verb->shape == Shape::rows   ? has && reply["data"].is_array()
                                                       : has && reply["data"].is_object();
    if (!fits) return error_reply("internal error: '" + l.verb->name() + "' answered data of another shape");
  }
  return reply;
}

}  // namespace msgw::mgmt
