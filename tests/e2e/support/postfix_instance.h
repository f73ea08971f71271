// A private, real Postfix instance for end-to-end tests and benchmarks.
//
// Everything lives under one root directory: config/ (main.cf, master.cf
// from the package's stock copy, a transport map), queue/, data/ and the
// instance's own maillog. smtpd listens on 127.0.0.1:PORT only; nothing is
// delivered locally and every next hop is a closed loopback port, so each
// message is tried once on arrival and then stays in the deferred queue
// (backoff of hours) with a delay reason. The system instance (/etc/postfix,
// /var/spool/postfix) is never touched: all Postfix commands run with
// `-c <root>/config`, which Postfix allows root without listing the
// directory in the default main.cf.
//
// Must run as root (postfix(1) refuses otherwise). Start/Stop/Destroy must
// not run concurrently with anything else on the same object; the const
// methods are thread-safe.
//
// Example:
//   MF_ASSIGN_OR_RETURN(auto postfix, PostfixInstance::Create({}));
//   MF_RETURN_IF_ERROR(SendMessages(postfix->smtp_port(), messages, 4));
//   MF_RETURN_IF_ERROR(postfix->WaitForQueueToSettle(absl::Seconds(30)));
//   MF_ASSIGN_OR_RETURN(std::string json, postfix->PostqueueJson());
#ifndef MAILFLEET_TESTS_E2E_SUPPORT_POSTFIX_INSTANCE_H_
#define MAILFLEET_TESTS_E2E_SUPPORT_POSTFIX_INSTANCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/os/process_runner.h"
#include "tests/e2e/support/instance_config.h"

namespace mailfleet::testing {

struct PostfixInstanceOptions {
  // Directory for everything the instance owns; created if missing, and
  // then must be empty. Empty: a fresh /tmp/mailfleet-postfix-XXXXXX.
  std::string root;
  // Port for smtpd on 127.0.0.1; 0 picks a free one.
  int smtp_port = 0;
  // enable_long_queue_ids: queue IDs like 4fD1Kq3mQxzAbc instead of hex.
  bool long_queue_ids = false;
  // Start the master in Create; otherwise the queue directories appear only
  // with the first StartMaster().
  bool start = true;
};

class PostfixInstance {
 public:
  // Writes the configuration and (by default) starts the instance. When
  // Postfix is not installed, fails with FAILED_PRECONDITION saying how to
  // install it. Also removes instances left behind by test processes that
  // died before their destructor ran.
  static absl::StatusOr<std::unique_ptr<PostfixInstance>> Create(
      const PostfixInstanceOptions& options);

  // An instance that Create made earlier, possibly in another process and
  // then Detach()ed. The returned object does not own it: its destructor
  // leaves the instance alone; call Destroy() to remove it.
  static absl::StatusOr<std::unique_ptr<PostfixInstance>> Attach(
      const std::string& root);

  PostfixInstance(const PostfixInstance&) = delete;
  PostfixInstance& operator=(const PostfixInstance&) = delete;

  // Unless detached or merely attached: stops the master, kills whatever
  // process of the instance is left, removes the root directory.
  ~PostfixInstance();

  const std::string& root() const { return paths_.root; }
  const std::string& config_dir() const { return paths_.config_dir; }
  const std::string& queue_dir() const { return paths_.queue_dir; }
  const std::string& maillog_file() const { return paths_.maillog_file; }
  int smtp_port() const { return smtp_port_; }

  // Runs a Postfix command against this instance: "-c CONFIG_DIR" goes right
  // after argv[0] for the commands that take it (postfix, postqueue,
  // postsuper, postcat, postconf, postmap, postalias, postlog), and every
  // command gets MAIL_CONFIG in its environment. A bare command name is
  // looked up in PATH, then in /usr/sbin. A non-zero exit is a result.
  absl::StatusOr<ProcessResult> RunTool(std::vector<std::string> argv_without_c,
                                        ProcessOptions options = {}) const;

  // `postqueue -c CONFIG_DIR -j` standard output: one JSON object per
  // message. Works with the master stopped too (postqueue then runs showq
  // itself, which only root may do). Fails on a non-zero exit.
  absl::StatusOr<std::string> PostqueueJson() const;

  // Returns once maildrop, incoming and active are empty, i.e. every message
  // received so far is deferred (or held). Polls the queue directory.
  absl::Status WaitForQueueToSettle(absl::Duration timeout) const;

  // `postfix start`; OK if the master already runs.
  absl::Status StartMaster();
  // Stops the master as `postfix stop` does (SIGTERM), then waits until
  // every process of the instance has exited, killing stragglers after ten
  // seconds. OK if nothing runs.
  absl::Status StopMaster();
  bool MasterRunning() const;

  // Lets the instance outlive this object (and this process): the
  // destructor then leaves processes and files alone.
  absl::Status Detach();

  // Stops everything and removes the root directory; the destructor does
  // this for owned instances but cannot report failures.
  absl::Status Destroy();

 private:
  PostfixInstance(const std::string& root, int smtp_port, bool owned);

  absl::Status WriteConfig(const InstanceSettings& settings,
                           const std::string& master_cf_template) const;
  absl::Status WriteState(bool detached) const;
  // The last `lines` lines of the maillog, for error messages.
  std::string MaillogTail(int lines) const;

  InstancePaths paths_;
  int smtp_port_;
  bool owned_;
  bool destroyed_ = false;
  mutable RealProcessRunner runner_;
};

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_SUPPORT_POSTFIX_INSTANCE_H_
