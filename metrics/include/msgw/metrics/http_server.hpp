// SPDX-License-Identifier: GPL-3.0-or-later
// GET /metrics over HTTP (libmicrohttpd), for msgw-control's one-thread
// epoll loop.
//
// Why MHD's external epoll mode and not an internal thread: every figure
// /metrics shows lives in the loop's thread (the gateway's counters, calls,
// registrations, trunks, the dataplane client); a server thread would need a
// snapshot published to it under a lock or a copy per loop pass.  Driven from
// the loop, a scrape renders straight from the live state between two
// passes, takes no lock, and costs the loop ~1 ms per scrape (every ~15 s).
// MHD keeps its sockets in an epoll set of its own: fd() is that set's fd,
// which the loop adds to its epoll (EPOLLIN) and answers with run().
//
// Only GET /metrics is served: another path is 404, another method 405 (with
// Allow: GET).  Malformed HTTP is MHD's to answer (400) and never reaches the
// renderer.  Each request the handler sees is counted by its status.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

struct MHD_Daemon;
struct MHD_Connection;

namespace msgw::metrics {

class HttpServer {
 public:
  using Render = std::function<std::string()>;

  struct Stats {
    uint64_t ok = 0;                  // 200: /metrics rendered
    uint64_t not_found = 0;           // 404: another path
    uint64_t method_not_allowed = 0;  // 405: not GET
    uint64_t failed = 0;              // a response MHD could not queue
  };

  // Listens on ip:port (IPv4, host byte order; port 0 = any free port).
  // Null with *error set when it cannot.
  static std::unique_ptr<HttpServer> start(uint32_t ip, uint16_t port, Render render, std::string* error);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int fd() const;               // MHD's epoll fd: readable when run() has work
  void run();                   // non-blocking: accept, read, answer what is ready
  int next_timeout_ms() const;  // when run() is due without readiness (idle timeouts); -1 none
  uint16_t port() const;        // the bound port
  const Stats& stats() const { return stats_; }

  // MHD's request callback (through a C shim); returns MHD_Result.
  static int on_request(void* self, MHD_Connection* c, const char* url, const char* method);

 private:
  HttpServer() = default;
  MHD_Daemon* daemon_ = nullptr;
  Render render_;
  Stats stats_;
};

}  // namespace msgw::metrics
