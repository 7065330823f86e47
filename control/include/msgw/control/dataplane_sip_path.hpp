// SPDX-License-Identifier: GPL-3.0-or-later
// SIP over UDP through msgw-dataplane's shared-memory segment: the SIP
// stack's DatagramPath (msgw/sip/datagram_path.hpp) on the segment's sip_in
// and sip_out rings (dataplane/protocol.hpp, SipDatagram).
//
// DataplaneMedia owns the client and re-attaches it after a dataplane
// restart; this makes it the SIP consumer at every attach
// (DataplaneMedia::set_sip_consumer) and uses it only while it is
// (DataplaneMedia::sip_client): otherwise send() refuses (the kernel's
// socket sends it) and receive() has nothing (the workers pass SIP to the
// TAP, where the sockets get it).
//
// Woken by a signal: a worker that enqueues while this process naps sends
// `signal`, which must be blocked in every thread (main() blocks it before
// any thread exists) and is read here through a signalfd, the wake fd.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "msgw/sip/datagram_path.hpp"

namespace msgw::dataplane {
struct SipDatagram;
}

namespace msgw::control {

class DataplaneMedia;

class DataplaneSipPath final : public sip::DatagramPath {
 public:
  // Taken at most at once by receive() (a ring slot each, ~1.5 KB).
  static constexpr std::size_t kBatch = 32;
  // `monotonic_ns`: CLOCK_MONOTONIC, the clock of SipDatagram::time_ns
  // (tests inject their own).
  DataplaneSipPath(DataplaneMedia& media, int signal, std::function<uint64_t()> monotonic_ns = nullptr);
  ~DataplaneSipPath() override;  // stops being the consumer
  DataplaneSipPath(const DataplaneSipPath&) = delete;
  DataplaneSipPath& operator=(const DataplaneSipPath&) = delete;

  // False when the signalfd could not be made (the path is then unusable:
  // do not give it to the stack).
  bool ok() const { return sfd_ >= 0; }

  bool send(const sip::Endpoint& local, const sip::Endpoint& dst, std::string_view bytes) override;
  std::size_t receive(const OnDatagram& on_datagram, std::size_t max) override;
  int wake_fd() const override { return sfd_; }
  void clear_wake() override;
  bool nap_begin() override;
  void nap_end() override;
  std::size_t max_datagram() const override;

 private:
  DataplaneMedia& media_;
  int sfd_ = -1;
  std::function<uint64_t()> monotonic_ns_;
  // Allocated once: no allocation per datagram or per batch.
  std::unique_ptr<dataplane::SipDatagram[]> in_;
  std::unique_ptr<dataplane::SipDatagram> out_;
};

}  // namespace msgw::control
