// `summary` as text: who answered and how current it is, counts per queue,
// the age histogram with qshape's columns, top domains and delay reasons,
// and the problems the agent's scan ran into.
#ifndef MAILFLEET_CLIENT_CLI_SUMMARY_TABLE_H_
#define MAILFLEET_CLIENT_CLI_SUMMARY_TABLE_H_

#include <string>

#include "client/cli/terminal_text.h"
#include "mailfleet/v1/agent.pb.h"

namespace mailfleet::cli {

void AppendSummaryTable(const v1::SummaryResponse& response,
                        const DisplayContext& display, std::string* out);

// The summary without the agent's lines: counts, ages, top lists, problems
// (what `watch` redraws under its own header).
void AppendQueueSummary(const v1::QueueSummary& summary,
                        const DisplayContext& display, std::string* out);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_SUMMARY_TABLE_H_
