// SPDX-License-Identifier: GPL-3.0-or-later
#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace msgw::loadtest {

std::size_t nearest_rank_index(std::size_t n, double q) {
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  return std::min(n, std::max<std::size_t>(rank, 1)) - 1;
}

double percentile(std::span<const double> values, double q) {
  if (values.empty()) return 0;
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  return v[nearest_rank_index(v.size(), q)];
}

Percentiles summarize(std::vector<double> values) {
  Percentiles p;
  p.n = values.size();
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) { return values[nearest_rank_index(values.size(), q)]; };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.max = values.back();
  p.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  return p;
}

void SequenceTracker::on_packet(std::uint16_t seq) {
  ++received_;
  if (!started_) {
    started_ = true;
    base_seq_ = max_seq_ = seq;
    return;
  }
  const auto delta = static_cast<std::uint16_t>(seq - max_seq_);
  if (delta == 0) {
    ++reordered_;
  } else if (delta < 0x8000) {  // ahead (with wrap): RFC 3550 A.1 accepts up to MAX_DROPOUT
    if (seq < max_seq_) ++cycles_;
    max_seq_ = seq;
  } else {
    ++reordered_;  // behind the highest: late or duplicate
  }
}

std::uint64_t SequenceTracker::expected() const {
  if (!started_) return 0;
  const std::uint64_t ext_max = (static_cast<std::uint64_t>(cycles_) << 16) + max_seq_;
  return ext_max - base_seq_ + 1;
}

std::uint64_t SequenceTracker::lost() const {
  const auto e = expected();
  return e > received_ ? e - received_ : 0;
}

double SequenceTracker::loss_fraction() const {
  const auto e = expected();
  return e ? static_cast<double>(lost()) / static_cast<double>(e) : 0;
}

void JitterEstimator::on_packet(std::uint32_t rtp_timestamp, double arrival_s, std::uint32_t clock_rate) {
  // Transit in timestamp units; only differences matter, so the unknown
  // offset between the sender's timestamp and our clock cancels out.
  const double transit = arrival_s * clock_rate - static_cast<double>(rtp_timestamp);
  if (started_) {
    const double d = std::fabs(transit - last_transit_);
    jitter_ += (d - jitter_) / 16.0;
  }
  started_ = true;
  last_transit_ = transit;
}

double delay_impairment_ms(double ta_ms) {
  if (ta_ms <= 100) return 0;
  const double x = std::log2(ta_ms / 100.0);
  return 25.0 * (std::pow(1 + std::pow(x, 6), 1.0 / 6) - 3 * std::pow(1 + std::pow(x / 3, 6), 1.0 / 6) + 2);
}

double effective_equipment_impairment(const EModelInput& in) {
  const double ppl = std::max(0.0, in.loss_percent);
  const double burst = in.burst_ratio > 0 ? in.burst_ratio : 1;
  const double denom = ppl / burst + in.codec.bpl;
  return in.codec.ie + (95 - in.codec.ie) * (denom > 0 ? ppl / denom : 0);
}

double r_factor(const EModelInput& in) {
  return 93.2 - delay_impairment_ms(in.one_way_delay_ms) - effective_equipment_impairment(in);
}

double mos_from_r(double r) {
  if (r <= 0) return 1.0;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

double session_establishment_ratio(std::uint64_t attempts, std::uint64_t answered) {
  return attempts ? 100.0 * static_cast<double>(answered) / static_cast<double>(attempts) : 0;
}

double session_establishment_effectiveness_ratio(std::uint64_t attempts, std::uint64_t answered,
                                                 const std::map<int, std::uint64_t>& failure_codes) {
  std::uint64_t redirected = 0, effective = answered;
  for (const auto& [code, n] : failure_codes) {
    if (code >= 300 && code < 400) redirected += n;
    if (code == 480 || code == 486 || code == 600 || code == 603) effective += n;
  }
  const auto denom = attempts > redirected ? attempts - redirected : 0;
  return denom ? 100.0 * static_cast<double>(effective) / static_cast<double>(denom) : 0;
}

}  // namespace msgw::loadtest
