// SPDX-License-Identifier: GPL-3.0-or-later
// The Prometheus text format 0.0.4 writer (exposition.hpp).
#include "msgw/metrics/exposition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace msgw::metrics {

std::string_view type_name(Type t) {
  switch (t) {
    case Type::counter: return "counter";
    case Type::gauge: return "gauge";
    case Type::histogram: return "histogram";
  }
  return "untyped";
}

std::vector<std::string_view> label_keys(const Family& f) {
  std::vector<std::string_view> keys;
  std::string_view rest = f.labels;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    keys.push_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return keys;
}

namespace {
bool name_char(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}
}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, true)) return false;
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, false)) return false;
  return true;
}

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end() ||
      std::any_of(bounds_.begin(), bounds_.end(), [](double b) { return !std::isfinite(b); }))
    throw std::invalid_argument("histogram bounds must be finite and strictly ascending");
  counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;  // no bucket holds it; the sum would become NaN
  // First bound >= v: buckets are upper-inclusive (le).
  const size_t i = size_t(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[i];
  sum_ += v;
  ++count_;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Shortest text that reads back as the same double.
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

bool Writer::begin(const Family& f) {
  if (!done_.empty() && done_.back() == f.name) return true;
  if (std::find(done_.begin(), done_.end(), f.name) != done_.end()) {
    ++errors_;  // interleaved: a second HELP/TYPE would make the text invalid
    return false;
  }
  done_.push_back(f.name);
  out_ += "# HELP ";
  out_ += f.name;
  out_ += ' ';
  out_ += escape_help(f.help);
  out_ += "\n# TYPE ";
  out_ += f.name;
  out_ += ' ';
  out_ += type_name(f.type);
  out_ += '\n';
  return true;
}

bool Writer::check(const Family& f, bool histogram, size_t n_values) {
  if ((f.type == Type::histogram) != histogram || label_keys(f).size() != n_values) {
    ++errors_;
    return false;
  }
  return begin(f);
}

void Writer::labels(const Family& f, std::span<const std::string_view> values, std::string_view extra_key,
                    std::string_view extra_value) {
  const auto keys = label_keys(f);
  if (keys.empty() && extra_key.empty()) return;
  out_ += '{';
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i) out_ += ',';
    out_ += keys[i];
    out_ += "=\"";
    out_ += escape_label_value(values[i]);
    out_ += '"';
  }
  if (!extra_key.empty()) {
    if (!keys.empty()) out_ += ',';
    out_ += extra_key;
    out_ += "=\"";
    out_ += extra_value;
    out_ += '"';
  }
  out_ += '}';
}

void Writer::value_line(std::string_view v) {
  out_ += ' ';
  out_ += v;
  out_ += '\n';
}

void Writer::sample(const Family& f, std::span<const std::string_view> label_values, double value) {
  if (!check(f, false, label_values.size())) return;
  out_ += f.name;
  labels(f, label_values);
  value_line(format_value(value));
}

void Writer::sample(const Family& f, std::span<const std::string_view> label_values, uint64_t value) {
  if (!check(f, false, label_values.size())) return;
  out_ += f.name;
  labels(f, label_values);
  value_line(std::to_string(value));
}

void Writer::histogram(const Family& f, std::span<const std::string_view> label_values, const Histogram& h) {
  if (!check(f, true, label_values.size())) return;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= h.bounds().size(); ++i) {
    cumulative += h.counts()[i];
    out_ += f.name;
    out_ += "_bucket";
    labels(f, label_values, "le", i < h.bounds().size() ? format_value(h.bounds()[i]) : "+Inf");
    value_line(std::to_string(cumulative));
  }
  out_ += f.name;
  out_ += "_sum";
  labels(f, label_values);
  value_line(format_value(h.sum()));
  out_ += f.name;
  out_ += "_count";
  labels(f, label_values);
  value_line(std::to_string(h.count()));
}

}  // namespace msgw::metrics
