// Lets programs using Abseil flags accept `--postfix-config-dir` as well as
// `--postfix_config_dir`: operators type dashes, Abseil names use
// underscores.
#ifndef MAILFLEET_COMMON_DASHED_FLAGS_H_
#define MAILFLEET_COMMON_DASHED_FLAGS_H_

#include <string>
#include <vector>

namespace mailfleet {

// Copies argv with the dashes inside every flag name ("--a-b=x" -> "--a_b=x")
// turned into underscores; values and positional arguments are untouched,
// and so is everything after a bare "--".
std::vector<std::string> UnderscoreFlagNames(int argc, char** argv);

// The argv-style view of `args` that absl::ParseCommandLine takes; valid as
// long as `args` is.
std::vector<char*> ArgvOf(std::vector<std::string>& args);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_DASHED_FLAGS_H_
