// One server's access rules and audit trail, which every RPC of the agent
// and the controller goes through first.
#ifndef MAILFLEET_COMMON_SECURITY_ACCESS_CONTROL_H_
#define MAILFLEET_COMMON_SECURITY_ACCESS_CONTROL_H_

#include <grpcpp/server_context.h>

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/security/audit_log.h"
#include "common/security/authorizer.h"

namespace mailfleet {

class AccessControl {
 public:
  // Sees every audit record as it is written: the metrics count actions
  // from the same records the trail keeps.
  using AuditObserver = std::function<void(const v1::AuditRecord&)>;

  // `audit` must outlive this; null writes audit records to the log only.
  AccessControl(AuthPolicy policy, AuditLog* audit, AuditObserver observer = nullptr);

  // No tokens, callers from loopback (or in-process) only, audit records
  // to the log: the default of services built without a policy (tests,
  // benchmarks). The binaries always build theirs from their flags.
  static const AccessControl& LocalOnly();

  // A call that is not audited (viewing, watching).
  absl::StatusOr<Principal> Check(const grpc::ServerContextBase& context,
                                  Permission wanted) const;
  // A call that is (an action, a flush, a content read): a refusal is
  // written to the audit log, as `asked` (verb, gateway, selector, dry
  // run) with who was refused and why, before it is returned.
  absl::StatusOr<Principal> CheckAudited(const grpc::ServerContextBase& context,
                                         Permission wanted,
                                         const v1::AuditRecord& asked) const;
  // The outcome of an audited call, before its reply. A record that cannot
  // be written is logged as an error: what was done is done, and the
  // caller still gets its reply.
  void Audit(v1::AuditRecord record) const;

 private:
  AuthPolicy policy_;
  AuditLog* audit_;
  AuditObserver observer_;
  std::unique_ptr<AuditLog> log_only_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_SECURITY_ACCESS_CONTROL_H_
