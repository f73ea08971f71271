// A server's security, built once from its flags: the listener's
// credentials, the access control with its tokens and audit log, the
// limits every request meets, and what SIGHUP reloads.
#ifndef MAILFLEET_COMMON_SECURITY_SERVER_SECURITY_H_
#define MAILFLEET_COMMON_SECURITY_SERVER_SECURITY_H_

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/security/access_control.h"
#include "common/security/audit_log.h"
#include "common/security/tls.h"
#include "common/security/tokens.h"

namespace mailfleet {

// Hostile-input limits of every listener. A request is at most this big:
// an action naming kMaxActIds MPA ids fits, a flood does not.
inline constexpr int kMaxRequestBytes = 8 << 20;
// Streams one client connection may hold open at once.
inline constexpr int kMaxStreamsPerConnection = 64;
// Request metadata (a token, the forwarded principal) is small.
inline constexpr int kMaxMetadataBytes = 16 << 10;

struct ServerSecurityOptions {
  std::string listen;
  TlsFiles tls;
  bool require_client_cert = true;
  // Plaintext off loopback: allowed, with a warning.
  bool insecure = false;
  std::string tokens_path;     // --tokens; empty: none
  std::string audit_log_path;  // --audit-log; empty: to the log only
  // The agent's controller name and action rule (AuthPolicy); the token
  // store is filled in here.
  AuthPolicy policy;
  // Told of every audit record (see AccessControl).
  AccessControl::AuditObserver on_audit;
};

class ServerSecurity {
 public:
  // Refuses plaintext off loopback without `insecure`, unreadable or
  // mismatched TLS files, a tokens file with errors, an audit log that
  // cannot be opened: a server does not start less secure than asked.
  static absl::StatusOr<std::unique_ptr<ServerSecurity>> Create(
      ServerSecurityOptions options);

  const std::shared_ptr<grpc::ServerCredentials>& credentials() const {
    return credentials_;
  }
  const AccessControl* access() const { return access_.get(); }
  bool tls() const { return tls_; }

  // The listening port with these credentials, and the request limits.
  void Configure(grpc::ServerBuilder* builder, int* selected_port) const;

  // SIGHUP: the tokens file read again (an error keeps the old table) and
  // the audit log reopened. Errors are logged.
  void Reload();

 private:
  ServerSecurity() = default;

  std::string listen_;
  bool tls_ = false;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<AccessControl> access_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_SECURITY_SERVER_SECURITY_H_
