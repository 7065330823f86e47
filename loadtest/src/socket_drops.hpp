// SPDX-License-Identifier: GPL-3.0-or-later
// Datagrams the kernel dropped at the tool's own sockets, per side.
// The tool's SIPps (and its socket RTP sender) run in the phone's and the
// carrier's network namespaces, where nothing of the target lives.  When one
// of them falls behind its input for a moment (a burst of 503s from a
// shedding target is thousands of datagrams in a millisecond), the kernel
// drops what its receive buffer cannot hold: the call then looks to the tool
// like a target that did not answer, is retransmitted, and past the threshold
// counts against the target.  Those drops are counted by the namespace's UDP
// MIB (/proc/net/snmp: RcvbufErrors, SndbufErrors, InErrors), so the runner
// reads it before and after a step and marks the step generator-bound when
// they moved.  The MIB is the namespace's, not the sockets': run without
// --phone-netns/--carrier-netns, in the namespace of other busy UDP sockets
// (a target on the same host, say), their drops are counted as the tool's,
// which errs towards marking a figure generator-bound, never the other way.
// Parsing is apart from reading so that tests feed text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace msgw::loadtest {

struct UdpDrops {
  std::uint64_t rcvbuf_errors = 0;  // receive buffer full
  std::uint64_t sndbuf_errors = 0;  // send buffer full
  std::uint64_t in_errors = 0;      // every receive-side drop (checksum, buffer, ...)
  std::uint64_t total() const { return in_errors + sndbuf_errors; }  // InErrors counts RcvbufErrors already
};

// The "Udp:" header and value lines of /proc/net/snmp (the "UdpLite:" lines
// are not these); nullopt when they are missing, mismatched or not numbers.
std::optional<UdpDrops> parse_snmp_udp(std::string_view text);

// What moved between two readings (a counter that went back, as after a
// namespace was recreated, counts from zero).
UdpDrops udp_drops_delta(const UdpDrops& before, const UdpDrops& after);

// The UDP MIB of a network namespace (/run/netns/NAME; empty: the tool's
// own), read from a short-lived thread that enters it; nullopt when it
// cannot be read.
std::optional<UdpDrops> read_netns_udp(const std::string& netns);

// The largest receive buffer a socket may ask for (net.core.rmem_max);
// 0 when unreadable.
std::uint64_t read_rmem_max();

}  // namespace msgw::loadtest
