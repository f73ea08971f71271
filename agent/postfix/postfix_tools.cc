#include "agent/postfix/postfix_tools.h"

#include <re2/re2.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/queue_id.h"
#include "common/status_macros.h"

namespace mailfleet::postfix {
namespace {

struct ActionTool {
  const char* flag;
  const char* reported;  // what postsuper logs per message
};

ActionTool ToolFor(QueueAction action) {
  switch (action) {
    case QueueAction::kDelete: return {"-d", "removed"};
    case QueueAction::kHold: return {"-h", "placed on hold"};
    case QueueAction::kRelease: return {"-H", "released from hold"};
    case QueueAction::kRequeue: return {"-r", "requeued"};
    case QueueAction::kExpire: return {"-e", "expired"};
  }
  return {"", ""};
}

// Why postsuper did not report an ID it was given.
std::string NotActedReason(QueueAction action) {
  switch (action) {
    case QueueAction::kRelease:
      return "not on hold (or no longer in the queue)";
    case QueueAction::kHold:
      return "no longer in a queue that can be held (gone, or in maildrop)";
    case QueueAction::kExpire:
      return "no longer in the queue, or already expired";
    default:
      return "no longer in the queue";
  }
}

// The last "fatal:" line of a tool's error output, or its last line.
std::string ToolError(const ProcessResult& r) {
  std::string last;
  for (absl::string_view line : absl::StrSplit(r.stderr_text, '\n', absl::SkipEmpty())) {
    last = std::string(line);
    if (absl::StrContains(line, "fatal:")) return last;
  }
  return last.empty() ? absl::StrCat("exit status ", r.exit_code) : last;
}

absl::Status ValidateAll(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) MF_RETURN_IF_ERROR(ValidatePostfixQueueId(id));
  return absl::OkStatus();
}

}  // namespace

absl::string_view QueueActionName(QueueAction action) {
  switch (action) {
    case QueueAction::kDelete: return "delete";
    case QueueAction::kHold: return "hold";
    case QueueAction::kRelease: return "release";
    case QueueAction::kRequeue: return "requeue";
    case QueueAction::kExpire: return "expire";
  }
  return "unknown";
}

absl::Status ValidateFlushSite(absl::string_view site) {
  static const LazyRE2 kDomain = {
      "(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*"
      "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.?"};
  static const LazyRE2 kAddress = {"\\[[0-9A-Fa-f:.]{2,45}\\]"};
  if (site.empty() || site.size() > 255 ||
      !(RE2::FullMatch(re2::StringPiece(site.data(), site.size()), *kDomain) ||
        RE2::FullMatch(re2::StringPiece(site.data(), site.size()), *kAddress))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "site '", absl::CEscape(site.substr(0, 64)),
        "' is not a domain name or a [bracketed] address"));
  }
  return absl::OkStatus();
}

PostfixTools::PostfixTools(ProcessRunner* runner, std::string config_dir,
                           PostfixToolsOptions options)
    : runner_(runner), config_dir_(std::move(config_dir)), options_(options) {
  if (options_.batch_size == 0) options_.batch_size = 1;
}

absl::StatusOr<ActionOutcome> PostfixTools::Apply(
    QueueAction action, const std::vector<std::string>& ids) const {
  MF_RETURN_IF_ERROR(ValidateAll(ids));
  const ActionTool tool = ToolFor(action);
  // "postsuper: C3CD21F3E90: placed on hold"
  const RE2 reported(absl::StrCat("^postsuper: ([A-Za-z0-9]+): ",
                                  RE2::QuoteMeta(tool.reported), "$"));
  ActionOutcome outcome;
  for (size_t begin = 0; begin < ids.size(); begin += options_.batch_size) {
    const size_t end = std::min(ids.size(), begin + options_.batch_size);
    ProcessOptions run;
    run.timeout = options_.timeout;
    for (size_t i = begin; i < end; ++i) absl::StrAppend(&run.stdin_text, ids[i], "\n");
    auto result = runner_->Run({"postsuper", "-c", config_dir_, tool.flag, "-"}, run);
    std::string batch_error;
    if (!result.ok()) {
      batch_error = std::string(result.status().message());
    } else if (result->exit_code != 0) {
      batch_error = ToolError(*result);
    }
    absl::flat_hash_set<std::string> done;
    if (result.ok()) {
      for (absl::string_view line :
           absl::StrSplit(result->stderr_text, '\n', absl::SkipEmpty())) {
        std::string id;
        if (RE2::FullMatch(re2::StringPiece(line.data(), line.size()), reported, &id)) {
          if (done.insert(id).second) outcome.succeeded.push_back(id);
        }
      }
    }
    for (size_t i = begin; i < end; ++i) {
      if (done.contains(ids[i])) continue;
      outcome.failed.push_back(
          {ids[i], batch_error.empty() ? NotActedReason(action)
                                       : absl::StrCat("postsuper failed: ", batch_error)});
    }
  }
  return outcome;
}

absl::Status PostfixTools::RunPostqueue(std::vector<std::string> args) const {
  std::vector<std::string> argv = {"postqueue", "-c", config_dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions run;
  run.timeout = options_.timeout;
  auto result = runner_->Run(argv, run);
  if (!result.ok()) return result.status();
  if (result->exit_code == 0) return absl::OkStatus();
  std::string error = ToolError(*result);
  if (absl::StrContains(error, "mail system is down")) {
    return absl::FailedPreconditionError(
        "the Postfix master is not running, so nothing can be flushed: "
        "start Postfix first");
  }
  return absl::FailedPreconditionError(absl::StrCat("postqueue: ", error));
}

absl::Status PostfixTools::FlushAll() const { return RunPostqueue({"-f"}); }

absl::Status PostfixTools::FlushIds(const std::vector<std::string>& ids) const {
  MF_RETURN_IF_ERROR(ValidateAll(ids));
  for (const std::string& id : ids) MF_RETURN_IF_ERROR(RunPostqueue({"-i", id}));
  return absl::OkStatus();
}

absl::Status PostfixTools::FlushSite(const std::string& site) const {
  MF_RETURN_IF_ERROR(ValidateFlushSite(site));
  return RunPostqueue({"-s", site});
}

}  // namespace mailfleet::postfix
