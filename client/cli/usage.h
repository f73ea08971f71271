// --help text, generated from the command and flag tables so that it never
// disagrees with what the parser accepts.
#ifndef MAILFLEET_CLIENT_CLI_USAGE_H_
#define MAILFLEET_CLIENT_CLI_USAGE_H_

#include <string>

#include "client/cli/commands.h"

namespace mailfleet::cli {

// For the whole program, or for one command when `command` is not null.
std::string UsageText(const Command* command);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_USAGE_H_
