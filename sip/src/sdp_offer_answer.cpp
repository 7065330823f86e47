// SPDX-License-Identifier: GPL-3.0-or-later
// RFC 3264 offer/answer on parsed SessionDescriptions: answering an offer
// under a LocalPolicy, making an offer, and checking the answer to ours.
#include "msgw/sip/sdp.hpp"

#include <chrono>

#include "msgw/common/ascii.hpp"
#include "msgw/common/wall_clock.hpp"
#include "sdp_detail.hpp"

namespace msgw::sip::sdp {

using common::iequals;
using namespace detail;

// ---- offer / answer ----

namespace {

constexpr std::uint64_t kSupportedEvents = 0x1FFFF;  // 0-15 DTMF, 16 flash

// RFC 4566 suggests an NTP timestamp; Unix seconds are as unique per host.
std::uint64_t default_session_id() { return std::uint64_t(common::wall_s()); }

SessionDescription skeleton(const LocalPolicy& local) {
  SessionDescription d;
  d.origin_user = local.origin_user.empty() ? "-" : local.origin_user;
  d.session_id = local.session_id ? local.session_id : default_session_id();
  d.session_version = local.session_version ? local.session_version : d.session_id;
  d.origin_addr_type = local.addr_type;
  d.origin_address = local.address;
  d.session_name = "msgw";
  d.address = local.address;
  d.addr_type = local.addr_type;
  d.has_address = true;
  return d;
}

MediaDescription rejected(const MediaDescription& offered) {
  MediaDescription m;
  m.media = offered.media;
  m.proto = offered.proto;
  m.port = 0;
  m.formats = offered.formats;
  if (m.formats.empty()) m.formats.push_back("0");
  return m;
}

bool policy_ok(const LocalPolicy& local) {
  return !local.codecs.empty() && !local.address.empty() &&
         valid_address(local.address, local.addr_type);
}

}  // namespace

SdpError make_answer(const SessionDescription& offer, const LocalPolicy& local, AnswerResult& out,
                     std::string* why) {
  out = AnswerResult{};
  if (!policy_ok(local)) {
    set_error(why, "local policy needs codecs and a valid address");
    return SdpError::invalid_argument;
  }
  out.answer = skeleton(local);
  std::string reason = "no audio RTP stream in the offer";
  for (std::size_t i = 0; i < offer.media.size(); ++i) {
    const MediaDescription& om = offer.media[i];
    NegotiatedStream ns;
    ns.media_index = i;
    auto reject = [&] {
      out.answer.media.push_back(rejected(om));
      out.streams.push_back(ns);
    };
    if (out.active || !iequals(om.media, "audio") ||
        !(iequals(om.proto, "RTP/AVP") || iequals(om.proto, "RTP/AVPF")) || om.port == 0 ||
        !om.has_address) {
      reject();
      continue;
    }
    // Best codec by our preference among what the offer lists, offer order
    // breaking ties (the first PT of that codec wins).
    const PayloadFormat* chosen = nullptr;
    for (auto id : local.codecs) {
      for (const auto& p : om.payloads)
        if (p.codec && p.codec->id == id) {
          chosen = &p;
          break;
        }
      if (chosen) break;
    }
    if (chosen == nullptr) {
      reason = "m-line " + std::to_string(i) + ": none of the offered codecs is acceptable";
      reject();
      continue;
    }
    const std::uint32_t clock = codecs::codec_info(chosen->codec->id).clock_rate;
    const PayloadFormat* te = nullptr;
    std::uint64_t events = 0;
    if (local.telephone_event) {
      for (const auto& p : om.payloads)
        if (p.telephone_event && p.clock_rate == clock) {
          // RFC 4733 §2.4.1: no fmtp means events 0-15.
          events = (p.fmtp.empty() ? parse_event_list("0-15") : parse_event_list(p.fmtp)) &
                   kSupportedEvents;
          if (events) {
            te = &p;
            break;
          }
        }
    }

    MediaDescription am;
    am.media = om.media;
    am.proto = om.proto;
    am.port = local.port;
    am.address = local.address;
    am.addr_type = local.addr_type;
    am.has_address = true;

    auto add_codec = [&](const PayloadFormat& p) {
      PayloadFormat ap;
      ap.pt = p.pt;
      // Echo the offerer's encoding name ("G729a") so picky phones see their own
      // rtpmap back; the PT is theirs too (RFC 3264 §6.1).
      ap.encoding = p.encoding.empty() ? codec_encoding_name(*p.codec) : p.encoding;
      ap.clock_rate = p.clock_rate ? p.clock_rate : codecs::codec_info(p.codec->id).clock_rate;
      ap.codec = p.codec;
      if (ap.codec->id == codecs::CodecId::G729) {
        ap.codec->g729_annexb = p.codec->g729_annexb && local.g729_annexb;
        ap.fmtp = ap.codec->g729_annexb ? std::string{} : std::string("annexb=no");
      } else {
        ap.fmtp = codecs::format_fmtp(*ap.codec);
      }
      am.formats.push_back(std::to_string(ap.pt));
      am.payloads.push_back(std::move(ap));
    };
    add_codec(*chosen);
    if (!local.single_codec_answer) {
      for (auto id : local.codecs)
        for (const auto& p : om.payloads)
          if (&p != chosen && p.codec && p.codec->id == id && !am.find_pt(p.pt)) add_codec(p);
    }
    if (te) {
      PayloadFormat tp;
      tp.pt = te->pt;
      tp.encoding = te->encoding;
      tp.clock_rate = te->clock_rate;
      tp.telephone_event = true;
      tp.fmtp = format_event_list(events);
      am.formats.push_back(std::to_string(tp.pt));
      am.payloads.push_back(tp);
      ns.telephone_event_pt = te->pt;
      ns.telephone_events = tp.fmtp;
    }
    am.ptime_ms = local.ptime_ms ? local.ptime_ms : om.ptime_ms;

    // Old-style hold (c=0.0.0.0) means "do not send to me", like sendonly.
    Direction offered = om.direction;
    const bool hold_addr = om.is_hold_address();
    if (hold_addr) offered = make_dir(dir_sends(offered), false);
    const bool we_send = dir_receives(offered) && dir_sends(local.direction);
    const bool we_recv = dir_sends(offered) && dir_receives(local.direction);
    am.direction = make_dir(we_send, we_recv);

    ns.accepted = true;
    ns.codec = *am.payloads.front().codec;
    // We send at the packet time the peer asked for, else the codec's default.
    ns.codec.ptime_ms =
        om.ptime_ms ? om.ptime_ms : codecs::codec_info(ns.codec.id).default_ptime_ms;
    ns.remote_address = om.address;
    ns.remote_addr_type = om.addr_type;
    ns.remote_port = om.port;
    ns.remote_ptime_ms = om.ptime_ms;
    ns.local_direction = am.direction;
    // sendonly from the peer is a hold; recvonly alone is not.
    ns.remote_hold = hold_addr || om.direction == Direction::sendonly ||
                     om.direction == Direction::inactive;
    out.answer.media.push_back(std::move(am));
    out.streams.push_back(ns);
    out.active = i;
  }
  if (!out.active) {
    set_error(why, reason);
    return SdpError::no_common_codec;
  }
  return SdpError::ok;
}

SessionDescription make_offer(const LocalPolicy& local) {
  SessionDescription d = skeleton(local);
  MediaDescription m;
  m.media = "audio";
  m.proto = "RTP/AVP";
  m.port = local.port;
  m.address = local.address;
  m.addr_type = local.addr_type;
  m.has_address = true;
  std::uint8_t next_dynamic = 96;
  auto take_dynamic = [&] {
    while (next_dynamic == local.telephone_event_pt) ++next_dynamic;
    return next_dynamic++;
  };
  for (auto id : local.codecs) {
    const auto& info = codecs::codec_info(id);
    bool dup = false;
    for (const auto& p : m.payloads) dup |= p.codec && p.codec->id == id;
    if (dup) continue;
    PayloadFormat p;
    codecs::CodecParams cp;
    cp.id = id;
    cp.payload_type = info.static_payload_type != codecs::kDynamicPayloadType
                          ? info.static_payload_type
                          : take_dynamic();
    cp.ptime_ms = local.ptime_ms ? local.ptime_ms : info.default_ptime_ms;
    cp.g729_annexb = local.g729_annexb;
    p.pt = cp.payload_type;
    p.encoding = codec_encoding_name(cp);
    p.clock_rate = info.clock_rate;
    p.fmtp = codecs::format_fmtp(cp);
    p.codec = cp;
    m.formats.push_back(std::to_string(p.pt));
    m.payloads.push_back(std::move(p));
  }
  if (local.telephone_event) {
    PayloadFormat t;
    t.pt = local.telephone_event_pt;
    t.encoding = "telephone-event";
    t.clock_rate = 8000;
    t.telephone_event = true;
    t.fmtp = format_event_list(kSupportedEvents);
    m.formats.push_back(std::to_string(t.pt));
    m.payloads.push_back(std::move(t));
  }
  m.ptime_ms = local.ptime_ms;
  m.direction = local.direction;
  d.media.push_back(std::move(m));
  return d;
}

SdpError process_answer(const SessionDescription& offer, const SessionDescription& answer,
                        NegotiatedStream& out, std::string* why) {
  out = NegotiatedStream{};
  if (answer.media.size() != offer.media.size()) {
    set_error(why, "answer has " + std::to_string(answer.media.size()) + " m-lines, offer had " +
                       std::to_string(offer.media.size()));
    return SdpError::answer_mismatch;
  }
  for (std::size_t i = 0; i < offer.media.size(); ++i) {
    const auto& om = offer.media[i];
    const auto& am = answer.media[i];
    if (om.port == 0 || am.port == 0 || !iequals(om.media, "audio") || !om.is_rtp() ||
        !am.is_rtp())
      continue;
    if (!am.has_address) {
      set_error(why, "answer m-line " + std::to_string(i) + " has no connection address");
      return SdpError::missing_connection;
    }
    const PayloadFormat* chosen = nullptr;
    for (const auto& p : am.payloads) {
      if (!p.codec) continue;
      bool offered = false;
      for (const auto& q : om.payloads) offered |= q.codec && q.codec->id == p.codec->id;
      if (offered) {
        chosen = &p;
        break;
      }
    }
    if (chosen == nullptr) {
      set_error(why, "answer m-line " + std::to_string(i) + " selects no codec we offered");
      return SdpError::no_common_codec;
    }
    out.media_index = i;
    out.accepted = true;
    out.codec = *chosen->codec;
    out.codec.ptime_ms =
        am.ptime_ms ? am.ptime_ms : codecs::codec_info(out.codec.id).default_ptime_ms;
    // Annex B only when both sides allow it.
    if (out.codec.id == codecs::CodecId::G729) {
      bool ours = true;
      for (const auto& q : om.payloads)
        if (q.codec && q.codec->id == codecs::CodecId::G729) ours = q.codec->g729_annexb;
      out.codec.g729_annexb = out.codec.g729_annexb && ours;
    }
    bool we_offered_te = false;
    for (const auto& q : om.payloads) we_offered_te |= q.telephone_event;
    for (const auto& p : am.payloads)
      if (we_offered_te && p.telephone_event &&
          p.clock_rate == codecs::codec_info(out.codec.id).clock_rate) {
        std::uint64_t ev =
            (p.fmtp.empty() ? parse_event_list("0-15") : parse_event_list(p.fmtp)) &
            kSupportedEvents;
        if (ev) {
          out.telephone_event_pt = p.pt;
          out.telephone_events = format_event_list(ev);
          break;
        }
      }
    out.remote_address = am.address;
    out.remote_addr_type = am.addr_type;
    out.remote_port = am.port;
    out.remote_ptime_ms = am.ptime_ms;
    out.local_direction = om.direction;
    out.remote_hold = am.is_hold_address() || am.direction == Direction::sendonly ||
                      am.direction == Direction::inactive;
    return SdpError::ok;
  }
  set_error(why, "the answer accepted no audio stream");
  return SdpError::no_common_codec;
}

}  // namespace msgw::sip::sdp
