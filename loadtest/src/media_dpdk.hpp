// SPDX-License-Identifier: GPL-3.0-or-later
// The DPDK media engine (--media-dpdk; media.hpp is the seam): the calls'
// RTP from two DPDK ports, port 0 the phone side and port 1 the carrier side
// (net_memif clients of the target's dataplane on the rig; NIC ports cabled
// to the gateway on bare metal). Each side's signalling still needs a kernel
// interface for SIPp: the engine attaches to a kernel TAP in the side's
// network namespace (tap_device.hpp) and bridges every frame between that
// TAP and the side's port, except UDP to the side's media address (the
// --phone/--carrier IP and RTP port, and the RTCP port above it), which it
// consumes itself (media_frame.hpp). To the namespaces the tool is the link
// it replaces, with an RTP generator attached.
//
// Its RTP: source MAC the side's TAP's (the gateway's ARP entry for the
// side's IP points there), destination the gateway's MAC learned from the
// frames its port delivers (SIP and ARP come first, so it is known before
// the first RTP; a packet due before is counted a send error), IPv4 and
// UDP checksums computed. Pacing is the socket engine's: 1 ms slots, stream
// i in slot i % 20, each slot's packets in TX bursts; late slots counted the
// same way (media_streams.hpp). One thread, a non-EAL one registered with
// DPDK, polling both ports and TAPs, sleeping up to 200 us when idle.
//
// Built when meson finds libdpdk (media_dpdk.cpp); otherwise
// media_dpdk_unbuilt.cpp refuses with the reason.
#pragma once

#include <memory>
#include <string>

#include "media.hpp"

namespace msgw::loadtest {

bool dpdk_media_built();
std::unique_ptr<MediaEngine> open_dpdk_media_engine(const MediaConfig& config, std::string* error);
// After the reports (packet_rate.hpp says why): when the engine started its
// ports, waits up to linger_s for both links to go down (the memif server
// hangs up first), then ends the process without DPDK's cleanup. Returns at
// once when no port was started.
void dpdk_media_after_report(unsigned linger_s, int exit_code);

}  // namespace msgw::loadtest
