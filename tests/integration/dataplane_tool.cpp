// SPDX-License-Identifier: GPL-3.0-or-later
// Test helper for the dataplane integration scripts: programs flows through
// the client library (exactly as control/ does), reads events/stats, and
// writes/checks the pcaps of the deterministic net_pcap test with libpcap.
// Past 700 lines because it is one small subcommand per verb below, each
// read on its own; the pcap writer and checker are most of it.
//
//   dataplane_tool generation INSTANCE
//   dataplane_tool add INSTANCE FLOW LEG LEG   LEG = port:lip:lport:rip:rport:codec:pt[:dtmf[:latch|noannexb]...]
//   dataplane_tool modify INSTANCE FLOW LEG LEG
//   dataplane_tool del INSTANCE FLOW
//   dataplane_tool dump INSTANCE
//   dataplane_tool stats INSTANCE FLOW          prints leg0/leg1 packets sent dropped
//   dataplane_tool events INSTANCE MS           prints events seen for MS ms
//   dataplane_tool wait-sent INSTANCE FLOW LEG N MS   waits until leg sent >= N
//   dataplane_tool bench-flows INSTANCE N relay|transcode   flows for tests/perf/dataplane_loadgen
//   dataplane_tool pcap-gen IN0 IN1             relay scenario input
//   dataplane_tool pcap-check OUT1              relay scenario output checks
//   dataplane_tool pcap-check-transcode IN0 IN1 OUT1 OUT0   transcoded flow, both directions
//   dataplane_tool rig-media DIR N              speech-like PCMU and G.729 streams for the rig
//   dataplane_tool rig-check DIR                decodes what the rig's ends received
#include <pcap/pcap.h>

extern "C" {  // bcg729 declares no C linkage itself
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
}

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "g711_reference.hpp"
#include "msgw/common/byte_order.hpp"
#include "msgw/common/inet_checksum.hpp"
#include "msgw/config/config.hpp"
#include "msgw/dataplane/client.hpp"

using namespace msgw::dataplane;
using msgw::common::load_be16;
using msgw::common::load_be32;
using msgw::common::inet_checksum;
using msgw::common::inet_fold;
using msgw::common::inet_sum;
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

// ---- the deterministic relay scenario ----
constexpr uint32_t kPhone = 0x0a01000a, kGwA = 0x0a010001;    // 10.1.0.10 -> 10.1.0.1
constexpr uint32_t kCarrier = 0x0a020014, kGwB = 0x0a020001;  // 10.2.0.20 <- 10.2.0.1
constexpr uint16_t kPhonePort = 4000, kGwAPort = 20000, kGwBPort = 30000, kCarrierPort = 5000;
constexpr int kPackets = 100, kSwitchAt = 60;

std::vector<uint8_t> udp_frame(uint32_t sip, uint32_t dip, uint16_t sp, uint16_t dp,
                               const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00};
  auto p16 = [&f](uint16_t v) { f.push_back(uint8_t(v >> 8)); f.push_back(uint8_t(v)); };
  auto p32 = [&](uint32_t v) { p16(uint16_t(v >> 16)); p16(uint16_t(v)); };
  f.push_back(0x45); f.push_back(0); p16(uint16_t(28 + payload.size())); p16(7); p16(0x4000);
  f.push_back(63); f.push_back(17); p16(0); p32(sip); p32(dip);
  const uint16_t ic = inet_checksum(&f[14], 20);
  f[24] = uint8_t(ic >> 8); f[25] = uint8_t(ic);
  p16(sp); p16(dp); p16(uint16_t(8 + payload.size())); p16(0);
  f.insert(f.end(), payload.begin(), payload.end());
  uint32_t s = inet_sum(&f[26], 8) + 17 + uint32_t(8 + payload.size());
  uint16_t uc = inet_checksum(&f[34], 8 + payload.size(), s);
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

// ---- speech-like audio, G.711 and bcg729 references ----

// Deterministic speech-like signal: a glottal pulse train with a drifting
// pitch through three formant resonators whose targets change per syllable,
// voiceless noise bursts and pauses, so the G.729 encoder sees voiced,
// unvoiced and near-silent frames like in real speech.
std::vector<int16_t> speech(size_t samples, uint32_t seed) {
  static const double kVowels[][3] = {{730, 1090, 2440}, {270, 2290, 3010}, {530, 1840, 2480},
                                      {300, 870, 2240},  {640, 1190, 2390}, {490, 1350, 1690}};
  std::vector<double> y(samples);
  double r1[3][2] = {}, phase = 0;
  uint32_t lcg = seed * 2654435761u + 1;
  for (size_t n = 0; n < samples; ++n) {
    const size_t syl = n / 1800 + seed, pos = n % 1800;  // 225 ms syllables
    const double t = double(n) / 8000;
    double x = 0, env;
    lcg = lcg * 1664525u + 1013904223u;
    const double noise = double(int32_t(lcg)) / 2147483648.0;
    if (pos < 1300) {  // voiced
      const double f0 = 105 + 25 * std::sin(2 * M_PI * 0.7 * t + seed) + 10 * double(syl % 3);
      phase += f0 / 8000;
      if (phase >= 1) {
        phase -= 1;
        x = 1;
      }
      x += 0.02 * noise;
      env = std::sin(M_PI * double(pos) / 1300);
    } else if (pos < 1550) {  // fricative
      x = 0.25 * noise;
      env = 0.5;
    } else {  // pause with a little room noise
      x = 0.01 * noise;
      env = 1;
    }
    const double* v = kVowels[syl % 6];
    double acc = x * env;
    for (int k = 0; k < 3; ++k) {
      const double r = std::exp(-M_PI * (60 + 40 * k) / 8000.0);
      const double a1 = 2 * r * std::cos(2 * M_PI * v[k] / 8000), a2 = -r * r;
      const double o = acc + a1 * r1[k][0] + a2 * r1[k][1];
      r1[k][1] = r1[k][0];
      r1[k][0] = o;
      acc = o * (1 - r);  // keep the cascade's gain bounded
    }
    y[n] = acc;
  }
  double peak = 1e-9;
  for (double v : y) peak = std::max(peak, std::fabs(v));
  std::vector<int16_t> pcm(samples);
  for (size_t n = 0; n < samples; ++n) pcm[n] = int16_t(std::lrint(y[n] / peak * 14000));
  return pcm;
}

using msgw::g711ref::linear_to_ulaw;
using msgw::g711ref::ulaw_to_linear;

// bcg729 (fresh encoder, Annex B off) over G.711-decoded audio, frame by frame.
std::vector<uint8_t> g729_encode(const std::vector<int16_t>& pcm) {
  bcg729EncoderChannelContextStruct* enc = initBcg729EncoderChannel(0);
  std::vector<uint8_t> bits;
  for (size_t f = 0; f + 80 <= pcm.size(); f += 80) {
    uint8_t b[10], len = 0;
    bcg729Encoder(enc, const_cast<int16_t*>(&pcm[f]), b, &len);
    if (len != 10) std::fprintf(stderr, "dataplane_tool: bcg729 gave a %u-byte frame\n", len);
    bits.insert(bits.end(), b, b + len);
  }
  closeBcg729EncoderChannel(enc);
  return bits;
}
std::vector<int16_t> g729_decode(const std::vector<uint8_t>& bits) {
  bcg729DecoderChannelContextStruct* dec = initBcg729DecoderChannel();
  std::vector<int16_t> pcm;
  for (size_t f = 0; f + 10 <= bits.size(); f += 10) {
    int16_t o[80];
    bcg729Decoder(dec, &bits[f], 10, 0, 0, 0, o);
    pcm.insert(pcm.end(), o, o + 80);
  }
  closeBcg729DecoderChannel(dec);
  return pcm;
}

// Best normalised cross-correlation of got[i] against ref[i + lag], |lag| <= max_lag.
double best_correlation(const std::vector<int16_t>& got, const std::vector<int16_t>& ref,
                        int max_lag, int* best_lag) {
  double best = -1;
  for (int lag = -max_lag; lag <= max_lag; ++lag) {
    double xy = 0, xx = 0, yy = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const long j = long(i) + lag;
      if (j < 0 || j >= long(ref.size())) continue;
      xy += double(got[i]) * ref[size_t(j)];
      xx += double(got[i]) * got[i];
      yy += double(ref[size_t(j)]) * ref[size_t(j)];
    }
    const double c = xx > 0 && yy > 0 ? xy / std::sqrt(xx * yy) : 0;
    if (c > best) {
      best = c;
      *best_lag = lag;
    }
  }
  return best;
}

// ---- the deterministic transcoding scenario (flow 2: PCMU 20 ms -> G.729) ----
constexpr uint16_t kTcPhonePort = 4002, kTcGwAPort = 20004, kTcGwBPort = 30004, kTcCarrierPort = 5002;
constexpr int kTcPackets = 100;
// Rig pass thresholds for the normalised correlation of decoded audio with the
// reference (1.0 = identical waveform shape).  Measured: 0.82 for G.729 against
// the phone's speech (a lossy codec), 1.00 for the PCMU against bcg729's own
// decoding; another speech stream or noise scores about 0.1.
constexpr double kRigMinCorrG729 = 0.6, kRigMinCorrPcmu = 0.95;

std::vector<uint8_t> tc_rtp(int i, const std::vector<uint8_t>& ulaw) {
  const uint16_t seq = uint16_t(65530 + i);          // wraps
  const uint32_t ts = 4294966000u + 160u * uint32_t(i);  // wraps too
  const uint32_t ssrc = 0x5ca1ab1e;
  std::vector<uint8_t> r = {0x80, 0, uint8_t(seq >> 8), uint8_t(seq), uint8_t(ts >> 24),
                            uint8_t(ts >> 16), uint8_t(ts >> 8), uint8_t(ts), uint8_t(ssrc >> 24),
                            uint8_t(ssrc >> 16), uint8_t(ssrc >> 8), uint8_t(ssrc)};
  r.insert(r.end(), ulaw.begin() + i * 160, ulaw.begin() + (i + 1) * 160);
  return r;
}

int pcap_gen(const char* in0, const char* in1) {
  std::vector<std::vector<uint8_t>> f;
  std::vector<uint8_t> ulaw;
  for (int16_t v : speech(kTcPackets * 160, 1)) ulaw.push_back(linear_to_ulaw(v));
  for (int i = 0; i < kPackets; ++i) {
    f.push_back(udp_frame(kPhone, kGwA, kPhonePort, kGwAPort, rtp(i)));
    if (i < kTcPackets)
      f.push_back(udp_frame(kPhone, kGwA, kTcPhonePort, kTcGwAPort, tc_rtp(i, ulaw)));
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
  // The carrier's G.729 (bcg729 of other speech) towards flow 2's trunk leg.
  const std::vector<uint8_t> g729 = g729_encode(speech(kTcPackets * 160, 4));
  std::vector<std::vector<uint8_t>> f1;
  for (int i = 0; i < kTcPackets; ++i) {
    const uint16_t seq = uint16_t(777 + i);
    const uint32_t ts = 99999u + 160u * uint32_t(i);
    std::vector<uint8_t> r = {0x80, 18, uint8_t(seq >> 8), uint8_t(seq), uint8_t(ts >> 24),
                              uint8_t(ts >> 16), uint8_t(ts >> 8), uint8_t(ts), 0x0c, 0xa2, 0x21, 0xe2};
    r.insert(r.end(), g729.begin() + i * 20, g729.begin() + (i + 1) * 20);
    f1.push_back(udp_frame(kCarrier, kGwB, kTcCarrierPort, kTcGwBPort, r));
  }
  if (!write_pcap(in1, f1)) return fail(std::string("cannot write ") + in1);
  std::printf("pcap-gen: %zu frames (%d relayed RTP, %d PCMU to transcode) in %s, %zu G.729 "
              "frames to transcode in %s\n",
              f.size(), kPackets, kTcPackets, in0, f1.size(), in1);
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
    if (f.size() >= 42 && load_be16(&f[12]) == 0x0806 && load_be16(&f[20]) == 1 &&
        load_be32(&f[38]) == kCarrier + 1)
      ++arp_requests;
    else if (f.size() >= 42 && load_be16(&f[12]) == 0x0800 && f[23] == 17 && load_be16(&f[34]) == kGwBPort)
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
    if (load_be16(&f[12]) != 0x0800) bad(n, "ethertype");
    if (inet_fold(inet_sum(&f[14], 20)) != 0xffff) bad(n, "IPv4 header checksum invalid");
    if (f[22] != 64) bad(n, "TTL not 64");
    if (load_be32(&f[26]) != kGwB || load_be32(&f[30]) != kCarrier) bad(n, "IP addresses");
    if (load_be16(&f[34]) != kGwBPort || load_be16(&f[36]) != kCarrierPort) bad(n, "UDP ports");
    const uint32_t s = inet_sum(&f[26], 8) + 17 + load_be16(&f[38]);
    if (load_be16(&f[40]) == 0 || inet_fold(inet_sum(&f[34], load_be16(&f[38]), s)) != 0xffff)
      bad(n, "UDP checksum invalid");
    const uint8_t* r = &f[42];
    const auto in = rtp(n);
    if (std::memcmp(r + 12, in.data() + 12, 160) != 0) bad(n, "payload differs from input");
    const bool marker = (r[1] & 0x80) != 0;
    if ((r[1] & 0x7f) != 0) bad(n, "payload type");
    if (n == 0) {
      out_ssrc = load_be32(r + 8);
    } else {
      if (load_be32(r + 8) != out_ssrc) bad(n, "SSRC changed");
      if (load_be16(r + 2) != uint16_t(last_seq + 1)) bad(n, "sequence not continuous");
      if (load_be32(r + 4) != last_ts + 160) bad(n, "timestamp not continuous");
    }
    if (marker != (n == kSwitchAt)) bad(n, marker ? "unexpected marker" : "missing marker");
    last_seq = load_be16(r + 2);
    last_ts = load_be32(r + 4);
  }
  std::printf("pcap-check: %zu RTP packets checked (addresses, ports, checksums, SSRC/seq/ts "
              "continuity across the source change, payload), %d ARP request(s), %d other frame(s) "
              "from the kernel: %s\n",
              rtp_out.size(), arp_requests, other, errors ? "FAILED" : "ok");
  return errors ? 1 : 0;
}

// Checks one transcoded direction's output packets: Ethernet/IPv4/UDP
// addressing and checksums, RTP header, SSRC/seq/ts continuity; returns the
// concatenated payloads.
std::vector<uint8_t> check_tc_packets(const std::vector<std::vector<uint8_t>>& out,
                                      const uint8_t* dmac, uint32_t sip, uint32_t dip,
                                      uint16_t sport, uint16_t dport, uint8_t pt,
                                      size_t payload, uint32_t in_ssrc,
                                      const std::function<void(int, const std::string&)>& bad) {
  std::vector<uint8_t> got;
  uint32_t ssrc = 0, last_ts = 0;
  uint16_t last_seq = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const auto& f = out[i];
    const int n = int(i);
    if (f.size() != 14 + 20 + 8 + 12 + payload) {
      bad(n, "length " + std::to_string(f.size()) + " (want " + std::to_string(54 + payload) + ")");
      continue;
    }
    if (std::memcmp(&f[0], dmac, 6) != 0) bad(n, "destination MAC");
    if (inet_fold(inet_sum(&f[14], 20)) != 0xffff) bad(n, "IPv4 header checksum invalid");
    if (f[14] != 0x45 || load_be16(&f[16]) != 20 + 8 + 12 + payload) bad(n, "IPv4 header/total length");
    if (load_be32(&f[26]) != sip || load_be32(&f[30]) != dip) bad(n, "IP addresses");
    if (load_be16(&f[34]) != sport || load_be16(&f[36]) != dport) bad(n, "UDP ports");
    if (load_be16(&f[38]) != 8 + 12 + payload) bad(n, "UDP length");
    const uint32_t s = inet_sum(&f[26], 8) + 17 + load_be16(&f[38]);
    if (load_be16(&f[40]) == 0 || inet_fold(inet_sum(&f[34], load_be16(&f[38]), s)) != 0xffff)
      bad(n, "UDP checksum invalid");
    const uint8_t* r = &f[42];
    if (r[0] != 0x80) bad(n, "RTP version/padding/extension/CSRC byte");
    if ((r[1] & 0x7f) != pt) bad(n, "payload type " + std::to_string(r[1] & 0x7f));
    if (n > 0 && (r[1] & 0x80)) bad(n, "marker set mid-stream");
    if (n == 0) {
      ssrc = load_be32(r + 8);
      if (ssrc == in_ssrc) bad(n, "transcoded leg reuses the input SSRC");
    } else {
      if (load_be32(r + 8) != ssrc) bad(n, "SSRC changed");
      if (load_be16(r + 2) != uint16_t(last_seq + 1)) bad(n, "sequence not continuous");
      if (load_be32(r + 4) != last_ts + 160) bad(n, "timestamp not continuous");
    }
    last_seq = load_be16(r + 2);
    last_ts = load_be32(r + 4);
    got.insert(got.end(), r + 12, r + 12 + payload);
  }
  return got;
}

int pcap_check_transcode(const char* in0, const char* in1, const char* out1, const char* out0) {
  int errors = 0;
  auto bad = [&errors](int i, const std::string& m) {
    if (++errors <= 20) std::fprintf(stderr, "pcap-check-transcode: packet %d: %s\n", i, m.c_str());
  };
  // The PCMU actually fed to port 0, in order, taken from the input pcap.
  std::vector<int16_t> pcm;
  for (const auto& f : read_pcap(in0))
    if (f.size() == 42 + 12 + 160 && load_be16(&f[12]) == 0x0800 && f[23] == 17 &&
        load_be16(&f[36]) == kTcGwAPort)
      for (size_t k = 54; k < f.size(); ++k) pcm.push_back(ulaw_to_linear(f[k]));
  if (pcm.size() != size_t(kTcPackets) * 160) bad(-1, "input pcap has " + std::to_string(pcm.size() / 160) + " PCMU packets");
  const std::vector<uint8_t> want = g729_encode(pcm);

  std::vector<std::vector<uint8_t>> out;
  int rtcp = 0;
  for (auto& f : read_pcap(out1)) {
    if (f.size() < 42 || load_be16(&f[12]) != 0x0800 || f[23] != 17) continue;
    if (load_be16(&f[34]) == kTcGwBPort) out.push_back(f);
    else if (load_be16(&f[34]) == kTcGwBPort + 1) {
      ++rtcp;  // our own SR on the transcoded leg: addressed to the carrier's RTCP port
      const uint32_t s = inet_sum(&f[26], 8) + 17 + load_be16(&f[38]);
      if (load_be16(&f[36]) != kTcCarrierPort + 1 || inet_fold(inet_sum(&f[14], 20)) != 0xffff ||
          load_be16(&f[40]) == 0 || inet_fold(inet_sum(&f[34], load_be16(&f[38]), s)) != 0xffff || f[43] != 200)
        bad(-1, "RTCP sender report malformed or misaddressed");
    }
  }
  // Two 10 ms G.729 frames per 20 ms PCMU packet, nothing lost or delayed.
  if (out.size() != size_t(kTcPackets))
    bad(-1, "expected " + std::to_string(kTcPackets) + " transcoded packets, got " +
                std::to_string(out.size()));
  const uint8_t cmac[6] = {0x02, 0, 0, 0, 0x20, 0x14};
  const std::vector<uint8_t> got = check_tc_packets(out, cmac, kGwB, kCarrier, kTcGwBPort,
                                                    kTcCarrierPort, 18, 20, 0x5ca1ab1e, bad);
  int frames_equal = 0;
  for (size_t fr = 0; fr * 10 < got.size() && fr * 10 < want.size(); ++fr) {
    if (std::memcmp(&got[fr * 10], &want[fr * 10], 10) == 0) {
      ++frames_equal;
    } else {
      bad(int(fr / 2), "G.729 frame " + std::to_string(fr) + " differs from bcg729's");
    }
  }
  // Reverse direction: the carrier's G.729 leaves port 0 as PCMU equal to
  // bcg729's decoding (fresh decoder) G.711-encoded, sample by sample.
  std::vector<uint8_t> g729_in;
  for (const auto& f : read_pcap(in1))
    if (f.size() == 42 + 12 + 20 && load_be16(&f[36]) == kTcGwBPort) g729_in.insert(g729_in.end(), f.begin() + 54, f.end());
  if (g729_in.size() != size_t(kTcPackets) * 20) bad(-1, "input pcap 1 has " + std::to_string(g729_in.size() / 20) + " G.729 packets");
  std::vector<uint8_t> want_ulaw;
  for (int16_t v : g729_decode(g729_in)) want_ulaw.push_back(linear_to_ulaw(v));
  std::vector<std::vector<uint8_t>> back;
  for (auto& f : read_pcap(out0))
    if (f.size() >= 42 && load_be16(&f[12]) == 0x0800 && f[23] == 17 && load_be16(&f[34]) == kTcGwAPort)
      back.push_back(f);
  if (back.size() != size_t(kTcPackets))
    bad(-1, "expected " + std::to_string(kTcPackets) + " PCMU packets towards the phone, got " +
                std::to_string(back.size()));
  const uint8_t pmac[6] = {0x02, 0, 0, 0, 0x10, 0x0a};
  const std::vector<uint8_t> got_ulaw = check_tc_packets(back, pmac, kGwA, kPhone, kTcGwAPort,
                                                         kTcPhonePort, 0, 160, 0x0ca221e2, bad);
  size_t samples_equal = 0;
  for (size_t k = 0; k < got_ulaw.size() && k < want_ulaw.size(); ++k)
    samples_equal += got_ulaw[k] == want_ulaw[k];
  if (samples_equal != want_ulaw.size())
    bad(-1, "PCMU towards the phone: " + std::to_string(samples_equal) + "/" +
                std::to_string(want_ulaw.size()) + " samples equal to bcg729's decoding");
  std::printf("pcap-check-transcode: %zu G.729 packets checked (addresses, ports, checksums, PT 18, "
              "SSRC/seq/ts continuity), %d/%zu frames bit-exact with bcg729 of the G.711-decoded "
              "input, %d RTCP SR; %zu PCMU packets back checked the same way, %zu/%zu samples "
              "equal to bcg729's decoding of the carrier's G.729: %s\n",
              out.size(), frames_equal, want.size() / 10, rtcp, back.size(), samples_equal,
              want_ulaw.size(), errors ? "FAILED" : "ok");
  return errors ? 1 : 0;
}

// ---- the namespace rig's transcoded call ----
// phone.ulaw: N x 160 bytes of speech-like PCMU the phone sends;
// carrier.g729: N x 20 bytes, bcg729 (Annex B off) of other speech, sent by
// the carrier.  rig-check decodes what each end received and compares it
// with what the other end sent.
bool write_file(const std::string& path, const std::vector<uint8_t>& v) {
  std::ofstream o(path, std::ios::binary);
  o.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size()));
  return bool(o);
}
std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream i(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(i), {});
}

int rig_media(const std::string& dir, int n) {
  std::vector<uint8_t> ulaw;
  for (int16_t v : speech(size_t(n) * 160, 2)) ulaw.push_back(linear_to_ulaw(v));
  const std::vector<uint8_t> g729 = g729_encode(speech(size_t(n) * 160, 3));
  if (!write_file(dir + "/phone.ulaw", ulaw) || !write_file(dir + "/carrier.g729", g729))
    return fail("cannot write into " + dir);
  std::printf("rig-media: %d packets of PCMU (phone) and G.729 (carrier) in %s\n", n, dir.c_str());
  return 0;
}

int rig_check(const std::string& dir) {
  const auto ulaw = read_file(dir + "/phone.ulaw");
  const auto g729 = read_file(dir + "/carrier.g729");
  const auto at_carrier = read_file(dir + "/carrier_recv.bin");
  const auto at_phone = read_file(dir + "/phone_recv.bin");
  int errors = 0;
  auto bad = [&errors](const std::string& m) {
    ++errors;
    std::fprintf(stderr, "rig-check: %s\n", m.c_str());
  };
  // Phone -> carrier: G.729 that bcg729 decodes into the phone's speech.
  std::vector<int16_t> sent_pcm;
  for (uint8_t u : ulaw) sent_pcm.push_back(ulaw_to_linear(u));
  if (at_carrier.size() % 20 != 0 || at_carrier.size() < 20 * 50)
    bad("carrier received " + std::to_string(at_carrier.size()) + " G.729 bytes");
  const auto car_pcm = g729_decode(at_carrier);
  int lag_c = 0;
  const double corr_c = car_pcm.empty() ? 0 : best_correlation(car_pcm, sent_pcm, 1600, &lag_c);
  // Bit-exactness is a figure here (a packet lost on the veth would shift the
  // encoder state); the pcap test asserts it.
  const auto want = g729_encode(sent_pcm);
  size_t exact = 0;
  for (size_t f = 0; f * 10 + 10 <= at_carrier.size() && f * 10 + 10 <= want.size(); ++f)
    exact += std::memcmp(&at_carrier[f * 10], &want[f * 10], 10) == 0;
  // Carrier -> phone: PCMU that matches bcg729's decoding of what the carrier sent.
  const auto ref_pcm = g729_decode(g729);
  std::vector<int16_t> ph_pcm;
  for (uint8_t u : at_phone) ph_pcm.push_back(ulaw_to_linear(u));
  if (at_phone.size() % 160 != 0 || at_phone.size() < 160 * 50)
    bad("phone received " + std::to_string(at_phone.size()) + " PCMU bytes");
  int lag_p = 0;
  const double corr_p = ph_pcm.empty() ? 0 : best_correlation(ph_pcm, ref_pcm, 1600, &lag_p);
  std::printf("rig-check: carrier got %zu G.729 frames, decoded vs phone speech correlation %.3f "
              "(lag %d), %zu frames bit-exact with bcg729; phone got %zu PCMU samples, vs bcg729 "
              "decoding of the carrier's G.729 correlation %.3f (lag %d)\n",
              at_carrier.size() / 10, corr_c, lag_c, exact, at_phone.size(), corr_p, lag_p);
  if (corr_c < kRigMinCorrG729) bad("G.729 at the carrier does not decode to the phone's speech");
  if (corr_p < kRigMinCorrPcmu) bad("PCMU at the phone is not the carrier's G.729 speech");
  std::printf("rig-check: %s\n", errors ? "FAILED" : "ok");
  return errors ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return fail("usage: see the header of dataplane_tool.cpp");
  const std::string cmd = argv[1];
  if (cmd == "pcap-gen" && argc == 4) return pcap_gen(argv[2], argv[3]);
  if (cmd == "pcap-check" && argc == 3) return pcap_check(argv[2]);
  if (cmd == "pcap-check-transcode" && argc == 6)
    return pcap_check_transcode(argv[2], argv[3], argv[4], argv[5]);
  if (cmd == "rig-media" && argc == 4) return rig_media(argv[2], std::stoi(argv[3]));
  if (cmd == "rig-check" && argc == 3) return rig_check(argv[2]);
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
