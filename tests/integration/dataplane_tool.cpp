// SPDX-License-Identifier: GPL-3.0-or-later
// Test helper for the dataplane integration scripts: programs flows through
// the client library (exactly as control/ does) and reads events/stats
// (here); writes/checks the pcaps of the deterministic net_pcap test with
// libpcap (dataplane_tool_pcap.cpp) and the rig's speech streams
// (dataplane_tool_audio.cpp).
//
//   dataplane_tool generation INSTANCE
//   dataplane_tool add INSTANCE FLOW LEG LEG   LEG = port:lip:lport:rip:rport:codec:pt[:dtmf[:latch|noannexb]...]
//   dataplane_tool modify INSTANCE FLOW LEG LEG
//   dataplane_tool del INSTANCE FLOW
//   dataplane_tool dump INSTANCE
//   dataplane_tool stats INSTANCE FLOW          prints leg0/leg1 packets sent dropped
//   dataplane_tool events INSTANCE MS           prints events seen for MS ms
//   dataplane_tool wait-sent INSTANCE FLOW LEG N MS   waits until leg sent >= N
//   dataplane_tool bench-flows INSTANCE N relay|transcode   flows for msgw-loadtest packet-rate
//   dataplane_tool pcap-gen IN0 IN1             relay scenario input
//   dataplane_tool pcap-check OUT1              relay scenario output checks
//   dataplane_tool pcap-check-transcode IN0 IN1 OUT1 OUT0   transcoded flow, both directions
//   dataplane_tool rig-media DIR N              speech-like PCMU and G.729 streams for the rig
//   dataplane_tool rig-check DIR                decodes what the rig's ends received
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dataplane_tool.hpp"
#include "msgw/config/config.hpp"
#include "msgw/dataplane/client.hpp"

using namespace msgw::dataplane;
using dataplane_tool::fail;
using namespace std::chrono_literals;

int dataplane_tool::fail(const std::string& m) {
  std::fprintf(stderr, "dataplane_tool: %s\n", m.c_str());
  return 1;
}

namespace {

std::optional<Client> attach(const std::string& inst) {
  std::string err;
  auto c = Client::attach(inst, err);
  if (!c) std::fprintf(stderr, "dataplane_tool: %s\n", err.c_str());
  return c;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> v;
  size_t b = 0;
  for (;;) {
    size_t e = s.find(sep, b);
    v.push_back(s.substr(b, e == std::string::npos ? e : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return v;
}

std::optional<LegSpec> parse_leg(const std::string& s) {
  auto f = split(s, ':');
  if (f.size() < 7) return std::nullopt;
  LegSpec l{};
  l.port = uint16_t(std::stoul(f[0]));
  auto lip = msgw::config::parse_ipv4(f[1]);
  if (!lip) return std::nullopt;
  l.local_ip = *lip;
  l.local_port = uint16_t(std::stoul(f[2]));
  if (f[3] != "0") {
    auto rip = msgw::config::parse_ipv4(f[3]);
    if (!rip) return std::nullopt;
    l.remote_ip = *rip;
  }
  l.remote_port = uint16_t(std::stoul(f[4]));
  const std::string& c = f[5];
  l.codec = uint8_t(c == "pcmu"   ? CodecId::Pcmu
                    : c == "pcma" ? CodecId::Pcma
                    : c == "g729" ? CodecId::G729
                    : c == "g726" ? CodecId::G726_32
                                  : CodecId(200));  // not a codec: the dataplane must refuse it
  l.payload_type = uint8_t(std::stoul(f[6]));
  l.dtmf_pt = f.size() > 7 ? uint8_t(std::stoul(f[7])) : kNoPayloadType;
  l.ptime_ms = 20;
  l.flags = 0;
  for (size_t i = 8; i < f.size(); ++i) {
    if (f[i] == "latch") l.flags |= kLegLatch;
    else if (f[i] == "noannexb") l.flags |= kLegG729NoAnnexB;
    else return std::nullopt;
  }
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return fail("usage: see the header of dataplane_tool.cpp");
  const std::string cmd = argv[1];
  if (cmd == "pcap-gen" && argc == 4) return dataplane_tool::pcap_gen(argv[2], argv[3]);
  if (cmd == "pcap-check" && argc == 3) return dataplane_tool::pcap_check(argv[2]);
  if (cmd == "pcap-check-transcode" && argc == 6)
    return dataplane_tool::pcap_check_transcode(argv[2], argv[3], argv[4], argv[5]);
  if (cmd == "rig-media" && argc == 4) return dataplane_tool::rig_media(argv[2], std::stoi(argv[3]));
  if (cmd == "rig-check" && argc == 3) return dataplane_tool::rig_check(argv[2]);
  if (argc < 3) return fail("missing instance");
  auto c = attach(argv[2]);
  if (!c) return 1;
  if (cmd == "generation") {
    std::printf("%lu %s\n", static_cast<unsigned long>(c->attached_generation()),
                c->dataplane_up() ? "up" : "down");
    return 0;
  }
  if ((cmd == "add" || cmd == "modify") && argc == 6) {
    auto a = parse_leg(argv[4]), b = parse_leg(argv[5]);
    if (!a || !b) return fail("bad leg spec");
    const uint32_t flow = uint32_t(std::stoul(argv[3]));
    auto rid = cmd == "add" ? c->add_flow(flow, *a, *b) : c->modify_flow(flow, *a, *b);
    if (!rid) return fail("command ring full or dataplane not up");
    auto st = c->wait_ack(*rid, 2000ms);
    if (!st) return fail("no ack within 2 s");
    std::printf("%s flow %u: %s\n", cmd.c_str(), flow, status_name(*st));
    return *st == Status::ok ? 0 : 3;
  }
  if (cmd == "del" && argc == 4) {
    auto rid = c->delete_flow(uint32_t(std::stoul(argv[3])));
    if (!rid) return fail("command ring full or dataplane not up");
    auto st = c->wait_ack(*rid, 2000ms);
    if (!st) return fail("no ack within 2 s");
    std::printf("del flow %s: %s\n", argv[3], status_name(*st));
    return *st == Status::ok ? 0 : 3;
  }
  if (cmd == "dump") {
    auto rid = c->dump_flows();
    if (!rid) return fail("command ring full or dataplane not up");
    std::deque<Event> flows;
    auto st = c->wait_ack(*rid, 5000ms, &flows);
    if (!st) return fail("no ack within 5 s");
    for (const auto& e : flows)
      std::printf("flow %u: leg0 %s:%u latched %s:%u | leg1 %s:%u latched %s:%u\n", e.flow_id,
                  msgw::config::format_ipv4(e.u.flow.legs[0].local_ip).c_str(),
                  e.u.flow.legs[0].local_port,
                  msgw::config::format_ipv4(e.u.flow.latched_ip[0]).c_str(),
                  e.u.flow.latched_port[0],
                  msgw::config::format_ipv4(e.u.flow.legs[1].local_ip).c_str(),
                  e.u.flow.legs[1].local_port,
                  msgw::config::format_ipv4(e.u.flow.latched_ip[1]).c_str(),
                  e.u.flow.latched_port[1]);
    return 0;
  }
  if (cmd == "stats" && argc == 4) {
    const uint32_t flow = uint32_t(std::stoul(argv[3]));
    for (uint8_t l = 0; l < 2; ++l) {
      const FlowStats s = c->read_stats(flow, l);
      std::printf("leg%u packets %lu sent %lu dropped %lu lost %lu jitter %lu\n", l,
                  (unsigned long)s.packets, (unsigned long)s.sent, (unsigned long)s.dropped,
                  (unsigned long)s.lost, (unsigned long)s.jitter);
    }
    return 0;
  }
  if (cmd == "wait-sent" && argc == 7) {
    const uint32_t flow = uint32_t(std::stoul(argv[3]));
    const uint8_t leg = uint8_t(std::stoul(argv[4]));
    const uint64_t want = std::stoull(argv[5]);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::stoul(argv[6]));
    while (c->read_stats(flow, leg).sent < want) {
      if (std::chrono::steady_clock::now() > deadline)
        return fail("leg sent " + std::to_string(c->read_stats(flow, leg).sent) + " < " +
                    std::to_string(want));
      std::this_thread::sleep_for(10ms);
    }
    return 0;
  }
  if (cmd == "bench-flows" && argc == 5) {
    // Pipelined: keep up to 512 commands in flight, then collect the acks.
    const uint32_t n = uint32_t(std::stoul(argv[3]));
    const bool tc = std::string(argv[4]) == "transcode";
    uint32_t next = 0, acked = 0, failed = 0;
    auto stalled_at = std::chrono::steady_clock::now() + 10s;
    while (acked < n) {
      while (next < n && next - acked < 512) {
        LegSpec a{}, b{};
        a.port = b.port = 0;
        a.local_ip = 0x0a000001;
        b.local_ip = 0x0a000101;
        a.local_port = b.local_port = uint16_t(20000 + 2 * next);
        a.remote_ip = 0x0a000002;
        b.remote_ip = 0x0a000102;
        a.remote_port = b.remote_port = uint16_t(40000 + 2 * next);
        a.codec = uint8_t(CodecId::Pcmu);
        a.payload_type = 0;
        b.codec = uint8_t(tc ? CodecId::G729 : CodecId::Pcmu);
        b.payload_type = tc ? 18 : 0;
        a.dtmf_pt = b.dtmf_pt = kNoPayloadType;
        a.ptime_ms = b.ptime_ms = 20;
        if (tc) b.flags = kLegG729NoAnnexB;
        if (!c->add_flow(next, a, b)) break;
        ++next;
      }
      auto e = c->poll_event();
      if (!e) {
        // A dataplane that restarts or dies under us never acks: say so
        // instead of waiting forever.
        if (c->generation_changed())
          return fail("dataplane restarted or went down after " + std::to_string(acked) + " of " +
                      std::to_string(n) + " flows were acknowledged");
        if (std::chrono::steady_clock::now() > stalled_at)
          return fail("no acknowledgement for 10 s after " + std::to_string(acked) + " of " +
                      std::to_string(n) + " flows");
        std::this_thread::sleep_for(100us);
        continue;
      }
      if (e->type != uint16_t(EventType::ack)) continue;
      stalled_at = std::chrono::steady_clock::now() + 10s;
      ++acked;
      if (e->status != 0) ++failed;
    }
    std::printf("bench-flows: %u %s flows added, %u failed\n", n - failed, argv[4], failed);
    return failed ? 3 : 0;
  }
  if (cmd == "events" && argc == 4) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::stoul(argv[3]));
    while (std::chrono::steady_clock::now() < deadline) {
      while (auto e = c->poll_event()) {
        std::printf("%s flow %u leg %u", event_name(EventType(e->type)), e->flow_id, e->leg);
        if (e->type == uint16_t(EventType::latched))
          std::printf(" %s:%u ssrc %08x", msgw::config::format_ipv4(e->u.latched.ip).c_str(),
                      e->u.latched.port, e->u.latched.ssrc);
        if (e->type == uint16_t(EventType::dtmf)) std::printf(" digit %u", e->u.dtmf.event);
        std::printf("\n");
      }
      std::this_thread::sleep_for(5ms);
    }
    return 0;
  }
  return fail("unknown command or wrong arguments: " + cmd);
}
