// SPDX-License-Identifier: GPL-3.0-or-later
// What a run measured, as the reports show it. Filled by the runner, read by
// the JSON and HTML writers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "capacity.hpp"
#include "media.hpp"
#include "media_throughput.hpp"
#include "overload.hpp"
#include "packet_rate_count.hpp"
#include "socket_drops.hpp"
#include "stats.hpp"

namespace msgw::loadtest {

struct SideCounts {
  std::uint64_t attempted = 0;  // UAC: calls created; UAS: INVITEs received
  std::uint64_t successful = 0, failed = 0, retransmissions = 0;
  std::map<int, std::uint64_t> failure_codes;  // final responses of failed calls (SIPp's error log, 503s logged)
  // UAC: calls refused with 503 (counted failed), with and without Retry-After;
  // calls that got no answer (receive timeout, UDP retransmissions exhausted).
  std::uint64_t rejected_retry_after = 0, rejected_no_retry_after = 0, timeouts = 0;
  double cpu_percent = 0;  // SIPp's CPU over its lifetime, % of one core
};

struct TimePoint {
  double t_s = 0;  // since the run started
  double setup_p50 = 0, setup_p99 = 0, setup_max = 0;
  std::uint64_t setups = 0;
  std::uint64_t concurrent = 0;
  bool has_setup = false, has_concurrent = false;
};

struct StepResult {
  std::uint32_t index = 0;
  std::uint32_t rate = 0;
  std::uint32_t duration_s = 0;
  bool confirmation = false;
  bool passed = false;
  bool ended_early = false;
  std::string verdict;  // why it failed, or "pass"
  double started_s = 0, elapsed_s = 0;
  double achieved_rate = 0;  // attempts per second SIPp actually offered
  SideCounts uac, uas;
  bool has_uas = false;
  Percentiles setup_ms, disconnect_ms;
  // Setup delays in 1 ms bins (SIPp's clock is 1 ms, so the bins are the
  // values): steps can be combined exactly, e.g. a p99 over several steps.
  std::map<std::int64_t, std::uint64_t> setup_ms_histogram;
  std::uint64_t over_threshold = 0;
  double ser = 0, seer = 0;  // RFC 6076, percent
  std::vector<std::string> generator_limits;  // why the tool, not the target, may have been the limit
  double tool_cpu_busy = -1;  // busy share (0..1) of the CPUs the tool ran on during the step; -1 unknown
  // --sut-cpus: what the target's cores did over the step (tool_cpu.hpp's
  // sut_work_ticks): their work share (0..1), the niced share left out of it
  // (other work on the core), the work in CPU seconds and per completed call.
  bool has_sut_cpu = false;
  double sut_cpu_busy = 0, sut_cpu_niced = 0, sut_cpu_s = 0;
  std::optional<double> sut_cpu_us_per_call;  // none when no call completed
  double settle_s = -1;  // the search's wait for the target's cores to idle after this step (-1: none)
  // Datagrams the kernel dropped at the tool's sockets over the step, per
  // side's namespace (socket_drops.hpp); none when unreadable.  In the
  // self-test both sides share one namespace: counted as the phone's.
  std::optional<UdpDrops> phone_socket_drops, carrier_socket_drops;
  std::uint64_t tool_port_drops = 0;  // the DPDK media engine's ports' receive drops over the step
  // Media streams of this step's calls (both sides).
  std::uint64_t streams = 0;
  Percentiles loss_percent, jitter_ms, mos;
  // capacity: the concurrent calls this step filled to, and what its samples showed.
  std::uint64_t level = 0;
  CapacityAssessment capacity;
};

// One step of the overload test: a factor of the base rate, or the recovery
// step at 1x right after one.
struct OverloadPoint {
  std::uint32_t step = 0;
  double factor = 0;
  bool recovery = false;
  std::uint32_t offered_rate = 0;
  double achieved_rate = 0;
  OverloadCounts counts;
  Goodput goodput;
};

struct RunResult {
  std::string test;
  std::string target;
  std::string started_utc;
  std::uint32_t found_rate = 0;
  bool confirmed = false;
  std::string rate_unit = "calls/s";
  std::vector<StepResult> steps;
  std::vector<TimePoint> timeline;
  bool media = false;
  std::string codec;
  std::string media_engine;  // "sockets" or "dpdk" (--media-dpdk)
  std::vector<int> sut_cpus;  // --sut-cpus; empty when not given
  std::optional<double> sut_idle_busy;  // their busy share (0..1) before the search's first step
  MediaSummary media_summary;  // every stream of the run
  std::vector<std::string> generator_limits;  // union over steps, prefixed by the step
  std::vector<ThroughputMode> throughput;  // media-throughput: one per mode
  std::uint32_t threshold_ms = 0, hold_ms = 0;
  // capacity: the samples of every step (calls with media vs loss over time);
  // found_rate is then the capacity in calls.
  std::vector<CapacitySample> capacity_samples;
  // overload: the base rate (capacity) and where it came from, the points.
  std::uint32_t overload_base_rate = 0;
  std::string overload_base_from;
  std::vector<OverloadPoint> overload;
  std::optional<PacketRateResult> packet_rate;  // packet-rate: its one trial
  std::string error;  // set when the run could not be done
};

}  // namespace msgw::loadtest
