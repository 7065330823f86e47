// SPDX-License-Identifier: GPL-3.0-or-later
// A kernel TAP device in a network namespace, opened by this process: the
// DPDK media engine's way to the kernel of each side (its signalling, ARP,
// ICMP). The device must exist already, with its address and routes: a TAP
// this process created would vanish with it and carry no address when
// SIPp's first step starts (scripts/rig.sh creates persistent ones with
// RIG_PORTS=memif; by hand: ip tuntap add dev NAME mode tap, then ip addr and
// ip route as for any interface). Not DPDK's net_tap: it cannot open a
// device in another network namespace.
#pragma once

#include <string>

#include "media_frame.hpp"

namespace msgw::loadtest {

// setns into netns (empty: ours), attach to the TAP `name` (IFF_TAP |
// IFF_NO_PI, non-blocking, close-on-exec), read its MAC, setns back. The
// file descriptor, or -1 and *error.
int open_tap(const std::string& netns, const std::string& name, MacAddress* mac, std::string* error);

}  // namespace msgw::loadtest
