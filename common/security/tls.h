// TLS for every listener and every client: the PEM files named by
// --tls-cert, --tls-key and --tls-ca, turned into gRPC credentials. A
// server verifies client certificates against the CA (mTLS); a client
// verifies the server against it and presents its own certificate.
#ifndef MAILFLEET_COMMON_SECURITY_TLS_H_
#define MAILFLEET_COMMON_SECURITY_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mailfleet {

struct TlsFiles {
  std::string cert;  // own certificate chain
  std::string key;   // its private key
  std::string ca;    // the CA the other side must chain to

  bool any() const { return !cert.empty() || !key.empty() || !ca.empty(); }
};

// Plaintext when no file is named. TLS needs cert and key; with `ca`,
// client certificates are verified against it and, with
// `require_client_cert`, a client without one fails the handshake.
// `require_client_cert` without a CA is refused, not ignored: the server
// was meant to be mTLS.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files, bool require_client_cert);

// Plaintext when no file is named. Otherwise TLS checked against `ca`
// (required), presenting cert and key when both are named.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& files);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_SECURITY_TLS_H_
