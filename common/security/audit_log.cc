#include "common/security/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "proto/time_proto.h"
#include "common/fmt_absl.h"
#include "spdlog/spdlog.h"

namespace mailfleet {
namespace {

// What a caller sent reaches the record unchecked (a refused request is
// recorded too): bytes outside printable ASCII are written as \xNN, which
// also keeps the protobuf JSON printer (UTF-8 only) from failing, and a
// field is cut at kMaxFieldBytes.
constexpr size_t kMaxFieldBytes = 2048;

void MakePrintable(std::string* text) {
  const bool cut = text->size() > kMaxFieldBytes;
  std::string out;
  out.reserve(std::min(text->size(), kMaxFieldBytes) + 16);
  for (size_t i = 0; i < text->size() && i < kMaxFieldBytes; ++i) {
    const unsigned char c = static_cast<unsigned char>((*text)[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    }
  }
  if (cut) absl::StrAppend(&out, "... (", text->size(), " bytes)");
  *text = std::move(out);
}

void MakePrintable(v1::AuditRecord* record) {
  for (std::string* field :
       {record->mutable_principal(), record->mutable_role(), record->mutable_peer(),
        record->mutable_gateway(), record->mutable_verb(), record->mutable_selector(),
        record->mutable_result(), record->mutable_error()}) {
    MakePrintable(field);
  }
  for (std::string& id : *record->mutable_queue_ids()) MakePrintable(&id);
}

absl::StatusOr<int> OpenForAppend(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("audit log ", path, ": ", std::strerror(errno)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(std::string path) {
  int fd = -1;
  if (!path.empty()) {
    absl::StatusOr<int> opened = OpenForAppend(path);
    if (!opened.ok()) return opened.status();
    fd = *opened;
  }
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(path), fd));
}

AuditLog::~AuditLog() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) close(fd_);
}

absl::Status AuditLog::Write(v1::AuditRecord record) {
  if (!record.has_time()) SetTimestamp(absl::Now(), record.mutable_time());
  MakePrintable(&record);
  std::string line = AuditJson(record);
  spdlog::info("audit: {}", line);
  line.push_back('\n');
  absl::MutexLock lock(&mu_);
  if (fd_ < 0) return absl::OkStatus();
  ssize_t n;
  do {
    n = write(fd_, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(line.size())) {
    // A short write on a regular file means a full disk; the partial line
    // is left for the reader to see rather than retried into two halves.
    std::string reason = n < 0 ? std::strerror(errno) : "short write";
    spdlog::error("audit log {}: {}", path_, reason);
    return absl::DataLossError(absl::StrCat("audit log ", path_, ": ", reason));
  }
  return absl::OkStatus();
}

absl::Status AuditLog::Reopen() {
  if (path_.empty()) return absl::OkStatus();
  absl::StatusOr<int> opened = OpenForAppend(path_);
  if (!opened.ok()) return opened.status();
  absl::MutexLock lock(&mu_);
  close(fd_);
  fd_ = *opened;
  return absl::OkStatus();
}

v1::AuditRecord AuditRequest(absl::string_view verb, absl::string_view gateway,
                             absl::string_view selector, bool dry_run) {
  v1::AuditRecord record;
  record.set_verb(std::string(verb));
  record.set_gateway(std::string(gateway));
  record.set_selector(std::string(selector));
  record.set_dry_run(dry_run);
  return record;
}

v1::AuditRecord AuditRecordFor(const Principal& principal, v1::AuditRecord asked) {
  asked.set_principal(principal.name);
  asked.set_role(std::string(RoleName(principal.role)));
  asked.set_peer(principal.peer);
  asked.set_via_controller(principal.via_controller);
  return asked;
}

std::string AuditJson(const v1::AuditRecord& record) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Cannot fail for a message without Any fields.
  (void)google::protobuf::util::MessageToJsonString(record, &json, options);
  return json;
}

}  // namespace mailfleet
