// Output is the one place where commands' results become text: every
// command hands it protos, and the format the operator chose (-o table,
// wide or json) decides how they look. Text is collected in a large buffer
// and written to the stream in blocks, never line by line, so that a
// listing of 100,000 messages costs little beyond the formatting itself.
//
// `-o json` prints one JSON object per line in the protobuf JSON mapping:
// messages through the hand-written AppendMessageJson (also inside watch
// events), the rare rest (summary, show, actions) through protobuf's
// MessageToJsonString.
//
// Not thread-safe; one per command run. (`watch` at a terminal draws from a
// thread of its own, and only that thread uses the Output meanwhile.)
#ifndef MAILFLEET_CLIENT_CLI_OUTPUT_H_
#define MAILFLEET_CLIENT_CLI_OUTPUT_H_

#include <google/protobuf/message.h>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/cli/fleet_text.h"
#include "client/cli/message_table.h"
#include "client/cli/terminal_text.h"
#include "client/cli/watch_text.h"
#include "mailfleet/v1/agent.pb.h"
#include "mailfleet/v1/controller.pb.h"

namespace mailfleet::cli {

enum class OutputFormat { kTable, kWide, kJson };

// "table", "wide" or "json".
absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view name);

class Output {
 public:
  Output(std::ostream& stream, OutputFormat format, DisplayContext display);
  // Writes what is still buffered; call Flush() to see whether that worked.
  ~Output();

  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  OutputFormat format() const { return format_; }
  const DisplayContext& display() const { return display_; }

  // A listing (`ls`): Begin, then each message as it arrives, then End.
  // Through the controller the table has a GATEWAY column first (in JSON,
  // each message carries its gateway anyway).
  void BeginMessageList(bool with_gateway = false);
  absl::Status AddMessage(const v1::Message& message);
  absl::Status EndMessageList();

  absl::Status PrintSummary(const v1::SummaryResponse& response);

  // One message (`show`): its envelope, then its raw content chunk by chunk
  // (verbatim in table mode, base64 inside MessageWithContent in JSON).
  void BeginShow(bool with_content);
  void ShowEnvelope(const v1::Message& envelope);
  absl::Status ShowContent(absl::string_view chunk);
  absl::Status EndShow();

  // An action's result (hold, release, requeue, delete, expire; also a dry
  // run): a summary line and the failures, or the ActResponse in JSON.
  absl::Status PrintActResponse(const v1::ActResponse& response);

  // flush: "flushed", or the (empty) FlushResponse in JSON.
  absl::Status PrintFlushed(const v1::FlushResponse& response);

  // gateways: the table, or each Gateway as a JSON line.
  absl::Status PrintGateways(const v1::ListGatewaysResponse& response);

  // health: the server answered SERVING (JSON: the HealthCheckResponse).
  absl::Status PrintServing();

  // summary through the controller: the totals, the gateways and those
  // left out, or the FleetSummaryResponse in JSON.
  absl::Status PrintFleetSummary(const v1::FleetSummaryResponse& response);

  // An action or flush through the controller: Begin, then a row per
  // gateway written the moment its result arrives (a GatewayActResult or
  // GatewayFlushResult JSON line), then for an action the end: failures
  // and the total line (nothing more in JSON).
  void BeginGatewayResults();
  absl::Status AddGatewayActResult(const v1::GatewayActResult& result);
  absl::Status EndGatewayActResults(const FleetActTally& tally);
  absl::Status AddGatewayFlushResult(const v1::GatewayFlushResult& result);

  // watch through the controller, piped or in JSON: each event as it
  // arrives, as a JSON line or AppendFleetWatchLines' lines.
  absl::Status PrintFleetWatchEvent(const v1::FleetWatchEvent& event);

  // watch through the controller at a terminal: clears the screen and
  // draws `title` over the gateway table.
  absl::Status DrawFleetScreen(absl::string_view title,
                               const GatewayTable& table);

  // watch, piped or in JSON: each event as it arrives, written at once so
  // that `| jq` or a log sees it: the event as a JSON line, or its log
  // lines (AppendWatchLogLines; `note` describes a snapshot).
  absl::Status PrintWatchEvent(const v1::WatchEvent& event,
                               const SnapshotNote& note);

  // watch at a terminal: clears the screen and draws `frame`.
  absl::Status DrawWatchScreen(const WatchScreenFrame& frame);

  // Writes the buffer to the stream; fails if the stream did.
  absl::Status Flush();

 private:
  // Flushes once the buffer has grown past a block.
  absl::Status MaybeFlush();
  absl::Status AppendProtoJsonLine(const google::protobuf::Message& message);

  std::ostream& stream_;
  const OutputFormat format_;
  const DisplayContext display_;
  std::string buffer_;
  std::optional<MessageTable> table_;  // While a listing is in table mode.
  bool table_header_due_ = false;
  bool result_header_due_ = false;
  // `show -o json` prints once the stream is complete.
  v1::MessageWithContent shown_;
  bool show_content_ = false;
};

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_OUTPUT_H_
