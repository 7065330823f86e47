// SPDX-License-Identifier: GPL-3.0-or-later
#include "provision.hpp"

#include <algorithm>
#include <fstream>
#include <ostream>
#include <span>
#include <sstream>
#include <type_traits>

#include "config_write.hpp"
#include "toml_edit.hpp"
#include "verbs_internal.hpp"
#include "msgw/config/config.hpp"
#include "msgw/mgmt/client.hpp"
#include "msgw/mgmt/protocol.hpp"
#include "msgw/sip/digest.hpp"

namespace msgw::mgmt {

namespace {

using nlohmann::json;

enum class Value : uint8_t { text, list, count };
struct Field {
  const char* key;  // the option and the TOML key
  Value value;
};
// What `add` and `set` may write of each object (the verb table declares
// the same options; `password` becomes ha1 / ha1_sha256).
const Field kSubscriberFields[] = {{"display_name", Value::text}, {"codecs", Value::list},
                                   {"dids", Value::list},         {"digest_algorithms", Value::list},
                                   {"g726_packing", Value::text}, {"ha1", Value::text}};
const Field kTrunkFields[] = {{"address", Value::text},  {"transport", Value::text}, {"codecs", Value::list},
                              {"port", Value::text},     {"timeout_ms", Value::count}, {"username", Value::text},
                              {"realm", Value::text},    {"from_user", Value::text}, {"from_domain", Value::text},
                              {"ha1", Value::text}};
const Field kRouteFields[] = {{"prefix", Value::text}, {"regex", Value::text}, {"trunks", Value::list}};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string literal(const Field& f, const json& v) {
  if (f.value == Value::count) return std::to_string(v.get<int64_t>());
  if (f.value == Value::list) return toml_string_list(split_list(v.get<std::string>()));
  return toml_string(v.get<std::string>());
}

struct Kind {
  const char* section;   // "subscriber"
  const char* id_key;    // "user"
  std::span<const Field> fields;
};
const Kind kSubscriber{"subscriber", "user", kSubscriberFields};
const Kind kTrunk{"trunk", "name", kTrunkFields};
const Kind kRoute{"route", "name", kRouteFields};

template <typename Section>
int index_of(const std::vector<Section>& in, std::string Section::*id, const std::string& want) {
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].*id == want) return int(i);
  return -1;
}

// The key = value pairs a request sets, password turned into HA1s.
struct Assignments {
  std::vector<std::pair<std::string, std::string>> set;  // key, TOML literal
  std::vector<std::string> erase;
  std::string error;
};

bool wants_sha256(const std::vector<std::string>& algorithms) {
  return std::any_of(algorithms.begin(), algorithms.end(), [](const auto& a) { return a.rfind("SHA-256", 0) == 0; });
}

Assignments assignments(const Kind& kind, const json& req, const config::Config& cfg, const std::string& id,
                        const std::vector<std::string>& algorithms, const std::string& trunk_user,
                        const std::string& trunk_realm) {
  Assignments a;
  for (const Field& f : kind.fields)
    if (req.contains(f.key)) a.set.emplace_back(f.key, literal(f, req[f.key]));
  if (!req.contains("password")) return a;
  const std::string password = req["password"].get<std::string>();
  if (req.contains("ha1")) {
    a.error = "give --password or --ha1, not both";
    return a;
  }
  // Stored as HA1 only: MD5 (and SHA-256 when the subscriber is challenged
  // with it) of user:realm:password, never the password.
  if (std::string(kind.section) == "subscriber") {
    const auto& realm = cfg.sip.realm;
    a.set.emplace_back("ha1", toml_string(sip::compute_ha1(sip::DigestAlgorithm::md5, id, realm, password).hex()));
    if (wants_sha256(algorithms))
      a.set.emplace_back("ha1_sha256",
                         toml_string(sip::compute_ha1(sip::DigestAlgorithm::sha256, id, realm, password).hex()));
    else
      a.erase.push_back("ha1_sha256");
  } else {
    if (trunk_user.empty() || trunk_realm.empty()) {
      a.error = "a trunk's password is stored as HA1 of username:realm:password: give --username and --realm too";
      return a;
    }
    a.set.emplace_back("ha1",
                       toml_string(sip::compute_ha1(sip::DigestAlgorithm::md5, trunk_user, trunk_realm, password).hex()));
  }
  a.erase.push_back("password");
  return a;
}

template <typename Section>
Edited edit_object(const Kind& kind, const std::string& verb, const json& req, const config::LoadResult& loaded,
                   TomlText& text, const std::vector<Section>& objects, std::string Section::*id_member) {
  Edited e;
  const std::string id = req.value(kind.id_key, std::string());
  const int at = index_of(objects, id_member, id);
  const std::string table = std::string(kind.section) + "[" + std::to_string(at) + "]";
  const std::string what = std::string(kind.section) + " " + id;
  if (verb != "add" && at < 0) {
    e.error = "no " + std::string(kind.section) + " '" + id + "'";
    return e;
  }
  if (verb == "add" && at >= 0) {
    e.error = what + " exists already (use set)";
    return e;
  }
  if (verb == "del") {
    text.erase_table(table);
    e.summary = what + " removed";
    return e;
  }
  // What the HA1s depend on: the subscriber's algorithms, the trunk's username and realm.
  std::vector<std::string> algorithms{"MD5"};
  std::string trunk_user, trunk_realm;
  if constexpr (std::is_same_v<Section, config::SubscriberSection>) {
    if (at >= 0) algorithms = objects[size_t(at)].digest_algorithms;
  }
  if constexpr (std::is_same_v<Section, config::TrunkSection>) {
    if (at >= 0) trunk_user = objects[size_t(at)].username, trunk_realm = objects[size_t(at)].realm;
  }
  if (req.contains("digest_algorithms")) algorithms = split_list(req["digest_algorithms"].get<std::string>());
  if (req.contains("username")) trunk_user = req["username"].get<std::string>();
  if (req.contains("realm")) trunk_realm = req["realm"].get<std::string>();
  Assignments a = assignments(kind, req, *loaded.config, id, algorithms, trunk_user, trunk_realm);
  if (!a.error.empty()) {
    e.error = a.error;
    return e;
  }
  // A route is matched by a prefix or a regex: setting one drops the other.
  if (std::string(kind.section) == "route" && verb == "set") {
    if (req.contains("prefix")) a.erase.push_back("regex");
    if (req.contains("regex")) a.erase.push_back("prefix");
  }
  if (verb == "add") {
    std::string block = "[[" + std::string(kind.section) + "]]\n" + kind.id_key + " = " + toml_string(id) + "\n";
    for (const auto& [k, v] : a.set) block += k + " = " + v + "\n";
    text.append(block);
    e.summary = what + " added";
  } else {
    if (a.set.empty() && a.erase.empty()) {
      e.error = "nothing to change: give at least one option (see --help)";
      return e;
    }
    std::string keys;
    for (const auto& k : a.erase) text.erase_key(table, k);
    for (const auto& [k, v] : a.set) {
      text.set(table, k, v);
      keys += (keys.empty() ? "" : ", ") + k;
    }
    e.summary = what + (verb == "passwd" ? ": password changed" : " set: " + keys);
  }
  return e;
}

Edited edit_did(const std::string& verb, const json& req, const config::Config& cfg, TomlText& text) {
  Edited e;
  const std::string number = req.value("number", std::string());
  int holder = -1;
  for (size_t i = 0; i < cfg.subscribers.size(); ++i)
    if (std::count(cfg.subscribers[i].dids.begin(), cfg.subscribers[i].dids.end(), number)) holder = int(i);
  auto write_dids = [&](size_t i, std::vector<std::string> dids) {
    text.set("subscriber[" + std::to_string(i) + "]", "dids", toml_string_list(dids));
  };
  if (verb == "add" && holder >= 0) {
    e.error = "DID " + number + " belongs to subscriber " + cfg.subscribers[size_t(holder)].user + " (use did set)";
    return e;
  }
  if (verb != "add" && holder < 0) {
    e.error = "no subscriber has DID " + number;
    return e;
  }
  if (holder >= 0) {  // del, set: off its holder first
    auto dids = cfg.subscribers[size_t(holder)].dids;
    dids.erase(std::remove(dids.begin(), dids.end(), number), dids.end());
    write_dids(size_t(holder), dids);
  }
  if (verb == "del") {
    e.summary = "DID " + number + " removed from subscriber " + cfg.subscribers[size_t(holder)].user;
    return e;
  }
  const std::string user = req.value("subscriber", std::string());
  const int to = index_of(cfg.subscribers, &config::SubscriberSection::user, user);
  if (to < 0) {
    e.error = "no subscriber '" + user + "'";
    return e;
  }
  auto dids = cfg.subscribers[size_t(to)].dids;
  if (to == holder) dids.erase(std::remove(dids.begin(), dids.end(), number), dids.end());
  dids.push_back(number);
  write_dids(size_t(to), dids);
  e.summary = "DID " + number + " to subscriber " + user;
  return e;
}

}  // namespace

bool is_provisioned_kind(const std::string& kind) {
  return kind == "subscriber" || kind == "trunk" || kind == "route" || kind == "did";
}

json provisioned_rows(const std::string& cmd, const config::Config& c) {
  json rows = json::array();
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  if (cmd == "subscriber")
    for (const auto& s : c.subscribers)
      rows.push_back({{"user", s.user}, {"display_name", s.display_name}, {"dids", join(s.dids)},
                      {"codecs", join(s.codecs)}, {"digest_algorithms", join(s.digest_algorithms)}});
  if (cmd == "trunk")
    for (const auto& t : c.trunks)
      rows.push_back({{"name", t.name}, {"address", t.address.to_string()}, {"transport", t.transport},
                      {"codecs", join(t.codecs)}, {"port", t.port}, {"username", t.username}});
  if (cmd == "route")
    for (const auto& r : c.routes)
      rows.push_back({{"name", r.name}, {"prefix", r.prefix}, {"regex", r.regex}, {"trunks", join(r.trunks)}});
  if (cmd == "did")
    for (const auto& s : c.subscribers)
      for (const auto& d : s.dids) rows.push_back({{"did", d}, {"subscriber", s.user}});
  return rows;
}

namespace {
// The key that names a row of `kind`.
const char* row_id(const std::string& kind) {
  return kind == "subscriber" ? "user" : kind == "did" ? "did" : "name";
}
}  // namespace

json mark_pending(const std::string& kind, const json& file_rows, const json* running) {
  json out = json::array();
  const std::string id = row_id(kind);
  auto find = [&](const json& rows, const json& want) -> const json* {
    for (const auto& r : rows)
      if (r.value(id, json()) == want) return &r;
    return nullptr;
  };
  for (json r : file_rows) {
    if (running == nullptr) {
      r["state"] = "unknown";
    } else {
      const json* live = find(*running, r[id]);
      const char* state = live == nullptr ? "added, pending reload" : *live == r ? "running" : "changed, pending reload";
      r["state"] = state;
    }
    out.push_back(std::move(r));
  }
  if (running != nullptr)
    for (json r : *running)
      if (find(file_rows, r[id]) == nullptr) {
        r["state"] = "removed, pending reload";
        out.push_back(std::move(r));
      }
  return out;
}

namespace {

int failed(bool as_json, const std::string& message, std::ostream& out, std::ostream& err,
           const std::vector<config::Error>& errors = {}) {
  if (as_json) {
    json o = error_reply(message);
    o["errors"] = json::array();
    for (const auto& e : errors)
      o["errors"].push_back({{"line", e.line}, {"column", e.column}, {"key", e.key}, {"message", e.message}});
    out << o.dump() << "\n";
  } else {
    err << "msgwctl: " << message << "\n";
    for (const auto& e : errors) err << "  " << e.to_string() << "\n";
  }
  return 1;
}

}  // namespace

Edited edit_config(const std::string& file, const std::string& text, const json& request) {
  Edited e;
  auto loaded = config::load_string(text, file);
  if (!loaded.ok()) {
    e.error = file + " has errors now; fix them first (msgwctl config check " + file + ")";
    return e;
  }
  const std::string cmd = request.value("cmd", std::string()), verb = request.value("what", std::string());
  TomlText edit(text, loaded.positions);
  const auto& c = *loaded.config;
  if (cmd == "subscriber")
    e = edit_object(kSubscriber, verb, request, loaded, edit, c.subscribers, &config::SubscriberSection::user);
  else if (cmd == "trunk")
    e = edit_object(kTrunk, verb, request, loaded, edit, c.trunks, &config::TrunkSection::name);
  else if (cmd == "route")
    e = edit_object(kRoute, verb, request, loaded, edit, c.routes, &config::RouteSection::name);
  else if (cmd == "did")
    e = edit_did(verb, request, c, edit);
  else
    e.error = "not a provisioning verb: " + cmd;
  if (e.error.empty()) e.text = edit.text();
  return e;
}

int run_provision(const json& request, bool as_json, std::ostream& out, std::ostream& err) {
  const std::string file = config_path(request);
  const std::string cmd = request.value("cmd", std::string()), verb = request.value("what", std::string());
  std::string text;
  if (!read_whole(file, &text)) return failed(as_json, "cannot read " + file, out, err);

  if (verb == "list") {
    auto loaded = config::load_string(text, file);
    if (!loaded.ok()) return failed(as_json, file + " has errors", out, err, loaded.errors);
    // What is configured is the file; what runs may be older (a reload
    // that failed, a file edited by hand): ask msgw-control for its rows.
    std::string socket = request.value("socket", std::string());
    if (socket.empty()) socket = loaded.config->sip.management_socket;
    const Answer a = ask(socket, {{"cmd", "show"}, {"what", "running"}, {"kind", cmd}}, 2);
    const bool compared = a.delivered && a.reply.value("ok", false) && a.reply.contains("data") &&
                          a.reply["data"].is_array();
    const json rows = mark_pending(cmd, provisioned_rows(cmd, *loaded.config), compared ? &a.reply["data"] : nullptr);
    if (as_json) {
      out << rows.dump() << "\n";
    } else {
      // The same table msgwctl prints for the daemon's rows.
      print_rows_table(rows, out);
      if (!compared)
        err << "msgwctl: the file's " << cmd << "s, not compared with the running gateway: "
            << (a.delivered ? "msgw-control answered: " + a.reply.value("error", std::string("?"))
                            : "msgw-control not reachable at " + socket + " (" + a.error + ")")
            << "\n";
      else if (std::any_of(rows.begin(), rows.end(), [](const json& r) { return r["state"] != "running"; }))
        out << "pending reload: msgw-control runs an older version of " << file << " (msgwctl reload)\n";
    }
    return 0;
  }

  Edited e = edit_config(file, text, request);
  if (!e.error.empty()) return failed(as_json, e.error, out, err);
  // The same checks as `config check`, on the whole file as it would be.
  auto check = config::load_string(e.text, file);
  if (!check.ok())
    return failed(as_json, "refused, " + file + " unchanged: the change would make it invalid", out, err,
                  check.errors);
  std::string why;
  if (!replace_file(file, text, e.text, &why)) return failed(as_json, "not written: " + why, out, err);
  audit(file, e.summary);

  // Live: the running msgw-control re-reads the file.
  json result = {{"file", file}, {"change", e.summary}, {"previous", file + ".prev"}};
  std::string socket = request.value("socket", std::string());
  if (socket.empty()) socket = check.config->sip.management_socket;
  Answer a = ask(socket, {{"cmd", "reload"}});
  int status = 0;
  if (!a.delivered) {
    result["applied"] = false;
    result["note"] = "msgw-control not reachable at " + socket + " (" + a.error +
                     "): the change is in the file and applies at its next start";
  } else if (!a.reply.value("ok", false)) {
    result["applied"] = false;
    result["note"] = "msgw-control refused the reload: " + a.reply.value("error", std::string("?"));
    status = 1;
  } else {
    result["applied"] = true;
    result["reload"] = a.reply.value("data", json::object());
  }
  if (as_json) {
    json o = status == 0 ? ok_reply(result) : error_reply(result["note"].get<std::string>());
    if (status != 0) o["data"] = result;
    out << o.dump() << "\n";
  } else {
    out << e.summary << " (" << file << "; previous version " << file << ".prev)\n";
    if (result["applied"].get<bool>()) out << "applied by msgw-control\n";
    else (status ? err : out) << result["note"].get<std::string>() << "\n";
  }
  return status;
}

}  // namespace msgw::mgmt
