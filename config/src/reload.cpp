// SPDX-License-Identifier: GPL-3.0-or-later
// Every configuration key, classified once: what a reload of msgw-control
// does with it (reload.hpp). The lists below are the only place that says
// it; config/README.md's table is checked against key_classes_markdown().
#include "msgw/config/reload.hpp"

#include <algorithm>
#include <map>
#include <type_traits>

namespace msgw::config {

namespace {

constexpr Effect L = Effect::live, R = Effect::restart, U = Effect::unused;

// X(section, key, member, msgw-control, msgw-dataplane, note)
#define MSGW_SECTION_KEYS(X)                                                                                   \
  X(instance, "name", name, R, R, "names the shared-memory segment both daemons attach to")                   \
  X(instance, "log_level", log_level, L, R, "")                                                                \
  X(codecs, "default_ptime_ms", default_ptime_ms, L, U, "new calls")                                          \
  X(codecs, "g729_annexb", g729_annexb, L, U, "new calls")                                                    \
  X(codecs, "g726_packing", g726_packing, L, U, "new calls")                                                  \
  X(dataplane, "main_lcore", main_lcore, U, R, "")                                                             \
  X(dataplane, "worker_lcores", worker_lcores, U, R, "")                                                       \
  X(dataplane, "eal_args", eal_args, U, R, "")                                                                 \
  X(dataplane, "memory_mb", memory_mb, U, R, "")                                                               \
  X(dataplane, "hugepages", hugepages, U, R, "")                                                               \
  X(dataplane, "flow_capacity", flow_capacity, R, R, "the flow table's size; msgw-control's call limit")      \
  X(dataplane, "media_timeout_ms", media_timeout_ms, U, R, "")                                                 \
  X(dataplane, "latch_packets", latch_packets, U, R, "")                                                       \
  X(dataplane, "rtcp_interval_ms", rtcp_interval_ms, U, R, "")                                                 \
  X(dataplane, "worker_sleep_max_us", worker_sleep_max_us, U, R, "")                                           \
  X(sip, "realm", realm, L, U, "new challenges; HA1s are bound to the realm")                                 \
  X(sip, "listen", listen, R, U, "sockets are bound at start")                                                 \
  X(sip, "nonce_ttl_s", nonce_ttl_s, L, U, "new nonces")                                                      \
  X(sip, "digest_algorithms", digest_algorithms, L, U, "new challenges")                                      \
  X(sip, "domains", domains, L, U, "new requests")                                                            \
  X(sip, "max_auth_failures", max_auth_failures, L, U, "counted from the next failure")                      \
  X(sip, "t1_ms", t1_ms, L, U, "new transactions")                                                            \
  X(sip, "min_expires_s", min_expires_s, L, U, "new REGISTERs")                                               \
  X(sip, "max_expires_s", max_expires_s, L, U, "new REGISTERs")                                               \
  X(sip, "state_db", state_db, R, U, "opened at start")                                                        \
  X(sip, "management_socket", management_socket, R, U, "bound at start")                                      \
  X(sip, "dns_servers", dns_servers, R, U, "the resolver is made at start")                                    \
  X(sip, "metrics_listen", metrics_listen, R, U, "the /metrics endpoint is bound at start")                   \
  X(sip, "overload_queue_age_ms", overload_queue_age_ms, L, U, "the next message")                            \
  X(sip, "overload_resume_age_ms", overload_resume_age_ms, L, U, "the next message")                          \
  X(sip, "overload_retry_after_s", overload_retry_after_s, L, U, "the next 503")                              \
  X(sip, "source_invite_rate", source_invite_rate, L, U, "sources are counted afresh")                        \
  X(sip, "source_register_rate", source_register_rate, L, U, "sources are counted afresh")                    \
  X(sip, "source_burst", source_burst, L, U, "sources are counted afresh")                                    \
  X(sip, "source_block_s", source_block_s, L, U, "blocks that start from now")                                \
  X(sip, "source_table_size", source_table_size, L, U, "sources are counted afresh")                          \
  X(sip, "source_limit_exempt", source_limit_exempt, L, U, "sources are counted afresh")                      \
  X(sip, "udp_via_dataplane", udp_via_dataplane, R, U, "the SIP path is chosen at start")                      \
  X(media, "port_min", port_min, L, U, "new calls; calls in progress keep their ports")                       \
  X(media, "port_max", port_max, L, U, "new calls; calls in progress keep their ports")

// X(section, key, member, msgw-control, msgw-dataplane, note): the keys of each
// element of an array section ([[port]], [[subscriber]], [[trunk]], [[route]]),
// in the same shape as the list above; each section's first row is its
// identity key, whose class stands for the whole element.
#define MSGW_ELEMENT_KEYS(X)                                                                                \
  X(port, "name", name, R, R, "")                                                                           \
  X(port, "device", device, U, R, "")                                                                       \
  X(port, "pci", pci, U, R, "")                                                                             \
  X(port, "address", address, R, R, "media legs and SIP sockets use it")                                    \
  X(port, "next_hop", next_hop, U, R, "")                                                                   \
  X(port, "role", role, R, R, "")                                                                           \
  X(port, "rx_queues", rx_queues, U, R, "")                                                                 \
  X(port, "tx_queues", tx_queues, U, R, "")                                                                 \
  X(port, "rx_descriptors", rx_descriptors, U, R, "")                                                       \
  X(port, "tx_descriptors", tx_descriptors, U, R, "")                                                       \
  X(port, "tap_name", tap_name, U, R, "")                                                                   \
  X(subscriber, "user", user, L, U, "new requests; registrations of a removed user stay until they expire") \
  X(subscriber, "password", password, L, U, "new challenges")                                               \
  X(subscriber, "ha1", ha1, L, U, "new challenges")                                                         \
  X(subscriber, "ha1_sha256", ha1_sha256, L, U, "new challenges")                                           \
  X(subscriber, "digest_algorithms", digest_algorithms, L, U, "new challenges")                             \
  X(subscriber, "display_name", display_name, L, U, "new calls")                                            \
  X(subscriber, "codecs", codecs, L, U, "new calls")                                                        \
  X(subscriber, "dids", dids, L, U, "new calls")                                                            \
  X(subscriber, "g726_packing", g726_packing, L, U, "new calls")                                            \
  X(trunk, "name", name, L, U, "new calls")                                                                 \
  X(trunk, "address", address, L, U, "new calls, pings and registrations")                                  \
  X(trunk, "transport", transport, L, U, "new calls")                                                       \
  X(trunk, "codecs", codecs, L, U, "new calls")                                                             \
  X(trunk, "port", port, L, U, "new calls")                                                                 \
  X(trunk, "timeout_ms", timeout_ms, L, U, "new calls")                                                     \
  X(trunk, "g726_packing", g726_packing, L, U, "new calls")                                                 \
  X(trunk, "payload_passthrough", payload_passthrough, L, U, "new calls")                                   \
  X(trunk, "prack", prack, L, U, "new calls")                                                               \
  X(trunk, "username", username, L, U, "new requests")                                                      \
  X(trunk, "password", password, L, U, "new requests")                                                      \
  X(trunk, "ha1", ha1, L, U, "new requests")                                                                \
  X(trunk, "realm", realm, L, U, "new requests")                                                            \
  X(trunk, "from_user", from_user, L, U, "new requests")                                                    \
  X(trunk, "from_domain", from_domain, L, U, "new requests")                                                \
  X(trunk, "asserted_identity", asserted_identity, L, U, "new calls")                                       \
  X(trunk, "register", register_, L, U, "")                                                                 \
  X(trunk, "register_expires_s", register_expires_s, L, U, "the next registration")                         \
  X(trunk, "ping_interval_s", ping_interval_s, L, U, "")                                                    \
  X(trunk, "down_after", down_after, L, U, "")                                                              \
  X(trunk, "up_after", up_after, L, U, "")                                                                  \
  X(route, "name", name, L, U, "new calls")                                                                 \
  X(route, "prefix", prefix, L, U, "new calls")                                                             \
  X(route, "regex", regex, L, U, "new calls")                                                               \
  X(route, "trunks", trunks, L, U, "new calls")

// One row of the table, with what plan_reload needs of a section key.
struct SectionKey {
  KeyClass cls;
  bool (*differs)(const Config&, const Config&);
  void (*keep_running)(Config& to, const Config& running);
};

#define MSGW_SECTION_ROW(sec, k, member, c, d, note)                                          \
  SectionKey{{#sec "." k, c, d, note},                                                        \
             [](const Config& a, const Config& b) { return !(a.sec.member == b.sec.member); }, \
             [](Config& to, const Config& from) { to.sec.member = from.sec.member; }},
const SectionKey kSectionKeys[] = {MSGW_SECTION_KEYS(MSGW_SECTION_ROW)};

template <typename Element>
struct ElementKey {
  KeyClass cls;
  bool (*differs)(const Element&, const Element&);
};
// The element type of section `sec` is that of Config's vector `sec`s.
#define MSGW_ELEMENT_TYPE(sec) decltype(Config::sec##s)::value_type

// The rows of MSGW_ELEMENT_KEYS whose section holds Element, in list order
// (built on first use, so no other file's static initialiser can see it empty).
template <typename Element>
const std::vector<ElementKey<Element>>& element_keys() {
  static const std::vector<ElementKey<Element>> table = [] {
    std::vector<ElementKey<Element>> out;
#define MSGW_ELEMENT_ROW(sec, k, member, c, d, note)                                                    \
  if constexpr (std::is_same_v<Element, MSGW_ELEMENT_TYPE(sec)>)                                        \
    out.push_back({{#sec "." k, c, d, note}, [](const Element& a, const Element& b) { return !(a.member == b.member); }});
    MSGW_ELEMENT_KEYS(MSGW_ELEMENT_ROW)
#undef MSGW_ELEMENT_ROW
    return out;
  }();
  return table;
}

std::vector<KeyClass> all_classes() {
  std::vector<KeyClass> out;
  for (const auto& k : kSectionKeys) out.push_back(k.cls);
  for (const auto& k : element_keys<PortSection>()) out.push_back(k.cls);
  for (const auto& k : element_keys<SubscriberSection>()) out.push_back(k.cls);
  for (const auto& k : element_keys<TrunkSection>()) out.push_back(k.cls);
  for (const auto& k : element_keys<RouteSection>()) out.push_back(k.cls);
  return out;
}

ConfigChange change(std::string key, std::string what, const KeyClass& c) {
  return {std::move(key), std::move(what), c.control == Effect::live, c.control == Effect::restart,
          c.dataplane == Effect::restart};
}

// Elements matched by their identity (user, name): added, removed, or each
// differing key changed. Every key of an element section is live for
// msgw-control (ports, which are not, are matched by index below).
template <typename Element>
void diff_elements(const char* section, const std::vector<Element>& running, const std::vector<Element>& file,
                   std::string Element::*identity, const std::vector<ElementKey<Element>>& keys,
                   std::vector<ConfigChange>& out) {
  auto find = [&](const std::vector<Element>& in, const std::string& id) -> const Element* {
    for (const auto& e : in)
      if (e.*identity == id) return &e;
    return nullptr;
  };
  const KeyClass& whole = keys[0].cls;  // the identity key's class stands for the element
  for (const auto& e : file) {
    const std::string at = std::string(section) + "[" + e.*identity + "]";
    const Element* old = find(running, e.*identity);
    if (old == nullptr) {
      out.push_back(change(at, "added", whole));
      continue;
    }
    for (const auto& k : keys)
      if (k.differs(*old, e)) {
        const std::string_view name = k.cls.key.substr(k.cls.key.find('.') + 1);
        out.push_back(change(at + "." + std::string(name), "changed", k.cls));
      }
  }
  for (const auto& e : running)
    if (find(file, e.*identity) == nullptr)
      out.push_back(change(std::string(section) + "[" + e.*identity + "]", "removed", whole));
}

const char* effect_text(Effect e) {
  switch (e) {
    case Effect::unused: return "—";
    case Effect::live: return "live";
    case Effect::restart: return "restart";
  }
  return "?";
}

}  // namespace

std::span<const KeyClass> key_classes() {
  static const std::vector<KeyClass> table = all_classes();
  return table;
}

const KeyClass* key_class(std::string_view key) {
  for (const auto& k : key_classes())
    if (k.key == key) return &k;
  return nullptr;
}

ReloadPlan plan_reload(const Config& running, const Config& file) {
  ReloadPlan plan;
  plan.apply = file;
  for (const auto& k : kSectionKeys) {
    if (k.differs(running, file)) plan.changes.push_back(change(std::string(k.cls.key), "changed", k.cls));
    // msgw-control keeps what it cannot change, and what only the running
    // msgw-dataplane knows, until its restart.
    if (k.cls.control != Effect::live) k.keep_running(plan.apply, running);
  }
  // Ports: msgw-dataplane owns them and reads them at start; by index (its port ids).
  const auto& port_keys = element_keys<PortSection>();
  const size_t ports = std::max(running.ports.size(), file.ports.size());
  for (size_t i = 0; i < ports; ++i) {
    const std::string at = "port[" + std::to_string(i) + "]";
    if (i >= running.ports.size()) plan.changes.push_back(change(at, "added", port_keys[0].cls));
    else if (i >= file.ports.size()) plan.changes.push_back(change(at, "removed", port_keys[0].cls));
    else
      for (const auto& k : port_keys)
        if (k.differs(running.ports[i], file.ports[i]))
          plan.changes.push_back(change(std::string(k.cls.key).insert(4, "[" + std::to_string(i) + "]"), "changed", k.cls));
  }
  plan.apply.ports = running.ports;
  diff_elements("subscriber", running.subscribers, file.subscribers, &SubscriberSection::user,
                element_keys<SubscriberSection>(), plan.changes);
  diff_elements("trunk", running.trunks, file.trunks, &TrunkSection::name, element_keys<TrunkSection>(), plan.changes);
  diff_elements("route", running.routes, file.routes, &RouteSection::name, element_keys<RouteSection>(), plan.changes);
  // Routes are tried in order: the same routes in another order route differently.
  std::vector<std::string> old_order, new_order;
  for (const auto& r : running.routes)
    for (const auto& f : file.routes)
      if (f.name == r.name) old_order.push_back(r.name);
  for (const auto& f : file.routes)
    for (const auto& r : running.routes)
      if (f.name == r.name) new_order.push_back(f.name);
  if (old_order != new_order) plan.changes.push_back(change("route", "reordered", element_keys<RouteSection>()[0].cls));
  return plan;
}

std::string key_classes_markdown() {
  std::string out = "| key | msgw-control | msgw-dataplane |\n|---|---|---|\n";
  for (const auto& k : key_classes()) {
    std::string control = effect_text(k.control);
    if (!k.note.empty()) control += " (" + std::string(k.note) + ")";
    out += "| `" + std::string(k.key) + "` | " + control + " | " + effect_text(k.dataplane) + " |\n";
  }
  return out;
}

}  // namespace msgw::config
