// SPDX-License-Identifier: GPL-3.0-or-later
#include "options.hpp"

#include <charconv>
#include <cstring>
#include <sstream>
#include <string_view>

#include "packet_rate.hpp"
#include "packet_rate_count.hpp"
#include "tool_cpu.hpp"

namespace msgw::loadtest {
namespace {

struct TestEntry {
  TestKind kind;
  const char* name;
  bool built;
  const char* help;
};
constexpr TestEntry kTests[] = {
#define X(n, b, h) {TestKind::n, #n, b, h},
    MSGW_LOADTEST_TESTS(X)
#undef X
};

std::string cli_name(const char* n) {
  std::string s(n);
  for (auto& c : s)
    if (c == '_') c = '-';
  return s;
}

template <typename T>
bool number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool host_port(std::string_view s, std::string& host, std::uint16_t& port) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos) {
    host = std::string(s);
    return !host.empty();
  }
  host = std::string(s.substr(0, colon));
  return !host.empty() && number(s.substr(colon + 1), port) && port != 0;
}

}  // namespace

const char* test_name(TestKind k) {
  static std::string names[std::size(kTests)];
  auto i = static_cast<std::size_t>(k);
  if (names[i].empty()) names[i] = cli_name(kTests[i].name);
  return names[i].c_str();
}

bool test_built(TestKind k) {
  if (k == TestKind::packet_rate) return packet_rate_built();
  return kTests[static_cast<std::size_t>(k)].built;
}

std::string usage() {
  std::ostringstream o;
  o << "Usage: msgw-loadtest TEST [options] --target HOST[:PORT]\n"
       "       msgw-loadtest packet-rate [options] -- EAL-ARGUMENTS\n\n"
       "Measures a SIP target (msgw or any SBC, B2BUA or proxy) the way carriers qualify one, playing\n"
       "both the phones and the carrier: RFC 7502 rates, capacity with media, RFC 2544 media throughput,\n"
       "overload; JSON and HTML reports.\n\nTests:\n";
  for (const auto& t : kTests)
    o << "  " << cli_name(t.name) << std::string(18 - cli_name(t.name).size(), ' ') << t.help
      << (test_built(t.kind) ? ""
          : t.kind == TestKind::packet_rate ? " [not built: no DPDK when this was built]"
                                            : " [designed, not built yet]")
      << "\n";
  o << R"(
Options:
Target and sides:
  --target HOST[:PORT]       the target's access side (default port 5060)
  --phone IP[:SIP_PORT]      phone side (UAC) address (127.0.0.1:5062)
  --phone-rtp-port P         phone side RTP port, one socket for every call (40000)
  --phone-netns NAME         run the phone side in this network namespace
  --carrier IP[:SIP_PORT]    carrier side (UAS) address; the target's trunk points here (127.0.0.1:5080)
  --carrier-rtp-port P       carrier side RTP port (42000)
  --carrier-netns NAME       run the carrier side in this network namespace
Calls:
  --number N                 dialled number, Request-URI user (18005551212)
  --user U --password P      digest credentials (spa1, none: no challenge expected)
  --hold-ms MS               call hold time (1000)
Search (RFC 7502):
  --start-rate R             first rate tried, per second (50)
  --max-rate R               highest rate offered (5000)
  --resolution R             bisect until failing - passing <= R (10)
  --step-s S                 duration of each step (10)
  --confirm-s S              confirmation run at the found rate, 0 = none (60)
  --threshold-ms MS          establishment threshold: a slower setup fails the step (1000)
  --max-steps N              give up after N steps (20)
  --rates R1,R2,...          run exactly these steps in order, no search
  --stop-on-failed-call      --rates: stop after the first step with a failed or uncompleted call
Media:
  --media                    RTP both ways on every call, 20 ms packets
  --codec PCMU|PCMA|G729     the codec offered and sent (PCMU)
  --media-dpdk               establishment, capacity, overload: the RTP from two DPDK ports (phone
                             side, then carrier side) named in the EAL arguments after --, each
                             bridged to the side's kernel TAP for its signalling (loadtest/README.md);
                             without media, the ports carry the signalling alone
  --phone-tap NAME           --media-dpdk: the phone side's TAP, in --phone-netns (phone0)
  --carrier-tap NAME         --media-dpdk: the carrier side's TAP, in --carrier-netns (carrier0)
Media throughput (RFC 2544 adapted; --step-s is each trial, --resolution the search's end):
  --modes relayed,transcoded the modes searched, in turn (both)
  --transcode-codec C        the carrier side's codec when transcoded: PCMU, PCMA, G729, G726-32 (G729)
  --start-sessions N         the search's first trial, in sessions (50)
  --max-sessions N           the most sessions tried (2000)
  --sessions N1,N2,...       run exactly these trials, no search
  --setup-rate R             calls/s while setting up a trial's calls (100)
Capacity and overload:
  --capacity-rate R          capacity: call arrival rate while filling (100)
  --capacity-max-calls N     capacity: stop filling at N concurrent calls (20000)
  --no-media                 capacity: calls without RTP (signalling and the target's media setup);
                             the level is calls up, faults are failed calls and slow setups
  --rate R                   overload: the base rate (capacity); without it an
                             establishment search finds it first
  --overload F1,F2           overload: factors of the base rate offered (2,10)
Packet rate (DPDK; no SIP: the target's flows are programmed already; --step-s is the trial):
  --modes relayed|transcoded one mode per run (relayed)
  --flows N                  relayed flows or transcoded sessions, ports as dataplane_tool bench-flows (1000)
  --pps R                    relayed: packets/s offered round the flows (100000); transcoded: 100 per session
  --linger-s S               after the report, wait up to S s for the target to hang up (30;
                             also --media-dpdk's ports)
  -- EAL-ARGUMENTS           the rest goes to DPDK's EAL; it names one port (packet-rate) or two
                             (--media-dpdk), e.g. -l 0 --no-pci --vdev net_memif0,role=client,socket=PATH
Test aids (the tool plays a faulty target to check its own arithmetic):
  --reject-every N           the carrier side answers 503 to every Nth INVITE (N divides 100)
  --withhold-rtp-every N     the carrier side withholds every Nth RTP packet of each stream
SUT CPU:
  --sut-cpus LIST            the CPUs the target is pinned to (0 or 0,2 or 0-3): each step reports their
                             busy share and CPU microseconds per completed call (/proc/stat; niced work
                             and steal left out)
Reports:
  --json FILE                also write the JSON result here (always the last line of stdout)
  --html FILE                self-contained HTML report
  --work-dir DIR             scenarios and SIPp output here (default: a new /tmp dir)
  --keep-work                keep the work directory
  --quiet                    no progress line on stderr
  --sipp PATH                the SIPp binary (sipp)
  --socket-buffer BYTES      SIPp's socket send and receive buffers (16777216; the kernel caps
                             them at net.core.rmem_max and wmem_max)
)";
  return o.str();
}

std::optional<Options> parse_options(int argc, char** argv, std::string* error, bool* help) {
  Options o;
  *help = false;
  if (argc < 2) {
    *error = usage();
    return std::nullopt;
  }
  std::string_view test = argv[1];
  if (test == "-h" || test == "--help") {
    *help = true;
    *error = usage();
    return std::nullopt;
  }
  bool found = false;
  for (const auto& t : kTests)
    if (cli_name(t.name) == test) {
      o.test = t.kind;
      found = true;
    }
  if (!found) {
    *error = "unknown test '" + std::string(test) + "' (msgw-loadtest --help)";
    return std::nullopt;
  }
  auto bad = [&](std::string_view opt, std::string_view why) {
    *error = std::string(opt) + ": " + std::string(why);
    return std::nullopt;
  };
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string_view(argv[++i]);
    };
    auto u32 = [&](std::uint32_t& out, std::uint32_t min) -> bool {
      auto v = value();
      return v && number(*v, out) && out >= min;
    };
    auto u16 = [&](std::uint16_t& out) -> bool {
      auto v = value();
      return v && number(*v, out) && out != 0;
    };
    if (a == "--") {
      for (++i; i < argc; ++i) o.eal_args.emplace_back(argv[i]);
      break;
    }
    if (a == "-h" || a == "--help") {
      *help = true;
      *error = usage();
      return std::nullopt;
    } else if (a == "--target") {
      auto v = value();
      if (!v || !host_port(*v, o.target_host, o.target_port)) return bad(a, "HOST[:PORT] expected");
    } else if (a == "--phone") {
      auto v = value();
      if (!v || !host_port(*v, o.phone_ip, o.phone_sip_port)) return bad(a, "IP[:PORT] expected");
    } else if (a == "--carrier") {
      auto v = value();
      if (!v || !host_port(*v, o.carrier_ip, o.carrier_sip_port)) return bad(a, "IP[:PORT] expected");
    } else if (a == "--phone-rtp-port") {
      if (!u16(o.phone_rtp_port)) return bad(a, "port expected");
    } else if (a == "--carrier-rtp-port") {
      if (!u16(o.carrier_rtp_port)) return bad(a, "port expected");
    } else if (a == "--phone-netns" || a == "--carrier-netns" || a == "--number" || a == "--user" ||
               a == "--password" || a == "--json" || a == "--html" || a == "--work-dir" || a == "--sipp" ||
               a == "--codec") {
      auto v = value();
      if (!v || v->empty()) return bad(a, "value expected");
      std::string s(*v);
      if (a == "--phone-netns") o.phone_netns = s;
      else if (a == "--carrier-netns") o.carrier_netns = s;
      else if (a == "--number") o.number = s;
      else if (a == "--user") o.user = s;
      else if (a == "--password") o.password = s;
      else if (a == "--json") o.json_file = s;
      else if (a == "--html") o.html_file = s;
      else if (a == "--work-dir") o.work_dir = s;
      else if (a == "--sipp") o.sipp = s;
      else o.codec_name = s;
    } else if (a == "--socket-buffer") {
      if (!u32(o.socket_buffer, 4096)) return bad(a, "bytes >= 4096 expected");
    } else if (a == "--hold-ms") {
      if (!u32(o.hold_ms, 0)) return bad(a, "milliseconds expected");
    } else if (a == "--start-rate") {
      if (!u32(o.start_rate, 1)) return bad(a, "rate >= 1 expected");
    } else if (a == "--max-rate") {
      if (!u32(o.max_rate, 1)) return bad(a, "rate >= 1 expected");
    } else if (a == "--resolution") {
      if (!u32(o.resolution, 1)) return bad(a, "rate >= 1 expected");
    } else if (a == "--step-s") {
      if (!u32(o.step_s, 1)) return bad(a, "seconds >= 1 expected");
    } else if (a == "--confirm-s") {
      if (!u32(o.confirm_s, 0)) return bad(a, "seconds expected");
    } else if (a == "--threshold-ms") {
      if (!u32(o.threshold_ms, 1)) return bad(a, "milliseconds expected");
    } else if (a == "--max-steps") {
      if (!u32(o.max_steps, 1)) return bad(a, "count expected");
    } else if (a == "--capacity-rate") {
      if (!u32(o.capacity_rate, 1)) return bad(a, "rate expected");
    } else if (a == "--rate") {
      if (!u32(o.rate, 1)) return bad(a, "rate >= 1 expected");
    } else if (a == "--capacity-max-calls") {
      if (!u32(o.capacity_max_calls, 1)) return bad(a, "count expected");
    } else if (a == "--reject-every") {
      if (!u32(o.reject_every, 1) || 100 % o.reject_every != 0) return bad(a, "N dividing 100 expected");
    } else if (a == "--withhold-rtp-every") {
      if (!u32(o.withhold_rtp_every, 2)) return bad(a, "N >= 2 expected");
    } else if (a == "--start-sessions") {
      if (!u32(o.start_sessions, 1)) return bad(a, "count >= 1 expected");
    } else if (a == "--max-sessions") {
      if (!u32(o.max_sessions, 1)) return bad(a, "count >= 1 expected");
    } else if (a == "--setup-rate") {
      if (!u32(o.setup_rate, 1)) return bad(a, "rate >= 1 expected");
    } else if (a == "--transcode-codec") {
      auto v = value();
      if (!v || v->empty()) return bad(a, "value expected");
      o.transcode_codec_name = std::string(*v);
    } else if (a == "--flows") {
      if (!u32(o.flows, 1) || o.flows > kPacketRateMaxFlows)
        return bad(a, "count from 1 to " + std::to_string(kPacketRateMaxFlows) + " expected");
    } else if (a == "--pps") {
      if (!u32(o.pps, 1)) return bad(a, "packets/s >= 1 expected");
      o.pps_given = true;
    } else if (a == "--linger-s") {
      if (!u32(o.linger_s, 0)) return bad(a, "seconds expected");
    } else if (a == "--modes") {
      o.modes_given = true;
      auto v = value();
      if (!v) return bad(a, "relayed, transcoded or both expected");
      o.mode_relayed = o.mode_transcoded = false;
      for (std::string_view s = *v; !s.empty();) {
        auto item = s.substr(0, s.find(','));
        if (item == "relayed") o.mode_relayed = true;
        else if (item == "transcoded") o.mode_transcoded = true;
        else return bad(a, "relayed, transcoded or both expected");
        s = item.size() < s.size() ? s.substr(item.size() + 1) : std::string_view();
      }
      if (!o.mode_relayed && !o.mode_transcoded) return bad(a, "relayed, transcoded or both expected");
    } else if (a == "--sessions") {
      auto v = value();
      if (!v) return bad(a, "list expected");
      for (std::string_view s = *v; !s.empty();) {
        auto item = s.substr(0, s.find(','));
        std::uint32_t n = 0;
        if (!number(item, n) || n == 0) return bad(a, "counts >= 1 expected");
        o.sessions.push_back(n);
        s = item.size() < s.size() ? s.substr(item.size() + 1) : std::string_view();
      }
    } else if (a == "--rates" || a == "--overload") {
      auto v = value();
      if (!v) return bad(a, "list expected");
      std::string_view s = *v;
      if (a == "--overload") o.overload_factors.clear();
      while (!s.empty()) {
        auto comma = s.find(',');
        auto item = s.substr(0, comma);
        if (a == "--rates") {
          std::uint32_t r = 0;
          if (!number(item, r) || r == 0) return bad(a, "rates >= 1 expected");
          o.rates.push_back(r);
        } else {
          double f = 0;
          auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), f);
          if (ec != std::errc() || p != item.data() + item.size() || f <= 0) return bad(a, "factors > 0 expected");
          o.overload_factors.push_back(f);
        }
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
      }
    } else if (a == "--sut-cpus") {
      auto v = value();
      std::string why;
      auto cpus = v ? parse_cpu_list(*v, &why) : std::nullopt;
      if (!v) why = "a CPU list expected (e.g. 0 or 0,2 or 0-3)";
      if (!cpus) return bad(a, why);
      // A CPU that is not online has no line in /proc/stat: nothing would be measured.
      const auto online = read_proc_stat();
      for (int cpu : *cpus)
        if (!online.count(cpu)) return bad(a, "CPU " + std::to_string(cpu) + " is not online on this host");
      o.sut_cpus = std::move(*cpus);
    } else if (a == "--media") {
      o.media = true;
    } else if (a == "--media-dpdk") {
      o.media_dpdk = true;
    } else if (a == "--phone-tap" || a == "--carrier-tap") {
      auto v = value();
      if (!v || v->empty() || v->size() > 15) return bad(a, "an interface name (1-15 characters) expected");
      (a == "--phone-tap" ? o.phone_tap : o.carrier_tap) = std::string(*v);
    } else if (a == "--no-media") {
      o.capacity_no_media = true;
    } else if (a == "--stop-on-failed-call") {
      o.stop_on_failed_call = true;
    } else if (a == "--keep-work") {
      o.keep_work = true;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else {
      *error = "unknown option " + std::string(a) + " (msgw-loadtest --help)";
      return std::nullopt;
    }
  }
  if (o.test == TestKind::packet_rate) {
    if (!o.modes_given) o.mode_transcoded = false;
    if (o.mode_relayed == o.mode_transcoded) {
      *error = "packet-rate: one mode per run (--modes relayed or --modes transcoded)";
      return std::nullopt;
    }
    if (o.mode_transcoded && o.pps_given) {
      *error = "packet-rate: --pps is for relayed flows; a transcoded session is 100 packets/s (--flows sets the load)";
      return std::nullopt;
    }
  } else if (o.media_dpdk) {
    const bool calls = o.test == TestKind::establishment || o.test == TestKind::capacity || o.test == TestKind::overload;
    if (!calls) {
      *error = "--media-dpdk: establishment, capacity or overload (media-throughput has its own socket sender)";
      return std::nullopt;
    }
    if (o.eal_args.empty()) {
      *error = "--media-dpdk needs the EAL's arguments after --, naming two ports (phone side, carrier side)";
      return std::nullopt;
    }
  } else if (!o.eal_args.empty()) {
    *error = "EAL arguments (after --) are for packet-rate and --media-dpdk only";
    return std::nullopt;
  }
  if (o.test != TestKind::self_test && o.test != TestKind::packet_rate && o.target_host.empty()) {
    *error = "--target HOST[:PORT] is required";
    return std::nullopt;
  }
  auto id = codecs::codec_from_sdp_name(o.codec_name);
  if (!id || (*id != codecs::CodecId::Pcmu && *id != codecs::CodecId::Pcma && *id != codecs::CodecId::G729)) {
    *error = "--codec: PCMU, PCMA or G729 expected";
    return std::nullopt;
  }
  o.codec.id = *id;
  o.codec.payload_type = codecs::codec_info(*id).static_payload_type;
  o.codec.ptime_ms = 20;
  o.codec.g729_annexb = false;
  if (o.media && o.capacity_no_media) {
    *error = "--media and --no-media exclude each other";
    return std::nullopt;
  }
  if (o.max_rate < o.start_rate) o.max_rate = o.start_rate;
  if (o.max_sessions < o.start_sessions) o.max_sessions = o.start_sessions;
  // The transcoded mode's carrier codec: another one than the phone side's.
  if (o.transcode_codec_name.empty()) o.transcode_codec_name = o.codec.id == codecs::CodecId::G729 ? "PCMU" : "G729";
  auto tid = codecs::codec_from_sdp_name(o.transcode_codec_name);
  if (!tid || *tid == o.codec.id ||
      (*tid != codecs::CodecId::Pcmu && *tid != codecs::CodecId::Pcma && *tid != codecs::CodecId::G729 &&
       *tid != codecs::CodecId::G726_32)) {
    *error = "--transcode-codec: PCMU, PCMA, G729 or G726-32, other than --codec, expected";
    return std::nullopt;
  }
  o.transcode_codec.id = *tid;
  o.transcode_codec.payload_type = codecs::codec_info(*tid).static_payload_type;
  if (o.transcode_codec.payload_type == codecs::kDynamicPayloadType) o.transcode_codec.payload_type = 96;
  o.transcode_codec.ptime_ms = 20;
  o.transcode_codec.g729_annexb = false;
  return o;
}

}  // namespace msgw::loadtest
