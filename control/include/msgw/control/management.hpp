// Management socket of msgw-control: the interface msgwctl talks to.
//
// A Unix stream socket; each request is one JSON object on one line, each
// answer one JSON object on one line:
//   {"cmd":"show","what":"calls"}            -> {"ok":true,"data":[...]}
//   {"cmd":"hangup","call":"<call-id>"}      -> {"ok":true} | {"ok":false,"error":"no such call"}
//   {"cmd":"reload"}                         -> {"ok":false,"error":"FILE:LINE:COL: key: ..."}
// The server is non-blocking and driven by the control plane's epoll loop:
// it never stalls signalling for a slow or stuck client. Lines longer than
// kMaxRequestBytes, or that are not JSON objects, get an error answer and
// the connection is closed.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace msgw::control {

inline constexpr size_t kMaxRequestBytes = 64 * 1024;
inline constexpr size_t kMaxClients = 64;

class ManagementServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

  // Binds (replacing a stale socket file) and listens; throws
  // std::runtime_error naming the path when it cannot.
  ManagementServer(const std::string& path, Handler handler);
  ~ManagementServer();
  ManagementServer(const ManagementServer&) = delete;
  ManagementServer& operator=(const ManagementServer&) = delete;

  int listen_fd() const { return listen_fd_; }
  // The epoll loop calls on_listen_ready when listen_fd() is readable and
  // on_client_ready for a client fd; it learns of client fds (to watch or
  // forget them) through on_client_change.
  void on_listen_ready();
  void on_client_ready(int fd);
  std::function<void(int fd, bool added)> on_client_change;
  size_t clients() const { return clients_.size(); }

  uint64_t requests() const { return requests_; }
  uint64_t bad_requests() const { return bad_requests_; }

 private:
  struct Client {
    std::string in;
  };
  void close_client(int fd);
  void answer(int fd, const nlohmann::json& reply);

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  std::unordered_map<int, Client> clients_;
  uint64_t requests_ = 0, bad_requests_ = 0;
};

}  // namespace msgw::control
