#include "client/cli/output.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "client/cli/action_text.h"
#include "client/cli/envelope_text.h"
#include "client/cli/message_json.h"
#include "client/cli/summary_table.h"
#include "client/cli/watch_json.h"
#include "grpc/health/v1/health.pb.h"

namespace mailfleet::cli {
namespace {

// Large enough that writing costs nothing next to formatting, small enough
// that a slow pipe sees output early.
constexpr size_t kBlockBytes = 1 << 20;

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "wide") return OutputFormat::kWide;
  if (name == "json") return OutputFormat::kJson;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown output format '", name, "': expected table, wide or json"));
}

Output::Output(std::ostream& stream, OutputFormat format,
               DisplayContext display)
    : stream_(stream), format_(format), display_(display) {
  buffer_.reserve(kBlockBytes + (64 << 10));
}

Output::~Output() { Flush().IgnoreError(); }

absl::Status Output::Flush() {
  if (!buffer_.empty()) {
    stream_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    buffer_.clear();
  }
  stream_.flush();
  if (!stream_) return absl::UnknownError("cannot write the output");
  return absl::OkStatus();
}

absl::Status Output::MaybeFlush() {
  if (buffer_.size() < kBlockBytes) return absl::OkStatus();
  return Flush();
}

absl::Status Output::AppendProtoJsonLine(
    const google::protobuf::Message& message) {
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print as JSON: ", status.message().ToString()));
  }
  buffer_.append(json);
  buffer_.push_back('\n');
  return MaybeFlush();
}

void Output::BeginMessageList(bool with_gateway) {
  if (format_ == OutputFormat::kJson) return;
  table_.emplace(format_ == OutputFormat::kWide, display_, with_gateway);
  table_header_due_ = true;
}

absl::Status Output::AddMessage(const v1::Message& message) {
  if (table_.has_value()) {
    // The header waits for the first row, so that a listing that fails at
    // once prints nothing but its error.
    if (table_header_due_) {
      table_->AppendHeader(&buffer_);
      table_header_due_ = false;
    }
    table_->AppendMessage(message, &buffer_);
  } else {
    absl::Status status = AppendMessageJson(message, &buffer_);
    if (!status.ok()) return status;
    buffer_.push_back('\n');
  }
  return MaybeFlush();
}

absl::Status Output::EndMessageList() {
  if (table_.has_value()) {
    if (table_header_due_) table_->AppendHeader(&buffer_);
    table_->AppendFooter(&buffer_);
    table_.reset();
  }
  return Flush();
}

absl::Status Output::PrintSummary(const v1::SummaryResponse& response) {
  if (format_ == OutputFormat::kJson) {
    absl::Status status = AppendProtoJsonLine(response);
    if (!status.ok()) return status;
  } else {
    AppendSummaryTable(response, display_, &buffer_);
  }
  return Flush();
}

absl::Status Output::PrintActResponse(const v1::ActResponse& response) {
  if (format_ == OutputFormat::kJson) {
    absl::Status status = AppendProtoJsonLine(response);
    if (!status.ok()) return status;
  } else {
    AppendActResponseText(response, &buffer_);
  }
  return Flush();
}

absl::Status Output::PrintFlushed(const v1::FlushResponse& response) {
  if (format_ == OutputFormat::kJson) {
    absl::Status status = AppendProtoJsonLine(response);
    if (!status.ok()) return status;
  } else {
    buffer_.append("flushed\n");
  }
  return Flush();
}

absl::Status Output::PrintWatchEvent(const v1::WatchEvent& event,
                                     const SnapshotNote& note) {
  if (format_ == OutputFormat::kJson) {
    absl::Status status = AppendWatchEventJson(event, &buffer_);
    if (!status.ok()) return status;
    buffer_.push_back('\n');
  } else {
    AppendWatchLogLines(event, note, format_ == OutputFormat::kWide, display_,
                        &buffer_);
  }
  return Flush();
}

absl::Status Output::PrintServing() {
  if (format_ == OutputFormat::kJson) {
    grpc::health::v1::HealthCheckResponse response;
    response.set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    if (absl::Status status = AppendProtoJsonLine(response); !status.ok()) return status;
  } else {
    buffer_ += "SERVING\n";
  }
  return Flush();
}

absl::Status Output::PrintGateways(const v1::ListGatewaysResponse& response) {
  if (format_ == OutputFormat::kJson) {
    for (const v1::Gateway& gateway : response.gateways()) {
      absl::Status status = AppendProtoJsonLine(gateway);
      if (!status.ok()) return status;
    }
  } else {
    GatewayTable table(display_);
    for (const v1::Gateway& gateway : response.gateways()) table.Add(gateway);
    table.Append(&buffer_);
  }
  return Flush();
}

absl::Status Output::PrintFleetSummary(
    const v1::FleetSummaryResponse& response) {
  if (format_ == OutputFormat::kJson) {
    absl::Status status = AppendProtoJsonLine(response);
    if (!status.ok()) return status;
  } else {
    AppendFleetSummary(response, display_, &buffer_);
  }
  return Flush();
}

void Output::BeginGatewayResults() { result_header_due_ = true; }

absl::Status Output::AddGatewayActResult(const v1::GatewayActResult& result) {
  if (format_ == OutputFormat::kJson) {
    absl::Status status = AppendProtoJsonLine(result);
    if (!status.ok()) return status;
  } else {
    if (result_header_due_) AppendActRowHeader(&buffer_);
    AppendActRow(result, &buffer_);
  }
  result_header_due_ = false;
  // Each row as its gateway answers: the slowest must not hold the others.
  return Flush();
}

absl::Status Output::EndGatewayActResults(const FleetActTally& tally) {
  if (format_ != OutputFormat::kJson) AppendActEnd(tally, &buffer_);
  return Flush();
}

absl::Status Output::AddGatewayFlushResult(
    const v1::GatewayFlushResult& result) {
  if (format_ == OutputFormat::kJson) {
    absl::Status status = AppendProtoJsonLine(result);
    if (!status.ok()) return status;
  } else {
    if (result_header_due_) AppendFlushRowHeader(&buffer_);
    AppendFlushRow(result, &buffer_);
  }
  result_header_due_ = false;
  return Flush();
}

absl::Status Output::PrintFleetWatchEvent(const v1::FleetWatchEvent& event) {
  if (format_ == OutputFormat::kJson) {
    absl::Status status = AppendProtoJsonLine(event);
    if (!status.ok()) return status;
  } else {
    AppendFleetWatchLines(event, display_, &buffer_);
  }
  return Flush();
}

absl::Status Output::DrawFleetScreen(absl::string_view title,
                                     const GatewayTable& table) {
  buffer_.append(kClearScreen);
  AppendSanitized(title, &buffer_);
  buffer_.append("\n\n");
  table.Append(&buffer_);
  return Flush();
}

absl::Status Output::DrawWatchScreen(const WatchScreenFrame& frame) {
  AppendWatchScreen(frame, display_, &buffer_);
  return Flush();
}

void Output::BeginShow(bool with_content) {
  show_content_ = with_content;
  shown_.Clear();
}

void Output::ShowEnvelope(const v1::Message& envelope) {
  if (format_ == OutputFormat::kJson) {
    *shown_.mutable_envelope() = envelope;
    return;
  }
  AppendEnvelopeText(envelope, display_, &buffer_);
  // As postcat separates the envelope from the message.
  if (show_content_) buffer_.push_back('\n');
}

absl::Status Output::ShowContent(absl::string_view chunk) {
  if (format_ == OutputFormat::kJson) {
    shown_.mutable_content()->append(chunk.data(), chunk.size());
    return absl::OkStatus();
  }
  buffer_.append(chunk.data(), chunk.size());
  return MaybeFlush();
}

absl::Status Output::EndShow() {
  if (format_ == OutputFormat::kJson) {
    absl::Status status = AppendProtoJsonLine(shown_);
    shown_.Clear();
    if (!status.ok()) return status;
  }
  return Flush();
}

}  // namespace mailfleet::cli
