#include "common/security/authorizer.h"

#include <grpcpp/security/auth_context.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mailfleet {
namespace {

std::optional<std::string> Header(const grpc::ServerContextBase& context,
                                  absl::string_view key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

Role RoleNeeded(Permission wanted) {
  switch (wanted) {
    case Permission::kView:
      return Role::kViewer;
    case Permission::kReadContent:
      return Role::kReader;
    case Permission::kAct:
      return Role::kOperator;
  }
  return Role::kOperator;
}

absl::string_view WhatItIs(Permission wanted) {
  switch (wanted) {
    case Permission::kView:
      return "viewing the queue";
    case Permission::kReadContent:
      return "reading message content";
    case Permission::kAct:
      return "acting on messages";
  }
  return "this";
}

absl::Status CheckRole(const Principal& principal, Permission wanted) {
  const Role needed = RoleNeeded(wanted);
  if (principal.role >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      Describe(principal), " has the ", RoleName(principal.role), " role; ",
      WhatItIs(wanted), " needs ", RoleName(needed)));
}

// The controller's certificate: its forwarded principal when it sent one,
// else the controller itself, which only watches.
absl::StatusOr<Principal> FromController(const AuthPolicy& policy,
                                         const Caller& caller) {
  Principal p;
  p.peer = caller.peer;
  if (!caller.forwarded_principal) {
    p.name = policy.controller_name;
    p.role = Role::kViewer;
    return p;
  }
  std::optional<Role> role =
      caller.forwarded_role ? ParseRole(*caller.forwarded_role) : std::nullopt;
  if (!IsValidPrincipalName(*caller.forwarded_principal) || !role) {
    return absl::UnauthenticatedError(
        "the controller forwarded a principal without a valid name and role");
  }
  p.name = *caller.forwarded_principal;
  p.role = *role;
  p.via_controller = true;
  return p;
}

absl::StatusOr<Principal> FromToken(const AuthPolicy& policy, const Caller& caller) {
  Principal p;
  p.peer = caller.peer;
  if (!caller.authorization) {
    if (policy.tokens != nullptr) {
      return absl::UnauthenticatedError(
          "no token: this server needs 'authorization: Bearer TOKEN' "
          "(mailfleet --token-file FILE or MAILFLEET_TOKEN)");
    }
    if (!caller.local) {
      return absl::UnauthenticatedError(absl::StrCat(
          "no token: this server has no --tokens and takes calls without one "
          "only from loopback, not from ",
          caller.peer));
    }
    p.name = kLocalPrincipal;
    p.role = Role::kOperator;
    return p;
  }
  absl::string_view value = *caller.authorization;
  constexpr absl::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
    return absl::UnauthenticatedError(
        "the authorization header is not 'Bearer TOKEN'");
  }
  if (policy.tokens == nullptr) {
    return absl::UnauthenticatedError(
        "a token was sent but this server has no --tokens to check it against");
  }
  std::shared_ptr<const TokenTable> table = policy.tokens->table();
  const TokenHolder* holder =
      table ? table->Find(absl::StripAsciiWhitespace(value.substr(kScheme.size())))
            : nullptr;
  if (holder == nullptr) {
    return absl::UnauthenticatedError("the token is not known to this server");
  }
  p.name = holder->name;
  p.role = holder->role;
  return p;
}

bool FromControllerCertificate(const AuthPolicy& policy, const Caller& caller) {
  return !policy.controller_name.empty() &&
         std::find(caller.certificate_names.begin(), caller.certificate_names.end(),
                   policy.controller_name) != caller.certificate_names.end();
}

}  // namespace

bool IsLocalPeer(absl::string_view peer) {
  return absl::StartsWith(peer, "ipv4:127.") || absl::StartsWith(peer, "ipv6:[::1]:") ||
         absl::StartsWith(peer, "ipv6:[::ffff:127.") || absl::StartsWith(peer, "unix:");
}

Caller CallerOf(const grpc::ServerContextBase& context) {
  Caller caller;
  caller.peer = context.peer();
  caller.local = IsLocalPeer(caller.peer);
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth && auth->IsPeerAuthenticated()) {
    for (const char* property :
         {"x509_common_name", "x509_subject_alternative_name", "peer_dns"}) {
      for (const grpc::string_ref& name : auth->FindPropertyValues(property)) {
        std::string value(name.data(), name.size());
        if (std::find(caller.certificate_names.begin(),
                      caller.certificate_names.end(),
                      value) == caller.certificate_names.end()) {
          caller.certificate_names.push_back(std::move(value));
        }
      }
    }
  }
  caller.authorization = Header(context, kAuthorizationHeader);
  caller.forwarded_principal = Header(context, kPrincipalHeader);
  caller.forwarded_role = Header(context, kRoleHeader);
  return caller;
}

absl::StatusOr<Principal> Identify(const AuthPolicy& policy, const Caller& caller) {
  if (FromControllerCertificate(policy, caller)) return FromController(policy, caller);
  if (policy.unknown_peer_is_local && caller.peer == "unknown") {
    Caller in_process = caller;
    in_process.local = true;
    return FromToken(policy, in_process);
  }
  return FromToken(policy, caller);
}

absl::Status Permit(const AuthPolicy& policy, const Caller& caller,
                    const Principal& principal, Permission wanted) {
  if (absl::Status s = CheckRole(principal, wanted); !s.ok()) return s;
  const bool local =
      caller.local || (policy.unknown_peer_is_local && caller.peer == "unknown");
  if (wanted == Permission::kAct && policy.act_only_from_controller_or_local && !local &&
      !FromControllerCertificate(policy, caller)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "actions on an agent are taken only from the controller or a local "
        "operator; ",
        Describe(principal), " calls from ", caller.peer));
  }
  return absl::OkStatus();
}

absl::StatusOr<Principal> Authorize(const AuthPolicy& policy, const Caller& caller,
                                    Permission wanted) {
  absl::StatusOr<Principal> principal = Identify(policy, caller);
  if (!principal.ok()) return principal;
  if (absl::Status s = Permit(policy, caller, *principal, wanted); !s.ok()) return s;
  return principal;
}

void AddBearerToken(grpc::ClientContext* context, const std::string& token) {
  if (!token.empty()) context->AddMetadata(kAuthorizationHeader, "Bearer " + token);
}

void ForwardPrincipal(grpc::ClientContext* context, const Principal& principal) {
  context->AddMetadata(kPrincipalHeader, principal.name);
  context->AddMetadata(kRoleHeader, std::string(RoleName(principal.role)));
}

std::string Describe(const Principal& principal) {
  return principal.via_controller ? absl::StrCat(principal.name, " via the controller")
                                  : principal.name;
}

}  // namespace mailfleet
