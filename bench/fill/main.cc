// mailfleet-testpostfix: private Postfix instances for benchmarks and demos.
//
//   mailfleet-testpostfix create [--root DIR] [--port P] [--long-queue-ids]
//   mailfleet-testpostfix fill --port P --count N [--seed S] [--connections C]
//   mailfleet-testpostfix settle --root DIR [--timeout SECONDS]
//   mailfleet-testpostfix destroy --root DIR
//
// `create` leaves the instance running after it exits and prints root=,
// config_dir=, queue_dir= and smtp_port= lines; `fill` sends generated mail
// (tests/e2e/support/message_generator.h) and reports the rate.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fmt_absl.h"
#include "common/status_macros.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/postfix_instance.h"
#include "tests/e2e/support/smtp_sender.h"

namespace mailfleet::testing {
namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  mailfleet-testpostfix create [--root DIR] [--port P] "
    "[--long-queue-ids]\n"
    "  mailfleet-testpostfix fill --port P --count N [--seed S] "
    "[--connections C]\n"
    "  mailfleet-testpostfix settle --root DIR [--timeout SECONDS]\n"
    "  mailfleet-testpostfix destroy --root DIR\n";

// Generating everything up front would hold ~1 GB for 100,000 messages.
constexpr int kBatchSize = 2000;

// "--name value", "--name=value", or a bare "--name" for booleans.
class Flags {
 public:
  absl::Status Parse(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string arg = argv[i];
      if (!absl::StartsWith(arg, "--")) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected '", arg, "'"));
      }
      arg = arg.substr(2);
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        values_[arg.substr(0, eq)] = arg.substr(eq + 1);
      } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
        values_[arg] = argv[++i];
      } else {
        values_[arg] = "";
      }
    }
    return absl::OkStatus();
  }

  bool Has(const std::string& name) const { return values_.count(name) > 0; }

  absl::StatusOr<std::string> String(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " is required"));
    }
    return it->second;
  }

  absl::StatusOr<int64_t> Int(const std::string& name, int64_t fallback,
                              bool required = false) const {
    auto it = values_.find(name);
    if (it == values_.end()) {
      if (required) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " is required"));
      }
      return fallback;
    }
    int64_t value = 0;
    if (!absl::SimpleAtoi(it->second, &value) || value < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, " wants a non-negative number, not '", it->second, "'"));
    }
    return value;
  }

 private:
  std::map<std::string, std::string> values_;
};

absl::Status Create(const Flags& flags) {
  PostfixInstanceOptions options;
  // Without --root: a fresh /tmp/mailfleet-postfix-XXXXXX, printed below.
  if (flags.Has("root")) {
    MF_ASSIGN_OR_RETURN(options.root, flags.String("root"));
  }
  MF_ASSIGN_OR_RETURN(int64_t port, flags.Int("port", 0));
  options.smtp_port = static_cast<int>(port);
  options.long_queue_ids = flags.Has("long-queue-ids");
  MF_ASSIGN_OR_RETURN(auto instance, PostfixInstance::Create(options));
  MF_RETURN_IF_ERROR(instance->Detach());
  std::printf("root=%s\nconfig_dir=%s\nqueue_dir=%s\nsmtp_port=%d\n",
              instance->root().c_str(), instance->config_dir().c_str(),
              instance->queue_dir().c_str(), instance->smtp_port());
  return absl::OkStatus();
}

absl::Status Fill(const Flags& flags) {
  MF_ASSIGN_OR_RETURN(int64_t port, flags.Int("port", 0, /*required=*/true));
  MF_ASSIGN_OR_RETURN(int64_t count, flags.Int("count", 0, /*required=*/true));
  MF_ASSIGN_OR_RETURN(int64_t seed, flags.Int("seed", 1));
  MF_ASSIGN_OR_RETURN(int64_t connections, flags.Int("connections", 8));
  const absl::Time start = absl::Now();
  int64_t bytes = 0;
  for (int64_t first = 0; first < count; first += kBatchSize) {
    int batch = static_cast<int>(std::min<int64_t>(kBatchSize, count - first));
    std::vector<TestMessage> messages =
        GenerateVariedMessages(batch, static_cast<uint32_t>(seed), first);
    for (const TestMessage& m : messages) bytes += m.data.size();
    MF_RETURN_IF_ERROR(SendMessages(static_cast<int>(port), messages,
                                    static_cast<int>(connections)));
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf(
      "sent %lld messages (%.1f MB) in %.1f s: %.0f messages/s, %.1f MB/s\n",
      static_cast<long long>(count), bytes / 1e6, seconds, count / seconds,
      bytes / 1e6 / seconds);
  return absl::OkStatus();
}

absl::Status Settle(const Flags& flags) {
  MF_ASSIGN_OR_RETURN(std::string root, flags.String("root"));
  MF_ASSIGN_OR_RETURN(int64_t timeout, flags.Int("timeout", 600));
  MF_ASSIGN_OR_RETURN(auto instance, PostfixInstance::Attach(root));
  const absl::Time start = absl::Now();
  MF_RETURN_IF_ERROR(instance->WaitForQueueToSettle(absl::Seconds(timeout)));
  std::printf("settled after %.1f s\n",
              absl::ToDoubleSeconds(absl::Now() - start));
  return absl::OkStatus();
}

absl::Status Destroy(const Flags& flags) {
  MF_ASSIGN_OR_RETURN(std::string root, flags.String("root"));
  MF_ASSIGN_OR_RETURN(auto instance, PostfixInstance::Attach(root));
  return instance->Destroy();
}

int Main(int argc, char** argv) {
  // Standard output is for results that scripts parse.
  spdlog::set_default_logger(spdlog::stderr_color_mt("testpostfix"));
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  Flags flags;
  absl::Status status = flags.Parse(argc, argv, 2);
  if (status.ok()) {
    if (command == "create") {
      status = Create(flags);
    } else if (command == "fill") {
      status = Fill(flags);
    } else if (command == "settle") {
      status = Settle(flags);
    } else if (command == "destroy") {
      status = Destroy(flags);
    } else {
      status = absl::InvalidArgumentError(
          absl::StrCat("unknown command '", command, "'"));
    }
  }
  if (!status.ok()) {
    spdlog::error("{}: {}", command, status);
    if (absl::IsInvalidArgument(status)) std::fputs(kUsage, stderr);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace mailfleet::testing

int main(int argc, char** argv) { return mailfleet::testing::Main(argc, argv); }
