// SPDX-License-Identifier: GPL-3.0-or-later
// Deterministic test signals shared by the codec tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace msgw::codecs::testing {

// Speech-like 8 kHz signal: a glottal (Rosenberg) pulse train whose pitch glides between ~95 and
// ~220 Hz, shaped by two formant resonators that move between vowel positions, under a
// ~4 Hz syllabic envelope with short pauses, plus a little breath noise. It exercises what
// ADPCM and CELP coders react to (pitch, formants, onsets, level changes, near-silence)
// without needing a recorded file.
inline std::vector<std::int16_t> speech_like(std::size_t samples, std::uint32_t seed = 1) {
  std::vector<double> raw(samples);
  const double fs = 8000.0;
  double phase = 0.0, prev_flow = 0.0, prev_noise = 0.0;
  // Two-pole resonator state for the formants.
  double f1y1 = 0, f1y2 = 0, f2y1 = 0, f2y2 = 0;
  std::uint32_t rng = seed * 2654435761u + 12345u;
  for (std::size_t n = 0; n < samples; ++n) {
    const double t = static_cast<double>(n) / fs;
    const double pitch = 150.0 + 60.0 * std::sin(2 * M_PI * 0.7 * t) + 10.0 * std::sin(2 * M_PI * 3.1 * t);
    phase += pitch / fs;
    if (phase >= 1.0) phase -= 1.0;
    // Rosenberg glottal flow pulse (opening 40 % of the period, closing 16 %); its first
    // difference models flow derivative plus lip radiation, giving speech's spectral tilt.
    double flow = 0.0;
    if (phase < 0.4) flow = 0.5 * (1.0 - std::cos(M_PI * phase / 0.4));
    else if (phase < 0.56) flow = std::cos(M_PI * (phase - 0.4) / (2 * 0.16));
    double excitation = flow - prev_flow;
    prev_flow = flow;
    rng = rng * 1664525u + 1013904223u;
    const double noise = (static_cast<double>(rng >> 8) / 16777216.0 - 0.5);
    excitation += 0.04 * noise;  // aspiration
    // Formants wander between /a/ (700, 1200 Hz) and /i/ (300, 2300 Hz).
    const double mix = 0.5 + 0.5 * std::sin(2 * M_PI * 0.9 * t);
    const double f1 = 700.0 - 400.0 * mix, f2 = 1200.0 + 1100.0 * mix;
    auto resonate = [&](double x, double f, double bw, double& y1, double& y2) {
      const double r = std::exp(-M_PI * bw / fs);
      const double a1 = 2 * r * std::cos(2 * M_PI * f / fs), a2 = -r * r;
      const double y = (1 - r) * x + a1 * y1 + a2 * y2;
      y2 = y1;
      y1 = y;
      return y;
    };
    const double v = resonate(excitation, f1, 90.0, f1y1, f1y2) + 0.5 * resonate(excitation, f2, 120.0, f2y1, f2y2);
    // Syllables: raised-cosine bursts at ~4 Hz, with every fourth one silent (a pause).
    const double syl = std::fmod(t * 4.0, 1.0);
    const bool pause = (static_cast<long>(t * 4.0) % 4) == 3;
    const double env = pause ? 0.0 : 0.5 - 0.5 * std::cos(2 * M_PI * syl);
    // Fricative onset (/s/-like: differentiated noise) in the first 15 % of each syllable.
    const double fric = (!pause && syl < 0.15) ? 0.3 * (noise - prev_noise) : 0.0;
    prev_noise = noise;
    raw[n] = env * v + fric + 0.0005 * noise;
  }
  // Normalise to a speech level of about -19 dBov RMS overall (ITU P.56 active speech
  // level is usually set at -26 dBov; a bit hotter here so that the coders' upper
  // segments are exercised), keeping the peaks inside 16 bits.
  double energy = 0.0;
  for (double v : raw) energy += v * v;
  const double cur = std::sqrt(energy / static_cast<double>(samples ? samples : 1));
  const double gain = cur > 0.0 ? 3700.0 / cur : 0.0;
  std::vector<std::int16_t> out(samples);
  for (std::size_t n = 0; n < samples; ++n) {
    double v = raw[n] * gain;
    if (v > 32767) v = 32767;
    if (v < -32768) v = -32768;
    out[n] = static_cast<std::int16_t>(std::floor(v + 0.5));
  }
  return out;
}

// Segmental SNR (ITU-T P.Sup23 style): mean over 10 ms segments of 10*log10(signal/noise),
// with each segment clamped to [-10, 35] dB and near-silent segments skipped, so a few
// silent segments can neither inflate nor sink the average.
inline double segmental_snr_db(const std::vector<std::int16_t>& ref, const std::vector<std::int16_t>& test,
                               std::size_t delay = 0, std::size_t seg = 80) {
  double sum = 0.0;
  std::size_t count = 0;
  for (std::size_t start = 0; start + seg <= ref.size() && start + seg + delay <= test.size(); start += seg) {
    double ps = 0.0, pn = 0.0;
    for (std::size_t i = start; i < start + seg; ++i) {
      const double r = ref[i];
      const double d = static_cast<double>(test[i + delay]) - r;
      ps += r * r;
      pn += d * d;
    }
    if (ps < seg * 100.0 * 100.0) continue;  // below ~-50 dBov: silence, not judged
    double snr = pn == 0.0 ? 35.0 : 10.0 * std::log10(ps / pn);
    snr = std::fmin(35.0, std::fmax(-10.0, snr));
    sum += snr;
    ++count;
  }
  return count ? sum / static_cast<double>(count) : -100.0;
}

inline double rms(const std::int16_t* p, std::size_t n) {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(p[i]) * p[i];
  return n ? std::sqrt(s / static_cast<double>(n)) : 0.0;
}

}  // namespace msgw::codecs::testing
