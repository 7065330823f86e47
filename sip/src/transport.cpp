// SPDX-License-Identifier: GPL-3.0-or-later
// Socket setup, accept/connect, idle close: the control side of the transports.
#include "msgw/sip/transport.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <vector>
#include <cstring>

#include "msgw/sip/datagram_path.hpp"
#include "udp_send_queue.hpp"

namespace msgw::sip {

const char* proto_name(Proto p) { return p == Proto::Udp ? "UDP" : "TCP"; }

std::optional<Endpoint> Endpoint::from(std::string_view ip_in, uint16_t port) {
  std::string ip(ip_in);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  Endpoint e;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&e.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.addr);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    e.len = sizeof(sockaddr_in);
    return e;
  }
  e.addr = {};
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    e.len = sizeof(sockaddr_in6);
    return e;
  }
  return std::nullopt;
}

Endpoint Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) {
  Endpoint e;
  if (len > sizeof(e.addr)) len = sizeof(e.addr);
  std::memcpy(&e.addr, sa, len);
  e.len = len;
  return e;
}

std::string Endpoint::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, buf, sizeof buf);
  else if (addr.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, buf, sizeof buf);
  return buf;
}

uint16_t Endpoint::port() const {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

std::string Endpoint::host_str() const { return is_v6() ? "[" + ip() + "]" : ip(); }
std::string Endpoint::str() const { return host_str() + ":" + std::to_string(port()); }

bool Endpoint::same_host(const Endpoint& o) const {
  if (addr.ss_family != o.addr.ss_family) return false;
  if (addr.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in&>(addr).sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in&>(o.addr).sin_addr.s_addr;
  if (addr.ss_family == AF_INET6)
    return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr,
                       &reinterpret_cast<const sockaddr_in6&>(o.addr).sin6_addr, sizeof(in6_addr)) == 0;
  return true;  // both unset
}

bool Endpoint::is_wildcard() const {
  if (addr.ss_family == AF_INET) return reinterpret_cast<const sockaddr_in&>(addr).sin_addr.s_addr == INADDR_ANY;
  if (addr.ss_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr);
  return false;
}

Endpoint Endpoint::with_port(uint16_t p) const {
  Endpoint e = *this;
  if (e.addr.ss_family == AF_INET) reinterpret_cast<sockaddr_in&>(e.addr).sin_port = htons(p);
  if (e.addr.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6&>(e.addr).sin6_port = htons(p);
  return e;
}

bool Endpoint::operator==(const Endpoint& o) const { return same_host(o) && port() == o.port(); }

namespace {
int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL, 0);
  return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}
constexpr uint64_t kNoSocket = 0;
}  // namespace

SocketTransport::SocketTransport(const Limits& limits, Stats& stats, ReceiveFn on_message)
    : limits_(limits), stats_(stats), on_message_(std::move(on_message)) {
  udp_tx_ = std::make_unique<UdpSendQueue>(stats_, [this](uint64_t tag, int error) {
    if (send_failed_) send_failed_(tag, error);
  });
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  rxbuf_.resize(65536);
  udp_rx_.resize(kUdpBatch * kUdpSlot);
}

SocketTransport::~SocketTransport() {
  // Batches end within a pass, so this is empty; no one to report to now.
  send_failed_ = nullptr;
  flush_sends();
  for (auto& [id, s] : socks_)
    if (s.fd >= 0) ::close(s.fd);
  if (epfd_ >= 0) ::close(epfd_);
}

uint64_t SocketTransport::add(Sock s) {
  uint64_t id = next_id_++;
  s.last_active = std::chrono::steady_clock::now();
  epoll_event ev{};
  ev.events = EPOLLIN | (s.connecting || !s.out.empty() ? uint32_t(EPOLLOUT) : 0u);
  ev.data.u64 = id;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, s.fd, &ev);
  if (s.kind == Kind::TcpConn) conn_by_peer_[s.peer.str()] = id;
  socks_.emplace(id, std::move(s));
  return id;
}

void SocketTransport::update_events(uint64_t id, Sock& s) {
  epoll_event ev{};
  ev.events = EPOLLIN | (s.connecting || !s.out.empty() ? uint32_t(EPOLLOUT) : 0u);
  ev.data.u64 = id;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, s.fd, &ev);
}

void SocketTransport::close_id(uint64_t id) {
  auto it = socks_.find(id);
  if (it == socks_.end()) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  ::close(it->second.fd);
  if (it->second.kind == Kind::TcpConn) {
    auto p = conn_by_peer_.find(it->second.peer.str());
    if (p != conn_by_peer_.end() && p->second == id) conn_by_peer_.erase(p);
  }
  if (it->second.kind == Kind::UdpListener)
    std::erase_if(udp_listeners_, [id](const UdpListenerRef& l) { return l.id == id; });
  socks_.erase(it);
}

void SocketTransport::close_socket(uint64_t id) {
  auto it = socks_.find(id);
  if (it == socks_.end() || it->second.kind != Kind::TcpConn) return;
  if (it->second.out.empty()) close_id(id);
  else it->second.close_after_flush = true;
}

std::optional<Endpoint> SocketTransport::listen(Proto proto, std::string_view ip, uint16_t port,
                                                std::string* error) {
  auto ep = Endpoint::from(ip, port);
  auto fail = [&](const std::string& what) -> std::optional<Endpoint> {
    if (error) *error = what + " " + std::string(ip) + ":" + std::to_string(port) + ": " + std::strerror(errno);
    return std::nullopt;
  };
  if (!ep) {
    errno = EINVAL;
    return fail("bad listen address");
  }
  int fd = ::socket(ep->addr.ss_family, (proto == Proto::Udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ep->is_v6()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Receive timestamps: each datagram's queueing delay (on_udp).
  if (proto == Proto::Udp) setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  if (proto == Proto::Udp && limits_.udp_socket_buffer > 0) {
    const int want = static_cast<int>(std::min<std::size_t>(limits_.udp_socket_buffer, 1u << 30));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) != 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ep->addr), ep->len) != 0) {
    auto r = fail("bind");
    ::close(fd);
    return r;
  }
  if (proto == Proto::Tcp && ::listen(fd, 128) != 0) {
    auto r = fail("listen");
    ::close(fd);
    return r;
  }
  set_nonblock(fd);
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl);
  Sock s;
  s.kind = proto == Proto::Udp ? Kind::UdpListener : Kind::TcpListener;
  s.fd = fd;
  s.local = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sl);
  Endpoint bound = s.local;
  const uint64_t id = add(std::move(s));
  if (proto == Proto::Udp) udp_listeners_.push_back({id, bound});
  return bound;
}

bool SocketTransport::supports(Proto proto) const {
  for (auto& [id, s] : socks_)
    if ((proto == Proto::Udp && s.kind == Kind::UdpListener) || (proto == Proto::Tcp && s.kind == Kind::TcpListener))
      return true;
  return false;
}

SocketTransport::RouteKey SocketTransport::RouteKey::of(const Endpoint& dst) {
  RouteKey k;
  k.family = dst.addr.ss_family;
  if (k.family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(dst.addr).sin6_addr;
    std::memcpy(&k.hi, a.s6_addr, 8);
    std::memcpy(&k.lo, a.s6_addr + 8, 8);
  } else if (k.family == AF_INET) {
    k.lo = reinterpret_cast<const sockaddr_in&>(dst.addr).sin_addr.s_addr;
  }
  return k;
}

namespace {
// The kernel's answer: connect(2) an unbound UDP socket, then getsockname.
std::optional<Endpoint> kernel_route_source(const Endpoint& dst) {
  const int probe = ::socket(dst.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return std::nullopt;
  std::optional<Endpoint> source;
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  if (::connect(probe, reinterpret_cast<const sockaddr*>(&dst.addr), dst.len) == 0 &&
      getsockname(probe, reinterpret_cast<sockaddr*>(&ss), &sl) == 0)
    source = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sl);
  ::close(probe);
  return source;
}
}  // namespace

std::optional<Endpoint> SocketTransport::route_source(const Endpoint& dst) const {
  const RouteKey key = RouteKey::of(dst);
  const auto now = std::chrono::steady_clock::now();
  if (auto it = route_cache_.find(key); it != route_cache_.end() && now < it->second.until)
    return it->second.source;
  const std::optional<Endpoint> source = route_probe_ ? route_probe_(dst) : kernel_route_source(dst);
  if (route_cache_.size() >= kRouteCacheMax) route_cache_.clear();
  route_cache_[key] = RouteEntry{source, now + kRouteCacheTtl};
  return source;
}

// The listener of the wanted kind bound to the address the route to dst
// uses, else a wildcard one, else the first of the family (no route known:
// the kernel will say so when sending).
const SocketTransport::Sock* SocketTransport::routed_listener(Kind want, const Endpoint& dst) const {
  // The listeners of the wanted kind and dst's family: UDP ones in the
  // order they were opened (socks_ is unordered).  No allocation: this runs
  // for every datagram sent.
  auto each = [&](auto&& fn) {
    auto one = [&](const Sock& s) {
      if (s.kind == want && s.local.addr.ss_family == dst.addr.ss_family) fn(s);
    };
    if (want == Kind::UdpListener) {
      for (const auto& l : udp_listeners_) one(socks_.at(l.id));
    } else {
      for (const auto& [id, s] : socks_) one(s);
    }
  };
  const Sock* wildcard = nullptr;
  const Sock* first = nullptr;
  std::size_t specific = 0;
  each([&](const Sock& s) {
    if (s.local.is_wildcard()) {
      if (wildcard == nullptr) wildcard = &s;
    } else {
      ++specific;
    }
    if (first == nullptr) first = &s;
  });
  // One specific address, or none: nothing to choose between.
  if (specific > 1) {
    if (const auto src = route_source(dst)) {
      const Sock* match = nullptr;
      each([&](const Sock& s) {
        if (match == nullptr && s.local.same_host(*src)) match = &s;
      });
      if (match != nullptr) return match;
    }
  }
  return wildcard != nullptr && specific == 0 ? wildcard : first;
}

std::optional<Endpoint> SocketTransport::local_for(Proto proto, const Endpoint& dst) const {
  const Sock* s = routed_listener(proto == Proto::Udp ? Kind::UdpListener : Kind::TcpListener, dst);
  if (s == nullptr) return std::nullopt;
  if (!s->local.is_wildcard()) return s->local;
  // A wildcard listener says nothing useful in a Via: the source address
  // the route to dst would use, with the listener's port.
  if (const auto src = route_source(dst)) return src->with_port(s->local.port());
  return s->local;
}

uint64_t SocketTransport::connect_to(const Endpoint& dst) {
  int fd = ::socket(dst.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return kNoSocket;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Bind to the listener's port when there is one, so the peer sees a
  // source it can open connections back to (RFC 3261 §18.1.1 allows either).
  int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&dst.addr), dst.len);
  if (r != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return kNoSocket;
  }
  Sock s;
  s.kind = Kind::TcpConn;
  s.fd = fd;
  s.peer = dst;
  s.connecting = r != 0;
  s.framer = std::make_unique<StreamFramer>(limits_);
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl);
  s.local = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sl);
  ++stats_.tcp_connections_opened;
  return add(std::move(s));
}

const SocketTransport::Sock* SocketTransport::udp_listener_for(const Endpoint& dst, uint64_t socket) const {
  auto it = socks_.find(socket);
  if (it != socks_.end() && it->second.kind == Kind::UdpListener &&
      it->second.local.addr.ss_family == dst.addr.ss_family)
    return &it->second;
  return routed_listener(Kind::UdpListener, dst);
}

bool SocketTransport::send(Proto proto, const Endpoint& dst, uint64_t socket, std::string_view bytes) {
  return submit(proto, dst, socket, bytes, 0) != SendOutcome::Failed;
}

void SocketTransport::end_batch() {
  if (batch_depth_ > 0 && --batch_depth_ == 0) flush_sends();
}

void SocketTransport::flush_sends() { udp_tx_->flush(); }

SocketTransport::SendOutcome SocketTransport::submit(Proto proto, const Endpoint& dst, uint64_t socket,
                                                     std::string_view bytes, uint64_t tag) {
  if (proto == Proto::Udp) {
    const Sock* listener = udp_listener_for(dst, socket);
    if (listener == nullptr) return SendOutcome::Failed;
    // Counted by the caller as any datagram sent (Sent).
    if (path_ != nullptr && send_via_path(*listener, dst, bytes)) return SendOutcome::Sent;
    const int fd = listener->fd;
    if (batch_depth_ > 0) {
      udp_tx_->push(fd, dst, bytes, tag);
      return SendOutcome::Queued;
    }
    ssize_t n = ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&dst.addr), dst.len);
    return n == static_cast<ssize_t>(bytes.size()) ? SendOutcome::Sent : SendOutcome::Failed;
  }
  // TCP: the connection the request came in on, else any open one to the
  // peer (reuse), else a new one (RFC 3261 §18.2.2).
  uint64_t id = kNoSocket;
  auto it = socks_.find(socket);
  if (it != socks_.end() && it->second.kind == Kind::TcpConn) id = socket;
  if (id == kNoSocket) {
    auto p = conn_by_peer_.find(dst.str());
    if (p != conn_by_peer_.end()) id = p->second;
  }
  if (id == kNoSocket) id = connect_to(dst);
  if (id == kNoSocket) return SendOutcome::Failed;
  Sock& s = socks_.at(id);
  s.out.append(bytes);
  s.last_active = std::chrono::steady_clock::now();
  if (!s.connecting) flush(id);
  else update_events(id, s);
  return SendOutcome::Sent;
}

void SocketTransport::flush(uint64_t id) {
  auto it = socks_.find(id);
  if (it == socks_.end()) return;
  Sock& s = it->second;
  while (!s.out.empty()) {
    ssize_t n = ::send(s.fd, s.out.data(), s.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      s.out.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close_id(id);
    return;
  }
  if (s.out.empty() && s.close_after_flush) {
    close_id(id);
    return;
  }
  update_events(id, s);
}

// Datagrams in batches (one recvmmsg for up to kUdpBatch), each with the
// kernel's receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME): its age when
// the stack gets to it is how far behind its input the stack is, the
// measure overload shedding acts on (admission.hpp).  The age is taken just
// before each datagram is handed over, so the time spent on the earlier
// datagrams of the batch counts too.
void SocketTransport::on_udp(uint64_t id, Sock& s) {
  const int fd = s.fd;
  std::array<mmsghdr, kUdpBatch> msgs{};
  std::array<iovec, kUdpBatch> iov{};
  std::array<sockaddr_storage, kUdpBatch> from{};
  struct alignas(cmsghdr) Control {
    char bytes[CMSG_SPACE(sizeof(timespec))];
  };
  std::array<Control, kUdpBatch> ctl{};
  for (int round = 0; round < 4; ++round) {  // 64 datagrams, then the other sockets get a turn
    for (std::size_t i = 0; i < kUdpBatch; ++i) {
      iov[i] = {udp_rx_.data() + i * kUdpSlot, kUdpSlot};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_control = ctl[i].bytes;
      msgs[i].msg_hdr.msg_controllen = sizeof ctl[i].bytes;
    }
    const int n = ::recvmmsg(fd, msgs.data(), kUdpBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    for (int i = 0; i < n; ++i) {
      mmsghdr& m = msgs[static_cast<std::size_t>(i)];
      Inbound in;
      in.proto = Proto::Udp;
      in.peer = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(m.msg_hdr.msg_name), m.msg_hdr.msg_namelen);
      in.local = s.local;
      in.socket = id;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr); c != nullptr; c = CMSG_NXTHDR(&m.msg_hdr, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
        timespec rx{}, now{};
        std::memcpy(&rx, CMSG_DATA(c), sizeof rx);
        clock_gettime(CLOCK_REALTIME, &now);
        const int64_t us = (int64_t(now.tv_sec) - rx.tv_sec) * 1'000'000 + (now.tv_nsec - rx.tv_nsec) / 1000;
        in.queue_age_us = std::max<int64_t>(0, us);  // a wall-clock step back is not an age
      }
      const std::size_t len = std::min<std::size_t>(m.msg_len, kUdpSlot);
      on_message_(in, std::string_view(udp_rx_.data() + static_cast<std::size_t>(i) * kUdpSlot, len));
      if (socks_.find(id) == socks_.end()) return;
    }
    if (static_cast<std::size_t>(n) < kUdpBatch) return;
  }
}

void SocketTransport::on_accept(Sock& l) {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (connection_count() >= limits_.max_tcp_connections) {
      ++stats_.tcp_connections_refused;
      ::close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Sock s;
    s.kind = Kind::TcpConn;
    s.fd = fd;
    s.local = l.local;
    s.peer = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sl);
    s.framer = std::make_unique<StreamFramer>(limits_);
    ++stats_.tcp_connections_accepted;
    add(std::move(s));
  }
}

void SocketTransport::on_tcp_readable(uint64_t id) {
  for (;;) {
    auto it = socks_.find(id);
    if (it == socks_.end()) return;
    Sock& s = it->second;
    ssize_t n = ::recv(s.fd, rxbuf_.data(), rxbuf_.size(), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      close_id(id);
      return;
    }
    if (n < 0) return;
    s.last_active = std::chrono::steady_clock::now();
    if (!s.framer->append(rxbuf_.data(), static_cast<std::size_t>(n))) {
      ++stats_.framing_errors;
      ++stats_.bad_messages;
      close_id(id);
      return;
    }
    Inbound in;
    in.proto = Proto::Tcp;
    in.peer = s.peer;
    in.local = s.local;
    in.socket = id;
    std::string msg, why;
    for (;;) {
      auto st = s.framer->next(msg, why);
      if (st == StreamFramer::Status::NeedMore) break;
      if (st == StreamFramer::Status::Error) {
        ++stats_.framing_errors;
        in.framing_error = true;
        on_message_(in, msg);
        close_socket(id);  // after the answer (if any) is flushed
        return;
      }
      on_message_(in, msg);
      if (socks_.find(id) == socks_.end()) return;
    }
  }
}

void SocketTransport::process(int timeout_ms) {
  // Nothing waits in the send queue while we may sleep.
  if (timeout_ms != 0) flush_sends();
  const bool waits = timeout_ms != 0;
  if (waits && !prepare_wait()) timeout_ms = 0;
  epoll_event evs[64];
  int n = epoll_wait(epfd_, evs, 64, timeout_ms);
  if (waits) after_wait();
  for (int i = 0; i < n; ++i) {
    uint64_t id = evs[i].data.u64;
    if (id == kPathWakeId) {
      if (path_ != nullptr) path_->clear_wake();
      continue;
    }
    auto it = socks_.find(id);
    if (it == socks_.end()) continue;
    Sock& s = it->second;
    switch (s.kind) {
      case Kind::UdpListener: on_udp(id, s); break;
      case Kind::TcpListener: on_accept(s); break;
      case Kind::TcpConn:
        if (s.connecting && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
          int err = 0;
          socklen_t el = sizeof err;
          getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &el);
          if (err != 0) {
            close_id(id);
            break;
          }
          s.connecting = false;
        }
        if (evs[i].events & EPOLLOUT) flush(id);
        if (socks_.count(id) && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_tcp_readable(id);
        break;
    }
  }
  // Whether or not its wake fd fired: a few loads when it has nothing.
  if (path_ != nullptr) drain_path();
  run_timers();
}

int SocketTransport::next_timeout_ms() const {
  auto now = std::chrono::steady_clock::now();
  long best = -1;
  for (auto& [id, s] : socks_) {
    if (s.kind != Kind::TcpConn) continue;
    auto due = s.last_active + idle_timeout_;
    long ms = std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count());
    if (best < 0 || ms < best) best = ms;
  }
  return static_cast<int>(best);
}

void SocketTransport::run_timers() {
  auto now = std::chrono::steady_clock::now();
  std::vector<uint64_t> idle;
  for (auto& [id, s] : socks_)
    if (s.kind == Kind::TcpConn && now - s.last_active >= idle_timeout_) idle.push_back(id);
  for (auto id : idle) {
    ++stats_.tcp_connections_closed_idle;
    close_id(id);
  }
}

void SocketTransport::set_datagram_path(DatagramPath* path) {
  if (path_wake_fd_ >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, path_wake_fd_, nullptr);
  path_wake_fd_ = -1;
  path_ = path;
  if (path_ == nullptr || path_->wake_fd() < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kPathWakeId;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, path_->wake_fd(), &ev) == 0) path_wake_fd_ = path_->wake_fd();
}

bool SocketTransport::prepare_wait() { return path_ == nullptr || path_->nap_begin(); }

void SocketTransport::after_wait() {
  if (path_ != nullptr) path_->nap_end();
}

std::size_t SocketTransport::connection_count() const {
  std::size_t n = 0;
  for (auto& [id, s] : socks_) n += s.kind == Kind::TcpConn;
  return n;
}

}  // namespace msgw::sip
