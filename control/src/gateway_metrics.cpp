// SPDX-License-Identifier: GPL-3.0-or-later
// The one table of msgw-control's metrics and their rendering
// (gateway_metrics.hpp).  Names follow Prometheus' conventions: msgw_
// prefix, counters end in _total, durations in _seconds, state as a label
// with 1 for the current state.
#include "msgw/control/gateway_metrics.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include "msgw/common/wall_clock.hpp"
#include "msgw/control/gateway.hpp"
#include "msgw/dataplane/counters.hpp"

namespace msgw::control {

using common::wall_s;

namespace {

using metrics::Family;
using metrics::Type;

// ---- calls, SIP, registrations, trunks
constexpr Family kGatewayCounters[] = {
#define MSGW_X(name, help) {"msgw_" #name "_total", Type::counter, help, ""},
    MSGW_GATEWAY_COUNTERS(MSGW_X)
#undef MSGW_X
};
constexpr Family kCallsActive{"msgw_calls_active", Type::gauge, "calls in progress (any state but ended)", ""};
constexpr Family kCallsInState{"msgw_calls_in_state", Type::gauge, "calls in progress, by call state", "state"};
constexpr Family kCallFailures{"msgw_call_failures_total", Type::counter,
                               "INVITEs answered with a failure (refused before a call existed, or failed after), "
                               "by cause (CallError)",
                               "cause"};
constexpr Family kCallSetup{"msgw_call_setup_seconds", Type::histogram,
                            "time from a call's INVITE received to its 200 OK forwarded (answered calls)", ""};
constexpr Family kSipRequests{"msgw_sip_requests_received_total", Type::counter,
                              "well-formed SIP requests received, by method (OTHER: a method the stack does not know)",
                              "method"};
constexpr Family kSipResponsesIn{"msgw_sip_responses_received_total", Type::counter,
                                 "SIP responses received, by status code", "code"};
constexpr Family kSipResponsesOut{"msgw_sip_responses_sent_total", Type::counter,
                                  "SIP responses sent (100 Trying and stateless answers included), by status code",
                                  "code"};
constexpr Family kSipMessages{"msgw_sip_messages_received_total", Type::counter, "SIP messages received", ""};
constexpr Family kSipBad{"msgw_sip_bad_messages_total", Type::counter,
                         "SIP input refused (answered 4xx or dropped)", ""};
constexpr Family kSipTransactions{"msgw_sip_transactions", Type::gauge,
                                  "SIP transactions live: running ones (bounded by max_transactions) and those past "
                                  "their final response kept for retransmissions (up to 32 s; max_completed)",
                                  ""};
constexpr Family kSipDialogs{"msgw_sip_dialogs", Type::gauge, "SIP dialogs live", ""};
constexpr Family kSipAdmission[] = {
#define MSGW_X(name, help) {"msgw_sip_" #name "_total", Type::counter, help, ""},
    MSGW_SIP_ADMISSION_COUNTERS(MSGW_X)
#undef MSGW_X
};
constexpr Family kSipPath[] = {
#define MSGW_X(name, help) {"msgw_sip_" #name "_total", Type::counter, help, ""},
    MSGW_SIP_PATH_COUNTERS(MSGW_X)
#undef MSGW_X
};
constexpr Family kSipStackCounters[] = {
#define MSGW_X(name, help) {"msgw_sip_" #name "_total", Type::counter, help, ""},
    MSGW_SIP_STATELESS_COUNTERS(MSGW_X)
    MSGW_SIP_TABLE_COUNTERS(MSGW_X)
    MSGW_SIP_UAC_INVITE_COUNTERS(MSGW_X)
#undef MSGW_X
};
constexpr Family kSipOverloaded{"msgw_sip_overloaded", Type::gauge,
                                "1 while new INVITEs and REGISTERs are shed (receive queue too old), else 0", ""};
constexpr Family kSipQueueAge{"msgw_sip_receive_queue_age_seconds", Type::gauge,
                              "the longest a SIP datagram waited for msgw-control in the last one to two seconds", ""};
constexpr Family kSipAdmissionLimiting{
    "msgw_sip_admission_limiting", Type::gauge,
    "1 while msgw-control holds new INVITEs and REGISTERs to a rate (msgw-dataplane's workers answer the "
    "excess 503 with Retry-After), else 0",
    ""};
constexpr Family kSipAdmissionRate{"msgw_sip_admission_rate", Type::gauge,
                                   "the new INVITEs and REGISTERs a second admitted while limiting (0 when not)", ""};
constexpr Family kSipAdmissionEpisodes{"msgw_sip_admission_episodes_total", Type::counter,
                                       "times msgw-control began to hold new requests to a rate", ""};
constexpr Family kSipNewRequests{"msgw_sip_new_requests_total", Type::counter,
                                 "new INVITEs and REGISTERs without credentials taken in (not shed): what the "
                                 "admission rate counts",
                                 ""};
constexpr Family kRegistrationsActive{"msgw_registrations_active", Type::gauge,
                                      "subscriber contacts registered now (registrar bindings)", ""};
constexpr Family kTrunkUp{"msgw_trunk_up", Type::gauge,
                          "1 while calls are routed to the trunk (health up or failing), else 0", "trunk"};
constexpr Family kTrunkHealth{"msgw_trunk_health", Type::gauge,
                              "the trunk's health check state: 1 for the current state", "trunk,state"};
constexpr Family kTrunkRegistration{"msgw_trunk_registration", Type::gauge,
                                    "the trunk's registration state: 1 for the current state", "trunk,state"};

// ---- the dataplane (its published counters, protocol.hpp)
constexpr Family kDataplaneUp{"msgw_dataplane_up", Type::gauge,
                              "1 when msgw-control is attached to a running dataplane", ""};
constexpr Family kWorkerCounters[] = {
#define MSGW_X(name, help) {"msgw_dataplane_worker_" #name "_total", Type::counter, help, "worker"},
    MSGW_FOREACH_WORKER_COUNTER(MSGW_X)
#undef MSGW_X
};
constexpr Family kWorkerDropped{"msgw_dataplane_worker_dropped_total", Type::counter,
                                "packets dropped, by reason (held: withheld towards a leg on hold, not a loss)",
                                "worker,reason"};
constexpr Family kWorkerSessions{"msgw_dataplane_worker_sessions", Type::gauge,
                                 "media sessions the worker owns now, relayed or transcoded", "worker,mode"};
constexpr Family kWorkerCyclesPerPacket{"msgw_dataplane_worker_cycles_per_packet", Type::gauge,
                                        "TSC cycles per packet in the last second's busy poll passes", "worker"};
constexpr Family kWorkerIdleRatio{"msgw_dataplane_worker_idle_ratio", Type::gauge,
                                  "share of the last second the worker polled without packets (or slept)",
                                  "worker"};
constexpr Family kPortCounters[] = {
#define MSGW_X(name, field, help) {"msgw_dataplane_port_" #name "_total", Type::counter, help, "port"},
    MSGW_FOREACH_ETH_COUNTER(MSGW_X)
#undef MSGW_X
#define MSGW_X(name, help) {"msgw_dataplane_port_" #name "_total", Type::counter, help, "port"},
    MSGW_FOREACH_PORT_COUNTER(MSGW_X)
#undef MSGW_X
};

// ---- the metrics server itself
constexpr Family kMetricsRequests{"msgw_metrics_requests_total", Type::counter,
                                  "HTTP requests to the metrics server, by status code", "code"};

std::vector<Family> all_families() {
  std::vector<Family> v(std::begin(kGatewayCounters), std::end(kGatewayCounters));
  for (const Family& f : {kCallsActive, kCallsInState, kCallFailures, kCallSetup, kSipRequests, kSipResponsesIn,
                          kSipResponsesOut, kSipMessages, kSipBad, kSipTransactions, kSipDialogs})
    v.push_back(f);
  v.insert(v.end(), std::begin(kSipAdmission), std::end(kSipAdmission));
  v.insert(v.end(), std::begin(kSipPath), std::end(kSipPath));
  v.insert(v.end(), std::begin(kSipStackCounters), std::end(kSipStackCounters));
  for (const Family& f : {kSipOverloaded, kSipQueueAge, kSipNewRequests, kSipAdmissionLimiting, kSipAdmissionRate,
                          kSipAdmissionEpisodes, kRegistrationsActive, kTrunkUp, kTrunkHealth,
                          kTrunkRegistration, kDataplaneUp})
    v.push_back(f);
  v.insert(v.end(), std::begin(kWorkerCounters), std::end(kWorkerCounters));
  for (const Family& f : {kWorkerDropped, kWorkerSessions, kWorkerCyclesPerPacket, kWorkerIdleRatio}) v.push_back(f);
  v.insert(v.end(), std::begin(kPortCounters), std::end(kPortCounters));
  v.push_back(kMetricsRequests);
  return v;
}

using Labels = std::initializer_list<std::string_view>;
std::span<const std::string_view> L(Labels l) { return {l.begin(), l.size()}; }

void write_dataplane(metrics::Writer& w, const DataplaneCounters& dc, const config::Config& cfg) {
  const auto& pc = dc.published;
  std::vector<std::string> workers;
  for (uint32_t i = 0; i < dc.n_workers; ++i) workers.push_back(std::to_string(i));
  // One family at a time (the format wants a family's samples together).
  size_t k = 0;
#define MSGW_X(name, help)                                                       \
  for (uint32_t i = 0; i < dc.n_workers; ++i)                                    \
    w.sample(kWorkerCounters[k], L({workers[i]}), pc.workers[i].counters.name); \
  w.declare(kWorkerCounters[k]);                                                 \
  ++k;
  MSGW_FOREACH_WORKER_COUNTER(MSGW_X)
#undef MSGW_X
  w.declare(kWorkerDropped);
  for (uint32_t i = 0; i < dc.n_workers; ++i)
    for (size_t r = 0; r < size_t(dataplane::Drop::count); ++r)
      w.sample(kWorkerDropped, L({workers[i], dataplane::drop_name(dataplane::Drop(r))}),
               pc.workers[i].counters.dropped[r]);
  w.declare(kWorkerSessions);
  for (uint32_t i = 0; i < dc.n_workers; ++i) {
    w.sample(kWorkerSessions, L({workers[i], "relayed"}), pc.workers[i].relayed_sessions);
    w.sample(kWorkerSessions, L({workers[i], "transcoded"}), pc.workers[i].transcoded_sessions);
  }
  // No sample while a figure is undefined (no packets, no window yet).
  w.declare(kWorkerCyclesPerPacket);
  for (uint32_t i = 0; i < dc.n_workers; ++i)
    if (pc.workers[i].window_packets != 0)
      w.sample(kWorkerCyclesPerPacket, L({workers[i]}),
               double(pc.workers[i].window_busy_cycles) / double(pc.workers[i].window_packets));
  w.declare(kWorkerIdleRatio);
  for (uint32_t i = 0; i < dc.n_workers; ++i)
    if (pc.workers[i].window_cycles != 0)
      w.sample(kWorkerIdleRatio, L({workers[i]}),
               std::clamp(1.0 - double(pc.workers[i].window_busy_cycles) / double(pc.workers[i].window_cycles),
                          0.0, 1.0));
  // Ports are named as the configuration names them (the dataplane's port
  // index is the [[port]] order).
  std::vector<std::string> ports;
  for (uint32_t i = 0; i < dc.n_ports; ++i)
    ports.push_back(i < cfg.ports.size() ? cfg.ports[i].name : std::to_string(i));
  k = 0;
#define MSGW_X(name, field, help)                                         \
  for (uint32_t i = 0; i < dc.n_ports; ++i)                               \
    w.sample(kPortCounters[k], L({ports[i]}), pc.ports[i].name);          \
  w.declare(kPortCounters[k]);                                            \
  ++k;
  MSGW_FOREACH_ETH_COUNTER(MSGW_X)
#undef MSGW_X
#define MSGW_X(name, help)                                                \
  for (uint32_t i = 0; i < dc.n_ports; ++i)                               \
    w.sample(kPortCounters[k], L({ports[i]}), pc.ports[i].name);          \
  w.declare(kPortCounters[k]);                                            \
  ++k;
  MSGW_FOREACH_PORT_COUNTER(MSGW_X)
#undef MSGW_X
}

}  // namespace

std::span<const metrics::Family> metric_families() {
  static const std::vector<Family> families = all_families();
  return families;
}

void Gateway::write_metrics(metrics::Writer& w) const {
  size_t k = 0;
#define MSGW_X(name, help) w.sample(kGatewayCounters[k++], stats_.name);
  MSGW_GATEWAY_COUNTERS(MSGW_X)
#undef MSGW_X
  w.sample(kCallsActive, uint64_t(calls_.size()));
  uint64_t in_state[kCallStateCount] = {};
  for (const auto& [id, c] : calls_) ++in_state[size_t(c->state())];
  for (size_t s = 0; s < kCallStateCount; ++s)
    if (CallState(s) != CallState::ended) w.sample(kCallsInState, L({state_name(CallState(s))}), in_state[s]);
  w.declare(kCallFailures);
  for (size_t e = 0; e < kCallErrorCount; ++e)
    w.sample(kCallFailures, L({error_info(CallError(e)).name}), stats_.failures_by_cause[e]);
  w.histogram(kCallSetup, {}, stats_.call_setup_seconds);

  static const sip::Stats kNoStack{};
  const sip::Stats& st = stack_ ? stack_->stats() : kNoStack;
  for (size_t m = 0; m <= sip::kSipMethodCount; ++m)
    w.sample(kSipRequests, L({m < sip::kSipMethodCount ? sip::kSipMethods[m] : "OTHER"}),
             st.rx_requests_by_method[m]);
  // Codes seen only: 600 series of zeros would bury the ones that matter.
  auto by_code = [&](const Family& f, const uint64_t* counts) {
    w.declare(f);
    for (int code = sip::kFirstCountedStatus; code <= sip::kLastCountedStatus; ++code)
      if (const uint64_t n = counts[code - sip::kFirstCountedStatus]; n != 0)
        w.sample(f, L({std::to_string(code)}), n);
  };
  by_code(kSipResponsesIn, st.rx_responses_by_status);
  by_code(kSipResponsesOut, st.tx_responses_by_status);
  w.sample(kSipMessages, st.rx_messages);
  w.sample(kSipBad, st.bad_messages);
  w.sample(kSipTransactions, st.transactions_live);
  w.sample(kSipDialogs, st.dialogs_live);
  {
    size_t a = 0;
#define MSGW_X(name, help) w.sample(kSipAdmission[a++], st.name);
    MSGW_SIP_ADMISSION_COUNTERS(MSGW_X)
#undef MSGW_X
  }
  {
    size_t p = 0;
#define MSGW_X(name, help) w.sample(kSipPath[p++], st.name);
    MSGW_SIP_PATH_COUNTERS(MSGW_X)
#undef MSGW_X
  }
  {
    size_t n = 0;
#define MSGW_X(name, help) w.sample(kSipStackCounters[n++], st.name);
    MSGW_SIP_STATELESS_COUNTERS(MSGW_X)
    MSGW_SIP_TABLE_COUNTERS(MSGW_X)
    MSGW_SIP_UAC_INVITE_COUNTERS(MSGW_X)
#undef MSGW_X
  }
  w.sample(kSipOverloaded, st.overloaded);
  w.sample(kSipQueueAge, double(st.rx_queue_age_recent_max_us) / 1e6);
  w.sample(kSipNewRequests, st.rx_new_requests);
  w.sample(kSipAdmissionLimiting, uint64_t(admission_rate_ != nullptr && admission_rate_->limiting()));
  w.sample(kSipAdmissionRate, uint64_t(admission_rate_ != nullptr ? admission_rate_->rate() : 0));
  w.sample(kSipAdmissionEpisodes, admission_rate_ != nullptr ? admission_rate_->episodes() : 0);

  w.sample(kRegistrationsActive, uint64_t(registrar_ ? registrar_->all(wall_s()).size() : 0));

  w.declare(kTrunkUp);
  for (const auto& t : cfg_.trunks) w.sample(kTrunkUp, L({t.name}), uint64_t(routable(trunks_.health(t.name))));
  w.declare(kTrunkHealth);
  for (const auto& t : cfg_.trunks)
    for (size_t s = 0; s < kTrunkHealthCount; ++s)
      w.sample(kTrunkHealth, L({t.name, health_name(TrunkHealth(s))}), uint64_t(size_t(trunks_.health(t.name)) == s));
  w.declare(kTrunkRegistration);
  for (const auto& t : cfg_.trunks)
    for (size_t s = 0; s < kRegStateCount; ++s)
      w.sample(kTrunkRegistration, L({t.name, reg_state_name(RegState(s))}), uint64_t(size_t(trunks_.registration(t.name)) == s));

  w.sample(kDataplaneUp, uint64_t(media_.up()));
  DataplaneCounters dc;
  if (!media_.counters(&dc)) dc = DataplaneCounters{};  // no dataplane: the families, no samples
  write_dataplane(w, dc, cfg_);
}

std::string render_metrics(const Gateway& gateway, const metrics::HttpServer::Stats& http) {
  metrics::Writer w;
  gateway.write_metrics(w);
  w.sample(kMetricsRequests, L({"200"}), http.ok);
  w.sample(kMetricsRequests, L({"404"}), http.not_found);
  w.sample(kMetricsRequests, L({"405"}), http.method_not_allowed);
  return w.take();
}

}  // namespace msgw::control
