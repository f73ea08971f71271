// Choosing TCP ports on the loopback interface for a private Postfix
// instance: one for its smtpd to listen on, and closed ones for every relay
// so that all mail is deferred.
#ifndef MAILFLEET_TESTS_E2E_SUPPORT_LOOPBACK_PORTS_H_
#define MAILFLEET_TESTS_E2E_SUPPORT_LOOPBACK_PORTS_H_

#include <vector>

#include "absl/status/statusor.h"

namespace mailfleet::testing {

// A port on 127.0.0.1 that nothing is bound to right now, chosen at random
// below the kernel's ephemeral range so that outgoing connections do not
// take it before the listener does.
absl::StatusOr<int> PickFreeLoopbackPort();

// The loopback addresses FindClosedLoopbackPorts checks.
inline constexpr const char* kRelayAddresses[] = {"127.0.0.1", "127.0.0.2"};

// `count` distinct privileged ports (below 1024) on which every address in
// kRelayAddresses refuses connections. Privileged, because a port picked by
// PickFreeLoopbackPort in a concurrently running test could otherwise become
// a relay destination of this one and accept its mail.
absl::StatusOr<std::vector<int>> FindClosedLoopbackPorts(int count);

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_SUPPORT_LOOPBACK_PORTS_H_
