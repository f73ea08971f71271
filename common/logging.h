// How the daemons log: to standard error, as services do (systemd's
// journal and container runtimes take both streams; scripts that read a
// daemon's standard output are not mixed with its log).
#ifndef MAILFLEET_COMMON_LOGGING_H_
#define MAILFLEET_COMMON_LOGGING_H_

#include <string>

namespace mailfleet {

// Makes spdlog's default logger write to standard error at `level`
// (trace, debug, info, warn, error, critical, off).
void LogToStderr(const std::string& level);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_LOGGING_H_
