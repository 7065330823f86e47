// SPDX-License-Identifier: GPL-3.0-or-later
// The checks only a whole configuration shows (config.hpp, check_whole):
// uniqueness, references between sections, and what each daemon needs to
// start. They used to run only once every section was clean, with no
// position; now they run on whatever the sections gave and point at the key.
#include "msgw/config/config.hpp"

#include <set>

namespace msgw::config {

std::string instance_name_problem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 64) return "is longer than 64 characters";
  if (name.front() == '.' || name.front() == '-')
    return "'" + std::string(name) + "' must not start with '.' or '-' (it names /dev/shm/msgw-<name>)";
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return "'" + std::string(name) +
             "' may hold only letters, digits, '.', '_' and '-' (it names /dev/shm/msgw-<name>)";
  return {};
}

std::vector<Error> check_whole(const Config& c, Scope scope, const KeyPositions* where) {
  std::vector<Error> errors;
  // At the key's position when known; else at its table's; else 0:0.
  auto err = [&](const std::string& key, const std::string& table, std::string msg) {
    Position at;
    if (where != nullptr) {
      if (auto it = where->find(key); it != where->end()) at = it->second;
      else if (auto t = where->find(table); t != where->end()) at = t->second;
    }
    errors.push_back({c.file, at.line, at.column, key, std::move(msg)});
  };
  auto idx = [](const char* section, size_t i) { return std::string(section) + "[" + std::to_string(i) + "]"; };

  std::set<std::string> users, dids, trunks, ports, routes;
  for (const auto& p : c.ports) ports.insert(p.name);
  for (size_t i = 0; i < c.subscribers.size(); ++i) {
    const auto& s = c.subscribers[i];
    const std::string t = idx("subscriber", i);
    if (!s.user.empty() && !users.insert(s.user).second) err(t + ".user", t, "duplicate user '" + s.user + "'");
    for (size_t d = 0; d < s.dids.size(); ++d)
      if (!dids.insert(s.dids[d]).second)
        err(t + ".dids[" + std::to_string(d) + "]", t, "DID '" + s.dids[d] + "' is used twice");
  }
  for (size_t i = 0; i < c.trunks.size(); ++i) {
    const auto& tr = c.trunks[i];
    const std::string t = idx("trunk", i);
    if (!tr.name.empty() && !trunks.insert(tr.name).second)
      err(t + ".name", t, "duplicate trunk '" + tr.name + "'");
    if (!tr.port.empty() && !ports.count(tr.port)) err(t + ".port", t, "no [[port]] named '" + tr.port + "'");
  }
  for (size_t i = 0; i < c.routes.size(); ++i) {
    const auto& r = c.routes[i];
    const std::string t = idx("route", i);
    if (!r.name.empty() && !routes.insert(r.name).second) err(t + ".name", t, "duplicate route '" + r.name + "'");
    for (size_t k = 0; k < r.trunks.size(); ++k)
      if (!trunks.count(r.trunks[k]))
        err(t + ".trunks[" + std::to_string(k) + "]", t, "no [[trunk]] named '" + r.trunks[k] + "'");
  }
  if (auto why = instance_name_problem(c.instance.name); !why.empty())
    err("instance.name", "instance", why);

  if (scope == Scope::fragment) return errors;
  // What the daemons refuse at start (msgw-dataplane's main, msgw-control's
  // main and Gateway), caught here first.
  if (c.ports.empty()) err("port", "", "at least one [[port]] is needed");
  if (c.ports.size() > kMaxPorts)
    err(idx("port", kMaxPorts), "port", "msgw-dataplane drives at most " + std::to_string(kMaxPorts) + " ports");
  if (scope == Scope::dataplane) return errors;
  bool access = false;
  for (const auto& p : c.ports) access = access || p.role == PortRole::access;
  if (!c.ports.empty() && !access)
    err("port[0].role", "port[0]", "no [[port]] has role = \"access\": msgw-control needs one for its phones");
  if (c.sip.listen.empty()) err("sip.listen", "sip", "msgw-control needs at least one address to listen on");
  for (size_t i = 0; i < c.sip.listen.size(); ++i) {
    // SIP reaches msgw-control only through a port's TAP, which carries the
    // port's address: any other address (except the wildcard and loopback)
    // cannot be bound, or hears nothing.
    const auto ip = parse_ipv4(c.sip.listen[i].host);
    if (!ip || *ip == 0 || (*ip >> 24) == 127) continue;
    bool ours = false;
    for (const auto& p : c.ports) ours = ours || p.address.addr == *ip;
    if (ours) continue;
    Position at;  // the file's element (bad ones were dropped from the list)
    if (where != nullptr)
      if (auto it = where->find("sip.listen#" + std::to_string(i)); it != where->end()) at = it->second;
    errors.push_back({c.file, at.line, at.column, "sip.listen",
          "'" + c.sip.listen[i].host + "' is no [[port]] address (nor 0.0.0.0): msgw-control could not bind it"});
  }
  return errors;
}

}  // namespace msgw::config
