// SPDX-License-Identifier: GPL-3.0-or-later
// Statistics the load test reports: percentiles, RFC 6076 SER/SEER, RFC 3550 loss and
// interarrival jitter per RTP stream, and the ITU-T G.107 E-model estimate
// (R-factor, MOS) from codec impairment, loss and one-way delay.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

namespace msgw::loadtest {

// Nearest-rank percentile (q in [0,1]) of unsorted values; 0 for none.
// Nearest rank (not interpolation) so that p100 is the worst sample seen and
// a p99 over 100 calls is a call that happened.
double percentile(std::span<const double> values, double q);

// The index of the nearest-rank q-quantile among n >= 1 ascending values:
// ceil(q * n) - 1, at least 0 and at most n - 1.  The one definition behind
// every percentile the tool reports.
std::size_t nearest_rank_index(std::size_t n, double q);

struct Percentiles {
  std::uint64_t n = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};
Percentiles summarize(std::vector<double> values);

// RFC 3550 A.1: extended highest sequence number, packets expected and lost.
// Loss counts gaps between the first and the highest sequence received, so
// packets lost before the first or after the last arrival are not seen (as
// in an RTCP receiver report).
class SequenceTracker {
 public:
  void on_packet(std::uint16_t seq);
  std::uint64_t received() const { return received_; }
  std::uint64_t expected() const;
  // Expected minus received, never below 0 (duplicates could make it so).
  std::uint64_t lost() const;
  double loss_fraction() const;
  std::uint64_t duplicates_or_reordered() const { return reordered_; }

 private:
  bool started_ = false;
  std::uint16_t base_seq_ = 0, max_seq_ = 0;
  std::uint32_t cycles_ = 0;
  std::uint64_t received_ = 0, reordered_ = 0;
};

// RFC 3550 6.4.1 / A.8 interarrival jitter, J += (|D| - J) / 16, in RTP
// timestamp units; arrival times in the same units (clock_rate per second).
class JitterEstimator {
 public:
  void on_packet(std::uint32_t rtp_timestamp, double arrival_s, std::uint32_t clock_rate);
  double jitter_ms(std::uint32_t clock_rate) const { return clock_rate ? jitter_ / clock_rate * 1000.0 : 0; }
  double jitter_units() const { return jitter_; }

 private:
  bool started_ = false;
  double last_transit_ = 0;
  double jitter_ = 0;
};

// ITU-T G.107 E-model, simplified: every parameter at its G.107 default
// except the ones a load test sees (equipment impairment Ie and packet-loss
// robustness Bpl of the codec, G.113 Appendix I; random loss; one-way mouth-
// to-ear delay Ta, used for Idd with T = Ta, echo assumed cancelled).
//   R = Ro - Is - Id - Ie_eff + A, with the defaults Ro - Is = 93.2, A = 0
//   Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)
//   Idd = 0 for Ta <= 100 ms, else 25 * ((1+X^6)^(1/6) - 3 (1+(X/3)^6)^(1/6) + 2), X = log2(Ta/100)
struct CodecImpairment {
  double ie = 0;    // equipment impairment
  double bpl = 25.1;  // packet-loss robustness
};
struct EModelInput {
  CodecImpairment codec;
  double loss_percent = 0;      // Ppl
  double burst_ratio = 1;       // BurstR: 1 = random loss
  double one_way_delay_ms = 0;  // Ta
};
double delay_impairment_ms(double ta_ms);  // Idd
double effective_equipment_impairment(const EModelInput& in);  // Ie_eff
double r_factor(const EModelInput& in);
// G.107 Annex B: MOS_CQE from R (1 below 0, 4.5 above 100).
double mos_from_r(double r);

// RFC 6076 §4.8/4.9 from a step's counts: SER = answered / attempts;
// SEER leaves out of the attempts those answered 3xx and counts 480, 486,
// 600, 603 (the callee's own answers) as established. Percent.
double session_establishment_ratio(std::uint64_t attempts, std::uint64_t answered);
double session_establishment_effectiveness_ratio(std::uint64_t attempts, std::uint64_t answered,
                                                 const std::map<int, std::uint64_t>& failure_codes);

}  // namespace msgw::loadtest
