// SPDX-License-Identifier: GPL-3.0-or-later
// Reading a call's SDP (see offer.hpp).
#include "msgw/control/offer.hpp"

#include <algorithm>

#include "msgw/control/media_policy.hpp"

namespace msgw::control {

namespace sdp = sip::sdp;
using codecs::CodecId;

const sdp::MediaDescription* first_audio(const sdp::SessionDescription& s) {
  for (const auto& m : s.media)
    if (m.media == "audio" && m.is_rtp() && m.port != 0) return &m;
  return nullptr;
}

std::vector<CodecId> offered_codecs(const sdp::MediaDescription& m, bool* telephone_event) {
  std::vector<CodecId> out;
  if (telephone_event) *telephone_event = false;
  for (const auto& p : m.payloads) {
    if (p.telephone_event && telephone_event) *telephone_event = true;
    if (p.codec && std::find(out.begin(), out.end(), p.codec->id) == out.end()) out.push_back(p.codec->id);
  }
  return out;
}

std::vector<CodecId> codec_list(const std::vector<std::string>& names) {
  std::vector<CodecId> out;
  for (const auto& n : names)
    if (auto id = codecs::codec_from_sdp_name(n)) out.push_back(*id);
  return out;
}

std::optional<OfferProblem> take_offer(sip::MessageRef invite, const std::vector<std::string>& allowed,
                                       sdp::SessionDescription& offer, std::vector<CodecId>& usable) {
  auto bad = [](const std::string& why) {
    return OfferProblem{CallError::offer_unusable, "399 msgw \"" + why + "\""};
  };
  const std::string body = invite.sdp();
  if (body.empty()) {
    // A delayed offer (RFC 3261 §13.2.1): our 2xx will offer what the
    // caller's policy allows, its ACK answer.
    offer = {};
    usable = codec_list(allowed);
    if (usable.empty()) return OfferProblem{CallError::no_allowed_codec, "305 msgw \"no codec is allowed\""};
    return std::nullopt;
  }
  std::string why;
  if (sdp::parse(body, offer, &why) != sdp::SdpError::ok) return bad(why);
  const sdp::MediaDescription* audio = first_audio(offer);
  if (!audio) return bad("no audio stream in the offer");
  usable = usable_offer(offered_codecs(*audio), codec_list(allowed));
  if (usable.empty()) return OfferProblem{CallError::no_allowed_codec, "305 msgw \"no codec of the offer is allowed\""};
  return std::nullopt;
}

namespace {
codecs::G726Packing packing(const std::string& name) {
  return name == "aal2" ? codecs::G726Packing::Aal2 : codecs::G726Packing::Rfc3551;
}
}  // namespace

PeerMedia peer_media(const config::Config& cfg, const config::SubscriberSection* subscriber,
                     const config::TrunkSection* trunk) {
  PeerMedia p;
  std::string pk = cfg.codecs.g726_packing;
  if (subscriber && !subscriber->g726_packing.empty()) pk = subscriber->g726_packing;
  if (trunk && !trunk->g726_packing.empty()) pk = trunk->g726_packing;
  p.g726_packing = packing(pk);
  p.default_ptime_ms = static_cast<uint16_t>(cfg.codecs.default_ptime_ms);
  p.payload_passthrough = trunk && trunk->payload_passthrough;
  return p;
}

uint16_t leg_ptime(uint16_t ptime_ms, uint16_t maxptime_ms, uint16_t default_ms) {
  uint16_t p = ptime_ms ? ptime_ms : default_ms;
  if (p == 0) p = 20;
  if (maxptime_ms && p > maxptime_ms) p = maxptime_ms;
  if (p > 120) p = 120;  // the dataplane's bound
  p = static_cast<uint16_t>(p / 10 * 10);
  return p < 10 ? 10 : p;
}

codecs::CodecParams with_peer_packing(codecs::CodecParams codec, const PeerMedia& peer) {
  if (codec.id == CodecId::G726_32 && peer.g726_packing == codecs::G726Packing::Aal2)
    codec.g726_packing = codecs::G726Packing::Aal2;
  return codec;
}

}  // namespace msgw::control
