// SPDX-License-Identifier: GPL-3.0-or-later
// Transcoder setup path: configuration checks and allocation of all per-direction state.
#include <new>
#include <stdexcept>
#include <string>

#include "transcoder_impl.hpp"

namespace msgw::codecs {

using namespace detail;

std::string Transcoder::validate(const TranscoderConfig& cfg) {
  auto valid_id = [](CodecId id) { return is_codec_id(static_cast<std::uint8_t>(id)); };
  if (!valid_id(cfg.ingress.id)) return "ingress codec id is not a supported codec";
  if (!valid_id(cfg.egress.id)) return "egress codec id is not a supported codec";
  if (cfg.ingress.payload_type > 127) return "ingress payload type must be 0..127";
  if (cfg.egress.payload_type > 127) return "egress payload type must be 0..127";
  if (cfg.ingress_event_pt != kNoPayloadType && cfg.ingress_event_pt > 127)
    return "ingress telephone-event payload type must be 0..127";
  if (cfg.egress_event_pt != kNoPayloadType && cfg.egress_event_pt > 127)
    return "egress telephone-event payload type must be 0..127";
  if (cfg.ingress_event_pt == cfg.ingress.payload_type)
    return "ingress telephone-event payload type equals the audio payload type";
  if (cfg.egress_event_pt == cfg.egress.payload_type)
    return "egress telephone-event payload type equals the audio payload type";
  if (cfg.max_conceal_ms > kMaxConcealMsLimit)
    return "max_conceal_ms " + std::to_string(cfg.max_conceal_ms) + " exceeds " +
           std::to_string(kMaxConcealMsLimit);
  if (cfg.max_timestamp_jump_ms < cfg.max_conceal_ms || cfg.max_timestamp_jump_ms > 3600u * 1000u)
    return "max_timestamp_jump_ms must be between max_conceal_ms and one hour";
  return {};
}

std::unique_ptr<Transcoder> Transcoder::create(const TranscoderConfig& cfg, std::string* error) noexcept {
  try {
    std::string why = validate(cfg);
    if (!why.empty()) {
      if (error) *error = std::move(why);
      return nullptr;
    }
    TranscoderConfig effective = cfg;
    effective.egress.ptime_ms = effective_ptime_ms(cfg.egress.ptime_ms);
    return std::unique_ptr<Transcoder>(new Transcoder(std::make_unique<TranscoderImpl>(effective)));
  } catch (const std::exception& e) {
    if (error) *error = std::string("transcoder setup failed: ") + e.what();
  } catch (...) {
    if (error) *error = "transcoder setup failed";
  }
  return nullptr;
}

Transcoder::Transcoder(std::unique_ptr<TranscoderImpl> impl) noexcept : impl_(std::move(impl)) {}
Transcoder::~Transcoder() = default;

}  // namespace msgw::codecs
