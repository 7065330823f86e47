// SPDX-License-Identifier: GPL-3.0-or-later
// msgw-audio-check: puts real speech through the codec engine the way the
// dataplane does (packetise on one leg, transcode, decode on the other) and
// measures how much of the speech survives.
//
//   audio_check roundtrip SPEECH.raw --from PCMU/20 --to G729/20 [--loss-every N]
//   audio_check make-pcap SPEECH.raw OUT.pcap --codec PCMU/20 [--pt N]
//       the speech as an RTP stream in a pcap (Ethernet/IPv4/UDP), paced by
//       its timestamps, for SIPp's play_pcap_audio
//   audio_check from-pcap CAPTURE.pcap SPEECH.raw --codec G729 --src IP [--pt N]
//       decodes the RTP that IP sent in a capture (tshark -F pcap) and
//       compares it with the speech: what really crossed the appliance
//
// SPEECH.raw is 16-bit little-endian mono at 8 kHz (sox ... -r 8000 -c 1 -b 16 -e signed).
// Prints one JSON object: packets each way, drops, concealment, and the
// similarity of what came out with what went in (best-lag waveform correlation
// and the correlation of 20 ms energy envelopes, which a CELP codec such as
// G.729 preserves even where it does not preserve the waveform).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "msgw/codecs/codec.hpp"
#include "msgw/codecs/transcoder.hpp"

namespace mc = msgw::codecs;

namespace {

struct LegSpec {
  mc::CodecParams params;
};

bool parse_leg(const std::string& s, LegSpec& leg) {
  auto slash = s.find('/');
  auto id = mc::codec_from_sdp_name(s.substr(0, slash));
  if (!id) return false;
  leg.params.id = *id;
  // "AAL2-G726-32": the SPA/Asterisk nibble order (codec_from_sdp_name names the codec only).
  if (*id == mc::CodecId::G726_32 && (s.rfind("AAL2-", 0) == 0 || s.rfind("aal2-", 0) == 0))
    leg.params.g726_packing = mc::G726Packing::Aal2;
  const auto& info = mc::codec_info(*id);
  leg.params.payload_type = info.static_payload_type == mc::kDynamicPayloadType
                                ? 96 : info.static_payload_type;
  leg.params.ptime_ms = 20;
  if (slash != std::string::npos) {
    int p = std::atoi(s.c_str() + slash + 1);
    if (p <= 0 || p % 10 != 0 || p > 60) return false;
    leg.params.ptime_ms = static_cast<uint16_t>(p);
  }
  return true;
}

std::vector<int16_t> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<int16_t> pcm(bytes.size() / 2);
  std::memcpy(pcm.data(), bytes.data(), pcm.size() * 2);
  return pcm;
}

struct Similarity {
  double waveform_corr = 0;   // normalised cross-correlation at the best lag
  double envelope_corr = 0;   // correlation of 20 ms log-energy envelopes at that lag
  double snr_db = 0;          // waveform SNR at the best lag (meaningful for waveform codecs)
  int lag_samples = 0;
};

Similarity compare(const std::vector<int16_t>& ref, const std::vector<int16_t>& out) {
  Similarity best;
  best.waveform_corr = -2;
  const int max_lag = 800;  // 100 ms: codec look-ahead and re-framing delay are far smaller
  size_t n = std::min(ref.size(), out.size());
  if (n < 1600) return {};
  for (int lag = 0; lag <= max_lag && static_cast<size_t>(lag) + 800 < n; ++lag) {
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i + lag < out.size() && i < ref.size(); ++i) {
      double x = ref[i], y = out[i + lag];
      sxy += x * y; sxx += x * x; syy += y * y;
    }
    double c = (sxx > 0 && syy > 0) ? sxy / std::sqrt(sxx * syy) : 0;
    if (c > best.waveform_corr) { best.waveform_corr = c; best.lag_samples = lag; }
  }
  // Envelope and SNR at the best lag.
  std::vector<double> ea, eb;
  double sig = 0, noise = 0;
  for (size_t f = 0; (f + 1) * 160 + best.lag_samples <= out.size() && (f + 1) * 160 <= ref.size(); ++f) {
    double a = 1, b = 1;
    for (size_t i = f * 160; i < (f + 1) * 160; ++i) {
      double x = ref[i], y = out[i + best.lag_samples];
      a += x * x; b += y * y;
      sig += x * x; noise += (x - y) * (x - y);
    }
    ea.push_back(10 * std::log10(a)); eb.push_back(10 * std::log10(b));
  }
  double ma = 0, mb = 0;
  for (size_t i = 0; i < ea.size(); ++i) { ma += ea[i]; mb += eb[i]; }
  ma /= ea.size(); mb /= eb.size();
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ea.size(); ++i) {
    sab += (ea[i] - ma) * (eb[i] - mb); saa += (ea[i] - ma) * (ea[i] - ma); sbb += (eb[i] - mb) * (eb[i] - mb);
  }
  best.envelope_corr = (saa > 0 && sbb > 0) ? sab / std::sqrt(saa * sbb) : 0;
  best.snr_db = noise > 0 ? 10 * std::log10(sig / noise) : 99;
  return best;
}

struct Direction {
  uint64_t packets_in = 0, packets_out = 0, dropped = 0, concealed = 0, lost = 0;
  Similarity sim;
};

// Packetises `speech` as `from`, transcodes to `to`, decodes what comes out.
Direction run(const std::vector<int16_t>& speech, const LegSpec& from, const LegSpec& to,
              int loss_every) {
  Direction d;
  auto enc = mc::make_encoder(from.params);
  auto dec = mc::make_decoder(to.params);
  mc::TranscoderConfig cfg;
  cfg.ingress = from.params;
  cfg.egress = to.params;
  cfg.egress_timestamp_base = 1000;
  std::string err;
  auto tc = mc::Transcoder::create(cfg, &err);
  if (!tc) { std::cerr << "audio_check: " << err << "\n"; std::exit(2); }
  size_t per_packet = from.params.ptime_ms * mc::kSamplesPerMs;
  std::vector<uint8_t> payload(enc->max_bytes(per_packet));
  std::vector<mc::EgressPacket> out(mc::kMaxEgressPerCall);
  std::vector<int16_t> decoded, pcm(4800);
  uint16_t seq = 65500;  // crosses the 65535 wrap on purpose
  uint32_t ts = 0;
  // Decoded audio is placed by RTP timestamp, as a receiver's jitter buffer
  // would: G.729 Annex B sends nothing during silence (DTX), so the gaps
  // between packets are real time, not missing samples.
  auto take = [&](size_t n) {
    for (size_t i = 0; i < n; ++i) {
      size_t got = dec->decode({out[i].payload, out[i].length}, pcm);
      size_t at = out[i].timestamp - cfg.egress_timestamp_base;
      if (decoded.size() < at + got) decoded.resize(at + got, 0);
      std::copy(pcm.begin(), pcm.begin() + got, decoded.begin() + at);
      ++d.packets_out;
    }
  };
  for (size_t off = 0, k = 0; off + per_packet <= speech.size(); off += per_packet, ++k) {
    size_t len = enc->encode({speech.data() + off, per_packet}, payload);
    bool lose = loss_every > 0 && k > 0 && k % loss_every == 0;
    if (len == 0) {  // DTX: nothing sent, the sequence number does not advance
      ts += per_packet;
      continue;
    }
    if (!lose) {
      ++d.packets_in;
      take(tc->process({payload.data(), len}, from.params.payload_type, seq, ts, k == 0, out));
    }
    ++seq;
    ts += per_packet;
  }
  take(tc->flush(out));
  const auto& st = tc->stats();
  d.dropped = st.dropped_total();
  d.concealed = st.concealed_samples;
  d.lost = st.lost_packets;
  d.sim = compare(speech, decoded);
  return d;
}

void print_dir(const char* name, const Direction& d, bool last) {
  std::printf("\"%s\":{\"packets_in\":%llu,\"packets_out\":%llu,\"dropped\":%llu,\"lost\":%llu,"
              "\"concealed_samples\":%llu,\"waveform_corr\":%.3f,\"envelope_corr\":%.3f,"
              "\"snr_db\":%.1f,\"lag_samples\":%d}%s",
              name, (unsigned long long)d.packets_in, (unsigned long long)d.packets_out,
              (unsigned long long)d.dropped, (unsigned long long)d.lost,
              (unsigned long long)d.concealed, d.sim.waveform_corr, d.sim.envelope_corr,
              d.sim.snr_db, d.sim.lag_samples, last ? "" : ",");
}

int usage() {
  std::fprintf(stderr,
               "usage: audio_check roundtrip SPEECH.raw --from CODEC[/PTIME] --to CODEC[/PTIME] "
               "[--loss-every N]\n"
               "       audio_check make-pcap SPEECH.raw OUT.pcap --codec CODEC[/PTIME] [--pt N]\n"
               "       audio_check from-pcap CAPTURE.pcap SPEECH.raw --codec CODEC --src IP [--pt N]\n");
  return 2;
}

void put16(std::vector<uint8_t>& v, size_t at, uint16_t x) { v[at] = uint8_t(x >> 8); v[at + 1] = uint8_t(x); }
void put32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  put16(v, at, uint16_t(x >> 16));
  put16(v, at + 2, uint16_t(x));
}

int make_pcap(const std::vector<int16_t>& speech, const std::string& out_path, const LegSpec& leg) {
  auto enc = mc::make_encoder(leg.params);
  if (!enc) { std::fprintf(stderr, "audio_check: no encoder\n"); return 2; }
  std::FILE* f = std::fopen(out_path.c_str(), "wb");
  if (!f) { std::perror(out_path.c_str()); return 2; }
  const uint32_t gh[6] = {0xa1b2c3d4u, 0x00040002u, 0, 0, 65535, 1};  // v2.4, Ethernet
  std::fwrite(gh, 4, 6, f);
  const size_t per_packet = leg.params.ptime_ms * mc::kSamplesPerMs;
  std::vector<uint8_t> payload(enc->max_bytes(per_packet));
  uint16_t seq = 1000;
  uint32_t ts = 160000;
  size_t n = 0;
  for (size_t off = 0; off + per_packet <= speech.size(); off += per_packet, ts += uint32_t(per_packet)) {
    size_t len = enc->encode({speech.data() + off, per_packet}, payload);
    if (len == 0) continue;  // DTX
    std::vector<uint8_t> p(14 + 20 + 8 + 12 + len, 0);
    p[12] = 0x08;  // IPv4
    p[14] = 0x45;
    put16(p, 16, uint16_t(20 + 8 + 12 + len));
    p[22] = 64;
    p[23] = 17;
    put32(p, 26, 0x0a000001u);
    put32(p, 30, 0x0a000002u);
    uint32_t sum = 0;
    for (size_t i = 14; i < 34; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    put16(p, 24, uint16_t(~sum));
    put16(p, 34, 6000);
    put16(p, 36, 6000);
    put16(p, 38, uint16_t(8 + 12 + len));
    p[42] = 0x80;
    p[43] = uint8_t((n == 0 ? 0x80 : 0) | (leg.params.payload_type & 0x7f));
    put16(p, 44, seq++);
    put32(p, 46, ts);
    put32(p, 50, 0x4d534757u);
    std::memcpy(p.data() + 54, payload.data(), len);
    // Paced by media time: SIPp replays with the capture's timing.
    uint64_t us = uint64_t(ts - 160000) * 1000000 / 8000;
    uint32_t ph[4] = {uint32_t(1700000000 + us / 1000000), uint32_t(us % 1000000), uint32_t(p.size()),
                      uint32_t(p.size())};
    std::fwrite(ph, 4, 4, f);
    std::fwrite(p.data(), 1, p.size(), f);
    ++n;
  }
  std::fclose(f);
  std::printf("{\"packets\":%zu,\"codec\":\"%s\",\"ptime_ms\":%u}\n", n,
              std::string(mc::codec_info(leg.params.id).sdp_name).c_str(), unsigned(leg.params.ptime_ms));
  return 0;
}

// Reads a classic pcap (Ethernet, Linux cooked v1/v2), decodes the RTP that
// `src` sent with the codec's payload type, placed by RTP timestamp.
int from_pcap(const std::string& cap, const std::vector<int16_t>& speech, const LegSpec& leg,
              const std::string& src, int pt) {
  std::ifstream in(cap, std::ios::binary);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (b.size() < 24) { std::fprintf(stderr, "audio_check: %s: not a pcap file\n", cap.c_str()); return 2; }
  uint32_t magic;
  std::memcpy(&magic, b.data(), 4);
  if (magic != 0xa1b2c3d4u && magic != 0xa1b23c4du) {
    std::fprintf(stderr, "audio_check: %s: not a little-endian classic pcap (write it with tshark -F pcap)\n",
                 cap.c_str());
    return 2;
  }
  uint32_t linktype;
  std::memcpy(&linktype, b.data() + 20, 4);
  size_t l2 = linktype == 1 ? 14 : linktype == 113 ? 16 : linktype == 276 ? 20 : 0;
  if (l2 == 0) { std::fprintf(stderr, "audio_check: link type %u not handled\n", linktype); return 2; }
  auto want = msgw::codecs::codec_info(leg.params.id);
  uint8_t want_pt = pt >= 0 ? uint8_t(pt) : leg.params.payload_type;
  unsigned a, bb, c, d;
  if (std::sscanf(src.c_str(), "%u.%u.%u.%u", &a, &bb, &c, &d) != 4) return usage();
  uint32_t src_ip = a << 24 | bb << 16 | c << 8 | d;
  auto dec = mc::make_decoder(leg.params);
  std::vector<int16_t> decoded, pcm(4800);
  bool first = true;
  uint32_t ts0 = 0;
  uint16_t last_seq = 0;
  uint64_t packets = 0, lost = 0, other = 0, bad = 0;
  for (size_t off = 24; off + 16 <= b.size();) {
    uint32_t incl;
    std::memcpy(&incl, b.data() + off + 8, 4);
    size_t p = off + 16;
    off = p + incl;
    if (off > b.size()) break;
    if (incl < l2 + 20 + 8 + 12) continue;
    const uint8_t* ip = b.data() + p + l2;
    size_t iplen = incl - l2;
    if ((ip[0] >> 4) != 4 || ip[9] != 17) continue;
    size_t ihl = size_t(ip[0] & 0x0f) * 4;
    uint32_t s = uint32_t(ip[12]) << 24 | uint32_t(ip[13]) << 16 | uint32_t(ip[14]) << 8 | ip[15];
    if (s != src_ip || iplen < ihl + 8 + 12) continue;
    const uint8_t* udp = ip + ihl;
    size_t ulen = size_t(udp[4] << 8 | udp[5]);
    if (ulen < 8 + 12 || ulen > iplen - ihl) continue;
    const uint8_t* rtp = udp + 8;
    size_t rlen = ulen - 8;
    if ((rtp[0] >> 6) != 2) { ++other; continue; }
    if ((rtp[1] & 0x7f) != want_pt) { ++other; continue; }
    size_t hl = 12 + size_t(rtp[0] & 0x0f) * 4;
    if (rtp[0] & 0x10) {
      if (rlen < hl + 4) { ++bad; continue; }
      hl += 4 + size_t(rtp[hl + 2] << 8 | rtp[hl + 3]) * 4;
    }
    if (rlen <= hl) { ++bad; continue; }
    uint16_t seq = uint16_t(rtp[2] << 8 | rtp[3]);
    uint32_t ts = uint32_t(rtp[4]) << 24 | uint32_t(rtp[5]) << 16 | uint32_t(rtp[6]) << 8 | rtp[7];
    if (first) { ts0 = ts; first = false; }
    else if (uint16_t(seq - last_seq) > 1 && uint16_t(seq - last_seq) < 1000) lost += uint16_t(seq - last_seq) - 1;
    last_seq = seq;
    size_t got = dec->decode({rtp + hl, rlen - hl}, pcm);
    if (got == 0) { ++bad; continue; }
    size_t at = size_t(uint32_t(ts - ts0));
    if (at > 8000u * 600) { ++bad; continue; }  // > 10 min: a broken timestamp
    if (decoded.size() < at + got) decoded.resize(at + got, 0);
    std::copy(pcm.begin(), pcm.begin() + got, decoded.begin() + at);
    ++packets;
  }
  Similarity sim = compare(speech, decoded);
  std::printf("{\"codec\":\"%s\",\"packets\":%llu,\"lost\":%llu,\"undecodable\":%llu,"
              "\"other_packets\":%llu,\"seconds\":%.2f,\"waveform_corr\":%.3f,\"envelope_corr\":%.3f,"
              "\"lag_samples\":%d}\n",
              std::string(want.sdp_name).c_str(), (unsigned long long)packets, (unsigned long long)lost,
              (unsigned long long)bad, (unsigned long long)other, decoded.size() / 8000.0, sim.waveform_corr,
              sim.envelope_corr, sim.lag_samples);
  return packets > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && (std::strcmp(argv[1], "make-pcap") == 0 || std::strcmp(argv[1], "from-pcap") == 0)) {
    const bool make = argv[1][0] == 'm';
    LegSpec leg;
    bool have = false;
    int pt = -1;
    std::string src;
    for (int i = 4; i + 1 < argc; i += 2) {
      std::string k = argv[i], v = argv[i + 1];
      if (k == "--codec") have = parse_leg(v, leg);
      else if (k == "--pt") pt = std::atoi(v.c_str());
      else if (k == "--src") src = v;
      else return usage();
    }
    if (!have || (!make && src.empty())) return usage();
    if (pt >= 0) leg.params.payload_type = uint8_t(pt);
    if (leg.params.id == mc::CodecId::G729) leg.params.g729_annexb = false;
    auto speech = read_raw(make ? argv[2] : argv[3]);
    if (speech.size() < 8000) {
      std::fprintf(stderr, "audio_check: %s holds less than 1 s of audio\n", make ? argv[2] : argv[3]);
      return 2;
    }
    return make ? make_pcap(speech, argv[3], leg) : from_pcap(argv[2], speech, leg, src, pt);
  }
  if (argc < 3 || std::strcmp(argv[1], "roundtrip") != 0) return usage();
  std::string file = argv[2];
  LegSpec from, to;
  bool have_from = false, have_to = false;
  int loss_every = 0;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--from") have_from = parse_leg(v, from);
    else if (k == "--to") have_to = parse_leg(v, to);
    else if (k == "--loss-every") loss_every = std::atoi(v.c_str());
    else return usage();
  }
  if (!have_from || !have_to) return usage();
  auto speech = read_raw(file);
  if (speech.size() < 8000) {
    std::fprintf(stderr, "audio_check: %s holds less than 1 s of audio\n", file.c_str());
    return 2;
  }
  // Both directions of a call: A->B as given, and B->A back.
  Direction ab = run(speech, from, to, loss_every);
  Direction ba = run(speech, to, from, loss_every);
  std::printf("{\"seconds\":%.2f,", speech.size() / 8000.0);
  print_dir("forward", ab, false);
  print_dir("reverse", ba, true);
  std::printf("}\n");
  return 0;
}
