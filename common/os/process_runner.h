// Runs child processes: argv only (never a shell), optional standard input,
// a timeout, captured output. Postfix's tools sit behind this interface so
// that tests can substitute a fake.
#ifndef MAILFLEET_COMMON_OS_PROCESS_RUNNER_H_
#define MAILFLEET_COMMON_OS_PROCESS_RUNNER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mailfleet {

struct ProcessResult {
  // The exit status, or 128 + signal number when the child was killed.
  int exit_code = 0;
  std::string stdout_text;
  std::string stderr_text;
};

struct ProcessOptions {
  std::string stdin_text;
  absl::Duration timeout = absl::Seconds(30);
  // Extra environment entries ("NAME=value"), on top of the parent's.
  std::vector<std::string> env;
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs argv[0] (looked up in PATH when it has no slash). Returns an error
  // only when the child could not be run or timed out (DEADLINE_EXCEEDED,
  // after it was killed); a non-zero exit is a result, not an error.
  virtual absl::StatusOr<ProcessResult> Run(
      const std::vector<std::string>& argv,
      const ProcessOptions& options) = 0;
};

// fork/exec with pipes and poll(2). Thread-safe.
class RealProcessRunner : public ProcessRunner {
 public:
  absl::StatusOr<ProcessResult> Run(const std::vector<std::string>& argv,
                                    const ProcessOptions& options) override;
};

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_OS_PROCESS_RUNNER_H_
