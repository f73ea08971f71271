#include "agent/mpa/spool_actions.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/mpa/spool_item.h"
#include "agent/mpa/spool_reader.h"
#include "common/fmt_absl.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace mailfleet::mpa {

SpoolActions::SpoolActions(Filesystem* fs, std::string root)
    : fs_(fs), root_(std::move(root)) {}

std::string SpoolActions::ItemPath(QueueKind queue, absl::string_view id,
                                   absl::string_view ext) const {
  return SpoolItemPath(root_, queue, id, ext);
}

absl::Status SpoolActions::CheckItemExists(QueueKind queue,
                                           absl::string_view id) const {
  absl::StatusOr<FileInfo> eml = fs_->Stat(ItemPath(queue, id, ".eml"));
  if (eml.ok() && eml->type == FileInfo::Type::kRegular) {
    return absl::OkStatus();
  }
  if (!eml.ok() && !absl::IsNotFound(eml.status())) return eml.status();
  return absl::NotFoundError(
      absl::StrCat("no MPA item ", id, " in ", QueueKindName(queue)));
}

absl::Status SpoolActions::CheckQueueDirectory(QueueKind queue) const {
  // lstat: a queue directory swapped for a symlink would have root rename
  // and unlink files outside the spool. And the MPA owns its directories
  // (their owners and modes): a missing one is reported, not made.
  absl::StatusOr<FileInfo> dir = fs_->Stat(SpoolQueuePath(root_, queue));
  if (!dir.ok() || dir->type != FileInfo::Type::kDirectory) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the MPA spool ", root_, " has no ", SpoolDirName(queue),
        "/ directory", dir.ok() ? " (it is not a directory)" : ""));
  }
  return absl::OkStatus();
}

absl::Status SpoolActions::Respool(QueueKind from, absl::string_view id) {
  MF_RETURN_IF_ERROR(ValidateSpoolId(id));
  if (from != QueueKind::kMpaError) {
    return absl::FailedPreconditionError(
        absl::StrCat("only items in mpa-error can be respooled; ", id,
                     " is in ", QueueKindName(from)));
  }
  constexpr QueueKind kTo = QueueKind::kMpaRespool;
  const std::string env = ItemPath(from, id, ".env");
  const std::string eml = ItemPath(from, id, ".eml");
  const std::string to_env = ItemPath(kTo, id, ".env");
  const std::string to_eml = ItemPath(kTo, id, ".eml");

  absl::MutexLock lock(&mu_);
  MF_RETURN_IF_ERROR(CheckQueueDirectory(from));
  MF_RETURN_IF_ERROR(CheckItemExists(from, id));
  MF_RETURN_IF_ERROR(CheckQueueDirectory(kTo));
  // Checked before the envelope moves: were the .eml's rename the only
  // check, an item already in respool would carry our envelope until the
  // rollback.
  absl::StatusOr<FileInfo> clash = fs_->Stat(to_eml);
  if (clash.ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("MPA item ", id, " is already in ", QueueKindName(kTo)));
  }
  if (!absl::IsNotFound(clash.status())) return clash.status();
  absl::StatusOr<FileInfo> has_env = fs_->Stat(env);
  if (absl::IsNotFound(has_env.status())) {
    // respool/ is the MPA's input: an item there without its envelope
    // would be processed with no sender and no recipients.
    return absl::FailedPreconditionError(absl::StrCat(
        "MPA item ", id, " has no envelope (.env): restore it, or delete the item"));
  }
  if (!has_env.ok()) return has_env.status();

  // The envelope is linked, not renamed: the .eml must never be without
  // it, in error/ (where a scan would report the item damaged) or in
  // respool/ (where the MPA would pick up an item without envelope).
  MF_RETURN_IF_ERROR(fs_->Link(env, to_env));
  absl::Status moved = fs_->Rename(eml, to_eml);
  if (!moved.ok()) {
    absl::Status back = fs_->Unlink(to_env);
    if (back.ok()) return moved;
    // Nothing is lost, but the operator has to clean up.
    return absl::Status(
        moved.code(),
        absl::StrCat(moved.message(), "; removing the envelope's copy failed too (",
                     back.message(), "): the item is still at ", eml,
                     ", with a stray envelope at ", to_env));
  }
  absl::Status old = fs_->Unlink(env);
  if (!old.ok() && !absl::IsNotFound(old)) {
    return absl::Status(
        old.code(),
        absl::StrCat("MPA item ", id, " is respooled, but its old envelope is left at ",
                     env, ": ", old.message()));
  }
  spdlog::info("respooled MPA item {} from {} to {}", id, QueueKindName(from),
               QueueKindName(kTo));
  return absl::OkStatus();
}

absl::Status SpoolActions::Delete(QueueKind from, absl::string_view id) {
  MF_RETURN_IF_ERROR(ValidateSpoolId(id));
  if (from != QueueKind::kMpaError && from != QueueKind::kMpaRespool) {
    return absl::FailedPreconditionError(absl::StrCat(
        "only items in mpa-error or mpa-respool can be deleted (the MPA is "
        "processing those in mpa-spool and handing those in mpa-outgoing to "
        "Postfix); ",
        id, " is in ", QueueKindName(from)));
  }
  absl::MutexLock lock(&mu_);
  MF_RETURN_IF_ERROR(CheckQueueDirectory(from));
  MF_RETURN_IF_ERROR(CheckItemExists(from, id));
  MF_RETURN_IF_ERROR(fs_->Unlink(ItemPath(from, id, ".eml")));
  absl::Status env = fs_->Unlink(ItemPath(from, id, ".env"));
  if (!env.ok() && !absl::IsNotFound(env)) {
    return absl::Status(
        env.code(),
        absl::StrCat("MPA item ", id, " is deleted from ", QueueKindName(from),
                     ", but its envelope is left: ", env.message()));
  }
  spdlog::info("deleted MPA item {} from {}", id, QueueKindName(from));
  return absl::OkStatus();
}

}  // namespace mailfleet::mpa
