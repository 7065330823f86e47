// SPDX-License-Identifier: GPL-3.0-or-later
#include "latency_match.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace msgw::loadtest {

void DirectionMatch::on_sent(std::uint64_t no, double t) {
  if (no >= send_time_.size()) {
    send_time_.resize(no + 1, kNotSent);
    seen_.resize(no + 1, 0);
  }
  if (send_time_[no] == kNotSent) ++counts_.sent;
  send_time_[no] = t;
}

void DirectionMatch::on_withheld(std::uint64_t no) {
  if (no >= send_time_.size()) {
    send_time_.resize(no + 1, kNotSent);
    seen_.resize(no + 1, 0);
  }
  if (send_time_[no] == kNotSent) {
    ++counts_.sent;
    ++counts_.withheld;
  }
  send_time_[no] = kWithheld;
}

std::optional<double> DirectionMatch::on_received(std::uint32_t ts, double t) {
  if (!have_offset_) {
    // The first packet received is our packet 0 (the runner's probe).
    offset_ = ts - first_ts_;
    have_offset_ = true;
  }
  const std::uint32_t d = ts - offset_ - first_ts_;  // modulo 2^32, as RTP timestamps are
  if (d % spp_ != 0) {
    ++counts_.unmatched;
    return std::nullopt;
  }
  const std::uint64_t no = d / spp_;
  if (no >= send_time_.size() || send_time_[no] == kNotSent) {
    ++counts_.unmatched;
    return std::nullopt;
  }
  if (send_time_[no] == kWithheld) {
    ++counts_.concealed;
    return std::nullopt;
  }
  if (seen_[no]) {
    ++counts_.duplicates;
    return std::nullopt;
  }
  seen_[no] = 1;
  ++counts_.matched;
  return t - send_time_[no];
}

LatencySummary summarize_latency(std::vector<double> ms) {
  LatencySummary s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  // Nearest rank on the sorted values (percentile() sorts a copy each call).
  auto rank = [&](double q) {
    auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(ms.size())));
    return ms[std::min(ms.size() - 1, k == 0 ? 0 : k - 1)];
  };
  s.n = ms.size();
  s.p50 = rank(0.50);
  s.p99 = rank(0.99);
  s.p999 = rank(0.999);
  s.min = ms.front();
  s.max = ms.back();
  s.mean = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  return s;
}

int latency_bin(double ms) {
  if (!(ms > kLatencyBinMinMs)) return 0;
  const double span = std::log10(kLatencyBinMaxMs / kLatencyBinMinMs);
  const int b = static_cast<int>(std::log10(ms / kLatencyBinMinMs) / span * kLatencyBins);
  return std::clamp(b, 0, kLatencyBins - 1);
}

bool trial_passed(const TrialCounts& c) { return c.calls_ok && c.sent > 0 && c.lost == 0; }

}  // namespace msgw::loadtest
