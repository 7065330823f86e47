// SPDX-License-Identifier: GPL-3.0-or-later
// The packet-rate test in a build without DPDK (meson found no libdpdk):
// it parses, refuses to run and says why.
#include "packet_rate.hpp"
#include "results.hpp"

namespace msgw::loadtest {

bool packet_rate_built() { return false; }

void run_packet_rate(const Options&, RunResult& result) {
  result.rate_unit = "packets/s";
  result.error = "packet-rate is not built: this msgw-loadtest was built without DPDK (meson found no libdpdk; "
                 "install dpdk-dev and rebuild)";
}

void packet_rate_after_report(const Options&, int) {}

}  // namespace msgw::loadtest
