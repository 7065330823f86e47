// SPDX-License-Identifier: GPL-3.0-or-later
// The DnsQuerier on c-ares (Debian's libc-ares, 1.18 API). In msgw-control it
// runs on the daemon's epoll loop: c-ares tells which sockets it wants
// watched (on_socket_change); the loop calls process() when one is ready and
// on every pass for c-ares's own timeouts (next_timeout_ms() bounds the
// wait), and nothing blocks. A command-line tool (`msgwctl config check`)
// may instead wait in run_until().
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "msgw/dns/sip_lookup.hpp"

struct ares_channeldata;

namespace msgw::dns {

class AresDns final : public DnsQuerier {
 public:
  // `servers`: "ip" or "ip:port" each; empty: /etc/resolv.conf. Each query
  // waits `timeout` per try. Throws std::runtime_error when c-ares cannot
  // start or a server is malformed.
  explicit AresDns(const std::vector<std::string>& servers,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(1000), int tries = 2);
  ~AresDns() override;
  AresDns(const AresDns&) = delete;
  AresDns& operator=(const AresDns&) = delete;

  void query_srv(const std::string& name, std::function<void(SrvAnswer)> done) override;
  void query_a(const std::string& name, std::function<void(AAnswer)> done) override;

  // A socket c-ares opened or closed, or whose interest changed
  // (read=write=false: stop watching it). Set before the first query.
  std::function<void(int fd, bool read, bool write)> on_socket_change;
  bool owns(int fd) const { return sockets_.count(fd) != 0; }
  // A watched socket is ready (either flag), or -1 to run timeouts only.
  void process(int fd = -1, bool readable = false, bool writable = false);
  // Until c-ares's next timeout; -1: no query outstanding.
  int next_timeout_ms() const;
  // Blocking (for command-line tools, not the daemon): processes answers
  // until `done` turns true or `deadline` passes, then cancels what is
  // outstanding (its callbacks see a failure). False when the deadline
  // passed (or nothing was outstanding) before `done`.
  bool run_until(const bool& done, std::chrono::steady_clock::time_point deadline);

 private:
  static void socket_state(void* self, int fd, int read, int write);
  ares_channeldata* channel_ = nullptr;
  std::set<int> sockets_;
};

}  // namespace msgw::dns
