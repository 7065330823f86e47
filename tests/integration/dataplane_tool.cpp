// Test helper for the dataplane integration scripts: programs flows through
// the client library (exactly as control/ does), reads events/stats, and
// writes/checks the pcaps of the deterministic net_pcap test with libpcap.
//
//   dataplane_tool generation INSTANCE
//   dataplane_tool add INSTANCE FLOW LEG LEG   LEG = port:lip:lport:rip:rport:codec:pt[:dtmf[:latch]]
//   dataplane_tool modify INSTANCE FLOW LEG LEG
//   dataplane_tool del INSTANCE FLOW
//   dataplane_tool dump INSTANCE
//   dataplane_tool stats INSTANCE FLOW          prints leg0/leg1 packets sent dropped
//   dataplane_tool events INSTANCE MS           prints events seen for MS ms
//   dataplane_tool wait-sent INSTANCE FLOW LEG N MS   waits until leg sent >= N
//   dataplane_tool bench-flows INSTANCE N relay|transcode   flows for tests/perf/dataplane_loadgen
//   dataplane_tool pcap-gen IN0 IN1             relay scenario input
//   dataplane_tool pcap-check IN0 OUT1 OUT0     relay scenario output checks
#include <pcap/pcap.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "msgw/config/config.hpp"
#include "msgw/dataplane/client.hpp"

using namespace msgw::dataplane;
using namespace std::chrono_literals;

namespace {

int fail(const std::string& m) {
  std::fprintf(stderr, "dataplane_tool: %s\n", m.c_str());
  return 1;
}

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
  l.codec = c == "pcmu" ? 0 : c == "pcma" ? 1 : c == "g729" ? 2 : c == "g726" ? 3 : 200;
  l.payload_type = uint8_t(std::stoul(f[6]));
  l.dtmf_pt = f.size() > 7 ? uint8_t(std::stoul(f[7])) : kNoPayloadType;
  l.ptime_ms = 20;
  l.flags = f.size() > 8 && f[8] == "latch" ? kLegLatch : 0;
  return l;
}

// ---- the deterministic relay scenario ----
constexpr uint32_t kPhone = 0x0a01000a, kGwA = 0x0a010001;    // 10.1.0.10 -> 10.1.0.1
constexpr uint32_t kCarrier = 0x0a020014, kGwB = 0x0a020001;  // 10.2.0.20 <- 10.2.0.1
constexpr uint16_t kPhonePort = 4000, kGwAPort = 20000, kGwBPort = 30000, kCarrierPort = 5000;
constexpr int kPackets = 100, kSwitchAt = 60;

uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(s);
}
uint32_t sum(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) s += uint32_t(p[n - 1] << 8);
  return s;
}
uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t rd32(const uint8_t* p) { return uint32_t(rd16(p)) << 16 | rd16(p + 2); }

std::vector<uint8_t> udp_frame(uint32_t sip, uint32_t dip, uint16_t sp, uint16_t dp,
                               const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00};
  auto p16 = [&f](uint16_t v) { f.push_back(uint8_t(v >> 8)); f.push_back(uint8_t(v)); };
  auto p32 = [&](uint32_t v) { p16(uint16_t(v >> 16)); p16(uint16_t(v)); };
  f.push_back(0x45); f.push_back(0); p16(uint16_t(28 + payload.size())); p16(7); p16(0x4000);
  f.push_back(63); f.push_back(17); p16(0); p32(sip); p32(dip);
  const uint16_t ic = uint16_t(~fold(sum(&f[14], 20)));
  f[24] = uint8_t(ic >> 8); f[25] = uint8_t(ic);
  p16(sp); p16(dp); p16(uint16_t(8 + payload.size())); p16(0);
  f.insert(f.end(), payload.begin(), payload.end());
  uint32_t s = sum(&f[26], 8) + 17 + uint32_t(8 + payload.size());
  uint16_t uc = uint16_t(~fold(sum(&f[34], 8 + payload.size(), s)));
  if (uc == 0) uc = 0xffff;
  f[40] = uint8_t(uc >> 8); f[41] = uint8_t(uc);
  return f;
}

std::vector<uint8_t> rtp(int i) {
  // Source change at kSwitchAt: new SSRC, unrelated seq/ts (ringback -> answer).
  const bool b = i >= kSwitchAt;
  const uint32_t ssrc = b ? 0x22223333 : 0x11112222;
  const uint16_t seq = uint16_t(b ? 9000 + (i - kSwitchAt) : 65500 + i);  // wraps before switch
  const uint32_t ts = b ? 123456u + 160u * uint32_t(i - kSwitchAt) : 4294960000u + 160u * i;
  std::vector<uint8_t> r = {0x80, 0, uint8_t(seq >> 8), uint8_t(seq), uint8_t(ts >> 24),
                            uint8_t(ts >> 16), uint8_t(ts >> 8), uint8_t(ts), uint8_t(ssrc >> 24),
                            uint8_t(ssrc >> 16), uint8_t(ssrc >> 8), uint8_t(ssrc)};
  for (int k = 0; k < 160; ++k) r.push_back(uint8_t((i * 7 + k * 13) & 0xff));
  return r;
}

bool write_pcap(const char* path, const std::vector<std::vector<uint8_t>>& frames) {
  pcap_t* p = pcap_open_dead(DLT_EN10MB, 65535);
  pcap_dumper_t* d = pcap_dump_open(p, path);
  if (d == nullptr) return false;
  for (size_t i = 0; i < frames.size(); ++i) {
    pcap_pkthdr h{};
    h.ts.tv_sec = 1700000000 + long(i / 50);
    h.ts.tv_usec = long((i % 50) * 20000);
    h.caplen = h.len = uint32_t(frames[i].size());
    pcap_dump(reinterpret_cast<u_char*>(d), &h, frames[i].data());
  }
  pcap_dump_close(d);
  pcap_close(p);
  return true;
}

std::vector<std::vector<uint8_t>> read_pcap(const char* path) {
  std::vector<std::vector<uint8_t>> v;
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path, err);
  if (p == nullptr) {
    std::fprintf(stderr, "dataplane_tool: %s: %s\n", path, err);
    return v;
  }
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) v.emplace_back(d, d + h->caplen);
  pcap_close(p);
  return v;
}

int pcap_gen(const char* in0, const char* in1) {
  std::vector<std::vector<uint8_t>> f;
  for (int i = 0; i < kPackets; ++i) {
    f.push_back(udp_frame(kPhone, kGwA, kPhonePort, kGwAPort, rtp(i)));
    // Hostile/bad traffic interleaved: each must be dropped (or go to the
    // kernel) and never appear on the trunk side.
    switch (i % 10) {
      case 3: {  // RTP bleed: another source, wrong SSRC
        auto b = rtp(i);
        b[8] = 0xde;
        f.push_back(udp_frame(0x0a010063, kGwA, 6666, kGwAPort, b));
        break;
      }
      case 5: {  // wrong RTP version
        auto b = rtp(i);
        b[0] = 0x40;
        f.push_back(udp_frame(kPhone, kGwA, kPhonePort, kGwAPort, b));
        break;
      }
      case 7: {  // truncated at the IP header
        auto b = udp_frame(kPhone, kGwA, kPhonePort, kGwAPort, rtp(i));
        b.resize(30);
        f.push_back(b);
        break;
      }
      case 9: {  // SIP to the port address: exception path, not the trunk
        std::string sip = "OPTIONS sip:gw SIP/2.0\r\n\r\n";
        f.push_back(udp_frame(kPhone, kGwA, 5060, 5060, std::vector<uint8_t>(sip.begin(), sip.end())));
        break;
      }
      default:
        break;
    }
  }
  // Media towards flow 1, whose remote has no ARP entry: the dataplane
  // must ask for it on port 1 (ARP request in out1) and drop meanwhile.
  f.push_back(udp_frame(kPhone, kGwA, kPhonePort, kGwAPort + 2, rtp(0)));
  if (!write_pcap(in0, f)) return fail(std::string("cannot write ") + in0);
  if (!write_pcap(in1, {})) return fail(std::string("cannot write ") + in1);
  std::printf("pcap-gen: %zu frames (%d RTP) in %s, empty %s\n", f.size(), kPackets, in0, in1);
  return 0;
}

int pcap_check(const char* out1) {
  auto out = read_pcap(out1);
  int errors = 0;
  auto bad = [&errors](int i, const std::string& m) {
    if (++errors <= 20) std::fprintf(stderr, "pcap-check: packet %d: %s\n", i, m.c_str());
  };
  std::vector<std::vector<uint8_t>> rtp_out;
  int arp_requests = 0, other = 0;
  for (auto& f : out) {
    if (f.size() >= 42 && rd16(&f[12]) == 0x0806 && rd16(&f[20]) == 1 &&
        rd32(&f[38]) == kCarrier + 1)
      ++arp_requests;
    else if (f.size() >= 42 && rd16(&f[12]) == 0x0800 && f[23] == 17 && rd16(&f[34]) == kGwBPort)
      rtp_out.push_back(f);
    else
      ++other;  // the kernel's own frames from the TAP (IPv6 RS, ...)
  }
  if (rtp_out.size() != size_t(kPackets))
    bad(-1, "expected " + std::to_string(kPackets) + " relayed RTP packets, got " +
                std::to_string(rtp_out.size()));
  if (arp_requests < 1) bad(-1, "no ARP request for the unresolved remote 10.2.0.21");
  uint32_t out_ssrc = 0;
  uint16_t last_seq = 0;
  uint32_t last_ts = 0;
  uint8_t smac[6] = {};
  for (size_t i = 0; i < rtp_out.size(); ++i) {
    const auto& f = rtp_out[i];
    const int n = int(i);
    if (f.size() != 14 + 20 + 8 + 172) {
      bad(n, "length " + std::to_string(f.size()));
      continue;
    }
    const uint8_t cmac[6] = {0x02, 0, 0, 0, 0x20, 0x14};
    if (std::memcmp(&f[0], cmac, 6) != 0) bad(n, "destination MAC is not the carrier's");
    if (i == 0) std::memcpy(smac, &f[6], 6);
    if (std::memcmp(&f[6], smac, 6) != 0 || (smac[0] & 1)) bad(n, "source MAC not stable");
    if (rd16(&f[12]) != 0x0800) bad(n, "ethertype");
    if (fold(sum(&f[14], 20)) != 0xffff) bad(n, "IPv4 header checksum invalid");
    if (f[22] != 64) bad(n, "TTL not 64");
    if (rd32(&f[26]) != kGwB || rd32(&f[30]) != kCarrier) bad(n, "IP addresses");
    if (rd16(&f[34]) != kGwBPort || rd16(&f[36]) != kCarrierPort) bad(n, "UDP ports");
    const uint32_t s = sum(&f[26], 8) + 17 + rd16(&f[38]);
    if (rd16(&f[40]) == 0 || fold(sum(&f[34], rd16(&f[38]), s)) != 0xffff)
      bad(n, "UDP checksum invalid");
    const uint8_t* r = &f[42];
    const auto in = rtp(n);
    if (std::memcmp(r + 12, in.data() + 12, 160) != 0) bad(n, "payload differs from input");
    const bool marker = (r[1] & 0x80) != 0;
    if ((r[1] & 0x7f) != 0) bad(n, "payload type");
    if (n == 0) {
      out_ssrc = rd32(r + 8);
    } else {
      if (rd32(r + 8) != out_ssrc) bad(n, "SSRC changed");
      if (rd16(r + 2) != uint16_t(last_seq + 1)) bad(n, "sequence not continuous");
      if (rd32(r + 4) != last_ts + 160) bad(n, "timestamp not continuous");
    }
    if (marker != (n == kSwitchAt)) bad(n, marker ? "unexpected marker" : "missing marker");
    last_seq = rd16(r + 2);
    last_ts = rd32(r + 4);
  }
  std::printf("pcap-check: %zu RTP packets checked (addresses, ports, checksums, SSRC/seq/ts "
              "continuity across the source change, payload), %d ARP request(s), %d other frame(s) "
              "from the kernel: %s\n",
              rtp_out.size(), arp_requests, other, errors ? "FAILED" : "ok");
  return errors ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return fail("usage: see the header of dataplane_tool.cpp");
  const std::string cmd = argv[1];
  if (cmd == "pcap-gen" && argc == 4) return pcap_gen(argv[2], argv[3]);
  if (cmd == "pcap-check" && argc == 3) return pcap_check(argv[2]);
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
        a.codec = uint8_t(Codec::pcmu);
        a.payload_type = 0;
        b.codec = uint8_t(tc ? Codec::g729 : Codec::pcmu);
        b.payload_type = tc ? 18 : 0;
        a.dtmf_pt = b.dtmf_pt = kNoPayloadType;
        a.ptime_ms = b.ptime_ms = 20;
        if (tc) b.flags = kLegG729NoAnnexB;
        if (!c->add_flow(next, a, b)) break;
        ++next;
      }
      auto e = c->poll_event();
      if (!e) {
        std::this_thread::sleep_for(100us);
        continue;
      }
      if (e->type != uint16_t(EventType::ack)) continue;
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
