// SPDX-License-Identifier: GPL-3.0-or-later
// TCP message framing by Content-Length (RFC 3261 §18.3); per-message hot path.
#include <cstring>

#include "msgw/sip/transport.hpp"

#include "msgw/common/ascii.hpp"

namespace msgw::sip {
namespace {

// Not common::trim_lws: a line here never holds LF, and a bare CR at the start
// of a name or value is not white space to the parser, so the framer must not
// strip it either (a header the parser rejects must not set the frame length).
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool StreamFramer::append(const char* data, std::size_t n) {
  if (off_ > 0 && off_ == buf_.size()) {
    buf_.clear();
    off_ = 0;
  }
  if (buffered() + n > limits_.max_stream_buffer) return false;
  if (off_ > 4096 && off_ * 2 > buf_.size()) {
    buf_.erase(0, off_);
    off_ = 0;
  }
  buf_.append(data, n);
  return true;
}

StreamFramer::Status StreamFramer::next(std::string& out, std::string& why) {
  // Keep-alive CRLFs between messages (RFC 5626 §3.5.1) are skipped.
  while (off_ < buf_.size() && (buf_[off_] == '\r' || buf_[off_] == '\n')) ++off_;
  std::string_view v(buf_.data() + off_, buf_.size() - off_);
  if (v.empty()) return Status::NeedMore;

  std::size_t end = v.find("\r\n\r\n");
  std::size_t head_len = end == std::string_view::npos ? end : end + 4;
  if (end == std::string_view::npos) {
    std::size_t lf = v.find("\n\n");
    if (lf != std::string_view::npos) head_len = lf + 2;
  }
  if (head_len == std::string_view::npos) {
    if (v.size() > limits_.max_message_bytes) {
      why = "header section larger than the message size limit";
      out.assign(v.substr(0, limits_.max_message_bytes));
      return Status::Error;
    }
    return Status::NeedMore;
  }

  // Content-Length (or its compact form "l"); a missing one means no body.
  bool have = false;
  unsigned long long cl = 0;
  std::size_t line = v.find('\n') + 1;  // skip start line
  while (line < head_len) {
    std::size_t nl = v.find('\n', line);
    if (nl == std::string_view::npos || nl >= head_len) break;
    std::string_view l = v.substr(line, nl - line);
    line = nl + 1;
    std::size_t colon = l.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = trim(l.substr(0, colon));
    if (!common::iequals(name, "content-length") && !common::iequals(name, "l")) continue;
    std::string_view val = trim(l.substr(colon + 1));
    unsigned long long x = 0;
    bool ok = !val.empty() && val.size() <= 10;
    for (char c : val) {
      if (c < '0' || c > '9') { ok = false; break; }
      x = x * 10 + static_cast<unsigned>(c - '0');
    }
    if (!ok || (have && x != cl)) {
      why = ok ? "conflicting Content-Length values" : "invalid Content-Length";
      out.assign(v.substr(0, head_len));
      return Status::Error;
    }
    have = true;
    cl = x;
  }
  if (head_len + cl > limits_.max_message_bytes) {
    why = "message larger than the size limit";
    out.assign(v.substr(0, head_len));
    return Status::Error;
  }
  if (v.size() < head_len + cl) return Status::NeedMore;
  out.assign(v.substr(0, head_len + static_cast<std::size_t>(cl)));
  off_ += head_len + static_cast<std::size_t>(cl);
  return Status::Message;
}

}  // namespace msgw::sip
