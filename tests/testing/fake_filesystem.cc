#include "tests/testing/fake_filesystem.h"

#include <cstring>

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

absl::StatusOr<size_t> StringFile::ReadAt(uint64_t offset, size_t n, char* buf) {
  if (offset >= data_.size()) return 0;
  size_t take = std::min<size_t>(n, data_.size() - offset);
  std::memcpy(buf, data_.data() + offset, take);
  return take;
}

}  // namespace mailfleet::testing
