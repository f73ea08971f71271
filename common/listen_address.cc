#include "common/listen_address.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace mailfleet {

bool IsLoopbackAddress(absl::string_view listen) {
  return absl::StartsWith(listen, "127.") || absl::StartsWith(listen, "localhost:") ||
         absl::StartsWith(listen, "[::1]:") || absl::StartsWith(listen, "unix:");
}

absl::Status CheckPlaintextListen(absl::string_view listen, bool insecure) {
  if (IsLoopbackAddress(listen)) return absl::OkStatus();
  if (!insecure) {
    // Every message's content would cross the network in clear.
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to serve without TLS on ", listen,
                     ": bind to loopback or pass --insecure"));
  }
  spdlog::warn("serving WITHOUT TLS on {} (--insecure)", std::string(listen));
  return absl::OkStatus();
}

}  // namespace mailfleet
