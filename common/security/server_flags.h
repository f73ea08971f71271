// The security flags the agent and the controller share: --tls-cert,
// --tls-key, --tls-ca, --tokens and --audit-log. Each binary adds its own
// --listen, --insecure and --require-client-cert (their defaults differ).
#ifndef MAILFLEET_COMMON_SECURITY_SERVER_FLAGS_H_
#define MAILFLEET_COMMON_SECURITY_SERVER_FLAGS_H_

#include "common/security/server_security.h"

namespace mailfleet {

// The TLS files, the tokens file and the audit log, from the flags.
void SetSharedSecurityFlags(ServerSecurityOptions* options);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_SECURITY_SERVER_FLAGS_H_
