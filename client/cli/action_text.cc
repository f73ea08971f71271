#include "client/cli/action_text.h"

#include "absl/strings/str_cat.h"
#include "client/cli/terminal_text.h"

namespace mailfleet::cli {
namespace {

void AppendFailures(const v1::ActResponse& response, std::string* out) {
  for (const v1::ActFailure& failure : response.failures()) {
    out->append("  ");
    AppendSanitized(failure.queue_id(), out);
    out->append(": ");
    AppendSanitized(failure.reason(), out);
    out->push_back('\n');
  }
}

}  // namespace

absl::string_view ActionVerb(v1::Action action) {
  switch (action) {
    case v1::ACTION_HOLD:
      return "hold";
    case v1::ACTION_RELEASE:
      return "release";
    case v1::ACTION_REQUEUE:
      return "requeue";
    case v1::ACTION_DELETE:
      return "delete";
    case v1::ACTION_EXPIRE:
      return "expire";
    case v1::ACTION_RESPOOL:
      return "respool";
    default:
      return "act on";
  }
}

absl::string_view ActionPastTense(v1::Action action) {
  switch (action) {
    case v1::ACTION_HOLD:
      return "held";
    case v1::ACTION_RELEASE:
      return "released";
    case v1::ACTION_REQUEUE:
      return "requeued";
    case v1::ACTION_DELETE:
      return "deleted";
    case v1::ACTION_EXPIRE:
      return "expired";
    case v1::ACTION_RESPOOL:
      return "respooled";
    default:
      return "acted on";
  }
}

std::string MessageCount(int64_t count) {
  return absl::StrCat(count, count == 1 ? " message" : " messages");
}

void AppendActResponseText(const v1::ActResponse& response, std::string* out) {
  const absl::string_view verb = ActionVerb(response.action());
  if (response.dry_run()) {
    absl::StrAppend(out, "would ", verb, " ",
                    MessageCount(response.queue_ids_size()),
                    response.queue_ids().empty() ? "\n" : ":\n");
    for (const std::string& id : response.queue_ids()) {
      out->append("  ");
      AppendSanitized(id, out);
      out->push_back('\n');
    }
    if (!response.failures().empty()) {
      absl::StrAppend(out, "cannot ", verb, " ",
                      MessageCount(response.failures_size()), ":\n");
      AppendFailures(response, out);
    }
    return;
  }
  absl::StrAppend(out, verb, ": ", response.matched(), " matched, ",
                  response.succeeded(), " done, ", response.failed(),
                  " failed\n");
  AppendFailures(response, out);
}

}  // namespace mailfleet::cli
