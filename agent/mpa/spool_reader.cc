#include "agent/mpa/spool_reader.h"

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

SpoolReader::SpoolReader(Filesystem* fs, std::string root)
    : fs_(fs), root_(std::move(root)) {}

std::string SpoolReader::ItemPath(QueueKind queue, absl::string_view id,
                                  absl::string_view ext) const {
  return absl::StrCat(root_, "/", SpoolDirName(queue), "/", id, ext);
}

bool SpoolReader::Read(QueueKind queue, absl::string_view id, Message& m,
                       std::optional<postfix::ScanProblem>& problem) const {
  problem.reset();
  auto eml = fs_->Stat(ItemPath(queue, id, ".eml"));
  if (!eml.ok() || eml->type != FileInfo::Type::kRegular) return false;
  m = Message();
  m.queue_id = std::string(id);
  m.queue = queue;
  m.size = eml->size;
  m.arrival_time = eml->mtime;
  std::string text;
  absl::Status read = fs_->ReadFile(ItemPath(queue, id, ".env"),
                                    kMaxEnvelopeBytes + 1, &text);
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
  for (QueueKind queue : kSpoolQueues) {
    auto entries = fs_->ListDir(absl::StrCat(root_, "/", SpoolDirName(queue)));
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

}  // namespace mailfleet::mpa
