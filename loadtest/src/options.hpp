// SPDX-License-Identifier: GPL-3.0-or-later
// msgw-loadtest's command line: the test, the target, both sides' addresses,
// the search and its thresholds, media, reports. loadtest/README.md documents
// every option; usage() prints the same list.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "msgw/codecs/codec.hpp"

namespace msgw::loadtest {

// built = false: designed (its options parse) but refused. packet-rate is
// built when meson found DPDK (packet_rate_built()).
#define MSGW_LOADTEST_TESTS(X)                                                              \
  X(establishment, true, "session establishment rate (RFC 7501/7502): calls/s, zero failures") \
  X(registration, true, "registration rate (RFC 7502): new registrations/s")                 \
  X(reregistration, true, "re-registration rate (RFC 7502): refreshes/s of registered users") \
  X(self_test, true, "the tool's own ceiling: establishment against its loopback SIPp target") \
  X(capacity, true, "session capacity: most concurrent calls with media and zero loss")     \
  X(media_throughput, true, "RFC 2544 adapted: zero-loss relayed/transcoded sessions, latency") \
  X(overload, true, "2x and 10x a rate (given or found) offered: goodput curve")                \
  X(packet_rate, true, "the dataplane alone from a DPDK port: RTP pps into programmed flows, loss, latency")

enum class TestKind : std::uint8_t {
#define X(name, built, help) name,
  MSGW_LOADTEST_TESTS(X)
#undef X
};
const char* test_name(TestKind k);  // as typed: "self-test", "media-throughput"

struct Options {
  TestKind test = TestKind::establishment;
  // The target's access side (where phones send INVITE/REGISTER).
  std::string target_host;
  std::uint16_t target_port = 5060;
  // Phone side (UAC): SIP and RTP source address, network namespace.
  std::string phone_ip = "127.0.0.1";
  std::uint16_t phone_sip_port = 5062;
  std::uint16_t phone_rtp_port = 40000;
  std::string phone_netns;
  // Carrier side (UAS): where the target's trunk sends its INVITEs.
  std::string carrier_ip = "127.0.0.1";
  std::uint16_t carrier_sip_port = 5080;
  std::uint16_t carrier_rtp_port = 42000;
  std::string carrier_netns;
  // Call and credentials.
  std::string number = "18005551212";
  std::string user = "spa1";
  std::string password;  // empty: no digest expected
  std::uint32_t hold_ms = 1000;
  // The search (rates per second).
  std::uint32_t start_rate = 50, max_rate = 5000, resolution = 10;
  std::uint32_t step_s = 10;
  std::uint32_t confirm_s = 60;   // 0: no confirmation run
  std::uint32_t threshold_ms = 1000;  // establishment threshold (RFC 7502)
  std::uint32_t max_steps = 20;
  std::vector<std::uint32_t> rates;  // --rates: run exactly these steps, no search
  bool stop_on_failed_call = false;  // --rates: stop after the first step with a failed or uncompleted attempt
  // Media.
  bool media = false;
  codecs::CodecParams codec{};
  std::string codec_name = "PCMU";
  // --media-dpdk: the calls' RTP from two DPDK ports (eal_args names them:
  // phone side, carrier side), each bridged to the side's kernel TAP.
  bool media_dpdk = false;
  std::string phone_tap = "phone0", carrier_tap = "carrier0";
  // Media throughput (RFC 2544 adapted): a search on sessions (calls with
  // RTP both ways), per mode; --step-s is the trial, --resolution the bisection's end.
  bool mode_relayed = true, mode_transcoded = true;  // --modes
  codecs::CodecParams transcode_codec{};             // the carrier side's codec when transcoded
  std::string transcode_codec_name;                  // --transcode-codec; default G729 (PCMU if --codec G729)
  std::uint32_t start_sessions = 50, max_sessions = 2000;
  std::vector<std::uint32_t> sessions;  // --sessions: exactly these trials, no search
  std::uint32_t setup_rate = 100;       // calls/s while setting up a trial's calls
  // Capacity and overload.
  std::uint32_t capacity_rate = 100, capacity_max_calls = 20000;
  // --no-media: capacity holds signalling-only calls (their SDP still makes
  // the target set up media for each); the level is calls up.
  bool capacity_no_media = false;
  std::uint32_t rate = 0;  // --rate: overload's base rate; 0 = find it with an establishment search first
  std::vector<double> overload_factors{2.0, 10.0};
  // Packet rate (DPDK, no SIP): one trial of --step-s seconds into flows the
  // target already has; --modes names one mode (relayed when not given).
  bool modes_given = false;
  std::uint32_t flows = 1000;
  std::uint32_t pps = 100000;  // relayed: packets/s offered over every flow
  bool pps_given = false;
  std::uint32_t linger_s = 30;  // after the report: wait this long for the target to hang up (also --media-dpdk)
  std::vector<std::string> eal_args;  // everything after -- (packet-rate, --media-dpdk)
  // Test aids: behave as a faulty target so the tool's own arithmetic can be checked.
  std::uint32_t reject_every = 0;        // the carrier answers 503 to every Nth INVITE
  std::uint32_t withhold_rtp_every = 0;  // the carrier withholds every Nth RTP packet
  // --sut-cpus: the cores the system under test is pinned to; each step then
  // reports their busy share and their CPU time per completed call.
  std::set<int> sut_cpus;
  // Reports and plumbing.
  std::string json_file, html_file, work_dir;
  bool keep_work = false;
  bool quiet = false;  // no progress line
  std::string sipp = "sipp";
  // SIPp's socket buffers (-buff_size), send and receive: a shedding target
  // answers a flood in bursts that SIPp's default 64 KiB cannot hold
  // (socket_drops.hpp counts what is still dropped).  The kernel caps it at
  // net.core.rmem_max / wmem_max.
  std::uint32_t socket_buffer = 16u << 20;
};

// Parses argv; on error returns nullopt and sets *error (usage text for --help).
std::optional<Options> parse_options(int argc, char** argv, std::string* error, bool* help);
std::string usage();
bool test_built(TestKind k);

}  // namespace msgw::loadtest
