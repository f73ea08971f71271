// Where a server may listen without TLS: the agent's and the controller's
// one rule, until TLS arrives.
#ifndef MAILFLEET_COMMON_LISTEN_ADDRESS_H_
#define MAILFLEET_COMMON_LISTEN_ADDRESS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mailfleet {

// 127.x, localhost, [::1] or a unix socket: nobody else can listen in.
bool IsLoopbackAddress(absl::string_view listen);

// OK on loopback; elsewhere only with `insecure` (then logs a warning),
// FAILED_PRECONDITION otherwise, saying what to do.
absl::Status CheckPlaintextListen(absl::string_view listen, bool insecure);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_LISTEN_ADDRESS_H_
