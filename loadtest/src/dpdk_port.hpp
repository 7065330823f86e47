// SPDX-License-Identifier: GPL-3.0-or-later
// The DPDK plumbing msgw-loadtest's DPDK users share (packet-rate and the
// DPDK media engine): the EAL's start, a port's start, waiting for a link.
// DPDK's headers reach only the files of the DPDK library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct rte_mempool;

namespace msgw::loadtest {

// rte_eal_init with argv[0] = msgw-loadtest and DPDK's log on stderr (the
// last line of stdout is the JSON). keep_affinity: this thread keeps the
// CPUs it had (the EAL pins its main thread to its first lcore, and every
// thread and SIPp process started from it would inherit that: the tool is
// pinned from outside instead, taskset). false and *error on failure.
bool eal_init(const std::vector<std::string>& eal_args, bool keep_affinity, std::string* error);

// One RX and one TX queue of `descriptors`, started. Empty, or what failed.
std::string start_port(std::uint16_t port, rte_mempool* pool, std::uint16_t descriptors);

// Polls the link every 100 ms, sleeping (not spinning: the core may be
// shared with the target's main lcore) until it is up or down as asked, or
// `seconds` pass. Returns whether it got there.
bool wait_link(std::uint16_t port, bool up, unsigned seconds);

// The device named by the EAL arguments' n-th --vdev X or -a X, for the reports.
std::string eal_device_name(const std::vector<std::string>& eal, unsigned n);

}  // namespace msgw::loadtest
