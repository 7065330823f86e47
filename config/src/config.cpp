// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/config/config.hpp"
#include "msgw/config/reload.hpp"

#include "msgw/codecs/codec.hpp"
#include "msgw/common/ascii.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>
#include <cctype>
#include <regex>
#include <fstream>
#include <set>
#include <sstream>

// toml++ is used header-only (overriding the pkg-config defines) so that the
// fuzz build instruments the TOML parser itself, not just our walk over it.
// parse() throws parse_error, which is caught right here and turned into an Error.
#undef TOML_HEADER_ONLY
#undef TOML_SHARED_LIB
#define TOML_HEADER_ONLY 1
// toml++ 3.3's internal debug assertions fire on some malformed input (our
// fuzzer found "[?a]" aborting in parse_key) although the parser reports a
// proper parse_error for it when they are off, as in its release builds.
#define TOML_ASSERT(expr) static_cast<void>(0)
#define TOML_ASSERT_ASSUME(expr) static_cast<void>(0)
#include <toml++/toml.h>

namespace msgw::config {

namespace {

// Set while schema_keys() runs: every key any reader asks for.
thread_local std::set<std::string>* schema_keys_ = nullptr;

// Walks one TOML table: typed getters that record errors with positions,
// and a final check that flags keys nobody asked for (a misspelt key must
// not be silently ignored on a carrier box).
class TableReader {
 public:
  TableReader(const toml::table& t, std::string path, const std::string& file,
              std::vector<Error>& errors, KeyPositions* where = nullptr)
      : t_(t), path_(std::move(path)), file_(file), errors_(errors), where_(where) {}

  void error_at(const toml::source_region& src, const std::string& key, std::string msg) {
    errors_.push_back({file_, src.begin.line, src.begin.column, key, std::move(msg)});
  }
  // At the key's own position (the table's header when the key is absent:
  // a default value that conflicts with another key).
  void error_key(std::string_view key, std::string msg) {
    const toml::node* n = t_.get(key);
    error_at(n ? n->source() : t_.source(), key_path(key), std::move(msg));
  }
  // The parsed list dropped bad elements: its element `kept` is the file's
  // element `raw` (check_whole finds positions by the parsed index).
  void renumber_element(std::string_view key, size_t kept, size_t raw) {
    if (where_ == nullptr) return;
    const std::string path = key_path(key);
    auto it = where_->find(path + "[" + std::to_string(raw) + "]");
    if (it != where_->end()) (*where_)[path + "#" + std::to_string(kept)] = it->second;
  }
  // At element i of an array-valued key.
  void error_element(std::string_view key, size_t i, std::string msg) {
    const toml::node* n = t_.get(key);
    const toml::array* a = n ? n->as_array() : nullptr;
    const toml::node* e = a && i < a->size() ? a->get(i) : n;
    error_at(e ? e->source() : t_.source(), key_path(key), std::move(msg));
  }
  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  template <typename Int>
  void integer(std::string_view key, Int& out, int64_t min, int64_t max) {
    const toml::node* n = take(key);
    if (!n) return;
    // Only an integer node is read as one: toml++'s float-to-integer
    // conversion casts an out-of-range double, which is undefined (found by fuzz_config).
    auto v = n->is_integer() ? n->value<int64_t>() : std::nullopt;
    if (!v) {
      error_at(n->source(), key_path(key), "expected an integer");
    } else if (*v < min || *v > max) {
      error_at(n->source(), key_path(key),
               "value " + std::to_string(*v) + " out of range [" + std::to_string(min) + ", " +
                   std::to_string(max) + "]");
    } else {
      out = static_cast<Int>(*v);
    }
  }

  void boolean(std::string_view key, bool& out) {
    const toml::node* n = take(key);
    if (!n) return;
    if (!n->is_boolean()) {
      error_at(n->source(), key_path(key), "expected true or false");
      return;
    }
    out = *n->value<bool>();
  }

  // Returns the node for further checks, nullptr if absent or wrong type.
  const toml::node* string(std::string_view key, std::string& out,
                           std::initializer_list<std::string_view> allowed = {}) {
    const toml::node* n = take(key);
    if (!n) return nullptr;
    if (!n->is_string()) {
      error_at(n->source(), key_path(key), "expected a string");
      return nullptr;
    }
    std::string v = *n->value<std::string>();
    if (allowed.size() != 0) {
      bool found = false;
      std::string list;
      for (auto a : allowed) {
        found |= (a == v);
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      if (!found) {
        error_at(n->source(), key_path(key), "'" + v + "' is not one of: " + list);
        return nullptr;
      }
    }
    out = std::move(v);
    return n;
  }

  void string_array(std::string_view key, std::vector<std::string>& out) {
    const toml::node* n = take(key);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) {
      error_at(n->source(), key_path(key), "expected an array of strings");
      return;
    }
    std::vector<std::string> v;
    for (const auto& e : *a) {
      if (!e.is_string()) {
        error_at(e.source(), key_path(key), "expected an array of strings");
        return;
      }
      v.push_back(*e.value<std::string>());
    }
    out = std::move(v);
  }

  void uint_array(std::string_view key, std::vector<uint32_t>& out, int64_t max) {
    const toml::node* n = take(key);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) {
      error_at(n->source(), key_path(key), "expected an array of integers");
      return;
    }
    std::vector<uint32_t> v;
    for (const auto& e : *a) {
      auto x = e.is_integer() ? e.value<int64_t>() : std::nullopt;  // see integer()
      if (!x || *x < 0 || *x > max) {
        error_at(e.source(), key_path(key),
                 "expected integers in [0, " + std::to_string(max) + "]");
        return;
      }
      v.push_back(static_cast<uint32_t>(*x));
    }
    out = std::move(v);
  }

  bool has(std::string_view key) const {
    if (schema_keys_ != nullptr) schema_keys_->insert(path_.substr(0, path_.find('[')) + "." + std::string(key));
    return t_.contains(key);
  }

  void require(std::string_view key) {
    if (!t_.contains(key))
      error_at(t_.source(), key_path(key), "required key is missing");
  }

  void finish() {
    for (const auto& [k, v] : t_) {
      if (!seen_.count(std::string(k.str())))
        error_at(k.source(), key_path(k.str()), "unknown key");
    }
  }

  const toml::source_region& source() const { return t_.source(); }

 private:
  const toml::node* take(std::string_view key) {
    seen_.insert(std::string(key));
    if (schema_keys_ != nullptr) {  // "port[0]" → "port.key"
      std::string section = path_.substr(0, path_.find('['));
      schema_keys_->insert(section.empty() ? std::string(key) : section + "." + std::string(key));
    }
    const toml::node* n = t_.get(key);
    if (where_ != nullptr && n != nullptr) {
      const std::string path = key_path(key);
      (*where_)[path] = {n->source().begin.line, n->source().begin.column};
      if (const toml::array* a = n->as_array())
        for (size_t i = 0; i < a->size(); ++i)
          (*where_)[path + "[" + std::to_string(i) + "]"] = {a->get(i)->source().begin.line,
                                                             a->get(i)->source().begin.column};
    }
    return n;
  }

  const toml::table& t_;
  std::string path_;
  const std::string& file_;
  std::vector<Error>& errors_;
  KeyPositions* where_;
  std::set<std::string> seen_;
};

void read_instance(TableReader& r, InstanceSection& s) {
  r.string("name", s.name);
  r.string("log_level", s.log_level, {"trace", "debug", "info", "warn", "error"});
  r.finish();
}

void read_codecs(TableReader& r, CodecsSection& s) {
  r.integer("default_ptime_ms", s.default_ptime_ms, 10, 60);
  if (s.default_ptime_ms % 10 != 0)
    r.error_key("default_ptime_ms", "must be a multiple of 10");
  r.boolean("g729_annexb", s.g729_annexb);
  r.string("g726_packing", s.g726_packing, {"rfc3551", "aal2"});
  r.finish();
}

void read_dataplane(TableReader& r, DataplaneSection& s) {
  r.integer("main_lcore", s.main_lcore, 0, 1023);
  r.uint_array("worker_lcores", s.worker_lcores, 1023);
  r.string_array("eal_args", s.eal_args);
  r.integer("memory_mb", s.memory_mb, 64, 1 << 20);
  r.string("hugepages", s.hugepages, {"auto", "on", "off"});
  r.integer("flow_capacity", s.flow_capacity, 16, 1 << 24);
  r.integer("media_timeout_ms", s.media_timeout_ms, 1000, 3600 * 1000);
  r.integer("latch_packets", s.latch_packets, 1, 100);
  r.integer("rtcp_interval_ms", s.rtcp_interval_ms, 1000, 60000);
  r.integer("worker_sleep_max_us", s.worker_sleep_max_us, 0, 10000);
  for (uint32_t w : s.worker_lcores)
    if (w == s.main_lcore)
      r.error_key("worker_lcores", "lcore " + std::to_string(w) + " is also the main lcore");
  if (s.worker_lcores.empty())
    r.error_key("worker_lcores", "at least one worker lcore is needed");
  if (s.worker_lcores.size() > kMaxWorkers)
    r.error_key("worker_lcores", "msgw-dataplane runs at most " + std::to_string(kMaxWorkers) + " workers");
  for (size_t i = 0; i < s.worker_lcores.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (s.worker_lcores[i] == s.worker_lcores[j])
        r.error_element("worker_lcores", i, "lcore " + std::to_string(s.worker_lcores[i]) + " is listed twice");
  r.finish();
}

void read_port(TableReader& r, PortSection& p) {
  r.require("name");
  r.require("address");
  r.string("name", p.name);
  r.string("device", p.device);
  if (const toml::node* n = r.string("pci", p.pci)) {
    if (auto a = parse_pci_address(p.pci))
      p.pci = *a;
    else
      r.error_at(n->source(), r.key_path("pci"),
                 "'" + p.pci + "' is not a PCI address (DDDD:BB:DD.F, e.g. 0000:03:00.0)");
  }
  if (r.has("device") == r.has("pci"))
    r.error_at(r.source(), r.key_path(r.has("pci") ? "pci" : "device"),
               r.has("pci") ? "give either device or pci, not both" : "required key is missing (give device or pci)");
  if (r.has("name") && p.name.empty()) r.error_key("name", "must not be empty");
  if (r.has("device") && p.device.empty()) r.error_key("device", "must not be empty (a PCI address or a vdev)");
  std::string addr;
  if (const toml::node* n = r.string("address", addr)) {
    auto v = parse_ipv4_prefix(addr);
    if (!v)
      r.error_at(n->source(), r.key_path("address"), "'" + addr + "' is not an IPv4 address/prefix");
    else
      p.address = *v;
  }
  std::string hop;
  if (const toml::node* n = r.string("next_hop", hop)) {
    auto v = parse_ipv4(hop);
    if (!v)
      r.error_at(n->source(), r.key_path("next_hop"), "'" + hop + "' is not an IPv4 address");
    else
      p.next_hop = *v;
  }
  std::string role = "access";
  r.string("role", role, {"access", "trunk"});
  p.role = role == "trunk" ? PortRole::trunk : PortRole::access;
  r.integer("rx_queues", p.rx_queues, 1, 64);
  r.integer("tx_queues", p.tx_queues, 0, 64);
  r.integer("rx_descriptors", p.rx_descriptors, 64, 32768);
  r.integer("tx_descriptors", p.tx_descriptors, 64, 32768);
  r.string("tap_name", p.tap_name);
  if (p.tap_name.empty() && !p.name.empty()) p.tap_name = "msgw-" + p.name;
  if (p.tap_name.size() > 15)
    r.error_key("tap_name", "'" + p.tap_name + "' is longer than 15 characters (Linux IFNAMSIZ)");
  r.finish();
}

void read_digest_algorithms(TableReader& r, std::vector<std::string>& out) {
  if (!r.has("digest_algorithms")) return;
  std::vector<std::string> algs;
  r.string_array("digest_algorithms", algs);
  for (size_t i = 0; i < algs.size(); ++i)
    if (const auto& a = algs[i]; a != "MD5" && a != "SHA-256" && a != "MD5-sess" && a != "SHA-256-sess")
      r.error_element("digest_algorithms", i, "unknown algorithm '" + a + "' (known: SHA-256, MD5, SHA-256-sess, MD5-sess)");
  if (algs.empty()) r.error_key("digest_algorithms", "must name at least one algorithm");
  out = algs;
}

void read_sip(TableReader& r, SipSection& s) {
  r.string("realm", s.realm);
  std::vector<std::string> listen;
  r.string_array("listen", listen);
  for (size_t i = 0; i < listen.size(); ++i) {
    const auto& l = listen[i];
    auto hp = parse_host_port(l);
    // msgw-control binds each (UDP and TCP): an address literal, not a name.
    if (!hp || (!parse_ipv4(hp->host) && hp->host.find(':') == std::string::npos)) {
      r.error_element("listen", i, "'" + l + "' is not an IPv4 address[:port] (or [IPv6]:port) to bind");
      continue;
    }
    bool twice = false;
    for (const auto& other : s.listen) twice = twice || (other.host == hp->host && other.port == hp->port);
    if (twice) r.error_element("listen", i, "'" + l + "' is listed twice (the second bind would fail)");
    r.renumber_element("listen", s.listen.size(), i);
    s.listen.push_back(*hp);
  }
  r.integer("nonce_ttl_s", s.nonce_ttl_s, 10, 86400);
  read_digest_algorithms(r, s.digest_algorithms);
  r.string_array("domains", s.domains);
  for (size_t i = 0; i < s.domains.size(); ++i) {
    auto& d = s.domains[i];
    d = common::ascii_lowered(d);
    if (d.empty() || d.find_first_of(" \t:;@<>/") != std::string::npos)
      r.error_element("domains", i, "'" + d + "' is not a host name");
  }
  r.integer("max_auth_failures", s.max_auth_failures, 1, 1000);
  r.integer("t1_ms", s.t1_ms, 10, 10000);
  r.integer("min_expires_s", s.min_expires_s, 1, 86400);
  r.integer("max_expires_s", s.max_expires_s, 1, 7 * 86400);
  r.string("state_db", s.state_db);
  r.string("management_socket", s.management_socket);
  const toml::node* metrics_node = r.string("metrics_listen", s.metrics_listen);
  if (metrics_node != nullptr && !s.metrics_listen.empty()) {
    auto hp = parse_host_port(s.metrics_listen);
    auto ip = hp ? parse_ipv4(hp->host) : std::nullopt;
    if (!ip || !hp->port_given || hp->port == 0)
      r.error_at(metrics_node->source(), r.key_path("metrics_listen"),
                 "'" + s.metrics_listen + "' is not IPv4:port (empty: no metrics endpoint)");
    else {
      s.metrics_ip = *ip;
      s.metrics_port = hp->port;
    }
  }
  r.string_array("dns_servers", s.dns_servers);
  for (size_t i = 0; i < s.dns_servers.size(); ++i) {
    const auto& d = s.dns_servers[i];
    auto hp = parse_host_port(d);
    if (!hp || !parse_ipv4(hp->host))
      r.error_element("dns_servers", i, "'" + d + "' is not an IPv4 address[:port]");
  }
  r.integer("overload_queue_age_ms", s.overload_queue_age_ms, 0, 60000);
  r.integer("overload_resume_age_ms", s.overload_resume_age_ms, 0, 60000);
  r.integer("overload_retry_after_s", s.overload_retry_after_s, 0, 3600);
  r.integer("source_invite_rate", s.source_invite_rate, 0, 1000000);
  r.integer("source_register_rate", s.source_register_rate, 0, 1000000);
  r.integer("source_burst", s.source_burst, 0, 1000000);
  r.integer("source_block_s", s.source_block_s, 1, 86400);
  r.integer("source_table_size", s.source_table_size, 16, 4000000);
  r.string_array("source_limit_exempt", s.source_limit_exempt);
  r.boolean("udp_via_dataplane", s.udp_via_dataplane);
  for (size_t i = 0; i < s.source_limit_exempt.size(); ++i)
    if (!is_ip_prefix(s.source_limit_exempt[i]))
      r.error_element("source_limit_exempt", i,
                      "'" + s.source_limit_exempt[i] +
                          "' is not an IP address or prefix (a.b.c.d[/n] or an IPv6 address[/n])");
  if (s.overload_queue_age_ms != 0 && s.overload_resume_age_ms > s.overload_queue_age_ms)
    r.error_key("overload_resume_age_ms", "is larger than overload_queue_age_ms (shedding would never end)");
  if (s.min_expires_s > s.max_expires_s)
    r.error_key("min_expires_s", "is larger than max_expires_s");
  if (s.realm.empty()) r.error_key("realm", "must not be empty");
  r.finish();
}

void read_media(TableReader& r, MediaSection& s) {
  r.integer("port_min", s.port_min, 1024, 65534);
  r.integer("port_max", s.port_max, 1025, 65535);
  if (s.port_min % 2 != 0)
    r.error_key("port_min", "must be even (RTP even, RTCP odd)");
  if (s.port_max <= s.port_min)
    r.error_key("port_max", "must be larger than port_min");
  r.finish();
}

void read_codec_list(TableReader& r, std::string_view key, std::vector<std::string>& out) {
  if (!r.has(key)) return;
  std::vector<std::string> names;
  r.string_array(key, names);
  std::vector<std::string> canonical;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& n = names[i];
    auto id = msgw::codecs::codec_from_sdp_name(n);
    if (!id) {
      r.error_element(key, i, "unknown codec '" + n + "' (known: PCMU, PCMA, G726-32, G729)");
      return;
    }
    std::string name(msgw::codecs::codec_info(*id).sdp_name);
    for (const auto& c : canonical)
      if (c == name) {
        r.error_element(key, i, "codec '" + n + "' listed twice");
        return;
      }
    canonical.push_back(std::move(name));
  }
  if (canonical.empty()) {
    r.error_key(key, "at least one codec is needed");
    return;
  }
  out = std::move(canonical);
}

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool is_number(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

void read_subscriber(TableReader& r, SubscriberSection& s) {
  r.require("user");
  r.string("user", s.user);
  if (r.has("user") && s.user.empty()) r.error_key("user", "must not be empty");
  if (s.user.find_first_of(" \t\"<>@:;,") != std::string::npos)
    r.error_key("user", "'" + s.user + "' has a character a SIP user part cannot carry unescaped");
  r.string("password", s.password);
  r.string("ha1", s.ha1);
  r.string("ha1_sha256", s.ha1_sha256);
  read_digest_algorithms(r, s.digest_algorithms);
  r.string("display_name", s.display_name);
  read_codec_list(r, "codecs", s.codecs);
  r.string_array("dids", s.dids);
  r.string("g726_packing", s.g726_packing, {"rfc3551", "aal2"});
  if (s.password.empty() == s.ha1.empty())
    r.error_key(s.password.empty() && r.has("ha1") ? "ha1" : "password", "give exactly one of password or ha1");
  if (!s.ha1.empty() && (s.ha1.size() != 32 || !is_hex(s.ha1)))
    r.error_key("ha1", "must be 32 hex digits (MD5 of user:realm:password)");
  s.ha1 = common::ascii_lowered(s.ha1);
  if (!s.ha1_sha256.empty() && (s.ha1_sha256.size() != 64 || !is_hex(s.ha1_sha256)))
    r.error_key("ha1_sha256", "must be 64 hex digits (SHA-256 of user:realm:password)");
  if (!s.ha1_sha256.empty() && s.ha1.empty())
    r.error_key("ha1_sha256", "goes with ha1 (the MD5 one), not with password");
  s.ha1_sha256 = common::ascii_lowered(s.ha1_sha256);
  for (const auto& a : s.digest_algorithms)
    if (a.rfind("SHA-256", 0) == 0 && s.password.empty() && s.ha1_sha256.empty())
      r.error_key("digest_algorithms", "'" + a + "' needs password or ha1_sha256 (ha1 is the MD5 one)");
  for (size_t i = 0; i < s.dids.size(); ++i)
    if (const auto& d = s.dids[i]; !is_number(d))
      r.error_element("dids", i, "'" + d + "' is not a number (digits only)");
  r.finish();
}

void read_trunk(TableReader& r, TrunkSection& t) {
  r.require("name");
  r.require("address");
  r.string("name", t.name);
  if (r.has("name") && t.name.empty()) r.error_key("name", "must not be empty");
  std::string addr;
  if (const toml::node* n = r.string("address", addr)) {
    auto hp = parse_host_port(addr);
    if (!hp)
      r.error_at(n->source(), r.key_path("address"), "'" + addr + "' is not host[:port]");
    else if (!parse_ipv4(hp->host) && !is_host_name(hp->host))
      // msgw's media and signalling are IPv4-only: a trunk is an IPv4
      // address or a name resolved to IPv4 addresses (A records).
      r.error_at(n->source(), r.key_path("address"),
                 "'" + hp->host + "' is neither an IPv4 address nor a valid host name (RFC 1123)");
    else
      t.address = *hp;
  }
  r.string("transport", t.transport, {"udp", "tcp"});
  read_codec_list(r, "codecs", t.codecs);
  r.string("port", t.port);
  r.integer("timeout_ms", t.timeout_ms, 100, 120000);
  r.string("g726_packing", t.g726_packing, {"rfc3551", "aal2"});
  r.boolean("payload_passthrough", t.payload_passthrough);
  r.boolean("prack", t.prack);
  r.string("username", t.username);
  r.string("password", t.password);
  r.string("ha1", t.ha1);
  r.string("realm", t.realm);
  r.string("from_user", t.from_user);
  r.string("from_domain", t.from_domain);
  r.boolean("asserted_identity", t.asserted_identity);
  r.boolean("register", t.register_);
  r.integer("register_expires_s", t.register_expires_s, 10, 86400);
  r.integer("ping_interval_s", t.ping_interval_s, 0, 3600);
  r.integer("down_after", t.down_after, 1, 100);
  r.integer("up_after", t.up_after, 1, 100);
  if (!t.username.empty() && t.password.empty() == t.ha1.empty())
    r.error_key("password", "a trunk with a username needs exactly one of password or ha1");
  if (t.username.empty() && !(t.password.empty() && t.ha1.empty() && t.realm.empty()))
    r.error_key("username", "password, ha1 and realm need a username");
  if (!t.ha1.empty() && ((t.ha1.size() != 32 && t.ha1.size() != 64) || !is_hex(t.ha1)))
    r.error_key("ha1", "must be 32 (MD5) or 64 (SHA-256) hex digits of user:realm:password");
  if (!t.ha1.empty() && t.realm.empty())
    r.error_key("realm", "an ha1 is bound to one realm: give it");
  t.ha1 = common::ascii_lowered(t.ha1);
  if (t.register_ && t.username.empty())
    r.error_key("register", "registering needs a username (and password or ha1)");
  r.finish();
}

void read_route(TableReader& r, RouteSection& rt) {
  r.require("name");
  r.require("trunks");
  r.string("name", rt.name);
  if (r.has("name") && rt.name.empty()) r.error_key("name", "must not be empty");
  r.string("prefix", rt.prefix);
  if (const toml::node* n = r.string("regex", rt.regex)) {
    try {
      std::regex re(rt.regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      r.error_at(n->source(), r.key_path("regex"), std::string("invalid regex: ") + e.what());
    }
  }
  r.string_array("trunks", rt.trunks);
  if (r.has("trunks") && rt.trunks.empty()) r.error_key("trunks", "must name at least one [[trunk]]");
  if (rt.prefix.empty() == rt.regex.empty())
    r.error_key(rt.prefix.empty() && r.has("regex") ? "regex" : "prefix", "give exactly one of prefix or regex");
  if (!rt.prefix.empty() && !is_number(rt.prefix))
    r.error_key("prefix", "'" + rt.prefix + "' is not digits");
  r.finish();
}

// Reads an array of tables ([[key]]) with one reader per element.
template <typename Section, typename Reader>
void read_array(const toml::table& root, std::string_view key, TableReader& top,
                const std::string& file, std::vector<Error>& errors, KeyPositions& where,
                std::vector<Section>& out, Reader reader) {
  const toml::node* n = root.get(key);
  if (!n) return;
  const toml::array* arr = n->as_array();
  if (!arr || !arr->is_array_of_tables()) {
    top.error_at(n->source(), std::string(key),
                 "expected an array of tables ([[" + std::string(key) + "]])");
    return;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::table& t = *arr->get(i)->as_table();
    const std::string path = std::string(key) + "[" + std::to_string(i) + "]";
    where[path] = {t.source().begin.line, t.source().begin.column};
    TableReader r(t, path, file, errors, &where);
    Section sec;
    reader(r, sec);
    out.push_back(std::move(sec));
  }
}

LoadResult build(const toml::table& root, const std::string& file, Scope scope) {
  LoadResult result;
  Config cfg;
  cfg.file = file;
  auto& errors = result.errors;
  KeyPositions where;
  TableReader top(root, "", file, errors);

  auto table_section = [&](std::string_view key, auto&& reader) {
    if (const toml::node* n = root.get(key)) {
      if (const toml::table* t = n->as_table()) {
        where[std::string(key)] = {t->source().begin.line, t->source().begin.column};
        TableReader r(*t, std::string(key), file, errors, &where);
        reader(r);
      } else {
        top.error_at(n->source(), std::string(key), "expected a table");
      }
    }
  };
  table_section("instance", [&](TableReader& r) { read_instance(r, cfg.instance); });
  table_section("codecs", [&](TableReader& r) { read_codecs(r, cfg.codecs); });
  table_section("dataplane", [&](TableReader& r) { read_dataplane(r, cfg.dataplane); });
  table_section("sip", [&](TableReader& r) { read_sip(r, cfg.sip); });
  table_section("media", [&](TableReader& r) { read_media(r, cfg.media); });
  read_array(root, "subscriber", top, file, errors, where, cfg.subscribers, read_subscriber);
  read_array(root, "trunk", top, file, errors, where, cfg.trunks, read_trunk);
  read_array(root, "route", top, file, errors, where, cfg.routes, read_route);

  if (const toml::node* n = root.get("port")) {
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      top.error_at(n->source(), "port", "expected an array of tables ([[port]])");
    } else {
      std::set<std::string> names;
      for (size_t i = 0; i < arr->size(); ++i) {
        const toml::table& t = *arr->get(i)->as_table();
        std::string path = "port[" + std::to_string(i) + "]";
        where[path] = {t.source().begin.line, t.source().begin.column};
        TableReader r(t, path, file, errors, &where);
        PortSection p;
        read_port(r, p);
        if (!p.name.empty() && !names.insert(p.name).second)
          r.error_key("name", "duplicate port name '" + p.name + "'");
        cfg.ports.push_back(std::move(p));
      }
    }
  }

  // Keys at the top level that no section claims are typos or wrong nesting.
  static const std::set<std::string> known = {"instance", "codecs", "dataplane", "port", "sip",
                                              "media", "subscriber", "trunk", "route"};
  for (const auto& [k, v] : root)
    if (!known.count(std::string(k.str())))
      top.error_at(k.source(), std::string(k.str()), "unknown section or key");

  // What only the whole configuration shows (references, uniqueness, what
  // the daemons need to start) is checked even when a section has errors:
  // one run shows every problem.
  for (auto& e : check_whole(cfg, scope, &where)) errors.push_back(std::move(e));
  if (errors.empty()) result.config = std::move(cfg);
  result.positions = std::move(where);
  return result;
}

}  // namespace

// toml++ 3.3 (Debian 12) reaches __builtin_unreachable() when it classifies
// some non-ASCII code points (U+00A1..U+0499 among them) as whitespace or
// not: undefined behaviour found by fuzz_config. Config files are therefore
// ASCII; text such as a display name uses \uXXXX escapes in a quoted string.
std::optional<Error> reject_non_ascii(std::string_view text, const std::string& source_name) {
  uint32_t line = 1, column = 1;
  for (unsigned char c : text) {
    if (c >= 0x80)
      return Error{source_name, line, column, "(syntax)",
                   "non-ASCII byte; write such text as \\uXXXX escapes inside a quoted string"};
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::nullopt;
}

LoadResult load_string(std::string_view text, const std::string& source_name, Scope scope) {
  if (auto e = reject_non_ascii(text, source_name)) {
    LoadResult r;
    r.errors.push_back(std::move(*e));
    return r;
  }
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    LoadResult r;
    r.errors.push_back({source_name, e.source().begin.line, e.source().begin.column, "(syntax)",
                        std::string(e.description())});
    return r;
  }
  return build(root, source_name, scope);
}

std::vector<std::string> schema_keys() {
  std::set<std::string> keys;
  schema_keys_ = &keys;
  // One of every section: the readers ask for each key they know.
  load_string("[instance]\n[codecs]\n[dataplane]\n[sip]\n[media]\n[[port]]\n[[subscriber]]\n[[trunk]]\n[[route]]\n",
              "(schema)", Scope::fragment);
  schema_keys_ = nullptr;
  return {keys.begin(), keys.end()};
}

LoadResult load_file(const std::string& path, Scope scope) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back({path, 0, 0, "(file)", "cannot be opened"});
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), path, scope);
}

}  // namespace msgw::config
