#pragma once
// CSV reader.
//
// Format contract:
//  - The first non-blank line is a header row of column names (required).
//  - The delimiter is detected from the header: whichever of ',' ';' and tab
//    occurs most often outside quotes (ties prefer ',' then ';'; none = ',').
//  - Fields follow RFC 4180: a field may be enclosed in double quotes, inside
//    which the delimiter and newlines are literal and "" stands for one '"'.
//    Spaces around fields and a trailing '\r' on each line are ignored. Empty
//    lines are skipped. A UTF-8 byte-order mark is ignored.
//  - Missing feature values: an empty field, NA, NaN, nan or ? (after trimming
//    spaces) become NaN. Other feature values must be numbers in full
//    (decimal or exponent notation, inf/infinity accepted).
//  - Label column: `opt.label` (exact header name); when empty and
//    opt.require_label, the last column. With opt.require_label false, a column
//    named opt.label is dropped if present, and an empty opt.label means every
//    column is a feature. Labels are numeric (label_numeric) when every value
//    parses as a number, else the trimmed strings (label_text). A missing label
//    (including a NaN spelling) and an infinite numeric label are errors.
//  - `opt.weight_column` (optional) names a numeric column used as
//    sample_weight (finite and >= 0), not a feature.
//
// Large inputs with no '"' after the header are parsed in parallel slices
// (OpenMP); the result, and the error reported (the first in file order), are
// the same as a serial parse.
//
// Every problem throws canopy::DataError naming the file and, where it applies,
// the 1-based physical line (the header is line 1) and the column, e.g.
//   data.csv: line 7: expected 11 fields, found 10
//   data.csv: line 12, column "bmi": cannot parse "abc" as a number
#include <string>
#include <string_view>

#include "io/dataset.h"

namespace canopy {

// Reads the whole file at `path` and parses it (see above).
Dataset read_csv(const std::string& path, const ReadOptions& opt);

// Parses CSV text already in memory; `name` is used in error messages and as
// Dataset::source.
Dataset parse_csv(std::string_view text, const std::string& name, const ReadOptions& opt);

}  // namespace canopy
