// A strict reader over one TOML table. Each key a section knows is read with
// one call naming its decoder; every problem is recorded in ConfigErrors with
// the key's full path, and keys nobody asked for are reported as unknown.
//
//   TableReader client = root.table("client");
//   client.required("key", config.key_file, decode::file_path(base_dir));
//   client.optional("idle_timeout", config.idle_timeout, decode::duration);
//   client.reject_unknown_keys();
//
// A decoder is any callable `std::optional<T>(const toml::node&, std::string& why)`.
// When the destination is a std::vector<T>, the key must hold an array and the
// decoder is applied to each element ("listen[2]: ...").
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mxegress/config/config_errors.h"
#include "mxegress/config/config_result.h"

namespace mx {

// "a string", "an integer", "an array", ... for "expected X, got Y" messages.
std::string describe_type(const toml::node& node);

class TableReader {
 public:
  // `table` may be null for an absent section: its required keys are then
  // reported missing. `path` is the table's own key path ("" for the root).
  TableReader(const toml::table* table, std::string path, ConfigErrors& errors);
  TableReader(TableReader&&) = default;
  TableReader& operator=(TableReader&&) = default;

  // Both return whether the key was present and accepted; on any problem `out`
  // keeps its value. A required list must also be non-empty.
  template <class T, class Decoder>
  bool required(std::string_view key, T& out, Decoder decode);
  template <class T, class Decoder>
  bool optional(std::string_view key, T& out, Decoder decode);

  // [path.key]; an absent sub-table gives a reader over nothing.
  TableReader table(std::string_view key);
  // [[path.key]], one reader per element; `required_tables` wants at least one.
  std::vector<TableReader> optional_tables(std::string_view key);
  std::vector<TableReader> required_tables(std::string_view key);

  bool has(std::string_view key) const;
  // The key's node without asking for it (null when absent), to choose a decoder.
  const toml::node* peek(std::string_view key) const;
  // Errors about the table as a whole, or about one key of it.
  void error(std::string_view why);
  void error(std::string_view key, std::string_view why);
  void error(std::string_view key, size_t index, std::string_view why);  // "KEY[INDEX]: WHY"
  // Reports each key of the table that no call above has asked for.
  void reject_unknown_keys();

  const std::string& path() const { return path_; }
  std::string path_of(std::string_view key) const;

 private:
  // A reader that stays quiet about missing keys, for a section whose own
  // type was already reported wrong.
  static TableReader silent(std::string path, ConfigErrors& errors);

  const toml::node* take(std::string_view key);
  std::vector<TableReader> tables(std::string_view key, bool required);

  template <class T, class Decoder>
  bool decode_into(const std::string& path, const toml::node& node, T& out, Decoder& decode);

  const toml::table* table_;
  std::string path_;
  ConfigErrors* errors_;
  bool report_missing_ = true;
  std::set<std::string, std::less<>> asked_;
};

// Reports each element of a list read from `key` that equals an earlier one.
template <class T>
void reject_repeats(TableReader& table, std::string_view key, const std::vector<T>& values);

// Parses `text` and hands the root table to `read(TableReader&) -> Config`.
// Syntax errors are reported as "SOURCE:LINE:COLUMN: WHY".
template <class Config, class Read>
ConfigResult<Config> read_toml_config(std::string_view text, std::string source_name, Read read);

// ---------------------------------------------------------------------------

namespace toml_reader_detail {

template <class T>
struct ListElement {
  using type = void;
};
template <class T, class A>
struct ListElement<std::vector<T, A>> {
  using type = T;
};

template <class Decoder>
using Decoded =
    typename std::invoke_result_t<Decoder&, const toml::node&, std::string&>::value_type;

std::optional<toml::table> parse_toml(std::string_view text, const std::string& source_name,
                                      ConfigErrors& errors);

}  // namespace toml_reader_detail

template <class T, class Decoder>
bool TableReader::required(std::string_view key, T& out, Decoder decode) {
  const toml::node* node = take(key);
  if (node == nullptr) {
    if (report_missing_) error(key, "required key is missing");
    return false;
  }
  T value = out;
  if (!decode_into(path_of(key), *node, value, decode)) return false;
  if constexpr (!std::is_void_v<typename toml_reader_detail::ListElement<T>::type>) {
    if (value.empty()) {
      error(key, "must list at least one entry");
      return false;
    }
  }
  out = std::move(value);
  return true;
}

template <class T, class Decoder>
bool TableReader::optional(std::string_view key, T& out, Decoder decode) {
  const toml::node* node = take(key);
  return node != nullptr && decode_into(path_of(key), *node, out, decode);
}

template <class T, class Decoder>
bool TableReader::decode_into(const std::string& path, const toml::node& node, T& out,
                              Decoder& decode) {
  using Element = typename toml_reader_detail::ListElement<T>::type;
  using Value = toml_reader_detail::Decoded<Decoder>;
  if constexpr (std::is_same_v<Element, Value>) {
    const toml::array* array = node.as_array();
    if (array == nullptr) {
      errors_->add(path, "expected an array, got " + describe_type(node));
      return false;
    }
    T values;
    for (size_t i = 0; i < array->size(); ++i) {
      std::string why;
      if (std::optional<Value> value = decode(*array->get(i), why)) {
        values.push_back(std::move(*value));
      } else {
        errors_->add(path + "[" + std::to_string(i) + "]", why);
      }
    }
    if (values.size() != array->size()) return false;
    out = std::move(values);
    return true;
  } else {
    std::string why;
    std::optional<Value> value = decode(node, why);
    if (!value) {
      errors_->add(path, why);
      return false;
    }
    out = std::move(*value);
    return true;
  }
}

template <class T>
void reject_repeats(TableReader& table, std::string_view key, const std::vector<T>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (values[i] == values[j]) {
        table.error(key, i, "repeats " + table.path_of(key) + "[" + std::to_string(j) + "]");
        break;
      }
    }
  }
}

template <class Config, class Read>
ConfigResult<Config> read_toml_config(std::string_view text, std::string source_name, Read read) {
  ConfigErrors errors(source_name);
  std::optional<Config> config;
  if (auto root = toml_reader_detail::parse_toml(text, source_name, errors)) {
    TableReader reader(&*root, "", errors);
    config = read(reader);
    reader.reject_unknown_keys();
  }
  if (!errors.empty()) return {std::nullopt, std::move(errors).take()};
  return {std::move(config), {}};
}

}  // namespace mx
