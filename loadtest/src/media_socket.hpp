// SPDX-License-Identifier: GPL-3.0-or-later
// The socket media engine (media.hpp): one non-blocking UDP socket per side,
// each bound in its side's network namespace, named in every SDP that side
// sends. One thread paces 1 ms slots: each slot's packets go out with
// sendmmsg in batches of kBatch per socket; between slots both sockets are
// drained with recvmmsg, then the thread sleeps until the next slot.
#pragma once

#include <memory>
#include <string>

#include "media.hpp"

namespace msgw::loadtest {

std::unique_ptr<MediaEngine> open_socket_media_engine(const MediaConfig& config, std::string* error);

}  // namespace msgw::loadtest
