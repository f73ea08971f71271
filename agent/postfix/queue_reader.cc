#include "agent/postfix/queue_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/postfix/address_format.h"
#include "agent/postfix/defer_log.h"
#include "agent/postfix/queue_file.h"
#include "common/fmt_absl.h"
#include "common/queue_id.h"
#include "common/status_macros.h"
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

bool IsHashSubdirectory(Filesystem& fs, const std::string& dir,
                        const DirEntry& entry, int level) {
  if (entry.name.size() != 1 || level >= kMaxHashLevels) return false;
  if (entry.type_known) return entry.type == FileInfo::Type::kDirectory;
  auto info = fs.Stat(absl::StrCat(dir, "/", entry.name));
  return info.ok() && info->type == FileInfo::Type::kDirectory;
}

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

absl::Status QueueReader::ListTree(QueueKind queue, const std::string& path,
                                   bool hashed, int level, DirList& dirs,
                                   std::vector<FileRef>& out) const {
  auto dir = fs_->OpenDirectory(path);
  if (!dir.ok()) {
    return absl::IsNotFound(dir.status()) ? absl::OkStatus() : dir.status();
  }
  auto entries = fs_->ListDir(path);
  if (!entries.ok()) {
    return absl::IsNotFound(entries.status()) ? absl::OkStatus()
                                              : entries.status();
  }
  dirs.push_back(*std::move(dir));
  Directory* handle = dirs.back().get();
  for (DirEntry& e : *entries) {
    if (hashed && IsHashSubdirectory(*fs_, path, e, level)) {
      MF_RETURN_IF_ERROR(ListTree(queue, absl::StrCat(path, "/", e.name),
                                  hashed, level + 1, dirs, out));
      continue;
    }
    if (!IsPostfixQueueFileName(e.name)) continue;  // temp files, "x.pid"
    if (e.type_known && e.type != FileInfo::Type::kRegular) continue;
    out.push_back({queue, handle, std::move(e.name)});
  }
  return absl::OkStatus();
}

absl::Status QueueReader::OpenDeferDirs(const std::string& path,
                                        const std::string& hash, int level,
                                        DeferDirs& out) const {
  if (level == (config_.IsHashed("defer") ? config_.hash_queue_depth : 0)) {
    auto dir = fs_->OpenDirectory(path);
    if (dir.ok()) {
      out[hash] = *std::move(dir);
      return absl::OkStatus();
    }
    return absl::IsNotFound(dir.status()) ? absl::OkStatus() : dir.status();
  }
  auto entries = fs_->ListDir(path);
  if (!entries.ok()) {
    return absl::IsNotFound(entries.status()) ? absl::OkStatus()
                                              : entries.status();
  }
  for (const DirEntry& e : *entries) {
    if (e.name.size() != 1) continue;
    MF_RETURN_IF_ERROR(OpenDeferDirs(absl::StrCat(path, "/", e.name),
                                     absl::StrCat(hash, e.name, "/"), level + 1,
                                     out));
  }
  return absl::OkStatus();
}

Directory* QueueReader::DeferDir(const std::string& hash, Scratch& scratch) const {
  if (scratch.defer_dirs != nullptr) {
    auto it = scratch.defer_dirs->find(hash);
    return it == scratch.defer_dirs->end() ? nullptr : it->second.get();
  }
  auto [it, inserted] = scratch.own_defer_dirs.try_emplace(hash);
  if (inserted) {
    std::string path = absl::StrCat(config_.queue_directory, "/defer/", hash);
    path.pop_back();  // "defer/" or "defer/A/": no trailing slash
    auto dir = fs_->OpenDirectory(path);
    if (dir.ok()) it->second = *std::move(dir);
  }
  return it->second.get();
}

void QueueReader::AddDelayReasons(absl::string_view id, Scratch& scratch,
                                  Message& m) const {
  std::string hash;
  if (config_.IsHashed("defer")) hash = PostfixHashPath(id, config_.hash_queue_depth);
  Directory* dir = DeferDir(hash, scratch);
  if (dir == nullptr) return;  // no defer/ (sub)directory yet
  if (!dir->ReadFile(id, kMaxDeferLogBytes, &scratch.defer_log).ok()) {
    return;  // no logfile: never tried, or not deferred
  }
  for (DeferEntry& e : ParseDeferLog(scratch.defer_log, config_.utf8)) {
    if (config_.duplicate_filter_limit == 0 ||
        static_cast<int>(scratch.seen.size()) < config_.duplicate_filter_limit) {
      scratch.seen.insert(e.address);
    }
    m.recipients.push_back({std::move(e.address), std::move(e.orig_address),
                            std::move(e.reason)});
  }
}

bool QueueReader::ReadQueueFile(QueueKind queue, Directory& dir,
                                absl::string_view id, Scratch& scratch,
                                Message& m,
                                std::optional<ScanProblem>& problem) const {
  problem.reset();
  auto report = [&](std::string reason) {
    problem = ScanProblem{queue, std::string(id), std::move(reason)};
  };
  auto file = dir.Open(id);
  if (!file.ok()) {
    // A message that moved on between listing and opening is not a problem.
    if (!absl::IsNotFound(file.status())) {
      report(std::string(file.status().message()));
    }
    return false;
  }
  auto info = (*file)->Stat();
  if (!info.ok()) {
    report(std::string(info.status().message()));
    return false;
  }
  if (info->type != FileInfo::Type::kRegular) {
    report("not a regular file");
    return false;
  }
  // The corrupt queue holds whatever Postfix gave up on, in any mode.
  if (queue != QueueKind::kCorrupt && (info->mode & S_IRWXU) != kReadyMode) {
    return false;  // still being written
  }
  auto env = ReadEnvelope(**file, info->size);
  if (!env.ok()) {
    report(std::string(env.status().message()));
    return false;
  }
  if (!env->error.empty()) report(env->error);
  if (!env->sender_seen) {
    if (!problem) report("no sender record");
    if (queue != QueueKind::kCorrupt) return false;
  }
  m.queue_id.assign(id.data(), id.size());
  m.queue = queue;
  m.arrival_time = env->arrival_seconds > 0
                       ? absl::FromUnixSeconds(env->arrival_seconds) +
                             absl::Microseconds(env->arrival_micros)
                       : info->mtime;
  m.next_attempt_time =
      queue == QueueKind::kDeferred ? info->mtime : absl::InfinitePast();
  m.size = env->size_ok ? env->content_size : info->size;
  m.forced_expire = (info->mode & S_IXGRP) != 0;
  m.client_address = std::move(env->client_address);
  m.parse_error = std::move(env->error);
  QuoteLocalPartInto(
      env->sender.empty() ? config_.empty_address_recipient : env->sender,
      &m.sender);
  MakePrintable(m.sender, config_.utf8);
  // As showq: the recipients of the defer logfile first, with their
  // reasons, then those of the queue file that the logfile did not name.
  // `m` is reused from file to file: its recipients' strings keep their
  // buffers.
  m.recipients.clear();
  scratch.seen.clear();
  if (env->sender_seen) AddDelayReasons(id, scratch, m);
  for (EnvelopeRecipient& r : env->recipients) {
    QuoteLocalPartInto(r.address.empty() ? config_.empty_address_recipient : r.address,
                       &scratch.address);
    MakePrintable(scratch.address, config_.utf8);
    if (scratch.seen.contains(scratch.address)) continue;
    Recipient& out = m.recipients.emplace_back();
    out.address.swap(scratch.address);
    if (!r.orig_address.empty() && r.orig_address != r.address) {
      QuoteLocalPartInto(r.orig_address, &out.orig_address);
      MakePrintable(out.orig_address, config_.utf8);
    }
  }
  return true;
}

absl::StatusOr<ScanStats> QueueReader::Scan(
    const std::vector<ScanSink*>& sinks) const {
  ScanStats stats;
  stats.started = absl::Now();
  auto top = fs_->Stat(config_.queue_directory);
  if (!top.ok()) return top.status();
  if (top->type != FileInfo::Type::kDirectory) {
    return absl::FailedPreconditionError(
        absl::StrCat(config_.queue_directory, " is not a directory"));
  }
  // A queue that cannot be listed fails the scan: publishing the others
  // alone would make its messages look gone.
  std::vector<FileRef> files;
  DirList dirs;
  for (QueueKind q : kPostfixQueues) {
    MF_RETURN_IF_ERROR(
        ListTree(q, absl::StrCat(config_.queue_directory, "/", QueueKindName(q)),
                 q != QueueKind::kMaildrop, 0, dirs, files));
  }
  DeferDirs defer_dirs;
  MF_RETURN_IF_ERROR(OpenDeferDirs(
      absl::StrCat(config_.queue_directory, "/defer"), "", 0, defer_dirs));
  stats.files = files.size();

  // Files are handed out in batches so that every thread stays busy
  // whatever the mix of small and large envelopes.
  constexpr size_t kBatch = 256;
  std::atomic<size_t> next{0};
  auto work = [&](ScanSink* sink) {
    Scratch scratch;
    scratch.defer_dirs = &defer_dirs;
    Message m;
    std::optional<ScanProblem> problem;
    for (;;) {
      size_t begin = next.fetch_add(kBatch);
      if (begin >= files.size()) break;
      size_t end = std::min(files.size(), begin + kBatch);
      for (size_t i = begin; i < end; ++i) {
        const FileRef& f = files[i];
        if (ReadQueueFile(f.queue, *f.dir, f.id, scratch, m, problem)) {
          sink->OnMessage(m);
        }
        if (problem) sink->OnProblem(std::move(*problem));
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < sinks.size(); ++t) pool.emplace_back(work, sinks[t]);
  if (!sinks.empty()) work(sinks[0]);
  for (auto& th : pool) th.join();
  stats.duration = absl::Now() - stats.started;
  return stats;
}

absl::StatusOr<ScanResult> QueueReader::ScanAll() const {
  class Collector : public ScanSink {
   public:
    explicit Collector(ScanResult& r) : r_(r) {}
    void OnMessage(const Message& m) override {
      absl::MutexLock lock(&mu_);
      r_.messages.push_back(m);
    }
    void OnProblem(ScanProblem p) override {
      absl::MutexLock lock(&mu_);
      r_.problems.push_back(std::move(p));
    }

   private:
    absl::Mutex mu_;
    ScanResult& r_;
  };
  ScanResult result;
  Collector collector(result);
  std::vector<ScanSink*> sinks(threads_, &collector);
  auto stats = Scan(sinks);
  if (!stats.ok()) return stats.status();
  result.started = stats->started;
  result.duration = stats->duration;
  return result;
}

absl::StatusOr<Message> QueueReader::ReadMessage(
    absl::string_view id, std::optional<QueueKind> queue) const {
  std::string sid(id);
  Scratch scratch;
  auto try_queue = [&](QueueKind q) -> std::optional<absl::StatusOr<Message>> {
    Message m;
    std::optional<ScanProblem> problem;
    std::string path = MessagePath(q, id);
    auto dir = fs_->OpenDirectory(path.substr(0, path.rfind('/')));
    if (!dir.ok()) return std::nullopt;
    // A file read in part is returned with its parse_error set, as the
    // listing shows it.
    if (ReadQueueFile(q, **dir, id, scratch, m, problem)) {
      return absl::StatusOr<Message>(std::move(m));
    }
    if (problem) {
      return absl::StatusOr<Message>(absl::DataLossError(absl::StrCat(
          "queue file ", sid, " in ", QueueKindName(q),
          " cannot be read: ", problem->reason)));
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
