// TrailWriter's admission rule over a fake sink: on_trail_error = "refuse"
// refuses new sessions, naming the limit "trail", while the file fails and
// not after; "continue" never does; the status /metrics shows.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "tenant_metrics.h"
#include "trail.h"

namespace mx {
namespace {

using OnError = TrailWriter::OnError;

struct Disk {
  std::vector<std::string> lines;
  int error = 0;
};

class DiskSink final : public TrailSink {
 public:
  explicit DiskSink(Disk& disk) : disk_(disk) {}
  int open(const std::filesystem::path&) override { return 0; }
  int append(std::string_view line) override {
    if (disk_.error != 0) return disk_.error;
    disk_.lines.emplace_back(line);
    return 0;
  }
  bool moved() override { return false; }

 private:
  Disk& disk_;
};

TrailRecord record(std::string end) {
  TrailRecord r;
  r.tenant = "acme";
  r.via = "tunnel";
  r.target = "mx.example.org:25";
  r.end = std::move(end);
  return r;
}

class TrailWriterAdmissionTest : public ::testing::Test {
 protected:
  TrailWriter writer_{[this] { return std::make_unique<DiskSink>(disk_); }};
  Disk disk_;
};

TEST_F(TrailWriterAdmissionTest, RefuseModeRefusesWhileTheFileFails) {
  ASSERT_EQ(writer_.open("/var/log/trail.jsonl", false, OnError::Refuse), "");
  EXPECT_EQ(writer_.refusal(), std::nullopt);
  writer_.write(record("a"));
  EXPECT_EQ(disk_.lines.size(), 1u);

  disk_.error = ENOSPC;
  writer_.write(record("b"));
  const auto refusal = writer_.refusal();
  ASSERT_TRUE(refusal);
  EXPECT_EQ(*refusal,
            "trail not writable (cannot write /var/log/trail.jsonl: No space left on device)");
  EXPECT_EQ(tenant_limit_of(*refusal), TenantLimit::Trail);
  EXPECT_EQ(tenant_limit_label(TenantLimit::Trail), "trail");
  TrailWriter::Status status = writer_.status();
  EXPECT_TRUE(status.file);
  EXPECT_FALSE(status.writable);
  EXPECT_EQ(status.backlog_lines, 1u);
  EXPECT_EQ(status.write_errors, 1u);

  writer_.check();  // still full
  EXPECT_TRUE(writer_.refusal());
  disk_.error = 0;
  writer_.check();
  EXPECT_EQ(writer_.refusal(), std::nullopt);
  ASSERT_EQ(disk_.lines.size(), 2u);
  EXPECT_NE(disk_.lines[1].find("\"end\":\"b\""), std::string::npos) << disk_.lines[1];
  status = writer_.status();
  EXPECT_TRUE(status.writable);
  EXPECT_EQ(status.backlog_lines, 0u);
}

TEST_F(TrailWriterAdmissionTest, ContinueModeNeverRefusesAndCountsWhatIsLost) {
  ASSERT_EQ(writer_.open("/var/log/trail.jsonl", false, OnError::Continue, 0), "");
  disk_.error = EIO;
  writer_.write(record("a"));
  writer_.write(record("b"));
  EXPECT_EQ(writer_.refusal(), std::nullopt);
  const TrailWriter::Status status = writer_.status();
  EXPECT_FALSE(status.writable);
  EXPECT_EQ(status.lost_lines, 2u) << "no backlog: every line is lost, and counted";
  disk_.error = 0;
  writer_.check();
  ASSERT_EQ(disk_.lines.size(), 1u);
  EXPECT_NE(disk_.lines[0].find("\"lost_lines\":2,"), std::string::npos) << disk_.lines[0];
}

TEST_F(TrailWriterAdmissionTest, AReloadToContinueStopsRefusing) {
  ASSERT_EQ(writer_.open("/var/log/trail.jsonl", false, OnError::Refuse), "");
  disk_.error = ENOSPC;
  writer_.write(record("a"));
  ASSERT_TRUE(writer_.refusal());
  ASSERT_EQ(writer_.open("/var/log/trail.jsonl", false, OnError::Continue), "");
  EXPECT_EQ(writer_.refusal(), std::nullopt);
  EXPECT_EQ(writer_.status().backlog_lines, 1u) << "the held line is kept across the reopen";
}

TEST_F(TrailWriterAdmissionTest, WithoutAFileNothingIsRefused) {
  ASSERT_EQ(writer_.open({}, true, OnError::Refuse), "");
  EXPECT_EQ(writer_.refusal(), std::nullopt);
  EXPECT_FALSE(writer_.status().file);
  EXPECT_TRUE(writer_.status().writable);
}

TEST(TrailWriterStop, TriesTheHeldLinesALastTime) {
  Disk disk;
  {
    TrailWriter writer([&] { return std::make_unique<DiskSink>(disk); });
    ASSERT_EQ(writer.open("/var/log/trail.jsonl", false), "");
    disk.error = ENOSPC;
    writer.write(record("a"));
    disk.error = 0;  // room again, before the next check
  }
  ASSERT_EQ(disk.lines.size(), 1u);
  EXPECT_NE(disk.lines[0].find("\"end\":\"a\""), std::string::npos);
}

}  // namespace
}  // namespace mx
