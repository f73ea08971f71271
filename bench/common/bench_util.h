// What the benchmark programs share: starting a program in the background
// and taking the median of their runs.
#ifndef MAILFLEET_BENCH_COMMON_BENCH_UTIL_H_
#define MAILFLEET_BENCH_COMMON_BENCH_UTIL_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace mailfleet::bench {

// The upper median (for an even count, the larger middle value).
double Median(std::vector<double> v);

// Starts argv (looked up in PATH) in the background with its standard
// output to `out` and its standard error to `err`, files opened for
// writing and truncated; an empty path leaves the stream as it is. The
// caller waits for the pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out,
            const std::string& err);

}  // namespace mailfleet::bench

#endif  // MAILFLEET_BENCH_COMMON_BENCH_UTIL_H_
