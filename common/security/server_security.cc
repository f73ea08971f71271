#include "common/security/server_security.h"

#include <grpc/grpc.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/fmt_absl.h"
#include "common/listen_address.h"
#include "spdlog/spdlog.h"

namespace mailfleet {

absl::StatusOr<std::unique_ptr<ServerSecurity>> ServerSecurity::Create(
    ServerSecurityOptions options) {
  std::unique_ptr<ServerSecurity> security(new ServerSecurity());
  security->listen_ = options.listen;
  security->tls_ = !options.tls.cert.empty();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options.tls, options.require_client_cert);
  if (!credentials.ok()) return credentials.status();
  security->credentials_ = *std::move(credentials);
  if (!security->tls_) {
    if (absl::Status s = CheckPlaintextListen(options.listen, options.insecure);
        !s.ok()) {
      return s;
    }
  }
  if (!options.tokens_path.empty()) {
    security->tokens_ = std::make_unique<TokenStore>(options.tokens_path);
    if (absl::Status s = security->tokens_->Load(); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("--tokens: ", s.message()));
    }
    options.policy.tokens = security->tokens_.get();
  }
  absl::StatusOr<std::unique_ptr<AuditLog>> audit = AuditLog::Open(options.audit_log_path);
  if (!audit.ok()) return audit.status();
  security->audit_ = *std::move(audit);
  security->access_ =
      std::make_unique<AccessControl>(options.policy, security->audit_.get(),
                                      std::move(options.on_audit));
  spdlog::info(
      "security: {}{}, {}, audit log {}",
      security->tls_ ? "TLS" : "plaintext",
      security->tls_ && !options.tls.ca.empty()
          ? (options.require_client_cert ? " with client certificates required"
                                         : " with client certificates checked")
          : "",
      options.tokens_path.empty() ? "no tokens (loopback callers only)"
                                  : "tokens from " + options.tokens_path,
      options.audit_log_path.empty() ? "to this log only" : options.audit_log_path);
  return security;
}

void ServerSecurity::Configure(grpc::ServerBuilder* builder, int* selected_port) const {
  builder->AddListeningPort(listen_, credentials_, selected_port);
  builder->SetMaxReceiveMessageSize(kMaxRequestBytes);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
  builder->AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
}

void ServerSecurity::Reload() {
  if (tokens_ != nullptr) {
    if (absl::Status s = tokens_->Load(); !s.ok()) {
      spdlog::error("SIGHUP: tokens not reloaded, the old ones stay: {}", s.message());
    }
  }
  if (absl::Status s = audit_->Reopen(); !s.ok()) {
    spdlog::error("SIGHUP: audit log not reopened, still writing the old file: {}",
                  s.message());
  }
}

}  // namespace mailfleet
