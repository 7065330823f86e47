// SPDX-License-Identifier: GPL-3.0-or-later
// The DPDK media engine in a build without DPDK (meson found no libdpdk):
// --media-dpdk parses, refuses to run and says why.
#include "media_dpdk.hpp"

namespace msgw::loadtest {

bool dpdk_media_built() { return false; }

std::unique_ptr<MediaEngine> open_dpdk_media_engine(const MediaConfig&, std::string* error) {
  *error = "--media-dpdk is not built: this msgw-loadtest was built without DPDK (meson found no libdpdk; "
           "install dpdk-dev and rebuild)";
  return nullptr;
}

void dpdk_media_after_report(unsigned, int) {}

}  // namespace msgw::loadtest
