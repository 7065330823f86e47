// SPDX-License-Identifier: GPL-3.0-or-later
// SDP side of the codec interface: encoding names, rtpmap and fmtp (control plane, setup time).
#include <string>

#include "msgw/codecs/codec.hpp"
#include "msgw/common/ascii.hpp"
#include "msgw/common/text.hpp"

namespace msgw::codecs {

namespace {

using common::iequals;
using common::parse_uint;
using common::trim_lws;

// Names SDP peers use besides each codec's canonical one (codec_info().sdp_name).
// "AAL2-G726-32" also selects AAL2 packing.
bool is_aal2_name(std::string_view name) noexcept { return iequals(name, "AAL2-G726-32"); }

// RFC 2327-era static PT of G726-32, removed by RFC 3551; SPA firmware still offers it.
constexpr std::uint8_t kLegacyG726PayloadType = 2;

}  // namespace

std::optional<CodecId> codec_from_sdp_name(std::string_view name, std::uint32_t clock_rate) noexcept {
  if (clock_rate != kSampleRate) return std::nullopt;
  name = trim_lws(name);
  for (std::size_t i = 0; i < kCodecCount; ++i) {
    const CodecInfo& info = codec_info(static_cast<CodecId>(i));
    if (iequals(name, info.sdp_name)) return info.id;
  }
  if (is_aal2_name(name)) return CodecId::G726_32;
  // "G729a" is what SPA adapters and Asterisk put in rtpmap; Annex A is
  // bitstream-compatible with G.729, so both names are the same codec on the wire.
  if (iequals(name, "G729a")) return CodecId::G729;
  return std::nullopt;
}

std::optional<RtpMap> parse_rtpmap(std::string_view value) noexcept {
  value = trim_lws(value);
  // Tolerate the "<pt> " prefix when the caller passes the whole attribute value.
  if (auto sp = value.find(' '); sp != std::string_view::npos) value = trim_lws(value.substr(sp + 1));
  auto slash = value.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  RtpMap m;
  m.encoding = value.substr(0, slash);
  std::string_view rest = value.substr(slash + 1);
  std::string_view clock = rest, chans;
  if (auto s2 = rest.find('/'); s2 != std::string_view::npos) {
    clock = rest.substr(0, s2);
    chans = rest.substr(s2 + 1);
  }
  if (!parse_uint(clock, m.clock_rate) || m.clock_rate == 0) return std::nullopt;
  if (!chans.empty() && (!parse_uint(chans, m.channels) || m.channels == 0)) return std::nullopt;
  return m;
}

bool apply_fmtp(CodecParams& params, std::string_view fmtp) noexcept {
  fmtp = trim_lws(fmtp);
  bool ok = true;
  while (!fmtp.empty()) {
    auto semi = fmtp.find(';');
    std::string_view item = trim_lws(fmtp.substr(0, semi));
    fmtp = semi == std::string_view::npos ? std::string_view{} : fmtp.substr(semi + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string_view key = trim_lws(item.substr(0, eq));
    std::string_view val = eq == std::string_view::npos ? std::string_view{} : trim_lws(item.substr(eq + 1));
    if (params.id == CodecId::G729 && iequals(key, "annexb")) {
      if (iequals(val, "yes")) params.g729_annexb = true;
      else if (iequals(val, "no")) params.g729_annexb = false;
      else ok = false;
    }
  }
  return ok;
}

std::optional<CodecParams> params_from_sdp(std::uint8_t payload_type, std::string_view rtpmap,
                                           std::string_view fmtp) noexcept {
  CodecParams p;
  p.payload_type = payload_type;
  if (!trim_lws(rtpmap).empty()) {
    auto m = parse_rtpmap(rtpmap);
    if (!m || m->channels != 1) return std::nullopt;
    auto id = codec_from_sdp_name(m->encoding, m->clock_rate);
    if (!id) return std::nullopt;
    p.id = *id;
    if (is_aal2_name(m->encoding)) p.g726_packing = G726Packing::Aal2;
  } else {
    std::optional<CodecId> id;
    if (payload_type == kLegacyG726PayloadType) id = CodecId::G726_32;
    for (std::size_t i = 0; i < kCodecCount && !id; ++i) {
      const CodecInfo& info = codec_info(static_cast<CodecId>(i));
      if (info.static_payload_type != kDynamicPayloadType && info.static_payload_type == payload_type)
        id = info.id;
    }
    if (!id) return std::nullopt;
    p.id = *id;
  }
  p.ptime_ms = codec_info(p.id).default_ptime_ms;
  p.g729_annexb = true;  // RFC 4856 section 2.1.9: absent annexb means yes
  if (!apply_fmtp(p, fmtp)) return std::nullopt;
  return p;
}

std::string format_rtpmap(const CodecParams& params) {
  std::string s(params.id == CodecId::G726_32 && params.g726_packing == G726Packing::Aal2
                    ? std::string_view("AAL2-G726-32")
                    : codec_info(params.id).sdp_name);
  s += '/';
  s += std::to_string(codec_info(params.id).clock_rate);
  return s;
}

std::string format_fmtp(const CodecParams& params) {
  if (params.id == CodecId::G729 && !params.g729_annexb) return "annexb=no";
  return {};
}

}  // namespace msgw::codecs
