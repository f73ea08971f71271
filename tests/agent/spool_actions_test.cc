// SpoolActions, and the two Filesystem writes it is built on, on the
// in-memory fake and on a real directory alike: the same expectations hold
// for both, which also keeps the fake honest. Failures are injected with
// the fake only.
#include "agent/mpa/spool_actions.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/mpa/spool_item.h"
#include "agent/mpa/spool_reader.h"
#include "common/os/filesystem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/fake_filesystem.h"

namespace mailfleet::mpa {
namespace {

using ::mailfleet::testing::FakeFilesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Every file under a spool root by path relative to it, with its contents;
// directories as "<path>/" with empty contents.
using Tree = std::map<std::string, std::string>;

// A spool root on one of the two filesystems. Files are written behind the
// Filesystem's back, as the MPA would; they are read back through it.
class Spool {
 public:
  virtual ~Spool() = default;
  virtual Filesystem* fs() = 0;
  virtual void Write(const std::string& rel, const std::string& data) = 0;
  virtual void MakeDir(const std::string& rel) = 0;

  const std::string& root() const { return root_; }
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }

  Tree Files() {
    Tree tree;
    Walk("", &tree);
    return tree;
  }

 protected:
  std::string root_;

 private:
  void Walk(const std::string& rel, Tree* tree) {
    auto entries = fs()->ListDir(rel.empty() ? root_ : Path(rel));
    if (!entries.ok()) {
      ADD_FAILURE() << entries.status();
      return;
    }
    for (const DirEntry& e : *entries) {
      std::string child = rel.empty() ? e.name : absl::StrCat(rel, "/", e.name);
      auto info = fs()->Stat(Path(child));
      if (!info.ok()) {
        ADD_FAILURE() << info.status();
      } else if (info->type == FileInfo::Type::kDirectory) {
        (*tree)[child + "/"] = "";
        Walk(child, tree);
      } else {
        absl::Status read =
            fs()->ReadFile(Path(child), 1 << 20, &(*tree)[child]);
        if (!read.ok()) ADD_FAILURE() << read;
      }
    }
  }
};

class FakeSpool : public Spool {
 public:
  FakeSpool() {
    root_ = "/var/spool/mpa";
    fake_.AddDir(root_);
  }
  Filesystem* fs() override { return &fake_; }
  void Write(const std::string& rel, const std::string& data) override {
    fake_.AddFile(Path(rel), data);
  }
  void MakeDir(const std::string& rel) override { fake_.AddDir(Path(rel)); }
  FakeFilesystem& fake() { return fake_; }

 private:
  FakeFilesystem fake_;
};

class RealSpool : public Spool {
 public:
  RealSpool() { root_ = dir_.path(); }
  Filesystem* fs() override { return &real_; }
  void Write(const std::string& rel, const std::string& data) override {
    std::ofstream out(Path(rel), std::ios::binary);
    out << data;
    if (!out.good()) ADD_FAILURE() << "cannot write " << Path(rel);
  }
  void MakeDir(const std::string& rel) override {
    if (mkdir(Path(rel).c_str(), 0700) != 0) {
      ADD_FAILURE() << "mkdir " << Path(rel) << ": " << std::strerror(errno);
    }
  }

 private:
  ::mailfleet::testing::TempDir dir_{"mailfleet-spool-actions"};
  RealFilesystem real_;
};

enum class Backend { kFake, kReal };

std::unique_ptr<Spool> MakeSpool(Backend backend) {
  if (backend == Backend::kFake) return std::make_unique<FakeSpool>();
  return std::make_unique<RealSpool>();
}

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kFake ? "Fake" : "Real";
}

// `tree` with the file at `from` moved to `to`.
Tree Moved(Tree tree, const std::string& from, const std::string& to) {
  auto node = tree.extract(from);
  EXPECT_FALSE(node.empty()) << from;
  if (node.empty()) return tree;
  node.key() = to;
  tree.insert(std::move(node));
  return tree;
}

Tree Without(Tree tree, const std::string& path) {
  EXPECT_EQ(tree.erase(path), 1u) << path;
  return tree;
}

// A spool root with the four queues and tmp/.
class SpoolTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    spool_ = MakeSpool(GetParam());
    for (const char* dir : {"outgoing", "error", "spool", "respool", "tmp"}) {
      spool_->MakeDir(dir);
    }
  }

  // An item whose two files say which item and queue they belong to.
  void AddItem(QueueKind queue, const std::string& id, bool with_env = true) {
    const std::string dir(SpoolDirName(queue));
    SpoolEnvelope env;
    env.sender = "alice@example.com";
    env.recipients = {"bob@example.net"};
    env.received = absl::FromUnixSeconds(1764494100);
    env.error = absl::StrCat("failed in ", dir);
    if (with_env)
      spool_->Write(dir + "/" + id + ".env", FormatSpoolEnvelope(env));
    spool_->Write(
        dir + "/" + id + ".eml",
        absl::StrCat("Subject: ", id, " from ", dir, "\r\n\r\nbody\r\n"));
  }

  Filesystem* fs() { return spool_->fs(); }

  std::unique_ptr<Spool> spool_;
};

class SpoolActionsTest : public SpoolTest {
 protected:
  void SetUp() override {
    SpoolTest::SetUp();
    actions_ = std::make_unique<SpoolActions>(fs(), spool_->root());
  }

  std::unique_ptr<SpoolActions> actions_;
};

INSTANTIATE_TEST_SUITE_P(Backends, SpoolActionsTest,
                         ::testing::Values(Backend::kFake, Backend::kReal),
                         BackendName);

TEST_P(SpoolActionsTest, RespoolMovesBothFilesOfExactlyTheSelectedItem) {
  AddItem(QueueKind::kMpaError, "err-1");
  AddItem(QueueKind::kMpaError, "err-2");
  AddItem(QueueKind::kMpaError, "err-10");
  AddItem(QueueKind::kMpaSpool, "err-1");
  AddItem(QueueKind::kMpaOutgoing, "out-1");
  Tree before = spool_->Files();

  ASSERT_TRUE(actions_->Respool(QueueKind::kMpaError, "err-1").ok());

  EXPECT_EQ(spool_->Files(),
            Moved(Moved(before, "error/err-1.env", "respool/err-1.env"),
                  "error/err-1.eml", "respool/err-1.eml"));
  SpoolReader reader(fs(), spool_->root());
  auto item = reader.ReadItem(QueueKind::kMpaRespool, "err-1");
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->parse_error, "");
  EXPECT_EQ(item->recipients[0].delay_reason, "failed in error");
}

TEST_P(SpoolActionsTest, RespoolIsRefusedFromEveryOtherQueue) {
  for (QueueKind queue : kSpoolQueues) AddItem(queue, "x");
  Tree before = spool_->Files();
  for (int i = 0; i < kQueueKindCount; ++i) {
    const auto queue = static_cast<QueueKind>(i);
    if (queue == QueueKind::kMpaError) continue;
    absl::Status s = actions_->Respool(queue, "x");
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(s.message(), HasSubstr("only items in mpa-error"));
    EXPECT_THAT(s.message(),
                HasSubstr(absl::StrCat("x is in ", QueueKindName(queue))));
  }
  EXPECT_EQ(spool_->Files(), before);
}

TEST_P(SpoolActionsTest, InvalidIdsAreRefusedBeforeAnyPathIsBuilt) {
  // What each id would reach if it were joined to a path.
  AddItem(QueueKind::kMpaError, "x");
  spool_->Write("x.eml", "outside the queues");
  spool_->Write("x.env", "outside the queues");
  spool_->MakeDir("error/a");
  spool_->Write("error/a/b.eml", "in a subdirectory");
  spool_->Write("error/a/b.env", "in a subdirectory");
  Tree before = spool_->Files();
  for (const std::string& id :
       {std::string("../x"), std::string("a/b"), std::string(""),
        std::string(kMaxSpoolIdLength + 1, 'x'), std::string("x y"),
        std::string("x\0y", 3), std::string("x\n"), std::string("/x")}) {
    for (QueueKind from : {QueueKind::kMpaError, QueueKind::kMpaRespool}) {
      EXPECT_EQ(actions_->Respool(from, id).code(),
                absl::StatusCode::kInvalidArgument)
          << id;
      EXPECT_EQ(actions_->Delete(from, id).code(),
                absl::StatusCode::kInvalidArgument)
          << id;
    }
  }
  EXPECT_EQ(spool_->Files(), before);
}

TEST_P(SpoolActionsTest, RespoolNeverReplacesAnythingInRespool) {
  AddItem(QueueKind::kMpaError, "both");
  AddItem(QueueKind::kMpaRespool, "both");
  AddItem(QueueKind::kMpaError, "msg");
  AddItem(QueueKind::kMpaRespool, "msg", /*with_env=*/false);
  AddItem(QueueKind::kMpaError, "env");
  // An envelope left behind in respool, with no message.
  spool_->Write("respool/env.env", "sender: a@b\n");
  Tree before = spool_->Files();
  for (const char* id : {"both", "msg", "env"}) {
    absl::Status s = actions_->Respool(QueueKind::kMpaError, id);
    EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << id << ": " << s;
    EXPECT_THAT(s.message(), HasSubstr(id));
  }
  EXPECT_EQ(spool_->Files(), before);
}

// respool/ is the MPA's input: an item without envelope would be
// processed with no sender and no recipients. Not even an old envelope
// left in respool/ may stand in for the missing one.
TEST_P(SpoolActionsTest, RespoolRefusesAnItemWithoutEnvelope) {
  AddItem(QueueKind::kMpaError, "damaged", /*with_env=*/false);
  spool_->Write("respool/damaged.env", "sender: stale@example.com\n");
  Tree before = spool_->Files();
  absl::Status s = actions_->Respool(QueueKind::kMpaError, "damaged");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("no envelope"));
  EXPECT_EQ(spool_->Files(), before);
  // Deleting it is the way out.
  EXPECT_TRUE(actions_->Delete(QueueKind::kMpaError, "damaged").ok());
}

// lstat, not stat: a queue directory swapped for a symlink would have root
// rename and unlink files outside the spool.
TEST(SpoolActionsRealTest, QueueDirectoriesThatAreSymlinksAreNotFollowed) {
  namespace fs = std::filesystem;
  ::mailfleet::testing::TempDir dir("mailfleet-symlinked");
  ASSERT_FALSE(dir.path().empty());
  const fs::path root = dir.path();
  fs::create_directories(root / "elsewhere");
  fs::create_directories(root / "spool" / "respool");
  std::ofstream(root / "elsewhere" / "victim.eml") << "x";
  std::ofstream(root / "elsewhere" / "victim.env") << "sender: a@b\n";
  fs::create_directory_symlink(root / "elsewhere", root / "spool" / "error");
  RealFilesystem real;
  SpoolActions actions(&real, (root / "spool").string());
  absl::Status s = actions.Delete(QueueKind::kMpaError, "victim");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  s = actions.Respool(QueueKind::kMpaError, "victim");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(fs::exists(root / "elsewhere" / "victim.eml"));
  EXPECT_TRUE(fs::exists(root / "elsewhere" / "victim.env"));
  EXPECT_FALSE(fs::exists(root / "spool" / "respool" / "victim.eml"));
}

// The MPA owns its directories: the agent does not make one it lacks.
TEST_P(SpoolActionsTest, RespoolWithoutARespoolDirectoryIsRefusedAndMovesNothing) {
  auto bare = MakeSpool(GetParam());
  bare->MakeDir("error");
  bare->Write("error/e1.env", "sender: a@b\n");
  bare->Write("error/e1.eml", "Subject: x\r\n\r\n");
  Tree bare_before = bare->Files();
  SpoolActions on_bare(bare->fs(), bare->root());
  absl::Status s = on_bare.Respool(QueueKind::kMpaError, "e1");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("no respool/ directory"));
  EXPECT_EQ(bare->Files(), bare_before);
}

TEST_P(SpoolActionsTest, RespoolOfAMissingItemIsNotFoundAndMovesNothing) {
  // An envelope without its message is not an item (yet).
  spool_->Write("error/arriving.env", "sender: a@b\n");
  spool_->MakeDir("error/dir.eml");
  AddItem(QueueKind::kMpaRespool, "elsewhere");
  Tree before = spool_->Files();
  for (const char* id : {"arriving", "dir", "elsewhere", "nothing"}) {
    absl::Status s = actions_->Respool(QueueKind::kMpaError, id);
    EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << id;
    EXPECT_EQ(s.message(), absl::StrCat("no MPA item ", id, " in mpa-error"));
  }
  EXPECT_EQ(spool_->Files(), before);
}

TEST_P(SpoolActionsTest, DeleteRemovesTheItemFromErrorAndFromRespool) {
  AddItem(QueueKind::kMpaError, "x");
  AddItem(QueueKind::kMpaRespool, "x");
  AddItem(QueueKind::kMpaError, "y");
  AddItem(QueueKind::kMpaSpool, "y");
  Tree before = spool_->Files();

  ASSERT_TRUE(actions_->Delete(QueueKind::kMpaError, "x").ok());
  Tree after_error = Without(Without(before, "error/x.eml"), "error/x.env");
  EXPECT_EQ(spool_->Files(), after_error);

  ASSERT_TRUE(actions_->Delete(QueueKind::kMpaRespool, "x").ok());
  EXPECT_EQ(spool_->Files(),
            Without(Without(after_error, "respool/x.eml"), "respool/x.env"));
}

TEST_P(SpoolActionsTest, DeleteIsRefusedWhereTheMpaIsWorking) {
  for (QueueKind queue : kSpoolQueues) AddItem(queue, "x");
  Tree before = spool_->Files();
  for (QueueKind queue : {QueueKind::kMpaSpool, QueueKind::kMpaOutgoing,
                          QueueKind::kDeferred, QueueKind::kUnknown}) {
    absl::Status s = actions_->Delete(queue, "x");
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(s.message(),
                HasSubstr(absl::StrCat("x is in ", QueueKindName(queue))));
  }
  EXPECT_EQ(spool_->Files(), before);
}

TEST_P(SpoolActionsTest,
       DeleteOfAMissingItemIsNotFoundAndLeavesAnArrivingEnvelope) {
  spool_->Write("error/arriving.env", "sender: a@b\n");
  AddItem(QueueKind::kMpaError, "other");
  Tree before = spool_->Files();
  for (const char* id : {"arriving", "nothing"}) {
    absl::Status s = actions_->Delete(QueueKind::kMpaError, id);
    EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << id;
    EXPECT_EQ(s.message(), absl::StrCat("no MPA item ", id, " in mpa-error"));
  }
  EXPECT_EQ(spool_->Files(), before);
}

TEST_P(SpoolActionsTest, DeleteOfAnItemWithoutEnvelopeSucceeds) {
  AddItem(QueueKind::kMpaError, "damaged", /*with_env=*/false);
  Tree before = spool_->Files();
  ASSERT_TRUE(actions_->Delete(QueueKind::kMpaError, "damaged").ok());
  EXPECT_EQ(spool_->Files(), Without(before, "error/damaged.eml"));
}

// Each item is either respooled whole or deleted whole, whichever came
// first; never an envelope stranded by the two interleaving.
TEST_P(SpoolActionsTest, ConcurrentRespoolAndDeleteLeaveNoHalfItems) {
  constexpr int kItems = 200;
  for (int i = 0; i < kItems; ++i)
    AddItem(QueueKind::kMpaError, absl::StrCat("m", i));
  std::thread respool([&] {
    for (int i = 0; i < kItems; ++i) {
      absl::Status s =
          actions_->Respool(QueueKind::kMpaError, absl::StrCat("m", i));
      EXPECT_TRUE(s.ok() || absl::IsNotFound(s)) << s;
    }
  });
  for (int i = 0; i < kItems; ++i) {
    absl::Status s =
        actions_->Delete(QueueKind::kMpaError, absl::StrCat("m", i));
    EXPECT_TRUE(s.ok() || absl::IsNotFound(s)) << s;
  }
  respool.join();
  Tree after = spool_->Files();
  for (int i = 0; i < kItems; ++i) {
    const std::string id = absl::StrCat("m", i);
    EXPECT_FALSE(after.count("error/" + id + ".env")) << id;
    EXPECT_FALSE(after.count("error/" + id + ".eml")) << id;
    EXPECT_EQ(after.count("respool/" + id + ".env"),
              after.count("respool/" + id + ".eml"))
        << id;
  }
}

// The order of the steps, and failures between them, through the fake.
class SpoolActionsStepsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* dir : {"error", "respool"}) spool_.MakeDir(dir);
    spool_.Write("error/x.env", "sender: a@b\n");
    spool_.Write("error/x.eml", "Subject: x\r\n\r\n");
  }

  std::string Renamed(const std::string& from, const std::string& to) const {
    return absl::StrCat("rename ", spool_.Path(from), " -> ", spool_.Path(to));
  }
  std::string Linked(const std::string& from, const std::string& to) const {
    return absl::StrCat("link ", spool_.Path(from), " -> ", spool_.Path(to));
  }
  std::string Unlinked(const std::string& path) const {
    return absl::StrCat("unlink ", spool_.Path(path));
  }

  FakeSpool spool_;
  SpoolActions actions_{spool_.fs(), spool_.root()};
};

// The MPA takes an item from respool once its .eml is there: by then its
// envelope must be there too; and while the .eml is still in error, its
// envelope must be there as well.
TEST_F(SpoolActionsStepsTest, RespoolNeverLeavesTheMessageWithoutEnvelope) {
  ASSERT_TRUE(actions_.Respool(QueueKind::kMpaError, "x").ok());
  EXPECT_THAT(spool_.fake().Writes(),
              ElementsAre(Linked("error/x.env", "respool/x.env"),
                          Renamed("error/x.eml", "respool/x.eml"),
                          Unlinked("error/x.env")));
}

// Not even for a moment may an item already in respool get our envelope.
TEST_F(SpoolActionsStepsTest, RespoolLooksForAClashBeforeMovingAnything) {
  spool_.Write("respool/x.eml", "Subject: another x\r\n\r\n");
  EXPECT_EQ(actions_.Respool(QueueKind::kMpaError, "x").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(spool_.fake().Writes(), IsEmpty());
}

TEST_F(SpoolActionsStepsTest, DeleteEndsTheItemBeforeRemovingItsEnvelope) {
  ASSERT_TRUE(actions_.Delete(QueueKind::kMpaError, "x").ok());
  EXPECT_THAT(spool_.fake().Writes(),
              ElementsAre(Unlinked("error/x.eml"), Unlinked("error/x.env")));
}

TEST_F(SpoolActionsStepsTest, EnvelopeThatCannotMoveLeavesTheItemInError) {
  Tree before = spool_.Files();
  spool_.fake().FailRename(spool_.Path("error/x.env"),
                           absl::InternalError("EIO"));
  absl::Status s = actions_.Respool(QueueKind::kMpaError, "x");
  EXPECT_EQ(s, absl::InternalError("EIO"));
  EXPECT_EQ(spool_.Files(), before);
}

TEST_F(SpoolActionsStepsTest, MessageThatCannotMoveTakesItsEnvelopeBack) {
  Tree before = spool_.Files();
  spool_.fake().FailRename(spool_.Path("error/x.eml"),
                           absl::InternalError("EIO"));
  absl::Status s = actions_.Respool(QueueKind::kMpaError, "x");
  EXPECT_EQ(s, absl::InternalError("EIO"));
  EXPECT_EQ(spool_.Files(), before);
  EXPECT_THAT(spool_.fake().Writes(),
              ElementsAre(Linked("error/x.env", "respool/x.env"),
                          Unlinked("respool/x.env")));
}

TEST_F(SpoolActionsStepsTest, FailedRollbackSaysWhereBothFilesAre) {
  Tree before = spool_.Files();
  spool_.fake().FailRename(spool_.Path("error/x.eml"),
                           absl::InternalError("EIO"));
  spool_.fake().FailUnlink(spool_.Path("respool/x.env"),
                           absl::PermissionDeniedError("EROFS"));
  absl::Status s = actions_.Respool(QueueKind::kMpaError, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("EIO"));
  EXPECT_THAT(s.message(), HasSubstr("EROFS"));
  EXPECT_THAT(s.message(), HasSubstr(spool_.Path("respool/x.env")));
  EXPECT_THAT(s.message(), HasSubstr(spool_.Path("error/x.eml")));
  Tree with_copy = before;
  with_copy["respool/x.env"] = before.at("error/x.env");
  EXPECT_EQ(spool_.Files(), with_copy);
}

TEST_F(SpoolActionsStepsTest, MessageThatCannotBeUnlinkedIsNotDeleted) {
  Tree before = spool_.Files();
  spool_.fake().FailUnlink(spool_.Path("error/x.eml"),
                           absl::InternalError("EIO"));
  EXPECT_EQ(actions_.Delete(QueueKind::kMpaError, "x"),
            absl::InternalError("EIO"));
  EXPECT_EQ(spool_.Files(), before);
}

TEST_F(SpoolActionsStepsTest, EnvelopeLeftByADeleteIsReported) {
  spool_.fake().FailUnlink(spool_.Path("error/x.env"),
                           absl::InternalError("EIO"));
  absl::Status s = actions_.Delete(QueueKind::kMpaError, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("x is deleted from mpa-error"));
  EXPECT_THAT(s.message(), HasSubstr("EIO"));
  EXPECT_EQ(spool_.Files(), Tree({{"error/", ""},
                                  {"error/x.env", "sender: a@b\n"},
                                  {"respool/", ""}}));
}

// Rename and Unlink themselves, on both filesystems.
class FilesystemWritesTest : public SpoolTest {};

INSTANTIATE_TEST_SUITE_P(Backends, FilesystemWritesTest,
                         ::testing::Values(Backend::kFake, Backend::kReal),
                         BackendName);

TEST_P(FilesystemWritesTest, RenameMovesAFile) {
  spool_->Write("error/a", "A");
  Tree before = spool_->Files();
  ASSERT_TRUE(
      fs()->Rename(spool_->Path("error/a"), spool_->Path("respool/b")).ok());
  EXPECT_EQ(spool_->Files(), Moved(before, "error/a", "respool/b"));
}

TEST_P(FilesystemWritesTest, RenameNeverReplacesAFileOrADirectory) {
  spool_->Write("error/a", "A");
  spool_->Write("respool/a", "other A");
  Tree before = spool_->Files();
  for (const char* to : {"respool/a", "respool", "tmp"}) {
    absl::Status s = fs()->Rename(spool_->Path("error/a"), spool_->Path(to));
    EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << to << ": " << s;
    EXPECT_THAT(s.message(), HasSubstr(spool_->Path(to)));
  }
  EXPECT_EQ(spool_->Files(), before);
}

TEST_P(FilesystemWritesTest,
       RenameOfAMissingFileOrIntoAMissingDirectoryIsNotFound) {
  spool_->Write("error/a", "A");
  Tree before = spool_->Files();
  EXPECT_EQ(
      fs()->Rename(spool_->Path("error/b"), spool_->Path("respool/b")).code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(
      fs()->Rename(spool_->Path("error/a"), spool_->Path("gone/a")).code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(spool_->Files(), before);
}

TEST_P(FilesystemWritesTest, RenameMovesADirectoryWithItsContents) {
  spool_->MakeDir("tmp/batch");
  spool_->Write("tmp/batch/a", "A");
  Tree before = spool_->Files();
  ASSERT_TRUE(
      fs()->Rename(spool_->Path("tmp/batch"), spool_->Path("spool/batch"))
          .ok());
  EXPECT_EQ(spool_->Files(), Moved(Moved(before, "tmp/batch/", "spool/batch/"),
                                   "tmp/batch/a", "spool/batch/a"));
  EXPECT_EQ(
      fs()->Rename(spool_->Path("spool"), spool_->Path("spool/batch/spool"))
          .code(),
      absl::StatusCode::kFailedPrecondition);
}

TEST_P(FilesystemWritesTest, LinkGivesASecondNameAndNeverReplaces) {
  spool_->Write("error/a", "A");
  spool_->Write("respool/b", "B");
  Tree before = spool_->Files();
  ASSERT_TRUE(fs()->Link(spool_->Path("error/a"), spool_->Path("respool/a")).ok());
  Tree linked = before;
  linked["respool/a"] = "A";
  EXPECT_EQ(spool_->Files(), linked);
  EXPECT_EQ(fs()->Link(spool_->Path("error/a"), spool_->Path("respool/b")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(fs()->Link(spool_->Path("error/zz"), spool_->Path("respool/zz")).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(spool_->Files(), linked);
}

TEST_P(FilesystemWritesTest, UnlinkRemovesOnlyThatFile) {
  spool_->Write("error/a", "A");
  spool_->Write("error/b", "B");
  Tree before = spool_->Files();
  ASSERT_TRUE(fs()->Unlink(spool_->Path("error/a")).ok());
  EXPECT_EQ(spool_->Files(), Without(before, "error/a"));
  EXPECT_EQ(fs()->Unlink(spool_->Path("error/a")).code(),
            absl::StatusCode::kNotFound);
}

TEST_P(FilesystemWritesTest, UnlinkRefusesADirectory) {
  Tree before = spool_->Files();
  absl::Status s = fs()->Unlink(spool_->Path("tmp"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("is a directory"));
  EXPECT_EQ(spool_->Files(), before);
}

TEST(RealFilesystemTest, UnlinkRemovesASymlinkNotItsTarget) {
  RealSpool spool;
  spool.Write("target", "T");
  ASSERT_EQ(
      symlink(spool.Path("target").c_str(), spool.Path("link.eml").c_str()), 0);
  ASSERT_TRUE(spool.fs()->Unlink(spool.Path("link.eml")).ok());
  EXPECT_EQ(spool.Files(), Tree({{"target", "T"}}));
}

TEST(RealFilesystemTest, RenameAcrossFilesystemsIsRefused) {
  RealSpool spool;
  spool.Write("a", "A");
  struct stat here;
  ASSERT_EQ(stat(spool.root().c_str(), &here), 0);
  // The kernel refuses a rename between two mounts before it looks at the
  // target, so nothing is ever created there.
  std::string other;
  for (const char* dir : {"/dev/shm", "/proc", "/sys"}) {
    struct stat st;
    if (stat(dir, &st) == 0 && st.st_dev != here.st_dev) {
      other = dir;
      break;
    }
  }
  if (other.empty()) GTEST_SKIP() << "no second filesystem to rename onto";
  absl::Status s = spool.fs()->Rename(spool.Path("a"), other + "/mailfleet-a");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("different filesystems"));
  EXPECT_EQ(spool.Files(), Tree({{"a", "A"}}));
}

}  // namespace
}  // namespace mailfleet::mpa
