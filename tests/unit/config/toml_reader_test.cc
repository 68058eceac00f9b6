#include "mxegress/config/toml_reader.h"

#include <gtest/gtest.h>

#include "mxegress/config/decoders.h"

namespace mx {
namespace {

struct Sample {
  std::string name = "default";
  std::vector<uint16_t> ports = {25};
  std::chrono::milliseconds timeout = std::chrono::seconds(1);
  std::vector<std::string> items;
  std::vector<std::string> entry_names;
};

Sample read_sample(TableReader& root) {
  Sample sample;
  TableReader section = root.table("section");
  section.required("name", sample.name, decode::string);
  section.optional("ports", sample.ports, decode::port);
  section.optional("timeout", sample.timeout, decode::duration);
  section.optional("items", sample.items, decode::string);
  section.reject_unknown_keys();
  for (TableReader& entry : root.optional_tables("entry")) {
    std::string name;
    entry.required("name", name, decode::string);
    entry.reject_unknown_keys();
    sample.entry_names.push_back(name);
  }
  return sample;
}

ConfigResult<Sample> read(std::string_view text) {
  return read_toml_config<Sample>(text, "sample.toml", read_sample);
}

std::vector<std::string> errors(std::string_view text) {
  auto result = read(text);
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.config);
  return result.errors;
}

using Errors = std::vector<std::string>;

TEST(TableReader, ReadsKnownKeysAndKeepsDefaults) {
  auto result = read(R"(
[section]
name = "x"
ports = [25, 587]
[[entry]]
name = "a"
[[entry]]
name = "b"
)");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_TRUE(result.errors.empty());
  EXPECT_EQ(result.config->name, "x");
  EXPECT_EQ(result.config->ports, (std::vector<uint16_t>{25, 587}));
  EXPECT_EQ(result.config->timeout, std::chrono::seconds(1));
  EXPECT_EQ(result.config->entry_names, (std::vector<std::string>{"a", "b"}));
}

TEST(TableReader, ReportsUnknownKeysWithTheirPath) {
  EXPECT_EQ(errors(R"(
top = 1
[section]
name = "x"
nmae = "y"
"odd key" = 1
[section.deeper]
[[entry]]
name = "a"
extra = true
)"),
            (Errors{
                R"(sample.toml: section.nmae: unknown key (did you mean "name"?))",
                R"(sample.toml: section."odd key": unknown key)",
                R"(sample.toml: section.deeper: unknown key)",
                R"(sample.toml: entry[0].extra: unknown key)",
                R"(sample.toml: top: unknown key)",
            }));
}

TEST(TableReader, ReportsMissingRequiredKeysOfAbsentSections) {
  EXPECT_EQ(errors(""), (Errors{"sample.toml: section.name: required key is missing"}));
}

TEST(TableReader, ReportsWrongTypes) {
  EXPECT_EQ(errors(R"(
[section]
name = 1
ports = 25
timeout = true
items = "a"
)"),
            (Errors{
                "sample.toml: section.name: expected a string, got an integer",
                "sample.toml: section.ports: expected an array, got an integer",
                R"(sample.toml: section.timeout: expected a string, got a boolean)",
                "sample.toml: section.items: expected an array, got a string",
            }));
}

TEST(TableReader, ReportsEveryBadListElement) {
  EXPECT_EQ(errors(R"(
[section]
name = "x"
ports = [0, 25, "587", 70000, 1.5]
)"),
            (Errors{
                "sample.toml: section.ports[0]: expected a port number 1..65535, got 0",
                "sample.toml: section.ports[2]: expected an integer port number, got a string",
                "sample.toml: section.ports[3]: expected a port number 1..65535, got 70000",
                "sample.toml: section.ports[4]: expected an integer port number, got a float",
            }));
}

TEST(TableReader, SectionOfWrongTypeIsReportedOnce) {
  EXPECT_EQ(errors(R"(section = "x")"),
            (Errors{"sample.toml: section: expected a table, got a string"}));
}

TEST(TableReader, ArrayOfTablesMustBeOne) {
  EXPECT_EQ(errors(R"(
entry = "x"
[section]
name = "x"
)"),
            (Errors{"sample.toml: entry: expected an array of tables ([[entry]]), got a string"}));
  EXPECT_EQ(errors(R"(
[section]
name = "x"
[entry]
name = "a"
)"),
            (Errors{"sample.toml: entry: expected an array of tables ([[entry]]), got a table"}));
  EXPECT_EQ(errors(R"(
entry = [{name = "a"}, 5]
[section]
name = "x"
)"),
            (Errors{"sample.toml: entry[1]: expected a table, got an integer"}));
}

TEST(TableReader, RequiredTablesWantAtLeastOne) {
  ConfigErrors sink("t.toml");
  toml::table empty_entries{{"entry", toml::array{}}};
  TableReader root(&empty_entries, "", sink);
  EXPECT_TRUE(root.required_tables("entry").empty());
  EXPECT_TRUE(root.required_tables("missing").empty());
  EXPECT_EQ(sink.lines(), (Errors{
                              "t.toml: entry: at least one [[entry]] section is required",
                              "t.toml: missing: at least one [[missing]] section is required",
                          }));
}

TEST(TableReader, RequiredListMustNotBeEmpty) {
  ConfigErrors sink("t.toml");
  toml::table table{{"ports", toml::array{}}};
  TableReader reader(&table, "s", sink);
  std::vector<uint16_t> ports = {25};
  EXPECT_FALSE(reader.required("ports", ports, decode::port));
  EXPECT_EQ(ports, (std::vector<uint16_t>{25}));
  EXPECT_EQ(sink.lines(), (Errors{"t.toml: s.ports: must list at least one entry"}));
}

TEST(TableReader, FailedReadLeavesTheValueAlone) {
  ConfigErrors sink("t.toml");
  toml::table table{{"ports", toml::array{25, 0}}, {"name", 5}};
  TableReader reader(&table, "", sink);
  std::vector<uint16_t> ports = {1};
  std::string name = "kept";
  EXPECT_FALSE(reader.optional("ports", ports, decode::port));
  EXPECT_FALSE(reader.optional("name", name, decode::string));
  EXPECT_FALSE(reader.optional("absent", name, decode::string));
  EXPECT_EQ(ports, (std::vector<uint16_t>{1}));
  EXPECT_EQ(name, "kept");
  EXPECT_EQ(sink.lines().size(), 2u);
}

TEST(TableReader, ErrorsAboutTheTableOrAnElement) {
  ConfigErrors sink("t.toml");
  toml::table table;
  TableReader reader(&table, "server[1]", sink);
  reader.error("whole table");
  reader.error("key", "one key");
  reader.error("list", 3, "one element");
  EXPECT_EQ(sink.lines(), (Errors{
                              "t.toml: server[1]: whole table",
                              "t.toml: server[1].key: one key",
                              "t.toml: server[1].list[3]: one element",
                          }));
}

TEST(TableReader, RejectRepeatsNamesTheEarlierElement) {
  ConfigErrors sink("t.toml");
  toml::table table;
  TableReader reader(&table, "s", sink);
  reject_repeats(reader, "l", std::vector<int>{1, 2, 1, 2, 1});
  EXPECT_EQ(sink.lines(), (Errors{
                              "t.toml: s.l[2]: repeats s.l[0]",
                              "t.toml: s.l[3]: repeats s.l[1]",
                              "t.toml: s.l[4]: repeats s.l[0]",
                          }));
}

TEST(TomlSyntax, ReportsLineAndColumn) {
  const Errors found = errors("[section]\nname = \"x\"\nbroken =\n");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].starts_with("sample.toml:3:")) << found[0];
}

TEST(TomlSyntax, RejectsDuplicateKeys) {
  const Errors found = errors("[section]\nname = \"x\"\nname = \"y\"\n");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].starts_with("sample.toml:3:")) << found[0];
}

TEST(TomlSyntax, RefusesLinesWithTooManyDots) {
  std::string deep = "x = 1\n";
  for (int i = 0; i < 100'000; ++i) deep += "a.";
  deep += "a = 1\n";
  EXPECT_EQ(errors(deep),
            (Errors{"sample.toml:2:1: more than 512 dots on one line; split long lists over "
                    "several lines"}));
}

TEST(TomlSyntax, DottedKeysCannotSpanLines) {
  std::string split;
  for (int i = 0; i < 1000; ++i) split += "a.\n";
  split += "a = 1\n";
  const Errors found = errors(split);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].starts_with("sample.toml:1:")) << found[0];
}

TEST(TomlSyntax, AcceptsLongLinesOfValues) {
  std::string items;
  for (int i = 0; i < 128; ++i) items += "\"1.2.3." + std::to_string(i) + "\", ";
  auto result = read("[section]\nname = \"x\"\nitems = [" + items + "]\n");
  ASSERT_TRUE(result.ok()) << result.errors[0];
  EXPECT_EQ(result.config->items.size(), 128u);
}

TEST(Quote, EscapesAndShortens) {
  EXPECT_EQ(quote("plain"), R"("plain")");
  EXPECT_EQ(quote("a\"b\\c\n\x7f"), R"("a\"b\\c\x0a\x7f")");
  EXPECT_EQ(quote(std::string(150, 'a')), "\"" + std::string(100, 'a') + "\"... (150 bytes)");
}

}  // namespace
}  // namespace mx
