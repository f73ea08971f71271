// Who is calling, and may they do this? Every RPC of the agent and the
// controller starts with Authorize; nothing else in a service looks at
// certificates, tokens or peers.
#ifndef MAILFLEET_COMMON_SECURITY_AUTHORIZER_H_
#define MAILFLEET_COMMON_SECURITY_AUTHORIZER_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/security/tokens.h"

namespace mailfleet {

// gRPC metadata. The controller sends the principal it acts for with each
// call to an agent; the agent believes it only from the controller's
// certificate.
inline constexpr char kAuthorizationHeader[] = "authorization";
inline constexpr char kPrincipalHeader[] = "x-mailfleet-principal";
inline constexpr char kRoleHeader[] = "x-mailfleet-role";
// Without a token, a loopback caller of a server with no --tokens.
inline constexpr char kLocalPrincipal[] = "local";

enum class Permission {
  kView,         // summaries, listings, watches, envelopes
  kReadContent,  // a message's raw content
  kAct,          // actions and flushes
};

// What a server knows of a caller, from the call's context alone.
struct Caller {
  std::string peer;  // gRPC's form: ipv4:127.0.0.1:5555
  bool local = false;  // loopback or a unix socket
  // The CN and SAN names of a client certificate the handshake verified.
  std::vector<std::string> certificate_names;
  std::optional<std::string> authorization;  // the header, as sent
  std::optional<std::string> forwarded_principal;
  std::optional<std::string> forwarded_role;
};

Caller CallerOf(const grpc::ServerContextBase& context);
bool IsLocalPeer(absl::string_view peer);

struct Principal {
  std::string name;
  Role role = Role::kViewer;
  std::string peer;
  // The name came from the controller, for one of its callers.
  bool via_controller = false;
};

struct AuthPolicy {
  // The server's --tokens; null without. Then only loopback callers get
  // in without a certificate the policy trusts, as kLocalPrincipal.
  const TokenStore* tokens = nullptr;
  // The agent's --controller-name: a client certificate with this CN or
  // SAN is the controller. Empty on the controller.
  std::string controller_name;
  // The agent's rule: actions only from the controller or a local operator.
  bool act_only_from_controller_or_local = false;
  // gRPC's in-process channels give no peer address ("unknown"): such a
  // caller is this process. Only for services built without a policy
  // (AccessControl::LocalOnly(), their tests); never from flags.
  bool unknown_peer_is_local = false;
};

// Who the caller is: UNAUTHENTICATED, saying why, when that cannot be told.
absl::StatusOr<Principal> Identify(const AuthPolicy& policy, const Caller& caller);
// Whether `principal` (identified from `caller`) may do `wanted`:
// PERMISSION_DENIED saying why and what would do.
absl::Status Permit(const AuthPolicy& policy, const Caller& caller,
                    const Principal& principal, Permission wanted);
// Both.
absl::StatusOr<Principal> Authorize(const AuthPolicy& policy, const Caller& caller,
                                    Permission wanted);

// Client side: the token a caller presents, and the principal the
// controller forwards.
void AddBearerToken(grpc::ClientContext* context, const std::string& token);
void ForwardPrincipal(grpc::ClientContext* context, const Principal& principal);

// "alice" or "alice via the controller", for logs.
std::string Describe(const Principal& principal);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_SECURITY_AUTHORIZER_H_
