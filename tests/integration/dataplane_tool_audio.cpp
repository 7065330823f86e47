// SPDX-License-Identifier: GPL-3.0-or-later
// dataplane_tool's audio: a deterministic speech-like signal, bcg729 as the
// G.729 reference, the correlation that compares decoded audio; and the
// rig's transcoded call (rig-media, rig-check).
extern "C" {  // bcg729 declares no C linkage itself
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
}

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "dataplane_tool.hpp"
#include "g711_reference.hpp"

namespace dataplane_tool {

using msgw::g711ref::linear_to_ulaw;
using msgw::g711ref::ulaw_to_linear;

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

// ---- the namespace rig's transcoded call ----
// phone.ulaw: N x 160 bytes of speech-like PCMU the phone sends;
// carrier.g729: N x 20 bytes, bcg729 (Annex B off) of other speech, sent by
// the carrier.  rig-check decodes what each end received and compares it
// with what the other end sent.
namespace {

// Rig pass thresholds for the normalised correlation of decoded audio with the
// reference (1.0 = identical waveform shape).  Measured: 0.82 for G.729 against
// the phone's speech (a lossy codec), 1.00 for the PCMU against bcg729's own
// decoding; another speech stream or noise scores about 0.1.
constexpr double kRigMinCorrG729 = 0.6, kRigMinCorrPcmu = 0.95;

bool write_file(const std::string& path, const std::vector<uint8_t>& v) {
  std::ofstream o(path, std::ios::binary);
  o.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size()));
  return bool(o);
}
std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream i(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(i), {});
}

}  // namespace

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

}  // namespace dataplane_tool
