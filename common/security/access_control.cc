#include "common/security/access_control.h"

#include <utility>

#include "common/fmt_absl.h"
#include "spdlog/spdlog.h"

namespace mailfleet {

AccessControl::AccessControl(AuthPolicy policy, AuditLog* audit, AuditObserver observer)
    : policy_(std::move(policy)), audit_(audit), observer_(std::move(observer)) {
  if (audit_ == nullptr) {
    log_only_ = *AuditLog::Open("");  // opens nothing: cannot fail
    audit_ = log_only_.get();
  }
}

const AccessControl& AccessControl::LocalOnly() {
  static const AccessControl* const local = [] {
    AuthPolicy policy;
    policy.unknown_peer_is_local = true;
    return new AccessControl(policy, nullptr);
  }();
  return *local;
}

absl::StatusOr<Principal> AccessControl::Check(const grpc::ServerContextBase& context,
                                               Permission wanted) const {
  Caller caller = CallerOf(context);
  absl::StatusOr<Principal> principal = Authorize(policy_, caller, wanted);
  if (!principal.ok()) {
    spdlog::info("refused {}: {}", caller.peer, principal.status().message());
  }
  return principal;
}

absl::StatusOr<Principal> AccessControl::CheckAudited(
    const grpc::ServerContextBase& context, Permission wanted,
    const v1::AuditRecord& asked) const {
  Caller caller = CallerOf(context);
  absl::StatusOr<Principal> principal = Identify(policy_, caller);
  absl::Status refusal =
      principal.ok() ? Permit(policy_, caller, *principal, wanted) : principal.status();
  if (refusal.ok()) return principal;
  v1::AuditRecord record = asked;
  record.set_peer(caller.peer);
  if (principal.ok()) record = AuditRecordFor(*principal, std::move(record));
  record.set_result("denied");
  record.set_error(std::string(refusal.message()));
  Audit(std::move(record));
  return refusal;
}

void AccessControl::Audit(v1::AuditRecord record) const {
  if (observer_) observer_(record);
  if (absl::Status s = audit_->Write(std::move(record)); !s.ok()) {
    spdlog::error("audit record not written: {}", s.message());
  }
}

}  // namespace mailfleet
