// SPDX-License-Identifier: GPL-3.0-or-later
// SIP transports (RFC 3261 §18): UDP and TCP over IPv4/IPv6, several listen
// addresses, TCP framing by Content-Length, connection reuse and idle close.
// The stack talks to the Transport interface so tests can plug their own
// (capture, drop chosen packets) without sockets.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "msgw/sip/limits.hpp"

namespace msgw::sip {

enum class Proto : uint8_t { Udp, Tcp };
const char* proto_name(Proto p);  // "UDP" / "TCP"

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;

  // Numeric address only (IPv6 with or without brackets): no DNS in the event loop.
  static std::optional<Endpoint> from(std::string_view ip, uint16_t port);
  static Endpoint from_sockaddr(const sockaddr* sa, socklen_t len);
  std::string ip() const;
  uint16_t port() const;
  bool is_v6() const { return addr.ss_family == AF_INET6; }
  bool valid() const { return len != 0; }
  std::string str() const;       // "192.0.2.1:5060" / "[2001:db8::1]:5060"
  std::string host_str() const;  // "192.0.2.1" / "[2001:db8::1]" (for Via/Contact)
  // Compared and tested as address bytes, without formatting them (these
  // run for every datagram sent).
  bool same_host(const Endpoint& o) const;  // same family and address, any port
  bool is_wildcard() const;                 // 0.0.0.0 or ::
  Endpoint with_port(uint16_t port) const;
  bool operator==(const Endpoint& o) const;
  bool operator<(const Endpoint& o) const { return str() < o.str(); }
};

// Where an inbound message came from. `socket` identifies the listener (UDP)
// or connection (TCP) so that answers leave the way the request came in.
struct Inbound {
  Proto proto = Proto::Udp;
  Endpoint peer;
  Endpoint local;
  uint64_t socket = 0;
  bool framing_error = false;  // TCP: message cut short, connection will close
  // UDP: microseconds from the kernel's receive timestamp to the moment the
  // stack got the datagram (its wait in the socket queue and in the
  // batch); -1 when unknown (TCP, no timestamp).
  int64_t queue_age_us = -1;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // socket != 0: use that listener / connection if it still exists.
  virtual bool send(Proto proto, const Endpoint& dst, uint64_t socket, std::string_view bytes) = 0;
  // Address to advertise in Via/Contact for traffic to `dst` over `proto`.
  virtual std::optional<Endpoint> local_for(Proto proto, const Endpoint& dst) const = 0;
  virtual bool supports(Proto proto) const = 0;
  // Called by the stack after a framing error was answered.
  virtual void close_socket(uint64_t /*socket*/) {}
};

using ReceiveFn = std::function<void(const Inbound&, std::string_view)>;

// Splits a TCP byte stream into SIP messages by Content-Length (hot path).
class StreamFramer {
 public:
  enum class Status { NeedMore, Message, Error };
  explicit StreamFramer(const Limits& limits) : limits_(limits) {}
  // False when the buffered bytes would exceed the stream limit.
  bool append(const char* data, std::size_t n);
  // On Message: `out` is one message. On Error: `out` holds what could be
  // salvaged (the header section) and `why` says what was wrong; the
  // stream cannot be resynchronised after that.
  Status next(std::string& out, std::string& why);
  std::size_t buffered() const { return buf_.size() - off_; }

 private:
  const Limits& limits_;
  std::string buf_;
  std::size_t off_ = 0;
};

class UdpSendQueue;  // sip/src/udp_send_queue.hpp
class DatagramPath;  // msgw/sip/datagram_path.hpp

class SocketTransport final : public Transport {
 public:
  // What became of a datagram or message handed to submit().
  enum class SendOutcome : uint8_t { Sent, Queued, Failed };

  SocketTransport(const Limits& limits, Stats& stats, ReceiveFn on_message);
  ~SocketTransport() override;
  SocketTransport(const SocketTransport&) = delete;
  SocketTransport& operator=(const SocketTransport&) = delete;

  // Opens a listener; port 0 picks a free one. Returns the bound address.
  std::optional<Endpoint> listen(Proto proto, std::string_view ip, uint16_t port, std::string* error = nullptr);

  int fd() const { return epfd_; }  // readable when process() has work
  // Handles ready sockets without blocking (timeout_ms 0) or waits up to timeout_ms.
  void process(int timeout_ms = 0);
  // Milliseconds until the next idle-connection check (-1: none pending).
  int next_timeout_ms() const;
  void run_timers();
  void set_idle_timeout(std::chrono::milliseconds t) { idle_timeout_ = t; }
  std::size_t connection_count() const;

  bool send(Proto proto, const Endpoint& dst, uint64_t socket, std::string_view bytes) override;
  // The source address the host's routes use towards dst (nullopt: no
  // route).  By default the kernel's answer (route_source()); tests set
  // their own.  Setting one forgets the cached answers.
  using RouteProbe = std::function<std::optional<Endpoint>(const Endpoint& dst)>;
  void set_route_probe(RouteProbe probe) {
    route_probe_ = std::move(probe);
    route_cache_.clear();
  }
  // send() that says whether the bytes left or wait in a send batch.
  // Sent / Failed: the transport counted nothing (the caller counts, as for
  // send()).  Queued: the transport counts it in Stats::tx_messages or
  // tx_errors when the batch is flushed, and reports a refused datagram's
  // `tag` to the send-failure callback.
  SendOutcome submit(Proto proto, const Endpoint& dst, uint64_t socket, std::string_view bytes, uint64_t tag);

  // Send batches (UDP only; TCP writes at once): between begin_batch() and
  // the matching end_batch() datagrams are queued and leave together, with
  // sendmmsg, when the outermost batch ends (or the queue is full, or
  // process() is about to wait).  Outside a batch every send is immediate.
  void begin_batch() { ++batch_depth_; }
  void end_batch();
  void flush_sends();
  // A queued datagram the kernel refused at flush time (errno in `error`).
  void set_send_failed(std::function<void(uint64_t tag, int error)> fn) { send_failed_ = std::move(fn); }
  std::optional<Endpoint> local_for(Proto proto, const Endpoint& dst) const override;
  bool supports(Proto proto) const override;
  void close_socket(uint64_t socket) override;

  // UDP datagrams through `path` as well as the sockets (datagram_path.hpp;
  // nullptr: sockets only).  Received: drained by every process(), each
  // delivered as from the UDP listener its address names.  Sent: through
  // the path when a listener with a specific IPv4 address sends an IPv4
  // datagram the path can carry, else (or when it refuses) the socket.
  // Its wake fd is watched by fd().  The path must outlive this transport
  // or be unset first.
  void set_datagram_path(DatagramPath* path);
  // Around the owner's blocking wait on fd() (process(timeout_ms != 0)
  // does it itself): prepare_wait() false = the path has datagrams waiting,
  // do not block; after_wait() when the wait is over, whatever it said.
  bool prepare_wait();
  void after_wait();

 private:
  enum class Kind { UdpListener, TcpListener, TcpConn };
  // The epoll id of the datagram path's wake fd: no socket's (they count up from 1).
  static constexpr uint64_t kPathWakeId = UINT64_MAX;
  struct Sock {
    Kind kind;
    int fd = -1;
    Endpoint local, peer;
    std::unique_ptr<StreamFramer> framer;
    std::string out;
    bool connecting = false;
    bool close_after_flush = false;
    std::chrono::steady_clock::time_point last_active;
  };
  uint64_t add(Sock s);
  void close_id(uint64_t id);
  void on_udp(uint64_t id, Sock& s);
  void on_accept(Sock& s);
  void on_tcp_readable(uint64_t id);
  void flush(uint64_t id);
  void update_events(uint64_t id, Sock& s);
  uint64_t connect_to(const Endpoint& dst);

  const Limits& limits_;
  Stats& stats_;
  ReceiveFn on_message_;
  int epfd_ = -1;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Sock> socks_;
  std::map<std::string, uint64_t> conn_by_peer_;  // "peer" string -> connection
  std::chrono::milliseconds idle_timeout_{std::chrono::seconds(60)};
  std::string rxbuf_;
  // UDP: one recvmmsg fills up to kUdpBatch slots of a datagram's maximum size.
  static constexpr std::size_t kUdpBatch = 16, kUdpSlot = 65536;
  std::string udp_rx_;
  const Sock* udp_listener_for(const Endpoint& dst, uint64_t socket) const;
  // The datagram path (sip/src/transport_path.cpp, hot path).
  bool send_via_path(const Sock& listener, const Endpoint& dst, std::string_view bytes);
  void drain_path();
  uint64_t path_listener(const Endpoint& local) const;
  // UDP listeners by address, for datagrams from the path: a few, searched
  // per datagram (socks_ also holds every TCP connection).
  struct UdpListenerRef {
    uint64_t id;
    Endpoint local;
  };
  std::vector<UdpListenerRef> udp_listeners_;
  // The source address the kernel's routes choose for a destination (a
  // probe: connect(2) of an unbound UDP socket, then getsockname), cached
  // per destination address for kRouteCacheTtl, so a request to a peer
  // leaves from, and names in its Via, the listener on the network that
  // reaches it (a carrier is reached from the trunk address, not the
  // access one).
  std::optional<Endpoint> route_source(const Endpoint& dst) const;
  RouteProbe route_probe_;
  const Sock* routed_listener(Kind want, const Endpoint& dst) const;
  static constexpr std::chrono::seconds kRouteCacheTtl{30};
  static constexpr std::size_t kRouteCacheMax = 4096;
  struct RouteEntry {
    std::optional<Endpoint> source;
    std::chrono::steady_clock::time_point until;
  };
  // A destination host by its address bytes (looked up per datagram sent:
  // no string formatting on that path).
  struct RouteKey {
    uint64_t hi = 0, lo = 0;
    sa_family_t family = 0;
    static RouteKey of(const Endpoint& dst);
    bool operator==(const RouteKey&) const = default;
  };
  struct RouteKeyHash {
    std::size_t operator()(const RouteKey& k) const {
      return std::size_t(k.hi * 0x9e3779b97f4a7c15ull ^ k.lo ^ (uint64_t(k.family) << 48));
    }
  };
  mutable std::unordered_map<RouteKey, RouteEntry, RouteKeyHash> route_cache_;  // dst host -> source
  DatagramPath* path_ = nullptr;
  int path_wake_fd_ = -1;
  std::unique_ptr<UdpSendQueue> udp_tx_;
  int batch_depth_ = 0;
  std::function<void(uint64_t, int)> send_failed_;
};

}  // namespace msgw::sip
