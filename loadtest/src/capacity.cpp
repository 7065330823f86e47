// SPDX-License-Identifier: GPL-3.0-or-later
#include "capacity.hpp"

#include <algorithm>

namespace msgw::loadtest {

CapacityAssessment assess_capacity(std::span<const CapacitySample> samples, std::uint64_t target_level,
                                   bool with_media) {
  CapacityAssessment a;
  auto level_of = [&](const CapacitySample& s) { return with_media ? s.calls_with_media : s.calls_up; };
  CapacitySample prev{};
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    std::string why;
    auto add = [&](std::uint64_t n, const char* what) {
      if (n == 0) return;
      if (!why.empty()) why += ", ";
      why += std::to_string(n) + what;
    };
    // Counters only grow within a step; a smaller value is a new source, not a fault.
    auto delta = [](std::uint64_t now, std::uint64_t before) { return now > before ? now - before : 0; };
    add(delta(s.packets_lost, prev.packets_lost), " packets lost");
    add(delta(s.failed, prev.failed), " failed calls");
    add(delta(s.over_threshold, prev.over_threshold), " setups over the threshold");
    add(s.silent_streams, " streams with no packet received");
    if (!why.empty()) {
      a.first_bad = i;
      a.reason = why + " at " + std::to_string(level_of(s)) + (with_media ? " calls with media" : " calls up");
      a.generator_suspect = delta(s.late_slots, prev.late_slots) > 0 || delta(s.send_errors, prev.send_errors) > 0 ||
                            delta(s.receive_drops, prev.receive_drops) > 0;
      break;
    }
    a.clean_level = std::max(a.clean_level, level_of(s));
    if (target_level > 0 && level_of(s) >= target_level) {
      if (a.level_reached_s < 0) a.level_reached_s = s.t_s;
      a.held_s = s.t_s - a.level_reached_s;
    }
    prev = s;
  }
  return a;
}

std::uint64_t next_capacity_level(std::uint64_t level, std::uint64_t clean_level_of_failed_run) {
  const std::uint64_t ninety = level * 9 / 10;
  return std::min(ninety, clean_level_of_failed_run);
}

}  // namespace msgw::loadtest
