// TrailFile over a fake sink: lines written in order, held while the file
// fails, the backlog's bound and the note of lost lines, reopening.
#include "trail_file.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "json_line.h"

namespace mx {
namespace {

using std::chrono::seconds;

// 2026-11-22T20:30:00Z
const WallTime kNow = WallTime{} + seconds(1795379400);

// The file as the sink saw it: every line appended, the error the next
// appends and opens get, and whether the file was moved away.
struct FakeFile {
  std::vector<std::string> lines;
  std::vector<std::string> opened;
  int append_error = 0;
  // When set, the error for this line instead of append_error.
  std::function<int(std::string_view)> error_for;
  int open_error = 0;
  bool moved = false;
};

class FakeSink final : public TrailSink {
 public:
  explicit FakeSink(FakeFile& file) : file_(file) {}
  int open(const std::filesystem::path& path) override {
    if (file_.open_error != 0) return file_.open_error;
    file_.opened.push_back(path.string());
    file_.moved = false;
    return 0;
  }
  int append(std::string_view line) override {
    const int err = file_.error_for ? file_.error_for(line) : file_.append_error;
    if (err != 0) return err;
    file_.lines.emplace_back(line);
    return 0;
  }
  bool moved() override { return file_.moved; }

 private:
  FakeFile& file_;
};

std::string line(int n) { return "{\"n\":" + std::to_string(n) + "}\n"; }

class TrailFileTest : public ::testing::Test {
 protected:
  explicit TrailFileTest(size_t cap = TrailFile::kDefaultBacklogBytes)
      : trail_(std::make_unique<FakeSink>(file_), cap) {
    EXPECT_EQ(trail_.open("/var/log/trail.jsonl"), 0);
  }
  FakeFile file_;
  TrailFile trail_;
};

TEST_F(TrailFileTest, WritesLinesInOrderWhileWritable) {
  for (int i = 0; i < 3; ++i) {
    const auto outcome = trail_.append(line(i), kNow);
    EXPECT_EQ(outcome.error, 0);
    EXPECT_FALSE(outcome.dropped);
  }
  EXPECT_EQ(file_.lines, (std::vector<std::string>{line(0), line(1), line(2)}));
  EXPECT_TRUE(trail_.writable());
  EXPECT_EQ(trail_.backlog_lines(), 0u);
  EXPECT_EQ(trail_.retry(kNow).written, 0u) << "nothing to retry";
}

TEST_F(TrailFileTest, AFailedWriteHoldsTheLineAndLaterOnesWithoutWriting) {
  trail_.append(line(0), kNow);
  file_.append_error = ENOSPC;
  const auto failed = trail_.append(line(1), kNow);
  EXPECT_EQ(failed.error, ENOSPC);
  EXPECT_FALSE(trail_.writable());
  EXPECT_EQ(trail_.error_text(), "cannot write /var/log/trail.jsonl: No space left on device");
  // Writable again, but a held line is never overtaken: only retry() writes.
  file_.append_error = 0;
  const auto held = trail_.append(line(2), kNow);
  EXPECT_EQ(held.error, 0);
  EXPECT_EQ(file_.lines, (std::vector<std::string>{line(0)}));
  EXPECT_EQ(trail_.backlog_lines(), 2u);
  EXPECT_EQ(trail_.backlog_bytes(), line(1).size() + line(2).size());
  EXPECT_EQ(trail_.write_errors(), 1u);

  const auto retried = trail_.retry(kNow + seconds(1));
  EXPECT_TRUE(retried.recovered);
  EXPECT_EQ(retried.written, 2u);
  EXPECT_EQ(retried.lost, 0u);
  EXPECT_EQ(file_.lines, (std::vector<std::string>{line(0), line(1), line(2)}));
  EXPECT_TRUE(trail_.writable());
  EXPECT_EQ(trail_.error_text(), "");
  EXPECT_EQ(trail_.backlog_bytes(), 0u);
  trail_.append(line(3), kNow);
  EXPECT_EQ(file_.lines.back(), line(3));
}

TEST_F(TrailFileTest, ARetryThatFailsAgainKeepsEverythingAndCountsTheError) {
  file_.append_error = EIO;
  trail_.append(line(0), kNow);
  const auto retried = trail_.retry(kNow + seconds(1));
  EXPECT_EQ(retried.error, EIO);
  EXPECT_FALSE(retried.recovered);
  EXPECT_EQ(trail_.backlog_lines(), 1u);
  EXPECT_EQ(trail_.write_errors(), 2u);
  EXPECT_EQ(trail_.error_text(), "cannot write /var/log/trail.jsonl: Input/output error");
  EXPECT_TRUE(file_.lines.empty());
}

TEST_F(TrailFileTest, ARetryStoppedHalfwayKeepsTheRestInOrder) {
  file_.append_error = ENOSPC;
  for (int i = 0; i < 3; ++i) trail_.append(line(i), kNow);
  // Room for one more line only.
  file_.error_for = [&](std::string_view) { return file_.lines.empty() ? 0 : ENOSPC; };
  const auto retried = trail_.retry(kNow);
  EXPECT_EQ(retried.written, 1u);
  EXPECT_EQ(retried.error, ENOSPC);
  EXPECT_FALSE(retried.recovered);
  EXPECT_FALSE(trail_.writable());
  EXPECT_EQ(file_.lines, (std::vector<std::string>{line(0)}));
  EXPECT_EQ(trail_.backlog_lines(), 2u);
  file_.error_for = nullptr;
  file_.append_error = 0;
  EXPECT_TRUE(trail_.retry(kNow).recovered);
  EXPECT_EQ(file_.lines, (std::vector<std::string>{line(0), line(1), line(2)}));
}

class SmallBacklogTest : public TrailFileTest {
 protected:
  SmallBacklogTest() : TrailFileTest(2 * line(0).size()) {}
};

TEST_F(SmallBacklogTest, LinesBeyondTheBacklogAreCountedAndNotedOnRecovery) {
  file_.append_error = ENOSPC;
  trail_.append(line(0), kNow);
  trail_.append(line(1), kNow + seconds(1));
  const auto dropped = trail_.append(line(2), kNow + seconds(2));
  EXPECT_TRUE(dropped.dropped);
  trail_.append(line(3), kNow + seconds(3));
  EXPECT_EQ(trail_.backlog_lines(), 2u);
  EXPECT_EQ(trail_.lost_total(), 2u);

  file_.append_error = 0;
  const auto recovered = trail_.retry(kNow + seconds(4));
  EXPECT_TRUE(recovered.recovered);
  EXPECT_EQ(recovered.written, 2u);
  EXPECT_EQ(recovered.lost, 2u);
  ASSERT_EQ(file_.lines.size(), 3u);
  EXPECT_EQ(file_.lines[0], line(0));
  EXPECT_EQ(file_.lines[1], line(1));
  // The note: valid JSON, when, how many, over which span.
  std::string error;
  const auto note = parse_json_object(file_.lines[2].substr(0, file_.lines[2].size() - 1), error);
  ASSERT_TRUE(note) << error << ": " << file_.lines[2];
  auto field = [&](const std::string& name) {
    for (const auto& [key, value] : *note) {
      if (key == name) return value;
    }
    ADD_FAILURE() << "no field " << name;
    return JsonValue{};
  };
  EXPECT_EQ(field("time").string, "2026-11-22T20:30:04.000Z");
  EXPECT_EQ(field("lost_lines").integer, 2);
  EXPECT_EQ(field("lost_from").string, "2026-11-22T20:30:02.000Z");
  EXPECT_EQ(field("lost_until").string, "2026-11-22T20:30:03.000Z");
  EXPECT_EQ(trail_.lost_total(), 2u) << "the total stays for /metrics";

  // A second outage counts from zero in its note.
  file_.append_error = ENOSPC;
  for (int i = 4; i < 7; ++i) trail_.append(line(i), kNow + seconds(10));
  file_.append_error = 0;
  EXPECT_EQ(trail_.retry(kNow + seconds(11)).lost, 1u);
  EXPECT_EQ(trail_.lost_total(), 3u);
}

TEST_F(SmallBacklogTest, TheNoteIsRetriedWhenItCannotBeWritten) {
  file_.append_error = ENOSPC;
  for (int i = 0; i < 3; ++i) trail_.append(line(i), kNow);
  // The held lines go out, the note does not: still failing, note kept.
  file_.error_for = [](std::string_view l) {
    return l.find("lost_lines") != std::string_view::npos ? ENOSPC : 0;
  };
  const auto first = trail_.retry(kNow);
  EXPECT_EQ(first.written, 2u);
  EXPECT_EQ(first.error, ENOSPC);
  EXPECT_FALSE(first.recovered);
  EXPECT_FALSE(trail_.writable());
  file_.error_for = nullptr;
  file_.append_error = 0;
  const auto second = trail_.retry(kNow);
  EXPECT_TRUE(second.recovered);
  EXPECT_EQ(second.lost, 1u);
  ASSERT_EQ(file_.lines.size(), 3u);
  EXPECT_NE(file_.lines[2].find("\"lost_lines\":1,"), std::string::npos) << file_.lines[2];
}

TEST_F(TrailFileTest, RetryReopensAFileMovedAway) {
  trail_.append(line(0), kNow);
  file_.moved = true;
  const auto outcome = trail_.retry(kNow);
  EXPECT_TRUE(outcome.reopened);
  EXPECT_EQ(file_.opened,
            (std::vector<std::string>{"/var/log/trail.jsonl", "/var/log/trail.jsonl"}));
  EXPECT_FALSE(trail_.retry(kNow).reopened) << "once";
}

TEST_F(TrailFileTest, AFailedReopenHoldsLinesUntilTheFileIsBack) {
  file_.open_error = ENOENT;
  const auto outcome = trail_.reopen(kNow);
  EXPECT_EQ(outcome.error, ENOENT);
  EXPECT_FALSE(trail_.writable()) << "the old file may be gone: nothing goes there";
  trail_.append(line(0), kNow);
  EXPECT_TRUE(file_.lines.empty());
  EXPECT_EQ(trail_.retry(kNow).error, ENOENT) << "the timer tries to open it again";
  file_.open_error = 0;
  const auto back = trail_.retry(kNow);
  EXPECT_TRUE(back.reopened);
  EXPECT_TRUE(back.recovered);
  EXPECT_EQ(file_.lines, (std::vector<std::string>{line(0)}));
}

TEST_F(TrailFileTest, ReopenWritesWhatIsHeld) {
  file_.append_error = ENOSPC;
  trail_.append(line(0), kNow);
  file_.append_error = 0;
  const auto outcome = trail_.reopen(kNow);
  EXPECT_TRUE(outcome.reopened);
  EXPECT_TRUE(outcome.recovered);
  EXPECT_EQ(file_.lines, (std::vector<std::string>{line(0)}));
}

TEST_F(TrailFileTest, AFailedOpenOfAnotherPathKeepsTheFileOpenBefore) {
  file_.open_error = EACCES;
  EXPECT_EQ(trail_.open("/elsewhere/trail.jsonl"), EACCES);
  EXPECT_EQ(trail_.path(), "/var/log/trail.jsonl");
  file_.open_error = 0;
  trail_.append(line(0), kNow);
  EXPECT_EQ(file_.lines.size(), 1u);
}

TEST(TrailFileClosed, WithoutAFileNothingIsWrittenOrHeld) {
  FakeFile file;
  TrailFile trail(std::make_unique<FakeSink>(file));
  EXPECT_FALSE(trail.is_open());
  trail.append(line(0), kNow);
  EXPECT_TRUE(file.lines.empty());
  EXPECT_EQ(trail.backlog_lines(), 0u);
  EXPECT_TRUE(trail.writable());
}

}  // namespace
}  // namespace mx
