// The actions (hold, release, requeue, delete, expire) and flush, end to end
// in-process: RunCli against a fake agent over loopback gRPC, with the
// operator's terminal played by the test. What is pinned down: which
// messages each request selects, that a filter's selection is confirmed
// and then acted on by exactly the ids counted, and what an operator or a
// script sees.
#include <google/protobuf/util/json_util.h>

#include <functional>
#include <memory>
#include <sstream>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/cli/cli.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_run.h"
#include "tests/client/fake_agent_service.h"
#include "tests/client/sample_messages.h"

namespace mailfleet::cli {
namespace {

using ::mailfleet::testing::FakeAgentServer;
using ::mailfleet::testing::FakeAgentService;
using ::mailfleet::testing::SampleMessages;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1732449600);

// The operator's side of standard input.
struct Terminal {
  bool interactive = false;
  std::string typed;  // What the operator types, all of it.
  // Runs when the CLI first reads: the world changing while it asks.
  std::function<void()> on_first_read;
};

// Hands out `typed` once `on_first_read` has run.
class TypedInput : public std::streambuf {
 public:
  explicit TypedInput(const Terminal& terminal)
      : typed_(terminal.typed), on_first_read_(terminal.on_first_read) {}

 protected:
  int_type underflow() override {
    if (!started_) {
      started_ = true;
      if (on_first_read_) on_first_read_();
      setg(typed_.data(), typed_.data(), typed_.data() + typed_.size());
    }
    return gptr() < egptr() ? traits_type::to_int_type(*gptr())
                            : traits_type::eof();
  }

 private:
  std::string typed_;
  std::function<void()> on_first_read_;
  bool started_ = false;
};

std::vector<std::string> Ids(
    const google::protobuf::RepeatedPtrField<std::string>& ids) {
  return {ids.begin(), ids.end()};
}

// Short Postfix queue ids, none of which the sample messages use.
std::vector<std::string> ShortIds(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(absl::StrFormat("%08X", i));
  return ids;
}

class CliActionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeAgentServer>(&service_);
    ASSERT_FALSE(server_->address().empty());
    // Queues cycle deferred, deferred, deferred, hold, active, mpa-error.
    messages_ = SampleMessages(12, 1, kNow);
    service_.SetMessages(messages_);
  }

  // mailfleet --agent <fake> args..., standard input as `terminal` says.
  CliRun Mailfleet(std::vector<std::string> args, Terminal terminal = {}) {
    args.insert(args.begin(), {"--agent", server_->address()});
    std::ostringstream out, err;
    TypedInput input(terminal);
    std::istream in(&input);
    CliEnv env{
        &out, &err, kNow, absl::UTCTimeZone(), &in, terminal.interactive};
    int exit_code = RunCli(args, env);
    return {exit_code, out.str(), err.str()};
  }

  std::string Id(int i) const { return messages_[i].queue_id(); }

  // The sample messages in the hold queue, in order.
  std::vector<std::string> HeldIds() const {
    std::vector<std::string> ids;
    for (const v1::Message& message : messages_) {
      if (message.queue() == v1::POSTFIX_HOLD)
        ids.push_back(message.queue_id());
    }
    return ids;
  }

  std::string Prompt(absl::string_view verb, int count) const {
    return absl::StrCat(verb, " ", count, count == 1 ? " message" : " messages",
                        " on ", server_->address(), "? [y/N] ");
  }

  FakeAgentService service_;
  std::unique_ptr<FakeAgentServer> server_;
  std::vector<v1::Message> messages_;
};

TEST_F(CliActionTest, IdsAreActedOnWithoutAskingAndSummarized) {
  CliRun run = Mailfleet({"hold", Id(0), Id(1)});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, "hold: 2 matched, 2 done, 0 failed\n");
  EXPECT_EQ(run.err, "");
  ASSERT_EQ(service_.act_requests().size(), 1u);
  const v1::ActRequest request = service_.act_requests()[0];
  EXPECT_EQ(request.action(), v1::ACTION_HOLD);
  EXPECT_FALSE(request.dry_run());
  EXPECT_THAT(Ids(request.selector().queue_ids()), ElementsAre(Id(0), Id(1)));
  EXPECT_FALSE(request.selector().has_filter());
  EXPECT_FALSE(request.selector().all());
}

TEST_F(CliActionTest, EachVerbSendsItsAction) {
  const std::pair<const char*, v1::Action> verbs[] = {
      {"hold", v1::ACTION_HOLD},
      {"release", v1::ACTION_RELEASE},
      {"requeue", v1::ACTION_REQUEUE},
      {"delete", v1::ACTION_DELETE},
      {"expire", v1::ACTION_EXPIRE}};
  for (const auto& [verb, action] : verbs) {
    CliRun run = Mailfleet({verb, Id(2)});
    ASSERT_EQ(run.exit_code, kExitOk) << verb << ": " << run.err;
    EXPECT_EQ(run.out, absl::StrCat(verb, ": 1 matched, 1 done, 0 failed\n"));
    EXPECT_EQ(service_.act_requests().back().action(), action) << verb;
  }
}

TEST_F(CliActionTest, RepeatedIdsAreSentOnce) {
  CliRun run = Mailfleet({"delete", Id(0), Id(1), Id(0)});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  ASSERT_EQ(service_.act_requests().size(), 1u);
  EXPECT_THAT(Ids(service_.act_requests()[0].selector().queue_ids()),
              ElementsAre(Id(0), Id(1)));
}

TEST_F(CliActionTest, FailuresAreListedAfterTheSummaryAndExitOne) {
  service_.SetActFailure(Id(1), "not in the hold queue");
  CliRun run = Mailfleet({"release", Id(0), Id(1), "00000ABCDE"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out,
            "release: 3 matched, 1 done, 2 failed\n"
            "  " +
                Id(1) +
                ": not in the hold queue\n"
                "  00000ABCDE: not in the queue\n");
  EXPECT_EQ(run.err, "mailfleet: could not release 2 of 3 messages\n");
}

TEST_F(CliActionTest, FailureReasonsCannotReachTheTerminalRaw) {
  service_.SetActFailure(Id(0), "postsuper: \x1b[2Jfatal\r\nerror");
  CliRun run = Mailfleet({"hold", Id(0)});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(Lines(run.out),
              ElementsAre("hold: 1 matched, 0 done, 1 failed",
                          "  " + Id(0) + ": postsuper: ?[2Jfatal??error"));
}

TEST_F(CliActionTest, JsonIsTheActResponseOnOneLine) {
  service_.SetActFailure(Id(1), "queue file is locked");
  CliRun run = Mailfleet({"-o", "json", "expire", Id(0), Id(1)});
  EXPECT_EQ(run.exit_code, kExitFailure);
  v1::ActResponse expected;
  expected.set_action(v1::ACTION_EXPIRE);
  expected.set_matched(2);
  expected.set_succeeded(1);
  expected.set_failed(1);
  expected.add_queue_ids(Id(0));
  v1::ActFailure* failure = expected.add_failures();
  failure->set_queue_id(Id(1));
  failure->set_reason("queue file is locked");
  EXPECT_EQ(run.out, ProtobufJson(expected) + "\n");
  EXPECT_EQ(run.err, "mailfleet: could not expire 1 of 2 messages\n");
}

TEST_F(CliActionTest, IdsAndFilterFlagsTogetherAreAUsageErrorAndSendNothing) {
  CliRun run = Mailfleet({"delete", Id(0), "--match", "x", "--yes"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "mailfleet: give queue ids or filter flags, not both (--queue "
            "alone may go with ids: where to look for them)\n");
  run = Mailfleet({"delete", Id(0), "--all"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err,
            "mailfleet: --all selects by filter; it cannot be combined with "
            "queue ids\n");
  EXPECT_THAT(service_.act_requests(), IsEmpty());
}

// An id may name both a Postfix message and an MPA item: --queue says
// which side to act on, and goes along with the ids.
TEST_F(CliActionTest, IdsWithQueuesSayWhereToLookForThem) {
  Mailfleet({"respool", "item-1", "--queue", "mpa-error"});
  ASSERT_EQ(service_.act_requests().size(), 1u);
  const v1::ActRequest sent = service_.act_requests()[0];
  EXPECT_EQ(sent.action(), v1::ACTION_RESPOOL);
  EXPECT_THAT(sent.selector().queue_ids(), ElementsAre("item-1"));
  EXPECT_THAT(sent.selector().filter().queues(), ElementsAre(v1::MPA_ERROR));
  EXPECT_EQ(sent.selector().filter().pattern(), "");
}

TEST_F(CliActionTest, NothingSelectedIsAUsageErrorUnlessAll) {
  CliRun run = Mailfleet({"delete", "--yes"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_THAT(run.err, StartsWith("mailfleet: 'delete' needs queue ids or "
                                  "filter flags (--all for every message)"));
  EXPECT_THAT(service_.act_requests(), IsEmpty());

  run = Mailfleet({"delete", "--all", "--yes"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, "delete: 12 matched, 12 done, 0 failed\n");
  ASSERT_EQ(service_.act_requests().size(), 1u);
  const v1::Selector selector = service_.act_requests()[0].selector();
  EXPECT_TRUE(selector.all());
  EXPECT_TRUE(selector.has_filter());
  EXPECT_EQ(selector.filter().ByteSizeLong(), 0u);
  EXPECT_THAT(selector.queue_ids(), IsEmpty());
}

TEST_F(CliActionTest, FilterSelectingEverythingWithoutAllIsTheAgentsError) {
  // --older-than 0s selects every message; only the agent can tell, and it
  // refuses before doing anything.
  service_.SetFailure(grpc::Status(
      grpc::StatusCode::INVALID_ARGUMENT,
      "the filter selects every message: set all to act on the whole queue"));
  CliRun run = Mailfleet({"hold", "--older-than", "0s", "--yes"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "mailfleet: the filter selects every message: set all to act on "
            "the whole queue\n");
}

TEST_F(CliActionTest, DryRunByFilterListsWhatWouldBeActedOn) {
  CliRun run = Mailfleet({"hold", "--queue", "hold", "--dry-run"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  const std::vector<std::string> held = HeldIds();
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(run.out,
            "would hold 2 messages:\n  " + held[0] + "\n  " + held[1] + "\n");
  EXPECT_EQ(run.err, "");
  ASSERT_EQ(service_.act_requests().size(), 1u);
  const v1::ActRequest request = service_.act_requests()[0];
  EXPECT_TRUE(request.dry_run());
  EXPECT_THAT(request.selector().filter().queues(),
              ElementsAre(v1::POSTFIX_HOLD));
  EXPECT_FALSE(request.selector().all());
}

TEST_F(CliActionTest, DryRunJsonIsTheAgentsAnswer) {
  CliRun run =
      Mailfleet({"requeue", "--queue", "hold", "--dry-run", "-o", "json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  v1::ActResponse expected;
  expected.set_action(v1::ACTION_REQUEUE);
  expected.set_dry_run(true);
  expected.set_matched(2);
  for (const std::string& id : HeldIds()) {
    expected.add_queue_ids(id);
    expected.add_queues(v1::POSTFIX_HOLD);
  }
  EXPECT_EQ(run.out, ProtobufJson(expected) + "\n");
}

TEST_F(CliActionTest, DryRunByIdsSendsTheIdsAndAsksNothing) {
  CliRun run =
      Mailfleet({"delete", "--dry-run", Id(4)}, Terminal{true, "y\n", nullptr});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, "would delete 1 message:\n  " + Id(4) + "\n");
  EXPECT_EQ(run.err, "");
  ASSERT_EQ(service_.act_requests().size(), 1u);
  EXPECT_TRUE(service_.act_requests()[0].dry_run());
  EXPECT_THAT(Ids(service_.act_requests()[0].selector().queue_ids()),
              ElementsAre(Id(4)));
}

TEST_F(CliActionTest, FilterWithoutATerminalNeedsYes) {
  CliRun run = Mailfleet({"delete", "--queue", "deferred"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "mailfleet: will not delete messages selected by a filter without "
            "confirmation, and standard input is not a terminal: pass --yes "
            "(or --dry-run to see them first)\n");
  // A terminal that cannot be read from is no terminal either.
  std::ostringstream out, err;
  CliEnv env{&out, &err, kNow, absl::UTCTimeZone(), nullptr, true};
  EXPECT_EQ(RunCli({"--agent", server_->address(), "hold", "--all"}, env),
            kExitUsage);
  EXPECT_THAT(service_.act_requests(), IsEmpty());
}

TEST_F(CliActionTest, YesActsByFilterInOneCallWithoutAsking) {
  bool read = false;
  CliRun run = Mailfleet({"delete", "--queue", "hold", "--yes"},
                         Terminal{true, "n\n", [&read] { read = true; }});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_FALSE(read);
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(run.out, "delete: 2 matched, 2 done, 0 failed\n");
  ASSERT_EQ(service_.act_requests().size(), 1u);
  const v1::ActRequest request = service_.act_requests()[0];
  EXPECT_FALSE(request.dry_run());
  EXPECT_THAT(request.selector().filter().queues(),
              ElementsAre(v1::POSTFIX_HOLD));
  EXPECT_THAT(request.selector().queue_ids(), IsEmpty());
}

TEST_F(CliActionTest, ConfirmedActionActsOnExactlyTheDryRunsIds) {
  CliRun run = Mailfleet({"hold", "--queue", "deferred"},
                         Terminal{true, "y\n", nullptr});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.err, Prompt("hold", 6));
  EXPECT_EQ(run.out, "hold: 6 matched, 6 done, 0 failed\n");

  const std::vector<v1::ActRequest> requests = service_.act_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(requests[0].dry_run());
  EXPECT_THAT(requests[0].selector().filter().queues(),
              ElementsAre(v1::POSTFIX_DEFERRED));
  std::vector<std::string> deferred;
  for (const v1::Message& message : messages_) {
    if (message.queue() == v1::POSTFIX_DEFERRED) {
      deferred.push_back(message.queue_id());
    }
  }
  EXPECT_EQ(requests[1].action(), v1::ACTION_HOLD);
  EXPECT_FALSE(requests[1].dry_run());
  EXPECT_THAT(Ids(requests[1].selector().queue_ids()),
              ElementsAreArray(deferred));
  // The ids go with the queues of their side (all of Postfix's: a message
  // that moved on since the count is still the one counted), nothing else.
  EXPECT_THAT(requests[1].selector().filter().queues(),
              ElementsAre(v1::POSTFIX_MAILDROP, v1::POSTFIX_INCOMING, v1::POSTFIX_ACTIVE,
                          v1::POSTFIX_DEFERRED, v1::POSTFIX_HOLD, v1::POSTFIX_CORRUPT));
  EXPECT_EQ(requests[1].selector().filter().pattern(), "");
  EXPECT_FALSE(requests[1].selector().all());
}

// An id may name a Postfix message and an MPA item at once: each id counted
// is acted on on the side it was counted on, one request per side.
TEST_F(CliActionTest, ConfirmedIdsAreSentWithTheSideTheyWereCountedOn) {
  std::vector<v1::Message> messages = messages_;
  v1::Message item;
  item.set_queue_id(messages_[0].queue_id());  // the same id, an MPA item
  item.set_queue(v1::MPA_ERROR);
  messages.push_back(item);
  service_.SetMessages(messages);
  CliRun run = Mailfleet({"delete", "--queue", "deferred", "--queue", "mpa-error"},
                         Terminal{true, "y\n", nullptr});
  const std::vector<v1::ActRequest> requests = service_.act_requests();
  ASSERT_EQ(requests.size(), 3u) << run.err;
  EXPECT_TRUE(requests[0].dry_run());
  EXPECT_THAT(requests[1].selector().queue_ids(), ::testing::Contains(item.queue_id()));
  EXPECT_THAT(requests[1].selector().filter().queues(),
              ::testing::Contains(v1::POSTFIX_DEFERRED));
  EXPECT_THAT(requests[1].selector().filter().queues(),
              ::testing::Not(::testing::Contains(v1::MPA_ERROR)));
  EXPECT_THAT(requests[2].selector().queue_ids(), ::testing::Contains(item.queue_id()));
  EXPECT_THAT(requests[2].selector().filter().queues(),
              ElementsAre(v1::MPA_OUTGOING, v1::MPA_ERROR, v1::MPA_SPOOL, v1::MPA_RESPOOL));
}

TEST_F(CliActionTest, MailArrivingWhileAskingIsLeftAlone) {
  // Six more deferred messages arrive while the question waits; the
  // operator confirmed two held ones, and two are acted on.
  std::vector<v1::Message> more = SampleMessages(24, 1, kNow);
  CliRun run =
      Mailfleet({"release", "--queue", "hold"},
                Terminal{true, "yes\n", [&] { service_.SetMessages(more); }});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.err, Prompt("release", 2));
  EXPECT_EQ(run.out, "release: 2 matched, 2 done, 0 failed\n");
  ASSERT_EQ(service_.act_requests().size(), 2u);
  EXPECT_THAT(Ids(service_.act_requests()[1].selector().queue_ids()),
              ElementsAreArray(HeldIds()));
}

TEST_F(CliActionTest, OnlyYOrYesConfirms) {
  for (const char* typed : {"y\n", "Y\n", "yes\n", " YES \r\n", "y"}) {
    CliRun run =
        Mailfleet({"hold", "--queue", "hold"}, Terminal{true, typed, nullptr});
    EXPECT_EQ(run.exit_code, kExitOk) << typed << ": " << run.err;
    EXPECT_FALSE(service_.act_requests().back().dry_run()) << typed;
  }
  for (const char* typed :
       {"n\n", "\n", "no\n", "yess\n", "sure\n", "", "\ny\n"}) {
    const size_t before = service_.act_requests().size();
    CliRun run = Mailfleet({"delete", "--queue", "hold"},
                           Terminal{true, typed, nullptr});
    EXPECT_EQ(run.exit_code, kExitFailure) << typed;
    EXPECT_EQ(run.out, "") << typed;
    EXPECT_THAT(run.err, StartsWith(Prompt("delete", 2))) << typed;
    EXPECT_THAT(run.err,
                HasSubstr("mailfleet: not confirmed: no message was deleted\n"))
        << typed;
    // The dry run only.
    ASSERT_EQ(service_.act_requests().size(), before + 1) << typed;
    EXPECT_TRUE(service_.act_requests().back().dry_run()) << typed;
  }
}

TEST_F(CliActionTest, EndOfInputIsANoOnItsOwnLine) {
  CliRun run = Mailfleet({"delete", "--all"}, Terminal{true, "", nullptr});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.err, Prompt("delete", 12) +
                         "\nmailfleet: not confirmed: no message was "
                         "deleted\n");
}

TEST_F(CliActionTest, NothingMatchedAsksNothing) {
  bool read = false;
  CliRun run = Mailfleet({"hold", "--queue", "incoming"},
                         Terminal{true, "y\n", [&read] { read = true; }});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_FALSE(read);
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(run.out, "hold: 0 matched, 0 done, 0 failed\n");
  EXPECT_EQ(service_.act_requests().size(), 1u);
}

TEST_F(CliActionTest, ConfirmedFailuresAreReportedLikeAnyOther) {
  const std::vector<std::string> held = HeldIds();
  service_.SetActFailure(held[1], "message is being delivered");
  CliRun run =
      Mailfleet({"requeue", "--queue", "hold"}, Terminal{true, "y\n", nullptr});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out, "requeue: 2 matched, 1 done, 1 failed\n  " + held[1] +
                         ": message is being delivered\n");
  EXPECT_EQ(run.err, Prompt("requeue", 2) +
                         "mailfleet: could not requeue 1 of 2 messages\n");
}

TEST_F(CliActionTest, AgentErrorOnTheDryRunAsksNothing) {
  service_.SetFailure(
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "viewer may not act"));
  CliRun run = Mailfleet({"hold", "--queue", "deferred"},
                         Terminal{true, "y\n", nullptr});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err,
              ::testing::AllOf(::testing::StartsWith(
                                   "mailfleet: permission denied by agent at 127.0.0.1:"),
                               ::testing::EndsWith(": viewer may not act\n")));
  EXPECT_EQ(service_.act_requests().size(), 1u);
}

TEST_F(CliActionTest, DryRunThatDoesNotListWhatItCountsIsRefused) {
  v1::ActResponse short_list;
  short_list.set_action(v1::ACTION_DELETE);
  short_list.set_dry_run(true);
  short_list.set_matched(5);
  short_list.add_queue_ids(Id(0));
  short_list.add_queue_ids(Id(1));
  service_.SetActResponse(short_list);
  CliRun run = Mailfleet({"delete", "--queue", "deferred"},
                         Terminal{true, "y\n", nullptr});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.err, "mailfleet: agent at " + server_->address() +
                         " counted 5 messages but listed 2 queue ids; "
                         "nothing was done\n");
  EXPECT_EQ(service_.act_requests().size(), 1u);
}

TEST_F(CliActionTest, ManyIdsGoInBatchesAndAddUp) {
  std::vector<std::string> ids = ShortIds(25000);
  std::vector<std::string> args = {"hold", "--dry-run"};
  args.insert(args.end(), ids.begin(), ids.end());
  CliRun run = Mailfleet(args);
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 25001u);
  EXPECT_EQ(lines[0], "would hold 25000 messages:");
  EXPECT_EQ(lines[25000], "  " + ids.back());
  std::vector<int> sizes;
  std::vector<std::string> sent;
  for (const v1::ActRequest& request : service_.act_requests()) {
    sizes.push_back(request.selector().queue_ids_size());
    for (const std::string& id : request.selector().queue_ids()) {
      sent.push_back(id);
    }
  }
  EXPECT_THAT(sizes, ElementsAre(10000, 10000, 5000));
  EXPECT_EQ(sent, ids);
}

TEST_F(CliActionTest, ConfirmedSelectionLargerThanABatchIsSentInBatches) {
  std::vector<v1::Message> many = SampleMessages(21000, 1, kNow);
  service_.SetMessages(many);
  CliRun run =
      Mailfleet({"delete", "--queue", "hold"}, Terminal{true, "y\n", nullptr});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.err, Prompt("delete", 3500));
  EXPECT_EQ(run.out, "delete: 3500 matched, 3500 done, 0 failed\n");

  run = Mailfleet({"delete", "--queue", "deferred,hold"},
                  Terminal{true, "y\n", nullptr});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, "delete: 14000 matched, 14000 done, 0 failed\n");
  const std::vector<v1::ActRequest> requests = service_.act_requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_TRUE(requests[2].dry_run());
  EXPECT_EQ(requests[3].selector().queue_ids_size(), 10000);
  EXPECT_EQ(requests[4].selector().queue_ids_size(), 4000);
  std::string last_selected;
  for (const v1::Message& message : many) {
    if (message.queue() == v1::POSTFIX_DEFERRED ||
        message.queue() == v1::POSTFIX_HOLD) {
      last_selected = message.queue_id();
    }
  }
  EXPECT_EQ(requests[4].selector().queue_ids(3999), last_selected);
}

TEST_F(CliActionTest, BatchFailingMidwayShowsWhatWasDoneThenTheError) {
  std::vector<v1::Message> many = SampleMessages(25000, 1, kNow);
  service_.SetMessages(many);
  service_.FailActAfter(
      1, grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent restarting"));
  std::vector<std::string> args = {"hold"};
  for (const v1::Message& message : many) args.push_back(message.queue_id());
  CliRun run = Mailfleet(args);
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out, "hold: 10000 matched, 10000 done, 0 failed\n");
  EXPECT_EQ(run.err, "mailfleet: cannot reach agent at " + server_->address() +
                         ": agent restarting (stopped after 10000 of 25000 "
                         "messages)\n");
  EXPECT_EQ(service_.act_requests().size(), 2u);
}

TEST_F(CliActionTest, ActionDeadlineSaysTheAgentMayHaveActed) {
  service_.SetHangActions(true);
  CliRun run = Mailfleet({"--timeout", "1s", "delete", Id(0)});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.err, StartsWith("mailfleet: agent at " + server_->address() +
                                  " did not answer within 1s ("));
  EXPECT_THAT(run.err,
              HasSubstr("it may have acted on some messages: see mailfleet "
                        "ls\n"));
  run = Mailfleet({"--timeout", "1s", "delete", "--dry-run", Id(0)});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.err, Not(HasSubstr("may have acted")));
}

TEST_F(CliActionTest, FlushWithoutArgumentsFlushesEverything) {
  CliRun run = Mailfleet({"flush"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, "flushed\n");
  EXPECT_EQ(run.err, "");
  ASSERT_EQ(service_.flush_requests().size(), 1u);
  const v1::FlushRequest request = service_.flush_requests()[0];
  EXPECT_TRUE(request.all());
  EXPECT_THAT(request.queue_ids(), IsEmpty());
  EXPECT_EQ(request.site(), "");
}

TEST_F(CliActionTest, FlushIdsOrSite) {
  CliRun run = Mailfleet({"flush", Id(0), Id(1)});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, "flushed\n");
  run = Mailfleet({"flush", "--site", "example.net", "-o", "json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.out, "{}\n");
  const std::vector<v1::FlushRequest> requests = service_.flush_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_FALSE(requests[0].all());
  EXPECT_THAT(Ids(requests[0].queue_ids()), ElementsAre(Id(0), Id(1)));
  EXPECT_EQ(requests[0].site(), "");
  EXPECT_FALSE(requests[1].all());
  EXPECT_THAT(requests[1].queue_ids(), IsEmpty());
  EXPECT_EQ(requests[1].site(), "example.net");
}

TEST_F(CliActionTest, FlushSiteWithIdsIsAUsageError) {
  CliRun run = Mailfleet({"flush", "--site", "example.net", Id(0)});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "mailfleet: flush takes queue ids or --site, not both\n");
  EXPECT_THAT(service_.flush_requests(), IsEmpty());
}

TEST_F(CliActionTest, FlushWithTheMasterDownIsOneLineAndExitOne) {
  service_.SetFailure(grpc::Status(
      grpc::StatusCode::FAILED_PRECONDITION,
      "the Postfix master is not running: postqueue -f cannot flush"));
  CliRun run = Mailfleet({"flush"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "mailfleet: the Postfix master is not running: postqueue -f "
            "cannot flush\n");
}

}  // namespace
}  // namespace mailfleet::cli
