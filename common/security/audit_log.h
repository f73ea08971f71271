// The audit log: one JSON line per action, flush and raw-content read (and
// per refusal of one), appended before the reply is sent, so that nothing
// destructive happens without a trace an operator can read after a crash.
#ifndef MAILFLEET_COMMON_SECURITY_AUDIT_LOG_H_
#define MAILFLEET_COMMON_SECURITY_AUDIT_LOG_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/security/authorizer.h"
#include "mailfleet/v1/audit.pb.h"

namespace mailfleet {

class AuditLog {
 public:
  // Appends to `path` (created 0600 if missing); with an empty path the
  // records go to the log only. Fails when the file cannot be opened:
  // a server asked to audit does not start without its trail.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(std::string path);
  ~AuditLog();

  // One write(2) of one line on an O_APPEND file, so concurrent records
  // never interleave, and an info line in the log. Sets the time when
  // unset.
  absl::Status Write(v1::AuditRecord record);
  // Opens the path again (after logrotate moved it): on SIGHUP. On error
  // the old file is kept.
  absl::Status Reopen();

  const std::string& path() const { return path_; }

 private:
  explicit AuditLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
};

// What was asked: the start of a record.
v1::AuditRecord AuditRequest(absl::string_view verb, absl::string_view gateway,
                             absl::string_view selector, bool dry_run = false);
// `asked`, with who asked: an identified principal, or a caller refused
// before it was identified (its peer only).
v1::AuditRecord AuditRecordFor(const Principal& principal, v1::AuditRecord asked);

// The record's JSON line, without the newline.
std::string AuditJson(const v1::AuditRecord& record);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_SECURITY_AUDIT_LOG_H_
