// The one list of management verbs, and the server's dispatch through it.
#include "msgw/mgmt/verbs.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "config_check.hpp"
#include "host_verbs.hpp"
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
    {VerbId::reload, {"reload", ""}, {}, Shape::none,
     "re-read the config file; a bad file changes nothing",
     [](Service& s, const json&) {
       std::string why;
       return s.reload_from_file(&why) ? ok_reply()
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
