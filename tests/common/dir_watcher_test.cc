#include "common/os/dir_watcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/fake_dir_watcher.h"

namespace mailfleet {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using Kind = DirEvent::Kind;

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kChanged: return "changed";
    case Kind::kRemoved: return "removed";
    case Kind::kDirCreated: return "dir_created";
    case Kind::kDirGone: return "dir_gone";
    case Kind::kOverflow: return "overflow";
  }
  return "?";
}

// The real inotify watcher on a fresh directory under /tmp. Events are
// compared as "<kind> <dir relative to the root>[ <name>]" so that failures
// read well.
class DirWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(root_.empty());
    auto watcher = NewInotifyWatcher();
    ASSERT_TRUE(watcher.ok()) << watcher.status();
    watcher_ = std::move(*watcher);
  }
  // Before the directory goes.
  void TearDown() override { watcher_.reset(); }

  std::string Path(const std::string& rel) { return absl::StrCat(root_, "/", rel); }

  std::string MakeDir(const std::string& rel) {
    std::string path = Path(rel);
    EXPECT_EQ(mkdir(path.c_str(), 0700), 0) << path;
    return path;
  }

  std::string WatchDir(const std::string& rel) {
    std::string path = MakeDir(rel);
    absl::Status s = watcher_->Watch(path);
    EXPECT_TRUE(s.ok()) << s;
    return path;
  }

  void WriteFile(const std::string& rel) {
    std::string path = Path(rel);
    int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(write(fd, "x", 1), 1);
    close(fd);
  }

  std::string Describe(const DirEvent& e) {
    std::string dir = e.dir;
    if (dir.rfind(root_ + "/", 0) == 0) dir = dir.substr(root_.size() + 1);
    std::string text = absl::StrCat(KindName(e.kind));
    if (!dir.empty()) absl::StrAppend(&text, " ", dir);
    if (!e.name.empty()) absl::StrAppend(&text, " ", e.name);
    return text;
  }

  // Waits (10 s at most) until the events seen contain `expected`, then
  // returns them all, described.
  std::vector<std::string> WaitUntilSeen(const std::string& expected) {
    std::vector<std::string> seen;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      std::vector<DirEvent> events;
      absl::Status s = watcher_->Wait(absl::Milliseconds(100), &events);
      EXPECT_TRUE(s.ok()) << s;
      for (const auto& e : events) seen.push_back(Describe(e));
      if (std::find(seen.begin(), seen.end(), expected) != seen.end()) break;
    }
    return seen;
  }

  // Every event up to a marker written in `control` (a watched directory),
  // marker excluded: what the changes made before it caused.
  std::vector<std::string> EventsBeforeMarker(const std::string& control) {
    WriteFile(absl::StrCat(control, "/marker"));
    std::vector<std::string> seen =
        WaitUntilSeen(absl::StrCat("changed ", control, " marker"));
    std::vector<std::string> before;
    for (auto& s : seen) {
      if (s.rfind(absl::StrCat("changed ", control, " marker"), 0) == 0) break;
      before.push_back(s);
    }
    return before;
  }

  ::mailfleet::testing::TempDir dir_{"mailfleet_dir_watcher"};
  const std::string root_ = dir_.path();
  std::unique_ptr<DirWatcher> watcher_;
};

TEST_F(DirWatcherTest, CreatedAndClosedFileIsChanged) {
  WatchDir("a");
  WatchDir("ctl");
  WriteFile("a/f");
  // IN_CREATE and IN_CLOSE_WRITE: the consumer coalesces the two.
  EXPECT_THAT(EventsBeforeMarker("ctl"), ElementsAre("changed a f", "changed a f"));
}

TEST_F(DirWatcherTest, ChmodOfAnEntryIsChangedButOfTheDirectoryIsNot) {
  std::string a = MakeDir("a");
  WatchDir("ctl");
  WriteFile("a/f");
  ASSERT_TRUE(watcher_->Watch(a).ok());
  ASSERT_EQ(chmod(a.c_str(), 0750), 0);
  ASSERT_EQ(chmod(Path("a/f").c_str(), 0700), 0);
  EXPECT_THAT(EventsBeforeMarker("ctl"), ElementsAre("changed a f"));
}

TEST_F(DirWatcherTest, UtimesIsChanged) {
  std::string a = MakeDir("a");
  WatchDir("ctl");
  WriteFile("a/f");
  ASSERT_TRUE(watcher_->Watch(a).ok());
  ASSERT_EQ(utimensat(AT_FDCWD, Path("a/f").c_str(), nullptr, 0), 0);
  EXPECT_THAT(EventsBeforeMarker("ctl"), ElementsAre("changed a f"));
}

TEST_F(DirWatcherTest, RenameWithinADirectoryIsRemovedThenChanged) {
  std::string a = MakeDir("a");
  WatchDir("ctl");
  WriteFile("a/x");
  ASSERT_TRUE(watcher_->Watch(a).ok());
  ASSERT_EQ(rename(Path("a/x").c_str(), Path("a/y").c_str()), 0);
  EXPECT_THAT(EventsBeforeMarker("ctl"), ElementsAre("removed a x", "changed a y"));
}

TEST_F(DirWatcherTest, RenameAcrossWatchedDirectoriesLikePostfixQueueMoves) {
  std::string incoming = MakeDir("incoming");
  WatchDir("active");
  WatchDir("ctl");
  WriteFile("incoming/4B2F1A");
  ASSERT_TRUE(watcher_->Watch(incoming).ok());
  ASSERT_EQ(rename(Path("incoming/4B2F1A").c_str(), Path("active/4B2F1A").c_str()), 0);
  EXPECT_THAT(EventsBeforeMarker("ctl"),
              ElementsAre("removed incoming 4B2F1A", "changed active 4B2F1A"));
}

TEST_F(DirWatcherTest, UnlinkIsRemoved) {
  std::string a = MakeDir("a");
  WatchDir("ctl");
  WriteFile("a/f");
  ASSERT_TRUE(watcher_->Watch(a).ok());
  ASSERT_EQ(unlink(Path("a/f").c_str()), 0);
  EXPECT_THAT(EventsBeforeMarker("ctl"), ElementsAre("removed a f"));
}

TEST_F(DirWatcherTest, MkdirAndMoveInOfADirectoryAreDirCreated) {
  WatchDir("a");
  WatchDir("ctl");
  MakeDir("a/sub");
  MakeDir("elsewhere");
  ASSERT_EQ(rename(Path("elsewhere").c_str(), Path("a/moved").c_str()), 0);
  EXPECT_THAT(EventsBeforeMarker("ctl"),
              ElementsAre("dir_created a sub", "dir_created a moved"));
}

TEST_F(DirWatcherTest, RmdirOfAWatchedSubdirectoryIsRemovedAndDirGoneOnce) {
  MakeDir("a");
  WatchDir("a/sub");
  ASSERT_TRUE(watcher_->Watch(Path("a")).ok());
  WatchDir("ctl");
  ASSERT_EQ(watcher_->watched(), 3u);
  ASSERT_EQ(rmdir(Path("a/sub").c_str()), 0);
  EXPECT_THAT(EventsBeforeMarker("ctl"),
              UnorderedElementsAre("removed a sub", "dir_gone a/sub"));
  EXPECT_EQ(watcher_->watched(), 2u);
  // Gone means forgotten: the same path can be watched again.
  MakeDir("a/sub");
  EXPECT_TRUE(watcher_->Watch(Path("a/sub")).ok());
  EXPECT_EQ(watcher_->watched(), 3u);
}

TEST_F(DirWatcherTest, WatchedDirectoryMovedAwayIsDirGoneAndSilentAfter) {
  WatchDir("a");
  WatchDir("ctl");
  ASSERT_EQ(rename(Path("a").c_str(), Path("b").c_str()), 0);
  WriteFile("b/f");
  EXPECT_THAT(EventsBeforeMarker("ctl"), ElementsAre("dir_gone a"));
  EXPECT_EQ(watcher_->watched(), 1u);
}

TEST_F(DirWatcherTest, UnwatchedDirectoryReportsNothingNotEvenDirGone) {
  std::string a = WatchDir("a");
  WatchDir("ctl");
  // Queued before the Unwatch, read after it: dropped too.
  WriteFile("a/early");
  watcher_->Unwatch(a);
  watcher_->Unwatch(Path("never-watched"));
  EXPECT_EQ(watcher_->watched(), 1u);
  WriteFile("a/late");
  ASSERT_EQ(unlink(Path("a/late").c_str()), 0);
  ASSERT_EQ(unlink(Path("a/early").c_str()), 0);
  ASSERT_EQ(rmdir(a.c_str()), 0);
  EXPECT_THAT(EventsBeforeMarker("ctl"), IsEmpty());
}

TEST_F(DirWatcherTest, WakeFromAnotherThreadEndsAWaitInProgress) {
  WatchDir("a");
  std::thread waker([this] {
    absl::SleepFor(absl::Milliseconds(100));
    watcher_->Wake();
  });
  std::vector<DirEvent> events;
  absl::Time start = absl::Now();
  ASSERT_TRUE(watcher_->Wait(absl::Seconds(30), &events).ok());
  waker.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_THAT(events, IsEmpty());
}

TEST_F(DirWatcherTest, WakesBeforeAWaitEndOnlyTheNextOne) {
  watcher_->Wake();
  watcher_->Wake();
  std::vector<DirEvent> events;
  absl::Time start = absl::Now();
  ASSERT_TRUE(watcher_->Wait(absl::Seconds(30), &events).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  start = absl::Now();
  ASSERT_TRUE(watcher_->Wait(absl::Milliseconds(100), &events).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(95));
  EXPECT_THAT(events, IsEmpty());
}

TEST_F(DirWatcherTest, WaitWithoutEventsReturnsAfterTheTimeout) {
  WatchDir("a");
  std::vector<DirEvent> events;
  absl::Time start = absl::Now();
  ASSERT_TRUE(watcher_->Wait(absl::Milliseconds(200), &events).ok());
  absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(195));
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_THAT(events, IsEmpty());
}

TEST_F(DirWatcherTest, MissingDirectoryIsNotFound) {
  EXPECT_EQ(watcher_->Watch(Path("missing")).code(), absl::StatusCode::kNotFound);
  WriteFile("file");
  EXPECT_EQ(watcher_->Watch(Path("file/below")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(watcher_->watched(), 0u);
}

TEST_F(DirWatcherTest, SymlinkToADirectoryIsNotFollowed) {
  MakeDir("a");
  ASSERT_EQ(symlink(Path("a").c_str(), Path("link").c_str()), 0);
  absl::Status s = watcher_->Watch(Path("link"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("symlink"));
  WriteFile("file");
  EXPECT_EQ(watcher_->Watch(Path("file")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(watcher_->watched(), 0u);
}

TEST_F(DirWatcherTest, WatchingTwiceIsANoOpAndAnotherNameForItIsRefused) {
  std::string a = WatchDir("a");
  EXPECT_TRUE(watcher_->Watch(a).ok());
  EXPECT_EQ(watcher_->watched(), 1u);
  EXPECT_EQ(watcher_->Watch(Path("./a")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(watcher_->watched(), 1u);
  watcher_->Unwatch(a);
  EXPECT_EQ(watcher_->watched(), 0u);
}

TEST_F(DirWatcherTest, BurstOfFiveThousandCreationsIsAllReported) {
  constexpr int kFiles = 5000;
  WatchDir("a");
  std::set<std::string> names;
  std::atomic<bool> overflow{false};
  // Read while writing, as the agent does.
  std::thread reader([&] {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    std::vector<DirEvent> events;
    while (names.size() < kFiles && absl::Now() < deadline) {
      events.clear();
      if (!watcher_->Wait(absl::Milliseconds(100), &events).ok()) return;
      for (const auto& e : events) {
        if (e.kind == Kind::kOverflow) overflow = true;
        if (e.kind == Kind::kChanged) names.insert(e.name);
      }
    }
  });
  for (int i = 0; i < kFiles; ++i) WriteFile(absl::StrFormat("a/%05d", i));
  reader.join();
  EXPECT_FALSE(overflow);
  EXPECT_EQ(names.size(), static_cast<size_t>(kFiles));
}

TEST_F(DirWatcherTest, KernelQueueOverflowIsReportedAndWatchingGoesOn) {
  int max_queued = 0;
  std::ifstream("/proc/sys/fs/inotify/max_queued_events") >> max_queued;
  if (max_queued <= 0 || max_queued > (1 << 17)) {
    GTEST_SKIP() << "fs.inotify.max_queued_events is " << max_queued;
  }
  WatchDir("a");
  WriteFile("a/x");
  WriteFile("a/y");
  // Alternating events, which the kernel cannot merge, and nobody reading.
  const std::string x = Path("a/x"), y = Path("a/y");
  for (int i = 0; i < max_queued / 2 + 10; ++i) {
    ASSERT_EQ(chmod(x.c_str(), 0600), 0);
    ASSERT_EQ(chmod(y.c_str(), 0600), 0);
  }
  std::vector<std::string> seen = WaitUntilSeen("overflow");
  EXPECT_THAT(seen, Contains("overflow"));
  WriteFile("a/after");
  EXPECT_THAT(WaitUntilSeen("changed a after"), Contains("changed a after"));
}

TEST(FakeDirWatcherTest, WatchesFailsOnRequestAndDeliversPushedEvents) {
  testing::FakeDirWatcher fake;
  EXPECT_TRUE(fake.Watch("/q/active").ok());
  EXPECT_TRUE(fake.Watch("/q/deferred").ok());
  fake.FailWatch("/q/hold", absl::NotFoundError("no /q/hold"));
  EXPECT_EQ(fake.Watch("/q/hold").code(), absl::StatusCode::kNotFound);
  fake.Unwatch("/q/deferred");
  EXPECT_THAT(fake.dirs(), ElementsAre("/q/active"));

  std::thread pusher([&fake] {
    absl::SleepFor(absl::Milliseconds(50));
    fake.Push({Kind::kChanged, "/q/active", "4B2F1A"});
  });
  std::vector<DirEvent> events;
  ASSERT_TRUE(fake.Wait(absl::Seconds(30), &events).ok());
  pusher.join();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, "4B2F1A");

  // Delivering a kDirGone stops watching, as the real one does.
  fake.Push(std::vector<DirEvent>{{Kind::kDirGone, "/q/active", ""}});
  events.clear();
  ASSERT_TRUE(fake.Wait(absl::ZeroDuration(), &events).ok());
  EXPECT_EQ(events.size(), 1u);
  EXPECT_THAT(fake.dirs(), IsEmpty());

  fake.Wake();
  events.clear();
  ASSERT_TRUE(fake.Wait(absl::Seconds(30), &events).ok());
  EXPECT_THAT(events, IsEmpty());
  absl::Time start = absl::Now();
  ASSERT_TRUE(fake.Wait(absl::Milliseconds(50), &events).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(45));
  EXPECT_THAT(events, IsEmpty());
}

}  // namespace
}  // namespace mailfleet
