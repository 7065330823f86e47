// SPDX-License-Identifier: GPL-3.0-or-later
// msgw configuration: one TOML file loaded into typed structs.
//
// Every error names FILE:LINE:COL, the dotted key and what is wrong, so an
// operator can fix the file without reading code. Loading never throws; it
// collects every error it finds (not just the first) so one `msgwctl config
// check` run shows all problems.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace msgw::config {

struct Error {
  std::string file;
  uint32_t line = 0;    // 0 when the problem has no position (e.g. missing key)
  uint32_t column = 0;
  std::string key;      // dotted path, e.g. "port[1].address"
  std::string message;
  std::string to_string() const;  // "FILE:LINE:COL: key: message"
};

struct Ipv4Prefix {
  uint32_t addr = 0;    // host byte order
  uint8_t prefix = 32;
  bool operator==(const Ipv4Prefix&) const = default;
};

// msgw-dataplane's fixed limits (its tables are sized by them; dataplane/
// static_asserts that its packet.hpp agrees).
inline constexpr size_t kMaxPorts = 8;
inline constexpr size_t kMaxWorkers = 16;

// [instance]
struct InstanceSection {
  std::string name = "default";      // names the shm segment /dev/shm/msgw-<name>
  std::string log_level = "info";    // trace|debug|info|warn|error
};

// [codecs] — engine defaults; SIP peers may override per subscriber/trunk.
struct CodecsSection {
  uint32_t default_ptime_ms = 20;    // egress packet time when the peer states none
  bool g729_annexb = true;           // RFC 4856: absent fmtp means annexb=yes
  std::string g726_packing = "rfc3551";  // rfc3551 | aal2 (SPA/Asterisk g726aal2)
};

enum class PortRole : uint8_t { access, trunk };

// [[port]]
struct PortSection {
  std::string name;                  // operator's name, e.g. "access"
  std::string device;                // DPDK device: vdev string (net_af_packet0,iface=veth1) or PCI address
  // A NIC by PCI address, "0000:03:00.0" (DDDD:BB:DD.F; "03:00.0" means
  // domain 0000), stored in that canonical lower-case form: the dataplane's
  // EAL allow-list entry, the device `msgwctl host check|prepare` look at.
  // Exactly one of `device` and `pci` is given.
  std::string pci;
  Ipv4Prefix address;                // the port's own address (exception path / SIP answer here)
  std::optional<uint32_t> next_hop;  // default gateway for off-link destinations
  PortRole role = PortRole::access;
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 0;            // 0: one per worker; fewer: workers share them (locked)
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  std::string tap_name;              // kernel side of the exception path; default msgw-<name>
};

// [dataplane]
struct DataplaneSection {
  uint32_t main_lcore = 0;
  std::vector<uint32_t> worker_lcores{1};
  std::vector<std::string> eal_args;     // extra EAL arguments, passed verbatim
  uint32_t memory_mb = 512;
  std::string hugepages = "auto";        // auto | on | off  (off = --no-huge)
  uint32_t flow_capacity = 131072;       // relay legs; the default must hold 100,000
  uint32_t media_timeout_ms = 30000;
  uint32_t latch_packets = 3;            // consecutive packets a new source needs to move the latch
  uint32_t rtcp_interval_ms = 5000;
  // Load-based sleep of the worker lcores (the idea of Open vSwitch's
  // pmd-sleep-max): 0 = busy-poll always; otherwise a worker whose polls bring
  // less than half a burst sleeps, doubling from 1 us up to this bound, and
  // polls flat out again once a poll brings half a burst.  For hosts where the
  // workers share cores with the control plane; costs up to this much latency.
  uint32_t worker_sleep_max_us = 0;
};

// "host:port" or "[v6]:port"; port defaults to 5060 when absent.
struct HostPort {
  std::string host;
  uint16_t port = 5060;
  bool port_given = false;               // the text named a port (RFC 3263 §4.2: then no SRV lookup)
  std::string to_string() const;
  bool operator==(const HostPort&) const = default;
};

// [sip]
struct SipSection {
  std::string realm = "msgw";
  std::vector<HostPort> listen;          // each is served on UDP and TCP
  uint32_t nonce_ttl_s = 300;            // digest nonce lifetime; older ones get stale=true
  // Digest algorithms challenged to a user that is no [[subscriber]], most
  // preferred first (RFC 8760). MD5 first: SPA-class ATAs know no other.
  // Subscribers are challenged with their own `digest_algorithms`.
  std::vector<std::string> digest_algorithms{"MD5", "SHA-256"};
  // Request-URI hosts that are ours besides the gateway's addresses (an
  // outbound-proxy phone puts its provider's domain there); any other host
  // in a subscriber's INVITE gets 403.
  std::vector<std::string> domains;
  uint32_t max_auth_failures = 5;        // from one source before 403
  uint32_t t1_ms = 500;                  // RFC 3261 T1
  uint32_t min_expires_s = 60;           // registrar: shorter gets 423
  uint32_t max_expires_s = 3600;
  std::string state_db = "/var/lib/msgw/state.db";   // registrations, dialogs, CDRs (SQLite WAL)
  std::string management_socket = "/run/msgw/control.sock";
  // Prometheus /metrics over HTTP on this IPv4 address and port
  // ("127.0.0.1:9105"); empty: no metrics endpoint.  A management address:
  // the endpoint has no authentication.
  std::string metrics_listen;
  uint32_t metrics_ip = 0;               // parsed metrics_listen (host order)
  uint16_t metrics_port = 0;
  // DNS servers for trunks given by name ("10.20.0.2" or "10.20.0.2:5353");
  // empty: the system's /etc/resolv.conf.
  std::vector<std::string> dns_servers;
  // Overload shedding (sip/include/msgw/sip/admission.hpp): once a datagram
  // has waited this long in msgw-control's receive queue, new INVITEs and
  // REGISTERs get 503 with Retry-After unparsed, until one waited less than
  // overload_resume_age_ms.  0: never shed.
  uint32_t overload_queue_age_ms = 200;
  uint32_t overload_resume_age_ms = 50;
  uint32_t overload_retry_after_s = 2;
  // Per-source limits (like Kamailio's pike): INVITEs / REGISTERs a second
  // from one address (0: no limit); a source over its rate is blocked, every
  // message from it dropped unparsed, until source_block_s pass without
  // traffic over the rate.  Trunks' addresses and source_limit_exempt
  // (IPv4 addresses or prefixes) are never limited.
  uint32_t source_invite_rate = 0;
  uint32_t source_register_rate = 0;
  uint32_t source_burst = 0;             // bucket depth; 0: twice the rate
  uint32_t source_block_s = 30;
  uint32_t source_table_size = 16384;    // sources remembered; least recently seen forgotten first
  std::vector<std::string> source_limit_exempt;
  // SIP over UDP through msgw-dataplane's shared memory instead of the TAP
  // and the kernel's sockets (control/dataplane_sip_path.hpp); false: the
  // kernel's sockets only (to see the SIP with tcpdump on the TAP).
  bool udp_via_dataplane = true;
};

// [media]
struct MediaSection {
  uint16_t port_min = 16384;             // gateway RTP ports, even ones; RTCP is port+1
  uint16_t port_max = 32767;
};

// [[subscriber]] — credentials are kept as HA1 = MD5(user:realm:password)
// once loaded; `password` is accepted for provisioning convenience.
struct SubscriberSection {
  std::string user;
  std::string password;                  // empty when ha1 is given
  std::string ha1;                       // hex, 32 chars, lower case
  std::string ha1_sha256;                // hex, 64 chars: SHA-256(user:realm:password), optional
  // Challenged in this order; the default is MD5 alone (what SPA-class ATAs
  // and most deployed phones answer). SHA-256 needs `password` or `ha1_sha256`.
  std::vector<std::string> digest_algorithms{"MD5"};
  std::string display_name;
  std::vector<std::string> codecs{"PCMU", "PCMA"};   // preference order
  std::vector<std::string> dids;         // inbound numbers that reach this subscriber
  // rfc3551 | aal2 (SPA-class ATAs, Asterisk g726aal2): how this phone packs
  // G.726-32 when its SDP says plain "G726-32"; "" = [codecs] g726_packing.
  std::string g726_packing;
};

// [[trunk]] — trusted by source address, not digest.
struct TrunkSection {
  std::string name;
  HostPort address;                      // an IPv4 address or a host name (resolved per RFC 3263)
  std::string transport = "udp";         // udp | tcp
  std::vector<std::string> codecs{"PCMU"};
  std::string port;                      // [[port]] name the trunk is reached through
  uint32_t timeout_ms = 8000;            // no final answer within this → fail over
  std::string g726_packing;              // as [[subscriber]]: "" = [codecs] g726_packing
  bool payload_passthrough = false;      // forward static RTP payload types not negotiated on its leg
  // Offer reliable provisional responses (Supported: 100rel, RFC 3262) in our
  // INVITEs, for a trunk that requires them; any it sends are PRACKed either way.
  bool prack = false;
  // Digest credentials the gateway answers the trunk's 401/407 with (no
  // username: the trunk trusts us by address and a challenge fails the attempt).
  std::string username;
  std::string password;                  // or:
  std::string ha1;                       // hex HA1 (32 digits MD5 or 64 SHA-256) for `realm`
  std::string realm;                     // "": answer the realm the trunk challenges with
  std::string from_user;                 // From user of our requests ("": the caller / username)
  std::string from_domain;               // From host of our requests ("": the trunk's address)
  // P-Asserted-Identity (RFC 3325) with the caller's number on our INVITEs:
  // the trunk is in our trust domain. A caller who withheld the number gets
  // an anonymous From and Privacy: id either way.
  bool asserted_identity = true;
  bool register_ = false;                // TOML `register`: keep a registration at the trunk
  uint32_t register_expires_s = 3600;
  uint32_t ping_interval_s = 0;          // OPTIONS every N s; 0 = no health check
  uint32_t down_after = 2;               // missed / 5xx answers before the trunk is down
  uint32_t up_after = 2;                 // good answers before a down trunk is up again
  bool has_credentials() const { return !username.empty(); }
};

// [[route]] — tried in order; first match wins. Numbers are normalised
// (digits only, leading '+' dropped) before matching.
struct RouteSection {
  std::string name;
  std::string prefix;                    // match on normalised number prefix, or
  std::string regex;                     // ECMAScript regex over the whole normalised number
  std::vector<std::string> trunks;       // failover order
};

struct Config {
  std::string file;
  InstanceSection instance;
  CodecsSection codecs;
  DataplaneSection dataplane;
  std::vector<PortSection> ports;
  SipSection sip;
  MediaSection media;
  std::vector<SubscriberSection> subscribers;
  std::vector<TrunkSection> trunks;
  std::vector<RouteSection> routes;
};


// What a loaded file must be complete enough for. Every scope checks each
// key and every reference; `deployment` (both daemons: what msgw-control,
// msgwctl config check and provisioning use) also checks what the daemons
// need to start: at least one [[port]], at most kMaxPorts, an access port,
// [sip] listen. `dataplane`: msgw-dataplane alone (its rigs have no [sip]).
// `fragment`: a part of a file (tests, tools).
enum class Scope : uint8_t { deployment, dataplane, fragment };

// Dotted key path ("trunk[0].address", "route[1].trunks[0]") → line, column
// of its value in the file, as the loader saw it.
struct Position {
  uint32_t line = 0, column = 0;
};
using KeyPositions = std::map<std::string, Position>;

// The checks only a whole Config shows: unique names, users and DIDs,
// routes naming trunks that exist, trunks naming ports that exist, and what
// the scope needs to start. Errors carry the position of their key when
// `where` knows it (0:0 for a Config built in code). The loader runs it; a
// reload runs it on the configuration it would apply.
struct LoadResult {
  std::optional<Config> config;      // set only when errors is empty
  std::vector<Error> errors;
  KeyPositions positions;            // where each key and table is (msgwctl edits tables in place)
  bool ok() const { return config.has_value(); }
};

LoadResult load_file(const std::string& path, Scope scope = Scope::deployment);
LoadResult load_string(std::string_view text, const std::string& source_name,
                       Scope scope = Scope::deployment);

std::vector<Error> check_whole(const Config& c, Scope scope, const KeyPositions* where);

// Why [instance] name cannot name /dev/shm/msgw-<name> and DPDK's file
// prefix, or empty: 1-64 letters, digits, '.', '_', '-', not starting with
// '.' or '-'.
std::string instance_name_problem(std::string_view name);

std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text);
// An IPv4 or IPv6 address or prefix ("192.0.2.0/24", "2001:db8::/32", "::1").
bool is_ip_prefix(std::string_view text);
std::optional<uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(uint32_t addr);
std::optional<HostPort> parse_host_port(std::string_view text);
// A PCI address, DDDD:BB:DD.F or BB:DD.F (hex; device <= 1f, function <= 7),
// as the kernel names it in sysfs: "0000:03:00.0". nullopt when malformed.
std::optional<std::string> parse_pci_address(std::string_view text);
// The PCI device a port drives: `pci`, or `device` when that is a PCI
// address (with or without ",devargs"); nullopt for a virtual device.
std::optional<std::string> port_pci_address(const PortSection& port);
// RFC 1123 §2.1 host name: dot-separated labels of 1-63 letters, digits and
// hyphens, not starting or ending with a hyphen, 253 characters at most, the
// last label not all digits (so "10.20.0.300" is not a name). One trailing
// dot is allowed.
bool is_host_name(std::string_view text);

}  // namespace msgw::config
