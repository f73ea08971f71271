#include "tests/testing/fake_filesystem.h"

#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mailfleet::testing {

void FakeFilesystem::AddFile(const std::string& path, std::string data,
                             mode_t mode, absl::Time mtime) {
  absl::MutexLock lock(&mu_);
  files_[path] = File{std::move(data), mode, mtime};
  for (size_t slash = path.rfind('/'); slash != 0 && slash != std::string::npos;
       slash = path.rfind('/', slash - 1)) {
    dirs_.insert(path.substr(0, slash));
  }
}

void FakeFilesystem::AddDir(const std::string& path) {
  absl::MutexLock lock(&mu_);
  dirs_.insert(path);
}

void FakeFilesystem::Remove(const std::string& path) {
  absl::MutexLock lock(&mu_);
  files_.erase(path);
}

void FakeFilesystem::FailOpen(const std::string& path, absl::Status status) {
  absl::MutexLock lock(&mu_);
  open_failures_[path] = std::move(status);
}

void FakeFilesystem::FailRename(const std::string& from, absl::Status status) {
  absl::MutexLock lock(&mu_);
  rename_failures_[from] = std::move(status);
}

void FakeFilesystem::FailUnlink(const std::string& path, absl::Status status) {
  absl::MutexLock lock(&mu_);
  unlink_failures_[path] = std::move(status);
}

std::vector<std::string> FakeFilesystem::Writes() {
  absl::MutexLock lock(&mu_);
  return writes_;
}

absl::StatusOr<std::vector<DirEntry>> FakeFilesystem::ListDir(
    const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (!dirs_.count(path)) return absl::NotFoundError(absl::StrCat("no dir ", path));
  std::set<std::string> names;
  std::vector<DirEntry> out;
  std::string prefix = path + "/";
  for (const auto& [p, f] : files_) {
    if (!absl::StartsWith(p, prefix)) continue;
    std::string rest = p.substr(prefix.size());
    if (rest.find('/') == std::string::npos && names.insert(rest).second) {
      out.push_back({rest, FileInfo::Type::kRegular, true});
    }
  }
  for (const auto& d : dirs_) {
    if (!absl::StartsWith(d, prefix)) continue;
    std::string rest = d.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos &&
        names.insert(rest).second) {
      out.push_back({rest, FileInfo::Type::kDirectory, true});
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>> FakeFilesystem::Open(
    const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (auto it = open_failures_.find(path); it != open_failures_.end()) {
    return it->second;
  }
  auto it = files_.find(path);
  if (it == files_.end()) return absl::NotFoundError(absl::StrCat("no file ", path));
  FileInfo info;
  info.mode = it->second.mode;
  info.mtime = it->second.mtime;
  return std::unique_ptr<RandomAccessFile>(new StringFile(it->second.data, info));
}

absl::Status FakeFilesystem::ReadFile(const std::string& path,
                                      size_t max_bytes, std::string* out) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return absl::NotFoundError(absl::StrCat("no file ", path));
  *out = it->second.data.substr(0, max_bytes);
  return absl::OkStatus();
}

absl::StatusOr<FileInfo> FakeFilesystem::Stat(const std::string& path) {
  absl::MutexLock lock(&mu_);
  FileInfo info;
  if (dirs_.count(path)) {
    info.type = FileInfo::Type::kDirectory;
    return info;
  }
  auto it = files_.find(path);
  if (it == files_.end()) return absl::NotFoundError(absl::StrCat("no file ", path));
  info.type = FileInfo::Type::kRegular;
  info.mode = it->second.mode;
  info.size = it->second.data.size();
  info.mtime = it->second.mtime;
  return info;
}

bool FakeFilesystem::ParentExists(const std::string& path) const {
  size_t slash = path.rfind('/');
  // Relative names and entries of "/" live in a directory that always exists.
  return slash == std::string::npos || slash == 0 ||
         dirs_.count(path.substr(0, slash)) > 0;
}

absl::Status FakeFilesystem::CheckNewName(absl::string_view op,
                                          const std::string& from,
                                          const std::string& to,
                                          bool from_may_be_dir) const {
  if (auto it = rename_failures_.find(from); it != rename_failures_.end()) {
    return it->second;
  }
  const std::string paths = absl::StrCat(from, " -> ", to);
  if (!files_.count(from) && !(from_may_be_dir && dirs_.count(from))) {
    return absl::NotFoundError(absl::StrCat(op, " ", paths, ": no file ", from));
  }
  if (files_.count(to) || dirs_.count(to)) {
    return absl::AlreadyExistsError(
        absl::StrCat(op, " ", paths, ": ", to, " already exists"));
  }
  if (!ParentExists(to)) {
    return absl::NotFoundError(
        absl::StrCat(op, " ", paths, ": no directory for ", to));
  }
  return absl::OkStatus();
}

absl::Status FakeFilesystem::Rename(const std::string& from,
                                    const std::string& to) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckNewName("rename", from, to, /*from_may_be_dir=*/true);
      !s.ok()) {
    return s;
  }
  const std::string paths = absl::StrCat(from, " -> ", to);
  if (files_.count(from) > 0) {
    auto node = files_.extract(from);
    node.key() = to;
    files_.insert(std::move(node));
    writes_.push_back(absl::StrCat("rename ", paths));
    return absl::OkStatus();
  }
  const std::string old_prefix = from + "/";
  if (absl::StartsWith(to, old_prefix)) {
    return absl::FailedPreconditionError(
        absl::StrCat("rename ", paths, ": a directory into itself"));
  }
  // Collect first: re-keying while iterating would visit moved entries again.
  std::vector<std::string> moved_files, moved_dirs = {from};
  for (const auto& [p, f] : files_) {
    if (absl::StartsWith(p, old_prefix)) moved_files.push_back(p);
  }
  for (const auto& d : dirs_) {
    if (absl::StartsWith(d, old_prefix)) moved_dirs.push_back(d);
  }
  for (const std::string& p : moved_files) {
    auto node = files_.extract(p);
    node.key() = to + p.substr(from.size());
    files_.insert(std::move(node));
  }
  for (const std::string& d : moved_dirs) {
    dirs_.erase(d);
    dirs_.insert(to + d.substr(from.size()));
  }
  writes_.push_back(absl::StrCat("rename ", paths));
  return absl::OkStatus();
}

absl::Status FakeFilesystem::Link(const std::string& from, const std::string& to) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckNewName("link", from, to, /*from_may_be_dir=*/false);
      !s.ok()) {
    return s;
  }
  files_.emplace(to, files_.at(from));
  writes_.push_back(absl::StrCat("link ", from, " -> ", to));
  return absl::OkStatus();
}

absl::Status FakeFilesystem::Unlink(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (auto it = unlink_failures_.find(path); it != unlink_failures_.end()) {
    return it->second;
  }
  if (dirs_.count(path)) {
    return absl::FailedPreconditionError(
        absl::StrCat("unlink ", path, ": is a directory"));
  }
  if (files_.erase(path) == 0) {
    return absl::NotFoundError(absl::StrCat("unlink ", path, ": no file"));
  }
  writes_.push_back(absl::StrCat("unlink ", path));
  return absl::OkStatus();
}

absl::StatusOr<size_t> StringFile::ReadAt(uint64_t offset, size_t n, char* buf) {
  if (offset >= data_.size()) return 0;
  size_t take = std::min<size_t>(n, data_.size() - offset);
  std::memcpy(buf, data_.data() + offset, take);
  return take;
}

}  // namespace mailfleet::testing
