// The gateways file (`mailfleet-controller --gateways FILE`): the fleet as a
// mailfleet.v1.GatewaysFile in protobuf text format (see
// proto/mailfleet/v1/gateways.proto for an example), read at start and again
// on SIGHUP, and the difference between two readings.
//
// A file is accepted or refused as a whole: any syntax or validation error
// refuses it, so that a reload with a mistake keeps the fleet the
// controller has. The rules, beyond the proto's syntax:
//   - name: [A-Za-z0-9._-]{1,64}, unique (case-sensitive);
//   - address: `host:port`, port 1-65535, host a DNS name, an IPv4 address
//     or an [IPv6] address; gRPC URI schemes (`dns:`, `unix:`) are refused,
//     so that one spelling identifies one agent. Unique, with the host
//     compared case-insensitively: two names for one agent would count its
//     queue twice;
//   - labels: keys and values as ValidateLabelKey/ValidateLabelValue say,
//     each key at most once per gateway;
//   - no gateway at all is a valid, empty fleet (a controller may be started
//     before its agents exist).
#ifndef MAILFLEET_CONTROLLER_CONFIG_GATEWAYS_FILE_H_
#define MAILFLEET_CONTROLLER_CONFIG_GATEWAYS_FILE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/config/label_selector.h"

namespace mailfleet::controller {

// Largest gateways file read; a fleet of thousands fits in well under 1 MiB.
inline constexpr size_t kMaxGatewaysFileBytes = 16 << 20;

// One gateway as the file describes it.
struct Gateway {
  std::string name;
  std::string address;  // host:port, as written
  Labels labels;

  friend bool operator==(const Gateway& a, const Gateway& b) {
    return a.name == b.name && a.address == b.address && a.labels == b.labels;
  }
  friend bool operator!=(const Gateway& a, const Gateway& b) {
    return !(a == b);
  }
};

// Parses and validates the text of a gateways file; the gateways come back
// in file order. `source_name` (the path, usually) starts every error
// message. A syntax error is INVALID_ARGUMENT "SOURCE:LINE:COL: message"
// (1-based, as an editor counts; a tab advances the column to the next
// multiple of 8); validation errors are INVALID_ARGUMENT too, one line
// "SOURCE:LINE:COL: gateway 'NAME': what is wrong" for each (at most 20),
// pointing at the offending field (for a label, at its gateway: protobuf
// does not say which map entry a key was read from).
absl::StatusOr<std::vector<Gateway>> ParseGatewaysFile(
    absl::string_view text, absl::string_view source_name);

// Reads `path` (following symlinks, as a mounted config map needs) and
// parses it. NOT_FOUND if it does not exist; another error naming the path
// and the system's reason if it cannot be read, is not a regular file, or
// is larger than kMaxGatewaysFileBytes.
absl::StatusOr<std::vector<Gateway>> LoadGatewaysFile(const std::string& path);

// What a reload changes, by gateway name: `added` and `changed` hold the new
// entries (in the new file's order), `removed` the old ones (in the old
// file's order). A gateway whose address or labels changed is in `changed`
// only.
struct GatewayChanges {
  std::vector<Gateway> added;
  std::vector<Gateway> removed;
  std::vector<Gateway> changed;

  bool empty() const {
    return added.empty() && removed.empty() && changed.empty();
  }
};

// `before` and `after` must each have unique names (as ParseGatewaysFile
// ensures).
GatewayChanges DiffGateways(const std::vector<Gateway>& before,
                            const std::vector<Gateway>& after);

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_CONFIG_GATEWAYS_FILE_H_
