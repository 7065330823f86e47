// SPDX-License-Identifier: GPL-3.0-or-later
// Codec engine benchmark: per-frame cost of every encoder/decoder, per-packet cost of every
// transcoder pair, and full-duplex session capacity compared with calling bcg729 and G.711
// directly. Prints figures only; the last line of output is one JSON object.
//
// Sessions per core = 1 s of audio / CPU time that 1 s of full-duplex transcoding costs
// (both directions: A->B and B->A, 20 ms packets, Annex B off so every frame is coded).
#include <benchmark/benchmark.h>

extern "C" {
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
}
#include <cmath>  // before spandsp, which otherwise redefines lrint()
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>
#include <spandsp/g726.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <unistd.h>
#include <map>
#include <string>
#include <vector>

#include "msgw/codecs/transcoder.hpp"
#include "test_signal.hpp"

using namespace msgw::codecs;

namespace {

constexpr std::size_t kSecond = 8000;
constexpr std::size_t kPacket = 160;  // 20 ms
const char* const kNames[] = {"PCMU", "PCMA", "G726-32", "G729"};
constexpr CodecId kIds[] = {CodecId::Pcmu, CodecId::Pcma, CodecId::G726_32, CodecId::G729};
constexpr std::uint8_t kPts[] = {0, 8, 96, 18};

const std::vector<std::int16_t>& speech() {
  static const auto s = msgw::codecs::testing::speech_like(kSecond, 11);
  return s;
}

// One second of each codec's bitstream, encoded once (Annex B off).
const std::vector<std::uint8_t>& bitstream(CodecId id) {
  static std::map<CodecId, std::vector<std::uint8_t>> cache;
  auto it = cache.find(id);
  if (it != cache.end()) return it->second;
  auto enc = make_encoder({.id = id, .g729_annexb = false});
  std::vector<std::uint8_t> b(kSecond);
  b.resize(enc->encode(speech(), b));
  return cache.emplace(id, std::move(b)).first->second;
}

// ---- per frame ----------------------------------------------------------------------------

void BM_Encode(benchmark::State& state) {
  const CodecId id = kIds[state.range(0)];
  auto enc = make_encoder({.id = id, .g729_annexb = false});
  const auto& pcm = speech();
  std::array<std::uint8_t, 160> out;
  std::size_t off = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(enc->encode(std::span(pcm).subspan(off, 80), out));
    benchmark::ClobberMemory();
    off = (off + 80) % kSecond;
  }
  state.SetLabel(std::string(kNames[state.range(0)]) + " 10 ms frame");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_Decode(benchmark::State& state) {
  const CodecId id = kIds[state.range(0)];
  auto dec = make_decoder({.id = id});
  const auto& bits = bitstream(id);
  const std::size_t per10 = bits.size() / 100;
  std::array<std::int16_t, 80> out;
  std::size_t off = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dec->decode(std::span(bits).subspan(off, per10), out));
    benchmark::ClobberMemory();
    off = (off + per10) % bits.size();
  }
  state.SetLabel(std::string(kNames[state.range(0)]) + " 10 ms frame");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// ---- per packet, every pair ---------------------------------------------------------------

struct Feeder {
  // Replays one second of ingress packets with ever-increasing seq/ts so the transcoder
  // sees a continuous stream (never late/duplicate) however many iterations run.
  const std::vector<std::uint8_t>* bits;
  std::size_t per_packet;
  std::uint8_t pt;
  std::uint16_t seq = 1;
  std::uint32_t ts = 0;
  std::size_t off = 0;
  std::size_t feed(Transcoder& tc, std::span<EgressPacket> out) {
    const std::size_t n = tc.process(std::span(*bits).subspan(off, per_packet), pt, seq++, ts, false, out);
    ts += kPacket;
    off = (off + per_packet) % bits->size();
    return n;
  }
};

std::unique_ptr<Transcoder> make_tc(int a, int b) {
  TranscoderConfig cfg;
  cfg.ingress = {.id = kIds[a], .payload_type = kPts[a], .ptime_ms = 20};
  cfg.egress = {.id = kIds[b], .payload_type = kPts[b], .ptime_ms = 20, .g729_annexb = false};
  std::string err;
  auto tc = Transcoder::create(cfg, &err);
  if (!tc) std::fprintf(stderr, "transcoder: %s\n", err.c_str());
  return tc;
}

Feeder feeder_for(int a) {
  const auto& bits = bitstream(kIds[a]);
  return Feeder{&bits, bits.size() / 50, kPts[a]};
}

void BM_TranscodePacket(benchmark::State& state) {
  const int a = static_cast<int>(state.range(0)), b = static_cast<int>(state.range(1));
  auto tc = make_tc(a, b);
  Feeder f = feeder_for(a);
  std::array<EgressPacket, kMaxEgressPerCall> out;
  for (auto _ : state) benchmark::DoNotOptimize(f.feed(*tc, out));
  if (tc->stats().dropped_total() != 0) state.SkipWithError("transcoder dropped packets");
  state.SetLabel(std::string(kNames[a]) + "->" + kNames[b] + " 20 ms packet");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// ---- one second of full duplex ------------------------------------------------------------

void duplex(benchmark::State& state, int a, int b) {
  auto ab = make_tc(a, b), ba = make_tc(b, a);
  Feeder fa = feeder_for(a), fb = feeder_for(b);
  std::array<EgressPacket, kMaxEgressPerCall> out;
  for (auto _ : state) {
    for (std::size_t p = 0; p < kSecond / kPacket; ++p) {
      benchmark::DoNotOptimize(fa.feed(*ab, out));
      benchmark::DoNotOptimize(fb.feed(*ba, out));
    }
  }
  if (ab->stats().dropped_total() + ba->stats().dropped_total() != 0) state.SkipWithError("dropped packets");
  state.SetLabel("1 s of audio each way");
}

void BM_Duplex_PCMU_G729(benchmark::State& state) { duplex(state, 0, 3); }
void BM_Duplex_G726_PCMU(benchmark::State& state) { duplex(state, 2, 0); }

// The same work calling the libraries directly: G.711 from spandsp's inline functions,
// G.729 from bcg729 (10 ms frames) or G.726 from spandsp (20 ms), no packet handling, no PLC.
void BM_Duplex_Raw_G729_G711(benchmark::State& state) {
  auto* enc = initBcg729EncoderChannel(0);
  auto* dec = initBcg729DecoderChannel();
  const auto& ulaw = bitstream(CodecId::Pcmu);
  const auto& g729 = bitstream(CodecId::G729);
  std::array<std::int16_t, 80> pcm;
  std::array<std::uint8_t, 80> ulaw_out;
  std::uint8_t bits[10];
  for (auto _ : state) {
    for (std::size_t f = 0; f < kSecond / 80; ++f) {
      for (std::size_t i = 0; i < 80; ++i) pcm[i] = ulaw_to_linear(ulaw[f * 80 + i]);
      std::uint8_t len = 0;
      bcg729Encoder(enc, pcm.data(), bits, &len);
      benchmark::DoNotOptimize(bits);
      bcg729Decoder(dec, g729.data() + f * 10, 10, 0, 0, 0, pcm.data());
      for (std::size_t i = 0; i < 80; ++i) ulaw_out[i] = linear_to_ulaw(pcm[i]);
      benchmark::DoNotOptimize(ulaw_out);
    }
  }
  closeBcg729EncoderChannel(enc);
  closeBcg729DecoderChannel(dec);
  state.SetLabel("1 s of audio each way");
}

void BM_Duplex_Raw_G726_G711(benchmark::State& state) {
  g726_state_t* enc = g726_init(nullptr, 32000, G726_ENCODING_LINEAR, G726_PACKING_RIGHT);
  g726_state_t* dec = g726_init(nullptr, 32000, G726_ENCODING_LINEAR, G726_PACKING_RIGHT);
  const auto& ulaw = bitstream(CodecId::Pcmu);
  const auto& g726 = bitstream(CodecId::G726_32);
  std::array<std::int16_t, 160> pcm;
  std::array<std::uint8_t, 160> out;
  for (auto _ : state) {
    for (std::size_t p = 0; p < kSecond / kPacket; ++p) {
      for (std::size_t i = 0; i < kPacket; ++i) pcm[i] = ulaw_to_linear(ulaw[p * kPacket + i]);
      benchmark::DoNotOptimize(g726_encode(enc, out.data(), pcm.data(), static_cast<int>(kPacket)));
      g726_decode(dec, pcm.data(), g726.data() + p * kPacket / 2, static_cast<int>(kPacket / 2));
      for (std::size_t i = 0; i < kPacket; ++i) out[i] = linear_to_ulaw(pcm[i]);
      benchmark::DoNotOptimize(out);
    }
  }
  g726_free(enc);
  g726_free(dec);
  state.SetLabel("1 s of audio each way");
}

// Collects CPU time per iteration (seconds) of each run so the summary can be computed.
class Collector : public benchmark::ConsoleReporter {
 public:
  // Colour only on a terminal: escape codes would otherwise prefix the JSON line.
  Collector() : ConsoleReporter(isatty(fileno(stdout)) ? OO_ColorTabular : OO_Tabular) {}
  std::map<std::string, std::vector<double>> cpu_s;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      cpu_s[r.run_name.function_name].push_back(r.GetAdjustedCPUTime() /
                                                benchmark::GetTimeUnitMultiplier(r.time_unit));
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

BENCHMARK(BM_Encode)->DenseRange(0, 3);
BENCHMARK(BM_Decode)->DenseRange(0, 3);
BENCHMARK(BM_TranscodePacket)->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2, 3}});
// Repeated, and interleaved at random by main() (--benchmark_enable_random_interleaving),
// so raw and ours see the same machine conditions; the summary uses the median.
BENCHMARK(BM_Duplex_Raw_G729_G711)->Unit(benchmark::kMillisecond)->Repetitions(9)->MinTime(0.2);
BENCHMARK(BM_Duplex_PCMU_G729)->Unit(benchmark::kMillisecond)->Repetitions(9)->MinTime(0.2);
BENCHMARK(BM_Duplex_Raw_G726_G711)->Unit(benchmark::kMillisecond)->Repetitions(9)->MinTime(0.2);
BENCHMARK(BM_Duplex_G726_PCMU)->Unit(benchmark::kMillisecond)->Repetitions(9)->MinTime(0.2);

int main(int argc, char** argv) {
  // Random interleaving of repetitions unless the caller chose otherwise.
  std::vector<char*> args(argv, argv + argc);
  bool chose = false;
  for (int i = 1; i < argc; ++i)
    chose = chose || std::string(argv[i]).rfind("--benchmark_enable_random_interleaving", 0) == 0;
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (!chose) args.push_back(interleave);
  argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Collector rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  benchmark::Shutdown();
  auto sessions = [&](const char* name) {
    const double s = median(rep.cpu_s[name]);
    return s > 0.0 ? 1.0 / s : 0.0;
  };
  const double ours = sessions("BM_Duplex_PCMU_G729"), raw = sessions("BM_Duplex_Raw_G729_G711");
  const double g726 = sessions("BM_Duplex_G726_PCMU"), raw726 = sessions("BM_Duplex_Raw_G726_G711");
  const double overhead = ours > 0.0 && raw > 0.0 ? (raw / ours - 1.0) * 100.0 : 0.0;
  std::printf(
      "{\"pcmu_g729_duplex_sessions_per_core\": %.0f, \"raw_bcg729_g711_duplex_sessions_per_core\": %.0f, "
      "\"g726_pcmu_duplex_sessions_per_core\": %.0f, \"raw_g726_g711_duplex_sessions_per_core\": %.0f, "
      "\"pcmu_g729_overhead_vs_raw_pct\": %.2f}\n",
      ours, raw, g726, raw726, overhead);
  std::fflush(stdout);
  return 0;
}
