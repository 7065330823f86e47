// SPDX-License-Identifier: GPL-3.0-or-later
#include "packet_rate_count.hpp"

#include <algorithm>
#include <cmath>

#include "latency_match.hpp"
#include "stats.hpp"

namespace msgw::loadtest {

std::uint64_t packet_rate_sent_to_flow(std::uint64_t sent, std::uint32_t flows, std::uint32_t f, bool transcoded) {
  if (flows == 0 || f >= flows) return 0;
  if (!transcoded) return sent / flows + (f < sent % flows ? 1 : 0);
  // Packets 2j and 2j+1 go to session j mod flows; an odd total ends with the
  // first leg of pair sent / 2.
  const std::uint64_t pairs = sent / 2;
  std::uint64_t n = 2 * (pairs / flows + (f < pairs % flows ? 1 : 0));
  if (sent % 2 == 1 && pairs % flows == f) ++n;
  return n;
}

PacketRateFlows packet_rate_flows(const std::vector<std::uint64_t>& received_by_flow, std::uint64_t sent,
                                  bool transcoded) {
  PacketRateFlows r;
  const auto flows = static_cast<std::uint32_t>(received_by_flow.size());
  for (std::uint32_t f = 0; f < flows; ++f) {
    const std::uint64_t out = packet_rate_sent_to_flow(sent, flows, f, transcoded);
    const std::uint64_t back = received_by_flow[f];
    if (back < out) {
      ++r.with_loss;
      r.lost += out - back;
      if (back == 0) ++r.silent;
    } else {
      r.extra += back - out;
    }
  }
  return r;
}

PacketRateLatency packet_rate_latency(std::vector<std::uint32_t>& ns, std::vector<std::uint64_t>* hist) {
  PacketRateLatency l;
  if (hist) hist->assign(kLatencyBins, 0);
  if (ns.empty()) return l;
  l.n = ns.size();
  // Nearest rank, ascending q so each selection only looks right of the last.
  auto begin = ns.begin();
  auto rank = [&](double q) {
    auto at = ns.begin() + static_cast<std::ptrdiff_t>(nearest_rank_index(ns.size(), q));
    std::nth_element(begin, at, ns.end());
    begin = at;
    return *at / 1000.0;
  };
  l.p50 = rank(0.50);
  l.p90 = rank(0.90);
  l.p99 = rank(0.99);
  l.p999 = rank(0.999);
  l.max = *std::max_element(begin, ns.end()) / 1000.0;
  double sum = 0;
  for (auto v : ns) {
    sum += v;
    if (hist) ++(*hist)[static_cast<std::size_t>(latency_bin(v / 1e6))];
  }
  l.mean = sum / static_cast<double>(ns.size()) / 1000.0;
  return l;
}

void packet_rate_finish_counts(PacketRateResult& r) {
  r.achieved_pps = r.seconds > 0 ? static_cast<double>(r.sent) / r.seconds : 0;
  r.lost = r.sent > r.received ? r.sent - r.received : 0;
  r.loss_percent = r.sent ? 100.0 * static_cast<double>(r.lost) / static_cast<double>(r.sent) : 0;
  // As bench-dataplane.sh judges a trial "short": under 95 % of the load.
  r.generator_bound = static_cast<double>(r.sent) * 100 < r.offered_pps * r.seconds * 95;
}

}  // namespace msgw::loadtest
