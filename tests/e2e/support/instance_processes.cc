#include "tests/e2e/support/instance_processes.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace mailfleet::testing {
namespace {

std::string ReadProcFile(pid_t pid, const char* name) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", name), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

bool HasEnvironmentEntry(pid_t pid, const std::string& entry) {
  // A zombie's environment reads as empty, so exited processes drop out.
  for (absl::string_view e :
       absl::StrSplit(ReadProcFile(pid, "environ"), '\0')) {
    if (e == entry) return true;
  }
  return false;
}

}  // namespace

std::vector<InstanceProcess> FindInstanceProcesses(
    const std::string& config_dir) {
  std::vector<InstanceProcess> found;
  const std::string entry = absl::StrCat("MAIL_CONFIG=", config_dir);
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* d = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(d->d_name, &pid) || pid == getpid()) continue;
    if (!HasEnvironmentEntry(pid, entry)) continue;
    std::string name(
        absl::StripTrailingAsciiWhitespace(ReadProcFile(pid, "comm")));
    found.push_back({pid, std::move(name)});
  }
  closedir(proc);
  return found;
}

uint64_t ProcessStartTime(pid_t pid) {
  // Fields after the command name, which may itself contain ") ".
  std::string stat = ReadProcFile(pid, "stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
  // fields[0] is the state (field 3); starttime is field 22.
  uint64_t start = 0;
  if (fields.size() < 20 || fields[0] == "Z" ||
      !absl::SimpleAtoi(fields[19], &start)) {
    return 0;
  }
  return start;
}

void SignalInstanceProcesses(const std::string& config_dir, int signal) {
  for (const InstanceProcess& p : FindInstanceProcesses(config_dir)) {
    kill(p.pid, signal);
  }
}

bool WaitForInstanceProcessesToExit(const std::string& config_dir,
                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!FindInstanceProcesses(config_dir).empty()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

}  // namespace mailfleet::testing
