#include "agent/mpa/spool_reader.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "agent/mpa/spool_item.h"

namespace mailfleet::mpa {

absl::string_view SpoolDirName(QueueKind queue) {
  switch (queue) {
    case QueueKind::kMpaOutgoing: return "outgoing";
    case QueueKind::kMpaError: return "error";
    case QueueKind::kMpaSpool: return "spool";
    case QueueKind::kMpaRespool: return "respool";
    default: return "";
  }
}

std::string SpoolQueuePath(absl::string_view root, QueueKind queue) {
  return absl::StrCat(root, "/", SpoolDirName(queue));
}

std::string SpoolItemPath(absl::string_view root, QueueKind queue,
                          absl::string_view id, absl::string_view ext) {
  return absl::StrCat(root, "/", SpoolDirName(queue), "/", id, ext);
}

SpoolReader::SpoolReader(Filesystem* fs, std::string root)
    : fs_(fs), root_(std::move(root)) {}

std::string SpoolReader::ItemPath(QueueKind queue, absl::string_view id,
                                  absl::string_view ext) const {
  return SpoolItemPath(root_, queue, id, ext);
}

bool SpoolReader::Read(QueueKind queue, absl::string_view id, Message& m,
                       std::optional<postfix::ScanProblem>& problem) const {
  problem.reset();
  auto eml = fs_->Stat(ItemPath(queue, id, ".eml"));
  m = Message();
  m.queue_id = std::string(id);
  m.queue = queue;
  if (!eml.ok()) {
    if (absl::IsNotFound(eml.status())) return false;
    // There, but unreadable: listed, so that it does not look delivered.
    m.parse_error = std::string(eml.status().message());
    problem = postfix::ScanProblem{queue, m.queue_id, m.parse_error};
    return true;
  }
  if (eml->type != FileInfo::Type::kRegular) return false;
  m.size = eml->size;
  m.arrival_time = eml->mtime;
  std::string text;
  absl::Status read = fs_->ReadFile(ItemPath(queue, id, ".env"),
                                    kMaxEnvelopeBytes + 1, &text);
  if (absl::IsNotFound(read)) {
    // The MPA moves an item by writing its .env in the new queue, renaming
    // the .eml across, then unlinking the old .env: an item caught between
    // the last two steps is gone from here, not damaged.
    auto again = fs_->Stat(ItemPath(queue, id, ".eml"));
    if (!again.ok()) return false;
  }
  absl::StatusOr<SpoolEnvelope> env =
      read.ok() ? ParseSpoolEnvelope(text)
      : absl::IsNotFound(read)
          ? absl::StatusOr<SpoolEnvelope>(absl::DataLossError("no envelope (.env)"))
          : absl::StatusOr<SpoolEnvelope>(read);
  if (!env.ok()) {
    m.parse_error = std::string(env.status().message());
    problem = postfix::ScanProblem{queue, m.queue_id, m.parse_error};
    return true;
  }
  m.sender = std::move(env->sender);
  m.arrival_time = env->received;
  m.mpa_error = env->error;
  m.mpa_attempts = static_cast<int32_t>(
      std::min<int64_t>(env->attempts, std::numeric_limits<int32_t>::max()));
  // The MPA's error concerns the whole item: every recipient carries it,
  // so that filters and summaries on delay reasons find MPA errors too.
  for (std::string& r : env->recipients) {
    m.recipients.push_back({std::move(r), "", env->error});
  }
  return true;
}

absl::Status SpoolReader::Scan(postfix::ScanSink* sink) const {
  Message m;
  std::optional<postfix::ScanProblem> problem;
  // In the direction the MPA moves items (respool to spool, spool to
  // outgoing or error): an item moving during the scan is then seen twice
  // (and kept once), never missed.
  constexpr QueueKind kFlowOrder[] = {QueueKind::kMpaRespool, QueueKind::kMpaSpool,
                                      QueueKind::kMpaOutgoing, QueueKind::kMpaError};
  for (QueueKind queue : kFlowOrder) {
    auto entries = fs_->ListDir(SpoolQueuePath(root_, queue));
    if (!entries.ok()) {
      if (absl::IsNotFound(entries.status())) continue;
      return entries.status();
    }
    for (const DirEntry& e : *entries) {
      std::optional<absl::string_view> id = SpoolIdOfMessageFile(e.name);
      if (!id) continue;
      if (Read(queue, *id, m, problem)) sink->OnMessage(m);
      if (problem) sink->OnProblem(std::move(*problem));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Message> SpoolReader::ReadItem(QueueKind queue,
                                              absl::string_view id) const {
  Message m;
  std::optional<postfix::ScanProblem> problem;
  if (!Read(queue, id, m, problem)) {
    return absl::NotFoundError(
        absl::StrCat("no MPA item ", id, " in ", SpoolDirName(queue)));
  }
  return m;
}

absl::Status SpoolReader::ReadContent(
    QueueKind queue, absl::string_view id,
    const std::function<absl::Status(absl::string_view)>& sink) const {
  constexpr size_t kChunk = 64 << 10;
  auto file = fs_->Open(ItemPath(queue, id, ".eml"));
  if (!file.ok()) return file.status();
  std::string buf(kChunk, '\0');
  for (uint64_t offset = 0;;) {
    auto n = (*file)->ReadAt(offset, kChunk, buf.data());
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::OkStatus();
    absl::Status s = sink(absl::string_view(buf.data(), *n));
    if (!s.ok()) return s;
    offset += *n;
  }
}

absl::StatusOr<Message> SpoolReader::FindItem(
    absl::string_view id, std::optional<QueueKind> hint) const {
  if (hint) {
    auto m = ReadItem(*hint, id);
    if (!absl::IsNotFound(m.status())) return m;
  }
  for (QueueKind queue : kSpoolQueues) {
    if (queue == hint) continue;
    auto m = ReadItem(queue, id);
    if (!absl::IsNotFound(m.status())) return m;
  }
  return absl::NotFoundError(absl::StrCat("no MPA item ", id));
}

}  // namespace mailfleet::mpa
