#include "common/security/tls.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/security/tokens.h"

namespace mailfleet {
namespace {

// Reads a PEM file named by `flag`; a file that holds no PEM block is
// refused here rather than in a handshake that fails without a reason.
absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> pem = ReadSmallFile(path);
  if (!pem.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": ", pem.status().message()));
  }
  if (!absl::StrContains(*pem, "-----BEGIN ")) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": ", path, " holds no PEM block"));
  }
  return pem;
}

absl::Status CheckPair(const TlsFiles& files) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together: name both or neither");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files, bool require_client_cert) {
  if (!files.any()) return grpc::InsecureServerCredentials();
  if (absl::Status s = CheckPair(files); !s.ok()) return s;
  if (files.cert.empty()) {
    return absl::InvalidArgumentError(
        "--tls-ca on a server needs --tls-cert and --tls-key");
  }
  if (require_client_cert && files.ca.empty()) {
    return absl::InvalidArgumentError(
        "client certificates are required but there is no --tls-ca to check "
        "them against (pass --tls-ca, or --require-client-cert=false)");
  }
  grpc::SslServerCredentialsOptions options;
  absl::StatusOr<std::string> cert = ReadPem(files.cert, "--tls-cert");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(files.key, "--tls-key");
  if (!key.ok()) return key.status();
  options.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  if (files.ca.empty()) {
    options.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  } else {
    absl::StatusOr<std::string> ca = ReadPem(files.ca, "--tls-ca");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
    options.client_certificate_request =
        require_client_cert
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& files) {
  if (!files.any()) return grpc::InsecureChannelCredentials();
  if (absl::Status s = CheckPair(files); !s.ok()) return s;
  if (files.ca.empty()) {
    // Without it gRPC would trust the system's public CAs, which never
    // sign a fleet's private certificates.
    return absl::InvalidArgumentError(
        "--tls-cert on a client needs --tls-ca to check the server against");
  }
  grpc::SslCredentialsOptions options;
  absl::StatusOr<std::string> ca = ReadPem(files.ca, "--tls-ca");
  if (!ca.ok()) return ca.status();
  options.pem_root_certs = *std::move(ca);
  if (!files.cert.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(files.cert, "--tls-cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(files.key, "--tls-key");
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *std::move(cert);
    options.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(options);
}

}  // namespace mailfleet
