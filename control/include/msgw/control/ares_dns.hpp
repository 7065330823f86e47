// The DnsQuerier of msgw-control: c-ares (Debian's libc-ares, 1.18 API) on
// the daemon's epoll loop. c-ares tells which sockets it wants watched
// (on_socket_change); the loop calls process() when one is ready and on
// every pass for c-ares's own timeouts (next_timeout_ms() bounds the wait).
// Nothing here blocks.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "msgw/control/trunk_resolver.hpp"

struct ares_channeldata;

namespace msgw::control {

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

 private:
  static void socket_state(void* self, int fd, int read, int write);
  ares_channeldata* channel_ = nullptr;
  std::set<int> sockets_;
};

}  // namespace msgw::control
