#include "tracking/filter.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>

namespace canopy::tracking {
namespace {

enum class Tok { kIdent, kString, kNumber, kOp, kLParen, kRParen, kComma, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // as written
  size_t pos = 0;
  // kIdent: parsed parts.
  std::string prefix;  // empty for a bare word
  std::string key;
  bool key_quoted = false;
  std::string value;  // kString: unquoted value
};

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' || c == '-' || c == ':';
}

class Lexer {
 public:
  Lexer(const std::string& src, const std::string& what) : s_(src), what_(what) {}

  [[noreturn]] void fail(const std::string& msg) const {
    throw FilterError("invalid " + what_ + " \"" + s_ + "\": " + msg);
  }
  [[noreturn]] void unexpected(const Token& t) const {
    if (t.kind == Tok::kEnd) fail("unexpected end at position " + std::to_string(t.pos));
    fail("unexpected token \"" + t.text + "\" at position " + std::to_string(t.pos));
  }

  std::vector<Token> run() {
    std::vector<Token> out;
    size_t i = 0;
    const size_t n = s_.size();
    while (true) {
      while (i < n && std::isspace(static_cast<unsigned char>(s_[i]))) ++i;
      Token t;
      t.pos = i;
      if (i >= n) {
        t.kind = Tok::kEnd;
        out.push_back(t);
        return out;
      }
      const char c = s_[i];
      if (c == '\'' || c == '"') {
        size_t j = i + 1;
        std::string v;
        while (j < n && s_[j] != c) {
          if (s_[j] == '\\' && j + 1 < n) ++j;
          v += s_[j++];
        }
        if (j >= n) fail("unterminated string starting at position " + std::to_string(i));
        t.kind = Tok::kString;
        t.value = v;
        t.text = s_.substr(i, j + 1 - i);
        i = j + 1;
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 ((c == '-' || c == '+' || c == '.') && i + 1 < n &&
                  (std::isdigit(static_cast<unsigned char>(s_[i + 1])) || s_[i + 1] == '.'))) {
        size_t j = i;
        if (s_[j] == '-' || s_[j] == '+') ++j;
        while (j < n && (std::isalnum(static_cast<unsigned char>(s_[j])) || s_[j] == '.' ||
                         ((s_[j] == '-' || s_[j] == '+') && (s_[j - 1] == 'e' || s_[j - 1] == 'E'))))
          ++j;
        t.kind = Tok::kNumber;
        t.text = s_.substr(i, j - i);
        char* end = nullptr;
        std::strtod(t.text.c_str(), &end);
        if (end != t.text.c_str() + t.text.size()) unexpected(t);
        i = j;
      } else if (c == '(' || c == ')' || c == ',') {
        t.kind = c == '(' ? Tok::kLParen : c == ')' ? Tok::kRParen : Tok::kComma;
        t.text = std::string(1, c);
        ++i;
      } else if (c == '=' || c == '!' || c == '<' || c == '>') {
        std::string op(1, c);
        if (i + 1 < n && s_[i + 1] == '=' && c != '=') op += '=';
        else if (c == '<' && i + 1 < n && s_[i + 1] == '>') op = "!=";
        else if (c == '=' && i + 1 < n && s_[i + 1] == '=') op = "==";
        t.kind = Tok::kOp;
        t.text = s_.substr(i, op.size());
        if (op == "!") unexpected(t);
        if (op == "==") op = "=";
        t.value = op;
        i += t.text.size();
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '`') {
        size_t j = i;
        if (c == '`') {  // a backquoted bare attribute name
          size_t k = s_.find('`', i + 1);
          if (k == std::string::npos) fail("unterminated backquote starting at position " + std::to_string(i));
          t.key = s_.substr(i + 1, k - i - 1);
          t.key_quoted = true;
          j = k + 1;
        } else {
          while (j < n && is_word_char(s_[j])) ++j;
          std::string word = s_.substr(i, j - i);
          if (j < n && s_[j] == '.') {
            t.prefix = word;
            ++j;
            if (j < n && (s_[j] == '`' || s_[j] == '"')) {
              const char q = s_[j];
              size_t k = s_.find(q, j + 1);
              if (k == std::string::npos)
                fail("unterminated quoted name starting at position " + std::to_string(j));
              t.key = s_.substr(j + 1, k - j - 1);
              t.key_quoted = true;
              j = k + 1;
            } else {
              size_t k = j;
              while (k < n && is_key_char(s_[k])) ++k;
              t.key = s_.substr(j, k - j);
              if (t.key.empty()) {
                Token bad;
                bad.pos = j;
                bad.kind = j < n ? Tok::kOp : Tok::kEnd;
                bad.text = j < n ? std::string(1, s_[j]) : "";
                unexpected(bad);
              }
              j = k;
            }
          } else {
            t.key = word;
          }
        }
        t.kind = Tok::kIdent;
        t.text = s_.substr(i, j - i);
        i = j;
      } else {
        t.kind = Tok::kOp;
        t.text = std::string(1, c);
        unexpected(t);
      }
      out.push_back(t);
    }
  }

 private:
  const std::string& s_;
  std::string what_;
};

const std::vector<std::string>& string_attributes() {
  static const std::vector<std::string> v{"run_id", "run_name", "status", "user_id", "artifact_uri", "experiment_id",
                                          "lifecycle_stage"};
  return v;
}
const std::vector<std::string>& numeric_attributes() {
  static const std::vector<std::string> v{"start_time", "end_time"};
  return v;
}
bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Resolves the identifier token to (type, key); throws naming the token.
std::pair<EntityType, std::string> resolve_identifier(const Token& t, const Lexer& lx) {
  EntityType type;
  std::string key = t.key;
  const std::string p = lower(t.prefix);
  if (p.empty() || p == "attribute" || p == "attributes" || p == "attr" || p == "run") {
    type = EntityType::kAttribute;
  } else if (p == "metric" || p == "metrics") {
    type = EntityType::kMetric;
  } else if (p == "param" || p == "params" || p == "parameter" || p == "parameters") {
    type = EntityType::kParam;
  } else if (p == "tag" || p == "tags") {
    type = EntityType::kTag;
  } else {
    lx.fail("unknown entity \"" + t.prefix + "\" in \"" + t.text + "\" at position " + std::to_string(t.pos) +
            " (expected metrics., params., tags. or attributes.)");
  }
  if (type == EntityType::kAttribute) {
    std::string k = lower(key);
    if (k == "created" || k == "start") k = "start_time";
    if (k == "run_uuid") k = "run_id";
    if (k == "name") k = "run_name";
    if (!contains(string_attributes(), k) && !contains(numeric_attributes(), k)) {
      if (t.prefix.empty())
        lx.fail("unexpected token \"" + t.text + "\" at position " + std::to_string(t.pos) +
                " (expected metrics.NAME, params.NAME, tags.NAME or an attribute: run_id, run_name, status, "
                "user_id, start_time, end_time, artifact_uri, experiment_id)");
      lx.fail("unknown attribute \"" + t.key + "\" at position " + std::to_string(t.pos) +
              " (expected run_id, run_name, status, user_id, start_time, end_time, artifact_uri or experiment_id)");
    }
    key = k;
  }
  return {type, key};
}

bool numeric_entity(EntityType type, const std::string& key) {
  return type == EntityType::kMetric || (type == EntityType::kAttribute && contains(numeric_attributes(), key));
}

std::optional<std::string> string_value(const Run& r, EntityType type, const std::string& key) {
  switch (type) {
    case EntityType::kParam: {
      auto it = r.params.find(key);
      if (it == r.params.end()) return std::nullopt;
      return it->second;
    }
    case EntityType::kTag: {
      auto it = r.tags.find(key);
      if (it == r.tags.end()) return std::nullopt;
      return it->second;
    }
    case EntityType::kAttribute:
      if (key == "run_id") return r.info.run_id;
      if (key == "run_name") return r.info.run_name;
      if (key == "status") return std::string(status_name(r.info.status));
      if (key == "user_id") return r.info.user_id;
      if (key == "artifact_uri") return r.info.artifact_uri;
      if (key == "experiment_id") return r.info.experiment_id;
      if (key == "lifecycle_stage") return r.info.lifecycle_stage;
      return std::nullopt;
    case EntityType::kMetric:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<double> number_value(const Run& r, EntityType type, const std::string& key) {
  if (type == EntityType::kMetric) {
    auto it = r.metrics.find(key);
    if (it == r.metrics.end()) return std::nullopt;
    return it->second.value;
  }
  if (key == "start_time") return static_cast<double>(r.info.start_time);
  if (key == "end_time") {
    if (r.info.end_time == 0) return std::nullopt;
    return static_cast<double>(r.info.end_time);
  }
  return std::nullopt;
}

}  // namespace

bool like_match(const std::string& text, const std::string& pattern, bool fold_case) {
  auto eq = [&](char a, char b) {
    return fold_case ? std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b))
                     : a == b;
  };
  // Iterative wildcard match with backtracking on the last %.
  size_t t = 0, p = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '_' || (pattern[p] != '%' && eq(pattern[p], text[t])))) {
      ++t;
      ++p;
    } else if (p < pattern.size() && pattern[p] == '%') {
      star = p++;
      mark = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

std::string display_name(EntityType type, const std::string& key) {
  const char* prefix = type == EntityType::kMetric ? "metrics." : type == EntityType::kParam ? "params."
                       : type == EntityType::kTag                                       ? "tags."
                                                                                        : "attributes.";
  bool plain = !key.empty();
  for (char c : key) plain = plain && is_key_char(c);
  return std::string(prefix) + (plain ? key : "`" + key + "`");
}

Filter Filter::parse(const std::string& filter) {
  Filter f;
  Lexer lx(filter, "filter");
  const std::vector<Token> toks = lx.run();
  size_t i = 0;
  if (toks[0].kind == Tok::kEnd) return f;
  while (true) {
    const Token& id = toks[i];
    if (id.kind != Tok::kIdent) lx.unexpected(id);
    const std::string kw = upper(id.text);
    if (!id.key_quoted && id.prefix.empty() && (kw == "AND" || kw == "OR" || kw == "NOT" || kw == "LIKE"))
      lx.unexpected(id);
    auto [type, key] = resolve_identifier(id, lx);
    ++i;
    Comparison c;
    c.type = type;
    c.key = key;
    const Token& op = toks[i];
    if (op.kind == Tok::kOp) {
      c.op = op.value;
      ++i;
    } else if (op.kind == Tok::kIdent && op.prefix.empty() && !op.key_quoted) {
      const std::string w = upper(op.text);
      if (w == "LIKE" || w == "ILIKE" || w == "IN") {
        c.op = w;
        ++i;
      } else if (w == "NOT" && toks[i + 1].kind == Tok::kIdent && upper(toks[i + 1].text) == "IN") {
        c.op = "NOT IN";
        i += 2;
      } else {
        lx.unexpected(op);
      }
    } else {
      lx.unexpected(op);
    }
    const bool numeric = numeric_entity(type, key);
    const std::string name = display_name(type, key);
    if (numeric && (c.op == "LIKE" || c.op == "ILIKE" || c.op == "IN" || c.op == "NOT IN"))
      lx.fail("comparator " + c.op + " at position " + std::to_string(op.pos) + " is not allowed for " + name +
              " (a number): use =, !=, <, <=, > or >=");
    if (!numeric && c.op != "=" && c.op != "!=" && c.op != "LIKE" && c.op != "ILIKE" && c.op != "IN" &&
        c.op != "NOT IN")
      lx.fail("comparator \"" + c.op + "\" at position " + std::to_string(op.pos) + " is not allowed for " + name +
              " (a string): use =, !=, LIKE, ILIKE or IN");
    const Token& v = toks[i];
    if (c.op == "IN" || c.op == "NOT IN") {
      if (v.kind != Tok::kLParen) lx.unexpected(v);
      ++i;
      while (true) {
        const Token& s = toks[i];
        if (s.kind != Tok::kString) lx.unexpected(s);
        c.list.push_back(s.value);
        ++i;
        if (toks[i].kind == Tok::kComma) {
          ++i;
          continue;
        }
        if (toks[i].kind == Tok::kRParen) {
          ++i;
          break;
        }
        lx.unexpected(toks[i]);
      }
    } else if (numeric) {
      if (v.kind == Tok::kString)
        lx.fail(name + " is a number: expected a number, found " + v.text + " at position " + std::to_string(v.pos));
      if (v.kind != Tok::kNumber) lx.unexpected(v);
      c.numeric = true;
      c.number = std::strtod(v.text.c_str(), nullptr);
      ++i;
    } else {
      if (v.kind == Tok::kNumber)
        lx.fail(name + " is a string: quote the value " + v.text + " at position " + std::to_string(v.pos) +
                " ('" + v.text + "')");
      if (v.kind != Tok::kString) lx.unexpected(v);
      c.text = v.value;
      ++i;
    }
    f.clauses_.push_back(std::move(c));
    const Token& next = toks[i];
    if (next.kind == Tok::kEnd) break;
    if (next.kind == Tok::kIdent && next.prefix.empty() && !next.key_quoted && upper(next.text) == "AND") {
      ++i;
      if (toks[i].kind == Tok::kEnd) lx.unexpected(toks[i]);
      continue;
    }
    if (next.kind == Tok::kIdent && next.prefix.empty() && upper(next.text) == "OR")
      lx.fail("unexpected token \"" + next.text + "\" at position " + std::to_string(next.pos) +
              " (only AND is supported)");
    lx.unexpected(next);
  }
  return f;
}

bool Filter::matches(const Run& run) const {
  for (const Comparison& c : clauses_) {
    if (c.numeric) {
      auto v = number_value(run, c.type, c.key);
      if (!v || std::isnan(*v)) return false;
      const double a = *v, b = c.number;
      bool ok = c.op == "=" ? a == b : c.op == "!=" ? a != b : c.op == "<" ? a < b : c.op == "<=" ? a <= b
                : c.op == ">"                                                                  ? a > b
                                                                                               : a >= b;
      if (!ok) return false;
    } else {
      auto v = string_value(run, c.type, c.key);
      if (!v) return false;
      bool ok;
      if (c.op == "=") ok = *v == c.text;
      else if (c.op == "!=") ok = *v != c.text;
      else if (c.op == "LIKE") ok = like_match(*v, c.text, false);
      else if (c.op == "ILIKE") ok = like_match(*v, c.text, true);
      else {
        ok = std::find(c.list.begin(), c.list.end(), *v) != c.list.end();
        if (c.op == "NOT IN") ok = !ok;
      }
      if (!ok) return false;
    }
  }
  return true;
}

std::vector<OrderKey> parse_order_by(const std::vector<std::string>& clauses) {
  std::vector<OrderKey> keys;
  for (const std::string& clause : clauses) {
    Lexer lx(clause, "order-by clause");
    const std::vector<Token> toks = lx.run();
    if (toks[0].kind != Tok::kIdent) lx.unexpected(toks[0]);
    auto [type, key] = resolve_identifier(toks[0], lx);
    OrderKey k{type, key, true};
    size_t i = 1;
    if (toks[i].kind == Tok::kIdent && toks[i].prefix.empty()) {
      const std::string w = upper(toks[i].text);
      if (w == "ASC" || w == "DESC") {
        k.ascending = w == "ASC";
        ++i;
      } else {
        lx.unexpected(toks[i]);
      }
    }
    if (toks[i].kind != Tok::kEnd) lx.unexpected(toks[i]);
    keys.push_back(k);
  }
  return keys;
}

void sort_runs(std::vector<Run>& runs, const std::vector<OrderKey>& keys) {
  // -1 / 0 / 1 with missing values last whatever the direction.
  auto cmp_key = [](const Run& a, const Run& b, const OrderKey& k) -> int {
    if (numeric_entity(k.type, k.key)) {
      auto x = number_value(a, k.type, k.key), y = number_value(b, k.type, k.key);
      if (!x || !y) return (!x && !y) ? 0 : (!x ? 1 : -1);
      const bool nx = std::isnan(*x), ny = std::isnan(*y);  // NaN after numbers
      if (nx || ny) return (nx && ny) ? 0 : (nx ? 1 : -1);
      if (*x == *y) return 0;
      return ((*x < *y) == k.ascending) ? -1 : 1;
    }
    auto x = string_value(a, k.type, k.key), y = string_value(b, k.type, k.key);
    if (!x || !y) return (!x && !y) ? 0 : (!x ? 1 : -1);
    if (*x == *y) return 0;
    return ((*x < *y) == k.ascending) ? -1 : 1;
  };
  std::stable_sort(runs.begin(), runs.end(), [&](const Run& a, const Run& b) {
    for (const OrderKey& k : keys) {
      int c = cmp_key(a, b, k);
      if (c != 0) return c < 0;
    }
    if (a.info.start_time != b.info.start_time) return a.info.start_time > b.info.start_time;
    return a.info.run_id < b.info.run_id;
  });
}

}  // namespace canopy::tracking
