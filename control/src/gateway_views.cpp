// SPDX-License-Identifier: GPL-3.0-or-later
// What `msgwctl show ...` and `reload` read of the Gateway (management
// views; the verbs themselves are declared in mgmt/).
#include "msgw/common/wall_clock.hpp"
#include "msgw/control/call_json.hpp"
#include "msgw/control/gateway.hpp"

namespace msgw::control {

using common::wall_s;

nlohmann::json Gateway::show_calls() const {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& [id, c] : calls_) data.push_back(call_summary_json(*c));
  return data;
}

nlohmann::json Gateway::show_registrations() const {
  nlohmann::json data = nlohmann::json::array();
  auto n = wall_s();
  for (const auto& b : registrar_->all(n))
    data.push_back({{"aor", b.aor}, {"contact", b.contact}, {"expires", b.remaining(n)}, {"source", b.source},
                    {"user_agent", b.user_agent}});
  return data;
}

nlohmann::json Gateway::show_flows() const {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& [id, c] : calls_) {
    if (!c->flow_id()) continue;
    for (LegId l : {LegId::a, LegId::b}) {
      const Leg& leg = c->leg(l);
      auto s = media_.stats(*c->flow_id(), uint8_t(index(l)));
      data.push_back({{"flow", *c->flow_id()}, {"leg", l == LegId::a ? "A" : "B"}, {"call", id},
                      {"local", config::format_ipv4(leg.local_ip) + ":" + std::to_string(leg.local_port)},
                      {"remote", config::format_ipv4(leg.remote_ip) + ":" + std::to_string(leg.remote_port)},
                      {"codec", leg.has_codec ? std::string(codecs::codec_info(leg.codec.id).sdp_name) + "/" +
                                                    std::to_string(leg.ptime)
                                              : ""},
                      {"pt", leg.codec.payload_type}, {"rx_packets", s.packets}, {"tx_packets", s.sent},
                      {"lost", s.lost}, {"dropped", s.dropped}});
    }
  }
  return data;
}

nlohmann::json Gateway::show_stats() const {
  nlohmann::json data = to_json(stats_);
  data["calls_active"] = calls_.size();
  data["dataplane_up"] = media_.up();
  data["sip_rx_messages"] = stack_ ? stack_->stats().rx_messages : 0;
  data["sip_bad_messages"] = stack_ ? stack_->stats().bad_messages : 0;
  data["sip_transactions_live"] = stack_ ? stack_->stats().transactions_live : 0;
  data["sip_dialogs_live"] = stack_ ? stack_->stats().dialogs_live : 0;
  return data;
}

nlohmann::json Gateway::show_cdrs(int limit, int64_t since_ms) const {
  nlohmann::json data = nlohmann::json::array();
  if (!store_) return data;
  for (const auto& r : store_->cdrs(limit, since_ms)) data.push_back(cdr_json(r));
  return data;
}

bool Gateway::reload_from_file(std::string* error, std::vector<config::ConfigChange>* changes) {
  auto r = config::load_file(cfg_.file);
  if (!r.ok()) {
    std::string msg = r.errors.empty() ? "cannot load " + cfg_.file : r.errors.front().to_string();
    if (r.errors.size() > 1) msg += " (and " + std::to_string(r.errors.size() - 1) + " more)";
    ++stats_.reloads_refused;
    *error = msg;
    return false;
  }
  // --instance overrides the file's name at start: not a change.
  if (!instance_override_.empty()) r.config->instance.name = instance_override_;
  return reload(*r.config, error, changes);
}

}  // namespace msgw::control
