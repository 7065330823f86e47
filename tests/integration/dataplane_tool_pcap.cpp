// SPDX-License-Identifier: GPL-3.0-or-later
// dataplane_tool's deterministic net_pcap scenarios: the relay (PCMU both
// ways, a source switch mid-stream) and the transcoding (flow 2: PCMU 20 ms
// -> G.729 and back) inputs, and the checks of what the dataplane wrote.
#include <pcap/pcap.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "dataplane_tool.hpp"
#include "g711_reference.hpp"
#include "msgw/common/byte_order.hpp"
#include "msgw/common/inet_checksum.hpp"

using msgw::common::load_be16;
using msgw::common::load_be32;
using msgw::common::inet_checksum;
using msgw::common::inet_fold;
using msgw::common::inet_sum;
using msgw::g711ref::linear_to_ulaw;
using msgw::g711ref::ulaw_to_linear;

namespace dataplane_tool {
namespace {

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

// ---- the deterministic transcoding scenario (flow 2: PCMU 20 ms -> G.729) ----
constexpr uint16_t kTcPhonePort = 4002, kTcGwAPort = 20004, kTcGwBPort = 30004, kTcCarrierPort = 5002;
constexpr int kTcPackets = 100;

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

}  // namespace

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

}  // namespace dataplane_tool
