// SPDX-License-Identifier: GPL-3.0-or-later
// msgw-control's side of the management socket (protocol.hpp).
//
// Non-blocking and driven by the control plane's epoll loop: it never
// stalls signalling for a slow or stuck client. An answer the socket cannot
// take at once is kept and sent as the client reads (the loop watches the fd
// for writing meanwhile); a client that lets more than kMaxPendingAnswer
// bytes pile up is dropped. Lines longer than kMaxRequestBytes, or that are
// not JSON objects, get an error answer and the connection is closed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "msgw/mgmt/protocol.hpp"

namespace msgw::mgmt {

class Service;

inline constexpr size_t kMaxPendingAnswer = 16 * 1024 * 1024;

class Server {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

  // Binds (replacing a stale socket file) and listens; throws
  // std::runtime_error naming the path when it cannot.
  Server(const std::string& path, Handler handler);
  // Requests dispatched through the verb table to `service` (verbs.hpp).
  Server(const std::string& path, Service& service);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int listen_fd() const { return listen_fd_; }

  // What the epoll loop should watch a client fd for.
  enum class Watch : uint8_t { none, read, read_write };
  // The loop calls on_listen_ready when listen_fd() is readable and
  // on_client_ready when a client fd is readable or writable; it learns
  // which client fds to watch, and for what, through on_client_change
  // (Watch::none: forget it, it is closed).
  void on_listen_ready();
  void on_client_ready(int fd);
  std::function<void(int fd, Watch watch)> on_client_change;
  size_t clients() const { return clients_.size(); }

  uint64_t requests() const { return requests_; }
  uint64_t bad_requests() const { return bad_requests_; }

 private:
  struct Client {
    std::string in;
    std::string out;  // answer bytes the socket has not taken yet
    bool watching_write = false;
  };
  void close_client(int fd);
  // false: the client was closed.
  bool answer(int fd, const nlohmann::json& reply);
  bool flush(int fd, Client& c);

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  std::unordered_map<int, Client> clients_;
  uint64_t requests_ = 0, bad_requests_ = 0;
};

}  // namespace msgw::mgmt
