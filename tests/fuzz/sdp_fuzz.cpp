// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer: SDP parser + RFC 3264 offer/answer. Any input must either be
// refused with an error or produce an answer that is itself valid SDP; the
// same input is also tried as the peer's answer to our own offer.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "msgw/sip/sdp.hpp"

using namespace msgw::sip::sdp;

namespace {
LocalPolicy policy() {
  LocalPolicy p;
  p.codecs = {msgw::codecs::CodecId::G729, msgw::codecs::CodecId::Pcmu,
              msgw::codecs::CodecId::Pcma, msgw::codecs::CodecId::G726_32};
  p.address = "203.0.113.10";
  p.port = 20000;
  p.session_id = 1;
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  SessionDescription offer;
  std::string why;
  if (parse(text, offer, &why) != SdpError::ok) {
    if (why.empty()) std::abort();  // every refusal names its reason
    return 0;
  }
  // What we parsed must serialise to something we parse again.
  SessionDescription again;
  if (parse(build(offer), again) != SdpError::ok) std::abort();
  if (again.media.size() != offer.media.size()) std::abort();

  static const LocalPolicy local = policy();
  AnswerResult ans;
  SdpError e = make_answer(offer, local, ans, &why);
  if (e == SdpError::ok || e == SdpError::no_common_codec) {
    // RFC 3264 §6: one answer m-line per offer m-line, and what we would send is valid SDP.
    if (ans.answer.media.size() != offer.media.size()) std::abort();
    SessionDescription reparsed;
    std::string w2;
    if (parse(build(ans.answer), reparsed, &w2) != SdpError::ok) {
      std::fprintf(stderr, "answer does not re-parse: %s\n%s\n", w2.c_str(),
                   build(ans.answer).c_str());
      std::abort();
    }
    if (e == SdpError::ok && !(ans.active && ans.streams.at(*ans.active).accepted)) std::abort();
  }
  static const SessionDescription our_offer = make_offer(local);
  NegotiatedStream ns;
  (void)process_answer(our_offer, offer, ns, &why);
  return 0;
}
