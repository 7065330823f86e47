// SPDX-License-Identifier: GPL-3.0-or-later
// msgw-control: the B2BUA daemon. One epoll loop over the SIP stack's
// sockets (and its SIP from the dataplane's segment, woken by a signal),
// the management socket, the metrics server's epoll fd and a signalfd; the
// dataplane's event ring has no fd, so it is polled on the loop's short
// timeout.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "msgw/common/log.hpp"
#include "msgw/config/config.hpp"
#include "msgw/dns/ares_dns.hpp"
#include "msgw/control/admission_rate.hpp"
#include "msgw/control/dataplane_sip_path.hpp"
#include "msgw/control/gateway.hpp"
#include "msgw/control/management_service.hpp"
#include "msgw/control/media.hpp"
#include "msgw/control/sip_shed_publisher.hpp"
#include "msgw/control/state_store.hpp"
#include "msgw/control/gateway_metrics.hpp"
#include "msgw/metrics/http_server.hpp"
#include "msgw/mgmt/server.hpp"
#include "msgw/sip/stack.hpp"
#include "msgw/common/monotonic_clock.hpp"

namespace {

// --help goes to stdout (asked for; help2man reads it for the man page:
// "Usage:" is its SYNOPSIS, "Options:" its OPTIONS), the
// same text to stderr after a command-line error.
void usage(std::FILE* out) {
  std::fprintf(out,
               "Usage: msgw-control --config FILE [OPTION]...\n"
               "The control plane of msgw: a B2BUA that registers and authenticates the\n"
               "subscribers, routes their calls to SIP trunks, programs the media flows of\n"
               "msgw-dataplane, keeps CDRs and live calls in SQLite ([sip] state_db) and\n"
               "serves msgwctl on its management socket ([sip] management_socket).\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  the msgw TOML configuration\n"
               "  --instance NAME    override [instance].name (dataplane segment /dev/shm/msgw-NAME)\n"
               "  -h, --help         this text\n"
               "  --version          the version of msgw\n");
}

void make_parent(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
}

// The dataplane's workers end msgw-control's wait with this signal when SIP
// datagrams arrive in the segment (DataplaneSipPath).  A real-time signal:
// queued, never merged with or mistaken for another.
int sip_wake_signal() { return SIGRTMIN + 8; }

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists (libraries may start some): a process-directed
  // signal goes to a thread that does not block it, and only a signalfd
  // should take this one.
  {
    sigset_t sip_wake;
    sigemptyset(&sip_wake);
    sigaddset(&sip_wake, sip_wake_signal());
    sigprocmask(SIG_BLOCK, &sip_wake, nullptr);
  }
  msgw::log::init("msgw-control");
  std::string config_file, instance;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--config" || a == "-c") && i + 1 < argc) config_file = argv[++i];
    else if (a == "--instance" && i + 1 < argc) instance = argv[++i];
    else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("msgw-control %s\n", MSGW_VERSION);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (config_file.empty()) {
    usage(stderr);
    return 2;
  }
  auto loaded = msgw::config::load_file(config_file);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) MSGW_LOG(error, "configuration rejected", {"error", e.to_string()});
    return 2;
  }
  msgw::config::Config cfg = *loaded.config;
  if (!instance.empty()) cfg.instance.name = instance;
  if (auto level = msgw::log::parse_level(cfg.instance.log_level)) msgw::log::set_level(*level);
  if (cfg.sip.listen.empty()) {
    MSGW_LOG(error, "nothing to serve: [sip] listen is empty", {"file", config_file});
    return 2;
  }

  // SIGTERM/SIGINT end the loop cleanly; SIGPIPE must not kill us on a
  // management client that went away.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  // While calls wait for their flow's add the loop polls the dataplane's
  // event ring every millisecond (Gateway::next_timeout_ms); 5 us of timer
  // slack keeps that wait near what it asks for.
  prctl(PR_SET_TIMERSLACK, 5000UL, 0, 0, 0);

  try {
    make_parent(cfg.sip.state_db);
    make_parent(cfg.sip.management_socket);
    msgw::control::StateStore store(cfg.sip.state_db);
    msgw::control::DataplaneMedia media(cfg.instance.name);
    // SIP over UDP through the dataplane's segment ([sip] udp_via_dataplane);
    // made before the stack that uses it, so it outlives it.
    std::unique_ptr<msgw::control::DataplaneSipPath> sip_path;
    if (cfg.sip.udp_via_dataplane) {
      sip_path = std::make_unique<msgw::control::DataplaneSipPath>(media, sip_wake_signal());
      if (!sip_path->ok()) sip_path.reset();
    }
    msgw::control::Gateway gw(cfg, media, &store);
    gw.set_instance_override(instance);
    // Trunks by name: c-ares on this loop (its sockets are watched below).
    msgw::dns::AresDns dns(cfg.sip.dns_servers);
    std::mt19937 rng(std::random_device{}());
    msgw::control::TrunkResolver resolver(
        dns, [] { return msgw::control::TrunkResolver::Clock::now(); },
        [&rng](uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n)(rng); });

    msgw::sip::StackConfig sc;
    sc.timers.t1 = std::chrono::milliseconds(cfg.sip.t1_ms);
    sc.user_agent = "msgw";
    msgw::sip::Stack stack(sc, &gw);
    gw.set_stack(&stack);
    if (sip_path) stack.set_datagram_path(sip_path.get());
    for (const auto& hp : cfg.sip.listen) {
      for (auto proto : {msgw::sip::Proto::Udp, msgw::sip::Proto::Tcp}) {
        std::string err;
        if (!stack.listen(proto, hp.host, hp.port, &err)) {
          MSGW_LOG(error, "cannot listen", {"proto", msgw::sip::proto_name(proto)}, {"address", hp.to_string()},
                   {"error", err});
          return 1;
        }
      }
    }
    gw.restore();
    if (gw.active_calls())
      MSGW_LOG(info, "calls restored", {"calls", gw.active_calls()}, {"db", cfg.sip.state_db});

    int ep = epoll_create1(EPOLL_CLOEXEC);
    auto watch = [&](int fd) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    };
    msgw::control::GatewayService service(gw);
    msgw::mgmt::Server mgmt(cfg.sip.management_socket, service);
    mgmt.on_client_change = [&](int fd, msgw::mgmt::Server::Watch w) {
      using Watch = msgw::mgmt::Server::Watch;
      if (w == Watch::none) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        return;
      }
      epoll_event ev{};
      ev.events = EPOLLIN | (w == Watch::read_write ? EPOLLOUT : 0u);
      ev.data.fd = fd;
      if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT) epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    };
    dns.on_socket_change = [ep](int fd, bool read, bool write) {  // by value: dns outlives ep
      if (!read && !write) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        return;
      }
      epoll_event ev{};
      ev.events = (read ? EPOLLIN : 0u) | (write ? EPOLLOUT : 0u);
      ev.data.fd = fd;
      if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT) epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    };
    // Prometheus /metrics ([sip] metrics_listen; metrics/README.md): MHD on
    // this loop through its epoll fd, rendering from the live gateway.
    std::unique_ptr<msgw::metrics::HttpServer> metrics;
    if (!cfg.sip.metrics_listen.empty()) {
      std::string err;
      metrics = msgw::metrics::HttpServer::start(
          cfg.sip.metrics_ip, cfg.sip.metrics_port,
          [&gw, &metrics] { return msgw::control::render_metrics(gw, metrics->stats()); }, &err);
      if (!metrics) {
        MSGW_LOG(error, "cannot serve metrics", {"address", cfg.sip.metrics_listen}, {"error", err});
        return 1;
      }
      watch(metrics->fd());
    }
    gw.set_resolver(&resolver);
    // The stack's overload state to the dataplane's workers, which then shed
    // new calls before the exception path (sip_shed_publisher.hpp).
    msgw::control::SipShedPublisher shed(media, msgw::control::sip_shed_listen(cfg.sip.listen));
    // Overloaded, the workers still admit a controlled rate of new calls
    // (admission_rate.hpp) rather than none: the lease follows the
    // controller, which enters when the stack's gate sheds and leaves once
    // calm; the gate's own shedding stays the backstop.
    msgw::control::AdmissionRateController admit_rate;
    gw.set_admission_rate(&admit_rate);
    auto shed_counters = std::make_unique<msgw::control::DataplaneCounters>();
    uint64_t next_shed_read_ns = 0;
    int64_t dataplane_shed = -1;
    using msgw::common::monotonic_ns;
    watch(stack.fd());
    watch(mgmt.listen_fd());
    if (sfd >= 0) watch(sfd);
    std::string sip_on;
    for (const auto& hp : cfg.sip.listen) sip_on += (sip_on.empty() ? "" : ",") + hp.to_string();
    MSGW_LOG(info, "serving", {"instance", cfg.instance.name}, {"sip", sip_on},
             {"transport", sip_path ? "udp+tcp, udp via the dataplane's segment" : "udp+tcp"},
             {"management", cfg.sip.management_socket},
             {"metrics", cfg.sip.metrics_listen.empty() ? std::string("off") : cfg.sip.metrics_listen},
             {"dataplane", media.up() ? "attached" : "not attached yet"},
             {"log_level", msgw::log::level_name(msgw::log::level())});

    // Group commit (StateStore::end_pass): the longest a state change waits
    // for its COMMIT, so the most a kill -9 of msgw-control can lose.
    constexpr std::chrono::milliseconds kGroupCommit{10};
    bool running = true;
    epoll_event evs[64];
    while (running) {
      int t = gw.next_timeout_ms();
      int st = stack.next_timeout_ms();
      if (st >= 0 && st < t) t = st;
      const int commit_ms = store.next_commit_ms(msgw::control::StateStore::Clock::now(), kGroupCommit);
      for (int dt : {dns.next_timeout_ms(), resolver.next_timeout_ms(), metrics ? metrics->next_timeout_ms() : -1,
                     commit_ms})
        if (dt >= 0 && dt < t) t = dt;
      // SIP datagrams already in the segment: look, do not sleep.  Else a
      // worker that adds one signals us out of the wait.
      if (!stack.prepare_wait()) t = 0;
      int n = epoll_wait(ep, evs, 64, t);
      stack.after_wait();
      if (n < 0 && errno != EINTR) {
        MSGW_LOG(error, "epoll_wait failed", {"error", std::strerror(errno)});
        return 1;
      }
      // A full or broken disk fails every commit: one line a second, not thousands.
      auto commit_failed = [](const std::string& db_error) {
        MSGW_LOG_LIMITED(error, 1, "state database write failed", {"error", db_error});
      };
      // A management or metrics request sees only committed state: what it
      // reports (a call answered) survives a kill -9 right after.
      auto commit_now = [&] {
        if (std::string db_error; !store.end_batch(&db_error)) commit_failed(db_error);
      };
      for (int i = 0; i < n; ++i) {
        int fd = evs[i].data.fd;
        if (fd == sfd) {
          signalfd_siginfo si{};
          while (read(sfd, &si, sizeof si) == ssize_t(sizeof si)) running = false;
        } else if (dns.owns(fd)) {
          dns.process(fd, evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP), evs[i].events & EPOLLOUT);
        } else if (metrics && fd == metrics->fd()) {
          commit_now();
          metrics->run();
        } else if (fd == mgmt.listen_fd()) {
          mgmt.on_listen_ready();
        } else if (fd != stack.fd()) {
          commit_now();
          mgmt.on_client_ready(fd);
        }
      }
      // Sockets first (non-blocking), then oSIP2 timers, then our own; what
      // they persist is committed once at the end of the pass.
      store.begin_batch();
      stack.process(0);
      dns.process();  // c-ares's own timeouts and retries
      if (metrics && metrics->next_timeout_ms() == 0) metrics->run();  // its idle-connection timeouts
      resolver.tick();
      // The dataplane's answers (a call's flow ready: ACK to B, 200 to A)
      // leave in one batch too.
      stack.batch_sends([&] { gw.tick(); });
      {
        const auto& st = stack.stats();
        const uint64_t now = monotonic_ns();
        // The workers' shed count (published every 200 ms): read a step at a time.
        if (now >= next_shed_read_ns) {
          next_shed_read_ns = now + uint64_t(msgw::control::AdmissionRateController::kStep);
          dataplane_shed = -1;
          if (media.counters(shed_counters.get())) {
            dataplane_shed = 0;
            for (uint32_t w = 0; w < shed_counters->n_workers; ++w)
              dataplane_shed += int64_t(shed_counters->published.workers[w].counters.sip_shed);
          }
        }
        admit_rate.update(int64_t(now), {.gate_shedding = st.overloaded != 0,
                                         .messages = st.rx_messages,
                                         .newest_age_us = int64_t(st.rx_queue_age_last_us),
                                         .new_requests = st.rx_new_requests,
                                         .target_age_us = int64_t(stack.config().admission.resume_queue_age_ms) * 1000,
                                         .dataplane_shed = dataplane_shed});
        shed.update(admit_rate.limiting(), stack.config().admission.retry_after_s, now, admit_rate.rate());
        // While the workers hold the rate, the stack sheds only what still
        // arrives past its shed age (not what they let in).
        stack.set_shedding_hysteresis(shed.lease_until_ns() == 0);
      }
      if (std::string db_error; !store.end_pass(msgw::control::StateStore::Clock::now(), kGroupCommit, &db_error))
        commit_failed(db_error);
      msgw::log::flush_suppressed();
    }
    MSGW_LOG(info, "stopping: live calls stay in the state database for the next start",
             {"live_calls", gw.active_calls()}, {"db", cfg.sip.state_db});
    close(ep);
  } catch (const std::exception& e) {
    MSGW_LOG(error, "fatal", {"error", e.what()});
    return 1;
  }
  return 0;
}
