#include "agent/postfix/queue_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/postfix/address_format.h"
#include "agent/postfix/defer_log.h"
#include "agent/postfix/queue_file.h"
#include "common/fmt_absl.h"
#include "common/queue_id.h"
#include "spdlog/spdlog.h"

namespace mailfleet::postfix {
namespace {

// Owner bits of a queue file that Postfix has finished writing; 0600 means
// it is still being written.
constexpr mode_t kReadyMode = 0700;
// Biggest defer logfile read: one entry per recipient, a few hundred bytes
// each.
constexpr size_t kMaxDeferLogBytes = 16 << 20;

}  // namespace

QueueReader::QueueReader(Filesystem* fs, PostfixConfig config, int threads)
    : fs_(fs), config_(std::move(config)), threads_(threads) {
  if (threads_ <= 0) {
    threads_ = std::max(1u, std::thread::hardware_concurrency());
  }
}

std::string QueueReader::MessagePath(QueueKind queue,
                                     absl::string_view id) const {
  absl::string_view name = QueueKindName(queue);
  std::string path = absl::StrCat(config_.queue_directory, "/", name, "/");
  if (config_.IsHashed(name)) {
    path += PostfixHashPath(id, config_.hash_queue_depth);
  }
  path.append(id.data(), id.size());
  return path;
}

void QueueReader::ListTree(QueueKind queue, const std::string& dir,
                           bool hashed, std::vector<FileRef>& out) const {
  auto entries = fs_->ListDir(dir);
  if (!entries.ok()) {
    if (!absl::IsNotFound(entries.status())) {
      spdlog::warn("cannot list {}: {}", dir, entries.status());
    }
    return;
  }
  for (DirEntry& e : *entries) {
    // Postfix recognises hash subdirectories by their one-character names,
    // without a stat per entry.
    if (hashed && e.name.size() == 1) {
      ListTree(queue, absl::StrCat(dir, "/", e.name), hashed, out);
      continue;
    }
    if (!IsPostfixQueueFileName(e.name)) continue;  // temp files, "x.pid"
    if (e.type_known && e.type != FileInfo::Type::kRegular) continue;
    std::string path = absl::StrCat(dir, "/", e.name);
    out.push_back({queue, std::move(path), std::move(e.name)});
  }
}

absl::Status QueueReader::ListQueue(QueueKind queue,
                                    std::vector<FileRef>& out) const {
  absl::string_view name = QueueKindName(queue);
  // maildrop is always flat; others are hashed when configured so, but a
  // queue hashed in the past may still hold subdirectories: Postfix looks
  // into one-character names in every queue it scans recursively.
  bool recurse = queue != QueueKind::kMaildrop;
  ListTree(queue, absl::StrCat(config_.queue_directory, "/", name), recurse,
           out);
  return absl::OkStatus();
}

void QueueReader::AddDelayReasons(const std::string& id, Message& m,
                                  std::vector<std::string>& seen) const {
  std::string path = absl::StrCat(config_.queue_directory, "/defer/");
  if (config_.IsHashed("defer")) {
    path += PostfixHashPath(id, config_.hash_queue_depth);
  }
  path += id;
  auto text = fs_->ReadFile(path, kMaxDeferLogBytes);
  if (!text.ok()) return;  // no logfile: never tried, or not deferred
  for (DeferEntry& e : ParseDeferLog(*text, config_.utf8)) {
    if (config_.duplicate_filter_limit == 0 ||
        static_cast<int>(seen.size()) < config_.duplicate_filter_limit) {
      if (std::find(seen.begin(), seen.end(), e.address) == seen.end()) {
        seen.push_back(e.address);
      }
    }
    m.recipients.push_back({std::move(e.address), std::move(e.orig_address),
                            std::move(e.reason)});
  }
}

QueueReader::FileOutcome QueueReader::ReadFile(QueueKind queue,
                                               const std::string& path,
                                               const std::string& id) const {
  FileOutcome outcome;
  auto problem = [&](std::string reason) {
    outcome.problem = ScanProblem{queue, id, std::move(reason)};
  };
  auto file = fs_->Open(path);
  if (!file.ok()) {
    // A message that moved on between listing and opening is not a problem.
    if (!absl::IsNotFound(file.status())) problem(std::string(file.status().message()));
    return outcome;
  }
  auto info = (*file)->Stat();
  if (!info.ok()) {
    problem(std::string(info.status().message()));
    return outcome;
  }
  if (info->type != FileInfo::Type::kRegular) {
    problem("not a regular file");
    return outcome;
  }
  // The corrupt queue holds whatever Postfix gave up on, in any mode.
  if (queue != QueueKind::kCorrupt && (info->mode & S_IRWXU) != kReadyMode) {
    return outcome;  // still being written
  }
  auto env = ReadEnvelope(**file, info->size);
  if (!env.ok()) {
    problem(std::string(env.status().message()));
    return outcome;
  }
  if (!env->error.empty()) problem(env->error);
  if (!env->sender_seen) {
    if (!outcome.problem) problem("no sender record");
    if (queue != QueueKind::kCorrupt) return outcome;
  }
  Message m;
  m.queue_id = id;
  m.queue = queue;
  m.arrival_time = env->arrival_seconds > 0
                       ? absl::FromUnixSeconds(env->arrival_seconds) +
                             absl::Microseconds(env->arrival_micros)
                       : info->mtime;
  if (queue == QueueKind::kDeferred) m.next_attempt_time = info->mtime;
  m.size = env->size_ok ? env->content_size : info->size;
  m.forced_expire = (info->mode & S_IXGRP) != 0;
  m.client_address = std::move(env->client_address);
  m.parse_error = std::move(env->error);
  m.sender = QuoteLocalPart(env->sender.empty() ? config_.empty_address_recipient
                                                : env->sender);
  MakePrintable(m.sender, config_.utf8);
  // As showq: the recipients of the defer logfile first, with their
  // reasons, then those of the queue file that the logfile did not name.
  std::vector<std::string> seen;
  if (env->sender_seen) AddDelayReasons(id, m, seen);
  for (EnvelopeRecipient& r : env->recipients) {
    std::string address = QuoteLocalPart(
        r.address.empty() ? config_.empty_address_recipient : r.address);
    MakePrintable(address, config_.utf8);
    if (std::find(seen.begin(), seen.end(), address) != seen.end()) continue;
    std::string orig;
    if (!r.orig_address.empty() && r.orig_address != r.address) {
      orig = QuoteLocalPart(r.orig_address);
      MakePrintable(orig, config_.utf8);
    }
    m.recipients.push_back({std::move(address), std::move(orig), ""});
  }
  outcome.message = std::move(m);
  return outcome;
}

absl::StatusOr<ScanResult> QueueReader::ScanAll() const {
  ScanResult result;
  result.started = absl::Now();
  auto top = fs_->Stat(config_.queue_directory);
  if (!top.ok()) return top.status();
  if (top->type != FileInfo::Type::kDirectory) {
    return absl::FailedPreconditionError(
        absl::StrCat(config_.queue_directory, " is not a directory"));
  }
  std::vector<FileRef> files;
  for (QueueKind q : kPostfixQueues) {
    absl::Status s = ListQueue(q, files);
    if (!s.ok()) return s;
  }

  // Files are handed out in batches so that both cores stay busy whatever
  // the mix of small and large envelopes.
  constexpr size_t kBatch = 256;
  std::atomic<size_t> next{0};
  const int nthreads = static_cast<int>(
      std::min<size_t>(threads_, std::max<size_t>(1, files.size() / kBatch)));
  std::vector<ScanResult> partial(nthreads);
  auto work = [&](ScanResult& out) {
    for (;;) {
      size_t begin = next.fetch_add(kBatch);
      if (begin >= files.size()) break;
      size_t end = std::min(files.size(), begin + kBatch);
      for (size_t i = begin; i < end; ++i) {
        FileOutcome o = ReadFile(files[i].queue, files[i].path, files[i].id);
        if (o.message) out.messages.push_back(std::move(*o.message));
        if (o.problem) out.problems.push_back(std::move(*o.problem));
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < nthreads; ++t) pool.emplace_back(work, std::ref(partial[t]));
  work(partial[0]);
  for (auto& th : pool) th.join();

  size_t total = 0;
  for (auto& p : partial) total += p.messages.size();
  result.messages.reserve(total);
  for (auto& p : partial) {
    std::move(p.messages.begin(), p.messages.end(),
              std::back_inserter(result.messages));
    std::move(p.problems.begin(), p.problems.end(),
              std::back_inserter(result.problems));
  }
  result.duration = absl::Now() - result.started;
  return result;
}

absl::StatusOr<Message> QueueReader::ReadMessage(
    absl::string_view id, std::optional<QueueKind> queue) const {
  std::string sid(id);
  auto try_queue = [&](QueueKind q) -> std::optional<absl::StatusOr<Message>> {
    FileOutcome o = ReadFile(q, MessagePath(q, id), sid);
    if (o.message) return absl::StatusOr<Message>(std::move(*o.message));
    if (o.problem) {
      return absl::StatusOr<Message>(absl::DataLossError(absl::StrCat(
          "queue file ", sid, " in ", QueueKindName(q),
          " cannot be read: ", o.problem->reason)));
    }
    return std::nullopt;
  };
  if (queue) {
    if (auto r = try_queue(*queue)) return *std::move(r);
  }
  // It moved (or the caller did not know where it was): look everywhere,
  // twice, since a message can move past us while we look.
  for (int pass = 0; pass < 2; ++pass) {
    for (QueueKind q : kPostfixQueues) {
      if (auto r = try_queue(q)) return *std::move(r);
    }
  }
  return absl::NotFoundError(absl::StrCat("no message ", sid, " in the queue"));
}

absl::Status QueueReader::ReadMessageContent(
    absl::string_view id, QueueKind queue,
    const std::function<absl::Status(absl::string_view)>& sink) const {
  std::string path = MessagePath(queue, id);
  auto file = fs_->Open(path);
  if (!file.ok()) return file.status();
  auto info = (*file)->Stat();
  if (!info.ok()) return info.status();
  return ReadContent(**file, info->size, sink);
}

}  // namespace mailfleet::postfix
