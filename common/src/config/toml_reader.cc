#include "mxegress/config/toml_reader.h"

#include <algorithm>

#include "mxegress/config/key_suggestion.h"

namespace mx {
namespace {

bool is_bare_key(std::string_view key) {
  if (key.empty()) return false;
  for (const char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// toml++ nests one table per part of a dotted key and frees them
// recursively, so a key of some ten thousand parts overflows the stack. Keys
// and table headers never span lines, so capping the dots on any one line
// caps the nesting.
constexpr size_t kMaxDotsPerLine = 512;

std::optional<uint32_t> first_line_with_too_many_dots(std::string_view text) {
  uint32_t line = 1;
  size_t dots = 0;
  for (const char c : text) {
    if (c == '\n') {
      ++line;
      dots = 0;
    } else if (c == '.' && ++dots > kMaxDotsPerLine) {
      return line;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string describe_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

TableReader::TableReader(const toml::table* table, std::string path, ConfigErrors& errors)
    : table_(table), path_(std::move(path)), errors_(&errors) {}

TableReader TableReader::silent(std::string path, ConfigErrors& errors) {
  TableReader reader(nullptr, std::move(path), errors);
  reader.report_missing_ = false;
  return reader;
}

std::string TableReader::path_of(std::string_view key) const {
  std::string path = path_;
  if (!path.empty()) path.push_back('.');
  if (is_bare_key(key)) {
    path.append(key);
  } else {
    path.append(quote(key));
  }
  return path;
}

bool TableReader::has(std::string_view key) const {
  return table_ != nullptr && table_->get(key) != nullptr;
}

const toml::node* TableReader::peek(std::string_view key) const {
  return table_ == nullptr ? nullptr : table_->get(key);
}

const toml::node* TableReader::take(std::string_view key) {
  asked_.emplace(key);
  return table_ == nullptr ? nullptr : table_->get(key);
}

void TableReader::error(std::string_view why) { errors_->add(path_, why); }

void TableReader::error(std::string_view key, std::string_view why) {
  errors_->add(path_of(key), why);
}

void TableReader::error(std::string_view key, size_t index, std::string_view why) {
  errors_->add(path_of(key) + "[" + std::to_string(index) + "]", why);
}

TableReader TableReader::table(std::string_view key) {
  const toml::node* node = take(key);
  if (node == nullptr) return TableReader(nullptr, path_of(key), *errors_);
  if (const toml::table* table = node->as_table())
    return TableReader(table, path_of(key), *errors_);
  error(key, "expected a table, got " + describe_type(*node));
  return silent(path_of(key), *errors_);
}

std::vector<TableReader> TableReader::optional_tables(std::string_view key) {
  return tables(key, false);
}

std::vector<TableReader> TableReader::required_tables(std::string_view key) {
  return tables(key, true);
}

std::vector<TableReader> TableReader::tables(std::string_view key, bool required) {
  const std::string path = path_of(key);
  const std::string syntax = "[[" + path + "]]";
  const toml::node* node = take(key);
  if (node == nullptr) {
    if (required && report_missing_) error(key, "at least one " + syntax + " section is required");
    return {};
  }
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    error(key, "expected an array of tables (" + syntax + "), got " + describe_type(*node));
    return {};
  }
  if (array->empty() && required) error(key, "at least one " + syntax + " section is required");
  std::vector<TableReader> readers;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string element_path = path + "[" + std::to_string(i) + "]";
    const toml::node& element = *array->get(i);
    if (const toml::table* table = element.as_table()) {
      readers.emplace_back(table, element_path, *errors_);
    } else {
      errors_->add(element_path, "expected a table, got " + describe_type(element));
    }
  }
  return readers;
}

void TableReader::reject_unknown_keys() {
  if (table_ == nullptr) return;
  std::vector<const toml::key*> unknown;
  for (const auto& [key, node] : *table_) {
    if (!asked_.contains(key.str())) unknown.push_back(&key);
  }
  // A table iterates in key order; report in the order of the file.
  std::ranges::sort(unknown, {}, [](const toml::key* key) {
    return std::pair(key->source().begin.line, key->source().begin.column);
  });
  for (const toml::key* key : unknown) {
    std::string why = "unknown key";
    if (auto suggestion = nearest_known_key(key->str(), asked_)) {
      why += " (did you mean " + quote(*suggestion) + "?)";
    }
    error(key->str(), why);
  }
}

namespace toml_reader_detail {

std::optional<toml::table> parse_toml(std::string_view text, const std::string& source_name,
                                      ConfigErrors& errors) {
  if (auto line = first_line_with_too_many_dots(text)) {
    errors.add_at(*line, 1,
                  "more than " + std::to_string(kMaxDotsPerLine) +
                      " dots on one line; split long lists over several lines");
    return std::nullopt;
  }
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& failure) {
    const toml::source_position& where = failure.source().begin;
    errors.add_at(where.line, where.column, failure.description());
    return std::nullopt;
  }
}

}  // namespace toml_reader_detail

}  // namespace mx
