// Acting on the queue through Postfix's own tools, never by touching queue
// files: postsuper for delete, hold, release, requeue and expire (queue IDs
// on standard input, thousands per run), postqueue for flushes. argv only,
// a timeout on every run, `-c` for the instance's config directory.
//
// Thread-safe if the ProcessRunner is.
#ifndef MAILFLEET_AGENT_POSTFIX_POSTFIX_TOOLS_H_
#define MAILFLEET_AGENT_POSTFIX_POSTFIX_TOOLS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/os/process_runner.h"

namespace mailfleet::postfix {

enum class QueueAction {
  kDelete,   // postsuper -d
  kHold,     // postsuper -h
  kRelease,  // postsuper -H
  kRequeue,  // postsuper -r: handled again, under a new queue ID
  kExpire,   // postsuper -e: bounced at the next queue manager pass
};

absl::string_view QueueActionName(QueueAction action);

struct ActionFailure {
  std::string queue_id;
  std::string reason;
};

struct ActionOutcome {
  // IDs postsuper reported acting on, in its order.
  std::vector<std::string> succeeded;
  // Every other ID asked for, with why.
  std::vector<ActionFailure> failed;
};

struct PostfixToolsOptions {
  absl::Duration timeout = absl::Seconds(120);  // per postsuper/postqueue run
  size_t batch_size = 5000;                     // IDs per postsuper run
};

class PostfixTools {
 public:
  // `runner` must outlive this object.
  PostfixTools(ProcessRunner* runner, std::string config_dir,
               PostfixToolsOptions options = {});

  // Applies `action` to `ids`. Every ID is checked against the exact queue
  // ID syntax first; if any fails, nothing runs (INVALID_ARGUMENT names
  // it). A batch whose postsuper run fails marks its IDs failed with the
  // reason and the others still run. Success per ID comes from postsuper's
  // own report ("ID: placed on hold"); an ID it did not report (gone, or
  // not where the action applies) is a failure, not an error.
  absl::StatusOr<ActionOutcome> Apply(QueueAction action,
                                      const std::vector<std::string>& ids) const;

  // postqueue -f. FAILED_PRECONDITION when the Postfix master is not
  // running (the queue manager cannot be told).
  absl::Status FlushAll() const;
  // postqueue -i for each ID (validated first, as in Apply).
  absl::Status FlushIds(const std::vector<std::string>& ids) const;
  // postqueue -s: `site` must look like a domain or [address].
  absl::Status FlushSite(const std::string& site) const;

 private:
  absl::Status RunPostqueue(std::vector<std::string> args) const;

  ProcessRunner* runner_;
  std::string config_dir_;
  PostfixToolsOptions options_;
};

// A destination as postqueue -s takes it: a domain name or a bracketed
// address, nothing else. The error says what is wrong.
absl::Status ValidateFlushSite(absl::string_view site);

}  // namespace mailfleet::postfix

#endif  // MAILFLEET_AGENT_POSTFIX_POSTFIX_TOOLS_H_
