// Finding and ending the processes of one private Postfix instance. The
// master daemonizes (new session, parent init), so neither the process tree
// nor the process group of the test leads to it; its environment does:
// postfix(1) exports MAIL_CONFIG=<config dir> and master(8) passes it on to
// every daemon it spawns.
#ifndef MAILFLEET_TESTS_E2E_SUPPORT_INSTANCE_PROCESSES_H_
#define MAILFLEET_TESTS_E2E_SUPPORT_INSTANCE_PROCESSES_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace mailfleet::testing {

struct InstanceProcess {
  pid_t pid = 0;
  std::string name;  // /proc/PID/comm: "master", "smtpd", "qmgr", ...
};

// Live (not zombie) processes whose environment holds exactly
// MAIL_CONFIG=`config_dir`, never the calling process. Needs root to read
// other users' environments.
std::vector<InstanceProcess> FindInstanceProcesses(
    const std::string& config_dir);

// When `pid` started, in clock ticks since boot (/proc/PID/stat), or 0 when
// no such process runs (zombies count as gone). Together with the pid this
// names a process even across pid reuse.
uint64_t ProcessStartTime(pid_t pid);

// Sends `signal` to every process FindInstanceProcesses reports.
void SignalInstanceProcesses(const std::string& config_dir, int signal);

// Polls until no process of the instance is left; false on timeout.
bool WaitForInstanceProcessesToExit(const std::string& config_dir,
                                    absl::Duration timeout);

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_SUPPORT_INSTANCE_PROCESSES_H_
