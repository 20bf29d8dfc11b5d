// Tests for io/csv.h: delimiters, quoting, missing values, labels, weights,
// error messages, and the real example files.
#include "io/csv.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "io/dataset.h"
#include "test_util.h"

namespace canopy {
namespace {

// Writes `text` to a fresh temporary file named `name` and returns its path.
std::string temp_csv(const std::string& text, const std::string& name = "data.csv") {
  std::string path = test::temp_dir() + "/" + name;
  test::write_file(path, text);
  return path;
}

ReadOptions label(const std::string& name) {
  ReadOptions o;
  o.label = name;
  return o;
}

// The message of the DataError thrown by f ("" and a test failure if none).
template <class F>
std::string error_of(F f) {
  return test::error_message<DataError>(f);
}

TEST(Csv, CommaDelimiterNumericLabel) {
  Dataset d = read_csv(temp_csv("a,b,y\n1,2.5,0\n-3,4e2,1\n"), ReadOptions{});
  ASSERT_EQ(d.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.label_name, "y");
  ASSERT_EQ(d.n_rows(), 2u);
  EXPECT_EQ(d.columns[0], (std::vector<float>{1, -3}));
  EXPECT_EQ(d.columns[1], (std::vector<float>{2.5f, 400}));
  EXPECT_EQ(d.label_numeric, (std::vector<double>{0, 1}));
  EXPECT_FALSE(d.label_is_text());
  EXPECT_TRUE(d.sample_weight.empty());
}

TEST(Csv, SemicolonDelimiter) {
  Dataset d = read_csv(temp_csv("a;b;y\n1;2;3\n4;5;6\n"), label("y"));
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.columns[1], (std::vector<float>{2, 5}));
  EXPECT_EQ(d.label_numeric, (std::vector<double>{3, 6}));
}

TEST(Csv, TabDelimiterWithCommasInsideNames) {
  // Tabs outnumber the comma in the header, so tab wins.
  Dataset d = read_csv(temp_csv("x,1\tx2\tlabel\n1.5\t2\tcat\n3\t4\tdog\n"), ReadOptions{});
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"x,1", "x2"}));
  EXPECT_EQ(d.columns[0], (std::vector<float>{1.5f, 3}));
  EXPECT_EQ(d.label_text, (std::vector<std::string>{"cat", "dog"}));
}

TEST(Csv, QuotedFieldsWithDelimiterEscapedQuotesAndNewlines) {
  std::string text =
      "\"first, name\",\"b\",\"label\"\n"
      "\"1.5\",2,\"say \"\"hi\"\", ok\"\n"
      "3, \"4\" ,\"two\nlines\"\n"
      "5,6,plain\n";
  Dataset d = read_csv(temp_csv(text), ReadOptions{});
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"first, name", "b"}));
  EXPECT_EQ(d.columns[0], (std::vector<float>{1.5f, 3, 5}));
  EXPECT_EQ(d.columns[1], (std::vector<float>{2, 4, 6}));
  EXPECT_EQ(d.label_text, (std::vector<std::string>{"say \"hi\", ok", "two\nlines", "plain"}));
}

TEST(Csv, LineNumbersCountQuotedNewlines) {
  // The record on physical line 4 follows a record spanning lines 2-3.
  std::string path = temp_csv("a,y\n1,\"x\ny\"\n2\n");
  std::string msg = error_of([&] { read_csv(path, ReadOptions{}); });
  EXPECT_NE(msg.find("line 4: expected 2 fields, found 1"), std::string::npos) << msg;
}

TEST(Csv, CrlfAndBlankTrailingLines) {
  Dataset d = read_csv(temp_csv("a,b,y\r\n1,2,3\r\n4,5,6\r\n\r\n\n\n"), ReadOptions{});
  ASSERT_EQ(d.n_rows(), 2u);
  EXPECT_EQ(d.columns[1], (std::vector<float>{2, 5}));
  EXPECT_EQ(d.label_numeric, (std::vector<double>{3, 6}));
}

TEST(Csv, LeadingBlankLinesAndSingleColumn) {
  std::string path = temp_csv("\n\na;y\n1;2\n");
  Dataset d = read_csv(path, ReadOptions{});
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"a"}));
  EXPECT_EQ(d.label_numeric, (std::vector<double>{2}));
  ReadOptions o;
  o.require_label = false;
  d = read_csv(temp_csv("x\n1\nNA\n"), o);
  ASSERT_EQ(d.n_rows(), 2u);
  EXPECT_TRUE(std::isnan(d.columns[0][1]));
  // Header on line 3: errors count the blank lines.
  std::string msg = error_of([&] { read_csv(temp_csv("\n\na,a\n1,2\n"), ReadOptions{}); });
  EXPECT_NE(msg.find("line 3: duplicate column name"), std::string::npos) << msg;
}

TEST(Csv, NoTrailingNewline) {
  Dataset d = read_csv(temp_csv("a,y\n1,2\n3,4"), ReadOptions{});
  EXPECT_EQ(d.label_numeric, (std::vector<double>{2, 4}));
}

TEST(Csv, EveryMissingSpellingIsNaN) {
  Dataset d = read_csv(temp_csv("a,y\n,1\nNA,1\nNaN,1\nnan,1\n?,1\n  NA  ,1\n\"\",1\n7,1\n"), ReadOptions{});
  ASSERT_EQ(d.n_rows(), 8u);
  for (int i = 0; i < 7; ++i) EXPECT_TRUE(std::isnan(d.columns[0][i])) << "row " << i;
  EXPECT_EQ(d.columns[0][7], 7.0f);
}

TEST(Csv, InfinityAndSignsAccepted) {
  Dataset d = read_csv(temp_csv("a,y\ninf,0\n-inf,0\n+2.5,0\n-1e-3,0\n"), ReadOptions{});
  EXPECT_TRUE(std::isinf(d.columns[0][0]) && d.columns[0][0] > 0);
  EXPECT_TRUE(std::isinf(d.columns[0][1]) && d.columns[0][1] < 0);
  EXPECT_EQ(d.columns[0][2], 2.5f);
  EXPECT_EQ(d.columns[0][3], -1e-3f);
}

TEST(Csv, TextLabelsKeepRawTrimmedStrings) {
  // "1" parses as a number but "b" does not, so every label is text.
  Dataset d = read_csv(temp_csv("x,label\n1, malignant \n2,benign\n3,1\n"), ReadOptions{});
  EXPECT_TRUE(d.label_is_text());
  EXPECT_TRUE(d.label_numeric.empty());
  EXPECT_EQ(d.label_text, (std::vector<std::string>{"malignant", "benign", "1"}));
}

TEST(Csv, LabelByNameInTheMiddle) {
  Dataset d = read_csv(temp_csv("a,target,b\n1,10,2\n3,20,4\n"), label("target"));
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.columns[1], (std::vector<float>{2, 4}));
  EXPECT_EQ(d.label_numeric, (std::vector<double>{10, 20}));
}

TEST(Csv, NoLabelRequiredDropsNamedLabelOrKeepsAllColumns) {
  std::string path = temp_csv("a,target,b\n1,x,2\n3,y,4\n");
  ReadOptions o;
  o.require_label = false;
  o.label = "target";
  Dataset d = read_csv(path, o);
  EXPECT_FALSE(d.has_label());
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"a", "b"}));

  // A label name that is absent at predict time is fine.
  o.label = "absent";
  std::string path2 = temp_csv("a,b\n1,2\n");
  EXPECT_EQ(read_csv(path2, o).n_features(), 2u);

  // No label name: every column is a feature.
  o.label.clear();
  d = read_csv(path2, o);
  EXPECT_FALSE(d.has_label());
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"a", "b"}));
}

TEST(Csv, WeightColumn) {
  ReadOptions o;
  o.weight_column = "w";
  Dataset d = read_csv(temp_csv("a,w,y\n1,0.5,0\n2,0,1\n"), o);
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"a"}));
  EXPECT_EQ(d.sample_weight, (std::vector<double>{0.5, 0}));

  std::string msg = error_of([&] { read_csv(temp_csv("a,w,y\n1,0.5,0\n2,-1,1\n"), o); });
  EXPECT_NE(msg.find("line 3, column \"w\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("finite and >= 0"), std::string::npos) << msg;

  msg = error_of([&] { read_csv(temp_csv("a,w,y\n1,NA,0\n"), o); });
  EXPECT_NE(msg.find("line 2, column \"w\""), std::string::npos) << msg;

  o.weight_column = "nope";
  msg = error_of([&] { read_csv(temp_csv("a,w,y\n1,1,0\n"), o); });
  EXPECT_NE(msg.find("weight column \"nope\" not found; columns are: a, w, y"), std::string::npos) << msg;
}

TEST(Csv, ErrorWrongFieldCount) {
  std::string path = temp_csv("a,b,y\n1,2,3\n4,5\n");
  std::string msg = error_of([&] { read_csv(path, ReadOptions{}); });
  EXPECT_EQ(msg, path + ": line 3: expected 3 fields, found 2");
}

TEST(Csv, ErrorUnparsableNumberNamesLineAndColumn) {
  std::string path = temp_csv("age,bmi,y\n1,2,3\n\n4,abc,6\n");
  std::string msg = error_of([&] { read_csv(path, ReadOptions{}); });
  // Line 4: the blank line 3 still counts as a physical line.
  EXPECT_EQ(msg, path + ": line 4, column \"bmi\": cannot parse \"abc\" as a number");
  msg = error_of([&] { read_csv(temp_csv("a,y\n1.5x,0\n"), ReadOptions{}); });
  EXPECT_NE(msg.find("line 2, column \"a\": cannot parse \"1.5x\""), std::string::npos) << msg;
}

TEST(Csv, ErrorMissingLabel) {
  for (std::string missing : {"", "NA", "NaN", "nan", "?"}) {
    std::string path = temp_csv("a,target\n1,2\n3,4\n5,6\n7," + missing + "\n");
    std::string msg = error_of([&] { read_csv(path, ReadOptions{}); });
    EXPECT_EQ(msg, path + ": line 5: missing label in column \"target\"") << "spelling " << missing;
  }
}

TEST(Csv, ErrorEmptyFileAndNoRows) {
  std::string path = temp_csv("");
  EXPECT_EQ(error_of([&] { read_csv(path, ReadOptions{}); }), path + ": file is empty (no header row)");
  path = temp_csv("\n\n");
  EXPECT_EQ(error_of([&] { read_csv(path, ReadOptions{}); }), path + ": file is empty (no header row)");
  path = temp_csv("a,b,y\n");
  EXPECT_EQ(error_of([&] { read_csv(path, ReadOptions{}); }), path + ": no data rows");
}

TEST(Csv, ErrorLabelNotFoundListsColumns) {
  std::string path = temp_csv("a,b,c\n1,2,3\n");
  EXPECT_EQ(error_of([&] { read_csv(path, label("foo")); }),
            path + ": label column \"foo\" not found; columns are: a, b, c");
}

TEST(Csv, ErrorMissingFile) {
  std::string path = test::temp_dir() + "/data.csv";
  EXPECT_EQ(error_of([&] { read_csv(path, ReadOptions{}); }),
            "cannot open " + path + ": No such file or directory");
}

TEST(Csv, ErrorUnterminatedQuoteAndJunkAfterQuote) {
  std::string msg = error_of([&] { read_csv(temp_csv("a,y\n1,\"abc\n"), ReadOptions{}); });
  EXPECT_NE(msg.find("line 2: unterminated quoted field 2"), std::string::npos) << msg;
  msg = error_of([&] { read_csv(temp_csv("a,y\n\"1\"x,2\n"), ReadOptions{}); });
  EXPECT_NE(msg.find("line 2: unexpected character 'x' after the closing quote of field 1"),
            std::string::npos)
      << msg;
}

TEST(Csv, ErrorDuplicateHeaderAndInfiniteLabel) {
  std::string msg = error_of([&] { read_csv(temp_csv("a,a,y\n1,2,3\n"), ReadOptions{}); });
  EXPECT_NE(msg.find("line 1: duplicate column name \"a\" (columns 1 and 2)"), std::string::npos) << msg;
  msg = error_of([&] { read_csv(temp_csv("a,y\n1,2\n1,inf\n"), ReadOptions{}); });
  EXPECT_NE(msg.find("line 3, column \"y\": label \"inf\" is not a finite number"), std::string::npos)
      << msg;
}

TEST(Csv, ParseFromMemoryAndUtf8Bom) {
  Dataset d = parse_csv("\xEF\xBB\xBF" "a,y\n1,2\n", "mem.csv", ReadOptions{});
  EXPECT_EQ(d.feature_names[0], "a");
  EXPECT_EQ(d.source, "mem.csv");
}

TEST(Csv, FloatValuesRoundCorrectly) {
  // 0.1 must become the float nearest to 0.1, as strtof would give.
  Dataset d = read_csv(temp_csv("a,y\n0.1,0\n16777217,0\n3.4028235e38,0\n1e39,0\n"), ReadOptions{});
  EXPECT_EQ(d.columns[0][0], 0.1f);
  EXPECT_EQ(d.columns[0][1], 16777216.0f);
  EXPECT_EQ(d.columns[0][2], 3.4028235e38f);
  EXPECT_TRUE(std::isinf(d.columns[0][3]));
}

TEST(Csv, LargeFileParsedInParallelSlicesMatchesSerial) {
  // Over the parallel threshold (4 MiB); a blank line in the middle still
  // counts for line numbers.
  std::string text = "a,b,y\n";
  const int n = 400000;
  for (int i = 0; i < n; ++i) {
    text += std::to_string(i) + "," + std::to_string(i * 0.25) + "," + std::to_string(i % 3) + "\n";
    if (i == 1000) text += "\n";
  }
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/big.csv";
  test::write_file(path, text);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  Dataset serial = read_csv(path, ReadOptions{});
  omp_set_num_threads(4);
  Dataset parallel = read_csv(path, ReadOptions{});
  ASSERT_EQ(parallel.n_rows(), static_cast<size_t>(n));
  EXPECT_EQ(serial.columns, parallel.columns);
  EXPECT_EQ(serial.label_numeric, parallel.label_numeric);
  EXPECT_EQ(parallel.columns[0][n - 1], static_cast<float>(n - 1));

  // The first error in file order wins, with its exact physical line.
  const std::string bad_path = dir + "/bad.csv";
  test::write_file(bad_path, text + "1,2\n" + "x,1,1\n");
  EXPECT_EQ(error_of([&] { read_csv(bad_path, ReadOptions{}); }),
            bad_path + ": line " + std::to_string(n + 3) + ": expected 3 fields, found 2");

  // A text label in the last slice makes every label text.
  const std::string mixed_path = dir + "/mixed.csv";
  test::write_file(mixed_path, text + "1,2,other\n");
  Dataset mixed = read_csv(mixed_path, ReadOptions{});
  ASSERT_TRUE(mixed.label_is_text());
  EXPECT_EQ(mixed.label_text[5], "2");
  EXPECT_EQ(mixed.label_text.back(), "other");
  omp_set_num_threads(saved);
  std::filesystem::remove_all(dir);
}

TEST(CsvExampleData, Diabetes) {
  ReadOptions o = label("target");
  Dataset d = read_csv(test::data_file("diabetes.csv"), o);
  EXPECT_EQ(d.n_rows(), 442u);
  EXPECT_EQ(d.n_features(), 10u);
  EXPECT_EQ(d.label_name, "target");
  ASSERT_EQ(d.label_numeric.size(), 442u);
  EXPECT_EQ(d.feature_names[0], "age");
  EXPECT_EQ(d.label_numeric[0], 151.0);  // first target of scikit-learn's diabetes data
  for (const auto& c : d.columns) {
    for (float v : c) ASSERT_FALSE(std::isnan(v));
  }
}

TEST(CsvExampleData, BreastCancerTextLabels) {
  Dataset d = read_csv(test::data_file("breast_cancer.csv"), label("diagnosis"));
  EXPECT_EQ(d.n_rows(), 569u);
  EXPECT_EQ(d.n_features(), 30u);
  ASSERT_TRUE(d.label_is_text());
  int malignant = 0, benign = 0;
  for (const auto& s : d.label_text) {
    malignant += s == "malignant";
    benign += s == "benign";
  }
  EXPECT_EQ(malignant, 212);
  EXPECT_EQ(benign, 357);
}

}  // namespace
}  // namespace canopy
