// `show`'s envelope as aligned `key: value` lines, like the envelope part of
// `postcat -e`, in the operator's words (queue names, local times, ages).
#ifndef MAILFLEET_CLIENT_CLI_ENVELOPE_TEXT_H_
#define MAILFLEET_CLIENT_CLI_ENVELOPE_TEXT_H_

#include <string>

#include "client/cli/terminal_text.h"
#include "mailfleet/v1/types.pb.h"

namespace mailfleet::cli {

void AppendEnvelopeText(const v1::Message& message,
                        const DisplayContext& display, std::string* out);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_ENVELOPE_TEXT_H_
