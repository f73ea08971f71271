// The scanner on a real directory tree with things a hostile local user
// could plant: a FIFO where a logfile should be, a symlinked hash
// directory, a queue file that is a FIFO.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>

#include "agent/postfix/queue_reader.h"
#include "gtest/gtest.h"
#include "tests/testing/queue_file_builder.h"

namespace mailfleet::postfix {
namespace {

using ::mailfleet::testing::QueueFileBuilder;

class HostileSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mailfleet-spool-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    for (const char* d : {"deferred", "deferred/A", "defer", "defer/A", "hold",
                          "incoming", "active", "maildrop", "corrupt"}) {
      ASSERT_EQ(mkdir((root_ + "/" + d).c_str(), 0700), 0);
    }
    Write("deferred/A/AB12CD34EF", QueueFileBuilder::Simple("a@b", {"c@d"}, {"x"}));
    config_.queue_directory = root_;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + root_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void Write(const std::string& rel, const std::string& data) {
    std::string path = root_ + "/" + rel;
    std::ofstream(path, std::ios::binary) << data;
    chmod(path.c_str(), 0700);
  }
  // Scans on another thread so that a hang fails the test, not CI.
  absl::StatusOr<ScanResult> ScanWithin(absl::Duration limit) {
    auto result = std::async(std::launch::async, [this] {
      QueueReader reader(&fs_, config_, 2);
      return reader.ScanAll();
    });
    if (result.wait_for(std::chrono::milliseconds(absl::ToInt64Milliseconds(limit))) !=
        std::future_status::ready) {
      ADD_FAILURE() << "scan hung";
      std::abort();  // the hung thread cannot be joined
    }
    return result.get();
  }

  std::string root_;
  RealFilesystem fs_;
  PostfixConfig config_;
};

TEST_F(HostileSpoolTest, FifoInPlaceOfADeferLogDoesNotHangTheScan) {
  ASSERT_EQ(mkfifo((root_ + "/defer/A/AB12CD34EF").c_str(), 0600), 0);
  auto r = ScanWithin(absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].recipients[0].delay_reason, "");
}

TEST_F(HostileSpoolTest, FifoInPlaceOfAQueueFileIsSkipped) {
  ASSERT_EQ(mkfifo((root_ + "/hold/BB12CD34EF").c_str(), 0700), 0);
  auto r = ScanWithin(absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->messages.size(), 1u);
}

TEST_F(HostileSpoolTest, SymlinkedHashDirectoryIsNotFollowed) {
  ASSERT_EQ(symlink((root_ + "/deferred").c_str(), (root_ + "/deferred/Z").c_str()), 0);
  ASSERT_EQ(symlink("/", (root_ + "/deferred/Y").c_str()), 0);
  auto r = ScanWithin(absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->messages.size(), 1u);
}

}  // namespace
}  // namespace mailfleet::postfix
