// `mxegress-server trail` over the SMTP fields: --provider, --banner,
// --count-by, and the human line's banner and STARTTLS words.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "trail.h"
#include "trail_filter.h"
#include "trail_query.h"
#include "trail_summary.h"

namespace mx {
namespace {

namespace fs = std::filesystem;

TrailRecord observed(const std::string& source, const std::string& provider, int banner,
                     std::optional<bool> offered, bool used) {
  TrailRecord r;
  r.time = WallTime{} + std::chrono::seconds(1795379400);
  r.tenant = "acme";
  r.via = "tunnel";
  r.peer = "198.51.100.7:40000";
  r.credential = "Zm9vYmFy";
  r.target = "192.0.2.25:25";
  r.connected = "192.0.2.25:25";
  r.source = source + ":40000";
  r.reply = 0;
  r.end = "closed";
  r.provider = provider;
  r.smtp_banner = banner;
  r.starttls_offered = offered;
  r.starttls_used = used;
  return r;
}

class TrailSmtpQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mx-trailsmtp-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    TrailRecord unobserved = observed("192.0.2.11", "", 0, std::nullopt, false);
    unobserved.smtp_banner.reset();
    unobserved.provider.reset();
    unobserved.starttls_used.reset();
    std::string text;
    for (const TrailRecord& r :
         {observed("192.0.2.10", "google", 554, std::nullopt, false),
          observed("192.0.2.10", "google", 554, std::nullopt, false),
          observed("192.0.2.11", "google", 220, true, true),
          observed("192.0.2.10", "example.net", 421, std::nullopt, false),
          observed("192.0.2.11", "example.net", 220, false, false), unobserved}) {
      text += to_json_line(r);
    }
    file_ = (dir_ / "trail.json").string();
    std::ofstream(file_) << text;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::pair<int, std::string> run(std::vector<std::string> args) {
    args.insert(args.begin(), file_);
    std::ostringstream out, err;
    const int code = run_trail_query(args, out, err);
    EXPECT_EQ(err.str(), "");
    return {code, out.str()};
  }

  fs::path dir_;
  std::string file_;
};

TEST_F(TrailSmtpQueryTest, CountBySourceAndProvider) {
  const auto [code, out] = run({"--count-by", "source,provider"});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out,
            "source provider sessions smtp banner_2xx banner_4xx banner_5xx starttls_offered "
            "starttls_used\n"
            "192.0.2.10 example.net 1 1 0 1 0 0 0\n"
            "192.0.2.10 google 2 2 0 0 2 0 0\n"
            "192.0.2.11 - 1 0 0 0 0 0 0\n"
            "192.0.2.11 example.net 1 1 1 0 0 0 0\n"
            "192.0.2.11 google 1 1 1 0 0 1 1\n");
}

TEST_F(TrailSmtpQueryTest, CountByTenantWithFilters) {
  const auto [code, out] = run({"--count-by", "tenant", "--provider", "google"});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out,
            "tenant sessions smtp banner_2xx banner_4xx banner_5xx starttls_offered "
            "starttls_used\nacme 3 3 1 0 2 1 1\n");
  EXPECT_EQ(run({"--count-by", "tenant", "--provider", "yahoo"}), std::make_pair(1, std::string()));
}

TEST_F(TrailSmtpQueryTest, BannerFilterByClassOrCode) {
  EXPECT_EQ(run({"--banner", "5xx", "--count-by", "source"}).second,
            "source sessions smtp banner_2xx banner_4xx banner_5xx starttls_offered "
            "starttls_used\n192.0.2.10 2 2 0 0 2 0 0\n");
  EXPECT_EQ(run({"--banner", "421", "--count-by", "provider"}).second,
            "provider sessions smtp banner_2xx banner_4xx banner_5xx starttls_offered "
            "starttls_used\nexample.net 1 1 0 1 0 0 0\n");
}

TEST_F(TrailSmtpQueryTest, HumanLinesSayTheBannerAndStarttls) {
  const auto [code, out] = run({"--provider", "google"});
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("provider=google banner=554 starttls=unknown\n"), std::string::npos) << out;
  EXPECT_NE(out.find("provider=google banner=220 starttls=used\n"), std::string::npos) << out;
  EXPECT_NE(run({"--provider", "example.net", "--banner", "2xx"}).second.find(
                "banner=220 starttls=not-offered\n"),
            std::string::npos);
}

TEST_F(TrailSmtpQueryTest, UsageErrors) {
  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--banner", "6xx"}, "--banner: not a reply code (554) or class (5xx): 6xx"},
           {{"--banner", "55"}, "--banner: not a reply code"},
           {{"--count-by", "source,source"}, "--count-by: not a comma-separated list"},
           {{"--count-by", "target"}, "--count-by: not a comma-separated list"},
           {{"--count-by", "tenant", "--json"}, "--json and --count-by exclude each other"},
           {{"--provider", ""}, "--provider needs a name"},
       }) {
    std::vector<std::string> full = args;
    full.insert(full.begin(), file_);
    std::ostringstream out, err;
    EXPECT_EQ(run_trail_query(full, out, err), 2) << message;
    EXPECT_NE(err.str().find(message), std::string::npos) << err.str();
  }
}

TEST(TrailBannerFilter, Parses) {
  EXPECT_EQ(parse_banner_filter("5xx")->kind, 5);
  EXPECT_EQ(parse_banner_filter("554")->code, 554);
  EXPECT_FALSE(parse_banner_filter("1xx"));
  EXPECT_FALSE(parse_banner_filter("5x4"));
  EXPECT_FALSE(parse_banner_filter("5540"));
  EXPECT_FALSE(parse_banner_filter(""));
}

}  // namespace
}  // namespace mx
