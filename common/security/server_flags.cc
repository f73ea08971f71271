#include "common/security/server_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, tls_cert, "",
          "this server's certificate (PEM): serve with TLS; the controller "
          "also presents it to agents, who know it by it");
ABSL_FLAG(std::string, tls_key, "", "the certificate's private key (PEM)");
ABSL_FLAG(std::string, tls_ca, "",
          "the fleet CA (PEM) that client certificates must chain to; the "
          "controller also calls agents with TLS checked against it");
ABSL_FLAG(std::string, tokens, "",
          "bearer tokens, NAME ROLE SHA256 per line (deploy/new-token.sh); "
          "SIGHUP reloads them. Without, only loopback callers (and, on an "
          "agent, the controller) get in");
ABSL_FLAG(std::string, audit_log, "",
          "append a JSON line per action, flush and content read (and per "
          "refusal of one) to this file; SIGHUP reopens it");

namespace mailfleet {

void SetSharedSecurityFlags(ServerSecurityOptions* options) {
  options->tls = {absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
                  absl::GetFlag(FLAGS_tls_ca)};
  options->tokens_path = absl::GetFlag(FLAGS_tokens);
  options->audit_log_path = absl::GetFlag(FLAGS_audit_log);
}

}  // namespace mailfleet
