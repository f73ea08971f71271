// What a private Postfix test instance consists of: where its files live
// under the instance root, what its main.cf, master.cf and transport map
// say, and the small state file that marks a root as one of ours.
#ifndef MAILFLEET_TESTS_E2E_SUPPORT_INSTANCE_CONFIG_H_
#define MAILFLEET_TESTS_E2E_SUPPORT_INSTANCE_CONFIG_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mailfleet::testing {

struct InstancePaths {
  explicit InstancePaths(const std::string& root);

  std::string root;
  std::string config_dir;  // main.cf, master.cf, transport
  std::string queue_dir;
  std::string data_dir;
  std::string maillog_file;    // written by postlogd(8)
  std::string state_file;      // see InstanceState
  std::string transport_file;  // texthash: table, read without postmap
};

struct InstanceSettings {
  int smtp_port = 0;
  // Privileged loopback ports that refuse connections (at least three); all
  // mail is relayed to one of them, so all of it is deferred.
  std::vector<int> closed_ports;
  bool long_queue_ids = false;
};

// main.cf of an instance that takes mail from 127.0.0.0/8 only, delivers
// nothing locally, relays to closed ports and then leaves mail deferred for
// hours, and logs to its own file.
std::string MainCf(const InstancePaths& paths,
                   const InstanceSettings& settings);

// transport(5) entries sending groups of RecipientDomains() to different
// unreachable next hops, so that delay reasons vary.
std::string TransportMap(const InstanceSettings& settings);

// postconf(1) argument lists (without "postconf -c DIR") that turn the stock
// master.cf into this instance's: smtpd on 127.0.0.1:PORT only, nothing
// chrooted (the instance has no chroot environment).
std::vector<std::vector<std::string>> MasterCfEdits(
    const InstanceSettings& settings);

// Kept in `state_file`. A root without one is never removed, and instances
// whose creator died without cleaning up are found through it.
struct InstanceState {
  int smtp_port = 0;
  pid_t creator_pid = 0;
  uint64_t creator_start_time = 0;  // see ProcessStartTime()
  // Set when the instance is meant to outlive its creator (the CLI).
  bool detached = false;
};

std::string FormatState(const InstanceState& state);
absl::StatusOr<InstanceState> ParseState(const std::string& text);

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_SUPPORT_INSTANCE_CONFIG_H_
