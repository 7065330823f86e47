// SPDX-License-Identifier: GPL-3.0-or-later
// The text exposition writer: escaping, HELP/TYPE once per family, values,
// histograms (cumulative buckets, +Inf, _sum, _count), misuse counted.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "msgw/metrics/exposition.hpp"

using namespace msgw::metrics;

namespace {
std::span<const std::string_view> L(std::initializer_list<std::string_view> l) { return {l.begin(), l.size()}; }
}  // namespace

TEST(Exposition, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)" "\n" "d"), R"(a\\b\"c\nd)");
  EXPECT_EQ(escape_label_value("plain"), "plain");
  // HELP text escapes backslash and newline, not quotes.
  EXPECT_EQ(escape_help("say \"hi\"\\\n"), "say \"hi\"\\\\\\n");
}

TEST(Exposition, ValuesAreFormattedAsPrometheusReadsThem) {
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1), "1");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(std::stod(format_value(0.1 + 0.2)), 0.1 + 0.2);  // round-trips
}

TEST(Exposition, FamilyHeaderOnceThenSamplesWithEscapedLabels) {
  constexpr Family f{"msgw_things_total", Type::counter, "things\nseen", "kind,where"};
  Writer w;
  w.sample(f, L({"a\"b", "x"}), uint64_t(3));
  w.sample(f, L({"c", "y\\z"}), uint64_t(18446744073709551615ull));
  EXPECT_EQ(w.text(),
            "# HELP msgw_things_total things\\nseen\n"
            "# TYPE msgw_things_total counter\n"
            "msgw_things_total{kind=\"a\\\"b\",where=\"x\"} 3\n"
            "msgw_things_total{kind=\"c\",where=\"y\\\\z\"} 18446744073709551615\n");
  EXPECT_EQ(w.errors(), 0u);
}

TEST(Exposition, GaugeWithoutLabelsAndDeclaredEmptyFamily) {
  constexpr Family g{"msgw_up", Type::gauge, "up", ""};
  constexpr Family e{"msgw_none", Type::gauge, "nothing yet", "worker"};
  Writer w;
  w.sample(g, 0.5);
  w.declare(e);
  EXPECT_EQ(w.text(),
            "# HELP msgw_up up\n# TYPE msgw_up gauge\nmsgw_up 0.5\n"
            "# HELP msgw_none nothing yet\n# TYPE msgw_none gauge\n");
}

TEST(Exposition, HistogramBucketsAreCumulativeEndWithInfSumAndCount) {
  constexpr Family h{"msgw_setup_seconds", Type::histogram, "setup", ""};
  Histogram hist({0.25, 1, 10});
  for (double v : {0.125, 0.25, 0.5, 1.0, 7.0, 100.0}) hist.observe(v);
  hist.observe(std::nan(""));  // ignored
  Writer w;
  w.histogram(h, {}, hist);
  EXPECT_EQ(w.text(),
            "# HELP msgw_setup_seconds setup\n"
            "# TYPE msgw_setup_seconds histogram\n"
            "msgw_setup_seconds_bucket{le=\"0.25\"} 2\n"   // 0.125 and 0.25 (upper-inclusive)
            "msgw_setup_seconds_bucket{le=\"1\"} 4\n"
            "msgw_setup_seconds_bucket{le=\"10\"} 5\n"
            "msgw_setup_seconds_bucket{le=\"+Inf\"} 6\n"
            "msgw_setup_seconds_sum 108.875\n"
            "msgw_setup_seconds_count 6\n");
}

TEST(Exposition, HistogramWithLabelsPutsLeLast) {
  constexpr Family h{"msgw_x_seconds", Type::histogram, "x", "trunk"};
  Histogram hist({1});
  hist.observe(2);
  Writer w;
  w.histogram(h, L({"carrier"}), hist);
  EXPECT_NE(w.text().find("msgw_x_seconds_bucket{trunk=\"carrier\",le=\"1\"} 0\n"), std::string::npos);
  EXPECT_NE(w.text().find("msgw_x_seconds_bucket{trunk=\"carrier\",le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(w.text().find("msgw_x_seconds_count{trunk=\"carrier\"} 1\n"), std::string::npos);
}

TEST(Exposition, HistogramBoundsMustAscend) {
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
}

TEST(Exposition, MisuseIsCountedAndWritesNothing) {
  constexpr Family a{"msgw_a", Type::gauge, "a", "x"};
  constexpr Family b{"msgw_b", Type::gauge, "b", ""};
  constexpr Family h{"msgw_h_seconds", Type::histogram, "h", ""};
  Writer w;
  w.sample(a, L({"1"}), uint64_t(1));
  w.sample(b, uint64_t(1));
  const std::string before = w.text();
  w.sample(a, L({"2"}), uint64_t(2));   // family a again after b: would repeat HELP/TYPE
  w.sample(b, L({"extra"}), uint64_t(1));  // wrong number of label values
  w.sample(h, 1.0);                      // a scalar sample of a histogram
  w.histogram(b, {}, Histogram({1}));    // a histogram of a gauge
  EXPECT_EQ(w.text(), before);
  EXPECT_EQ(w.errors(), 4u);
}

TEST(Exposition, NamesAreChecked) {
  EXPECT_TRUE(valid_metric_name("msgw_calls_total"));
  EXPECT_TRUE(valid_metric_name("a:b_c9"));
  EXPECT_FALSE(valid_metric_name("9abc"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("worker"));
  EXPECT_FALSE(valid_label_name("__reserved"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_EQ(label_keys(Family{"x", Type::gauge, "", "a,b,c"}).size(), 3u);
  EXPECT_TRUE(label_keys(Family{"x", Type::gauge, "", ""}).empty());
}
