// SPDX-License-Identifier: GPL-3.0-or-later
// The Prometheus text exposition format, version 0.0.4 (the format every
// Prometheus server and promtool read; content type kContentType).  One
// format, followed exactly: per family one `# HELP` and one `# TYPE` line,
// then its samples, families never interleaved; label values escaped (\\, \",
// \n), HELP text escaped (\\, \n); values as Go's strconv prints floats
// (+Inf, -Inf, NaN); histograms as cumulative `_bucket{le=...}` samples
// ending with le="+Inf", then `_sum` and `_count`.  No `# EOF`: that line
// belongs to OpenMetrics, which this is not.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace msgw::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class Type : uint8_t { counter, gauge, histogram };
std::string_view type_name(Type t);

// One metric family, defined once (a constexpr table of these is the single
// definition of what a program exposes; see doc_table.hpp).  `labels` names
// the label keys, comma-separated ("worker,reason"; empty = none).  A
// counter's name ends in `_total`; a histogram's names its unit (`_seconds`).
struct Family {
  std::string_view name;
  Type type;
  std::string_view help;
  std::string_view labels;
};

// The label keys of a family, split.
std::vector<std::string_view> label_keys(const Family& f);

// Whether a name is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or label
// name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__").
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

// A histogram's state: upper bounds (ascending, +Inf implied), a count per
// bucket (not cumulative: the writer sums them), the sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // counts()[i]: observations in (bounds[i-1], bounds[i]]; the last entry
  // (index bounds().size()) counts those above the last bound.
  const std::vector<uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Escaping and number formatting, as the format wants them.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
std::string format_value(double v);

// Builds one exposition.  Samples of a family must be written together;
// a family written again after another one, a wrong number of label values
// or a sample of the wrong kind is a programming error: nothing is written
// for it and errors() counts it (tests expect 0).
class Writer {
 public:
  void sample(const Family& f, std::span<const std::string_view> label_values, double value);
  void sample(const Family& f, std::span<const std::string_view> label_values, uint64_t value);
  void sample(const Family& f, double value) { sample(f, {}, value); }
  void sample(const Family& f, uint64_t value) { sample(f, {}, value); }
  void histogram(const Family& f, std::span<const std::string_view> label_values, const Histogram& h);
  // A family with no samples (yet) still gets its HELP and TYPE lines.
  void declare(const Family& f) { begin(f); }

  uint64_t errors() const { return errors_; }
  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  bool begin(const Family& f);
  bool check(const Family& f, bool histogram, size_t n_values);
  void labels(const Family& f, std::span<const std::string_view> values, std::string_view extra_key = {},
              std::string_view extra_value = {});
  void value_line(std::string_view v);

  std::string out_;
  std::vector<std::string_view> done_;  // families written, in order
  uint64_t errors_ = 0;
};

}  // namespace msgw::metrics
