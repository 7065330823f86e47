// msgw-audio-check: puts real speech through the codec engine the way the
// dataplane does (packetise on one leg, transcode, decode on the other) and
// measures how much of the speech survives.
//
//   audio_check roundtrip SPEECH.raw --from PCMU/20 --to G729/20 [--loss-every N]
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
               "[--loss-every N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
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
