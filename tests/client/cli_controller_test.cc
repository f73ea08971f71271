// The CLI through the controller, end to end in-process: RunCli against a
// fake ControllerService over loopback gRPC. What is pinned down: each
// command's table and JSON, the gateway selection flags and their usage
// errors, per-gateway rows printed in the order results arrive, and that a
// failed gateway is reported (stderr, exit status 1) while the others'
// answers are still printed.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <memory>
#include <sstream>
#include <streambuf>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/cli/cli.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_run.h"
#include "tests/client/fake_controller_service.h"
#include "tests/client/sample_messages.h"

namespace mailfleet::cli {
namespace {

using ::mailfleet::testing::FakeControllerServer;
using ::mailfleet::testing::FakeControllerService;
using ::mailfleet::testing::SampleMessages;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1732449600);

v1::Gateway MakeGateway(const std::string& name, v1::GatewayState state,
                        int64_t messages) {
  v1::Gateway gateway;
  gateway.set_name(name);
  gateway.set_address(absl::StrCat(name, ".example:7443"));
  gateway.set_state(state);
  gateway.set_synced(state == v1::GATEWAY_CONNECTED);
  gateway.mutable_last_heard()->set_seconds(absl::ToUnixSeconds(kNow) - 5);
  gateway.mutable_summary()->set_total_messages(messages);
  gateway.mutable_summary()->set_total_bytes(messages * 2048);
  (*gateway.mutable_labels())["site"] = "ams";
  (*gateway.mutable_labels())["env"] = "prod";
  return gateway;
}

v1::GatewayFailure Failure(const std::string& name, const std::string& error) {
  v1::GatewayFailure failure;
  failure.set_gateway(name);
  failure.set_address(absl::StrCat(name, ".example:7443"));
  failure.set_code(14);
  failure.set_error(error);
  return failure;
}

v1::GatewayActResult ActResult(const std::string& name,
                               const v1::FleetActRequest& request,
                               std::vector<std::string> ids,
                               std::vector<std::string> failed_ids = {}) {
  v1::GatewayActResult result;
  result.set_gateway(name);
  result.set_address(absl::StrCat(name, ".example:7443"));
  result.mutable_elapsed()->set_nanos(250000000);
  v1::ActResponse& response = *result.mutable_response();
  response.set_action(request.request().action());
  response.set_dry_run(request.request().dry_run());
  response.set_matched(static_cast<int64_t>(ids.size() + failed_ids.size()));
  for (const std::string& id : ids) {
    response.add_queue_ids(id);
    response.add_queues(v1::POSTFIX_DEFERRED);
  }
  if (!request.request().dry_run()) {
    response.set_succeeded(static_cast<int64_t>(ids.size()));
    response.set_failed(static_cast<int64_t>(failed_ids.size()));
    for (const std::string& id : failed_ids) {
      v1::ActFailure* failure = response.add_failures();
      failure->set_queue_id(id);
      failure->set_reason("postsuper: no such file");
    }
  }
  return result;
}

v1::GatewayActResult FailedActResult(const std::string& name) {
  v1::GatewayActResult result;
  result.set_gateway(name);
  result.set_address(absl::StrCat(name, ".example:7443"));
  *result.mutable_failure() = Failure(name, "connection refused");
  result.mutable_elapsed()->set_seconds(2);
  return result;
}

// `line` is `expected` in the protobuf JSON mapping. Compared parsed back:
// a map (a gateway's labels) prints in no fixed order.
template <typename T>
::testing::AssertionResult IsJsonOf(const std::string& line,
                                    const T& expected) {
  T printed;
  if (!google::protobuf::util::JsonStringToMessage(line, &printed).ok()) {
    return ::testing::AssertionFailure() << "not JSON of the type: " << line;
  }
  if (!google::protobuf::util::MessageDifferencer::Equals(printed, expected)) {
    return ::testing::AssertionFailure() << line << "\nis not\n"
                                         << ProtobufJson(expected);
  }
  return ::testing::AssertionSuccess();
}

// Standard input as typed by the operator.
class Typed : public std::streambuf {
 public:
  explicit Typed(std::string text) : text_(std::move(text)) {
    setg(text_.data(), text_.data(), text_.data() + text_.size());
  }

 private:
  std::string text_;
};

class CliControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeControllerServer>(&service_);
    ASSERT_FALSE(server_->address().empty());
  }

  // mailfleet --controller <fake> args...; `typed` at a terminal when set.
  CliRun Mailfleet(std::vector<std::string> args,
                   const std::string* typed = nullptr) {
    args.insert(args.begin(), {"--controller", server_->address()});
    return Run(args, typed);
  }

  static CliRun Run(const std::vector<std::string>& args,
                    const std::string* typed = nullptr) {
    std::ostringstream out, err;
    Typed input(typed != nullptr ? *typed : "");
    std::istream in(&input);
    CliEnv env{&out, &err, kNow, absl::UTCTimeZone(), &in, typed != nullptr};
    int exit_code = RunCli(args, env);
    return {exit_code, out.str(), err.str()};
  }

  FakeControllerService service_;
  std::unique_ptr<FakeControllerServer> server_;
};

TEST_F(CliControllerTest, GatewaysPrintsTableWithLastErrorColumn) {
  v1::ListGatewaysResponse response;
  *response.add_gateways() = MakeGateway("gw1", v1::GATEWAY_CONNECTED, 12);
  v1::Gateway down = MakeGateway("gw2", v1::GATEWAY_UNREACHABLE, 3);
  down.set_last_error("connection refused");
  *response.add_gateways() = down;
  service_.SetGateways(response);
  CliRun run = Mailfleet({"gateways", "-l", "site=ams"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], MatchesRegex("NAME +ADDRESS +STATE +LAST-HEARD +"
                                     "MESSAGES +SIZE +MPA +LABELS +LAST-ERROR"));
  EXPECT_THAT(lines[1], MatchesRegex("gw1 +gw1.example:7443 +connected +5s "
                                     "ago +12 +24K +- +env=prod,site=ams"));
  EXPECT_THAT(lines[2], MatchesRegex(".*unreachable.* 3\\? .*env=prod,site=ams "
                                     "+connection refused"));
  ASSERT_EQ(service_.list_gateways_requests().size(), 1u);
  EXPECT_EQ(service_.list_gateways_requests()[0].selector().label_selector(),
            "site=ams");
}

TEST_F(CliControllerTest, GatewaysJsonIsOneGatewayPerLine) {
  v1::ListGatewaysResponse response;
  *response.add_gateways() = MakeGateway("gw1", v1::GATEWAY_CONNECTED, 12);
  *response.add_gateways() = MakeGateway("gw2", v1::GATEWAY_STALE, 1);
  service_.SetGateways(response);
  CliRun run = Mailfleet({"gateways", "-o", "json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(IsJsonOf(lines[0], response.gateways(0)));
  EXPECT_TRUE(IsJsonOf(lines[1], response.gateways(1)));
}

TEST_F(CliControllerTest, SelectionFlagsAreUsageErrorsOutOfPlace) {
  CliRun run = Run({"--agent", "a:1", "ls", "-g", "gw1"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("need --controller ADDR"));
  run = Run({"--agent", "a:1", "--controller", "c:1", "ls"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_EQ(run.err, "mailfleet: give --agent or --controller, not both\n");
  run = Mailfleet({"ls", "-g", "gw1", "-l", "site=ams"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("select gateways one way"));
  run = Mailfleet({"ls", "--all-gateways", "-g", "gw1"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  run = Run({"--agent", "a:1", "gateways"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("needs --controller ADDR"));
  run = Mailfleet({"hold", "--queue", "deferred", "--yes"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("needs gateways: -g NAME, -l SELECTOR or "
                                 "--all-gateways"));
  run = Mailfleet({"flush"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  run = Mailfleet({"watch", "--queue", "hold"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_TRUE(service_.act_requests().empty());
  EXPECT_TRUE(service_.flush_requests().empty());
  EXPECT_TRUE(service_.list_requests().empty());
}

TEST_F(CliControllerTest, RepeatedGatewayFlagsSelectByName) {
  CliRun run = Mailfleet({"ls", "-g", "gw1", "--gateway", "gw3", "-o", "json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  std::vector<v1::FleetListRequest> requests = service_.list_requests();
  ASSERT_EQ(requests.size(), 1u);
  const v1::GatewaySelector& selector = requests[0].selector();
  EXPECT_THAT(std::vector<std::string>(selector.names().begin(),
                                       selector.names().end()),
              ElementsAre("gw1", "gw3"));
  EXPECT_FALSE(selector.all());
}

TEST_F(CliControllerTest, SummaryShowsTotalsGatewaysAndLeftOut) {
  v1::FleetSummaryResponse response;
  response.mutable_total()->set_total_messages(15);
  response.mutable_total()->set_total_bytes(15 * 2048);
  v1::QueueStats* stats = response.mutable_total()->add_queues();
  stats->set_queue(v1::POSTFIX_DEFERRED);
  stats->set_messages(15);
  *response.add_gateways() = MakeGateway("gw1", v1::GATEWAY_CONNECTED, 15);
  *response.add_gateways() = MakeGateway("gw2", v1::GATEWAY_UNREACHABLE, 0);
  *response.add_failures() = Failure("gw2", "connection refused");
  service_.SetSummary(response);
  CliRun run = Mailfleet({"summary"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.err, "mailfleet: 1 of 2 gateways left out of the total\n");
  EXPECT_THAT(run.out, StartsWith("fleet: 2 gateways, 1 in the total\n"));
  EXPECT_THAT(run.out, HasSubstr("\nTOTAL "));
  EXPECT_THAT(run.out, MatchesRegex("(.|\n)*\ngw1 +gw1.example:7443 +connected"
                                    "(.|\n)*"));
  EXPECT_THAT(run.out,
              HasSubstr("left out of the total:\n  gateway gw2 "
                        "(gw2.example:7443): connection refused\n"));
  // Without a filter the controller answers from what it holds.
  ASSERT_EQ(service_.summary_requests().size(), 1u);
  EXPECT_FALSE(service_.summary_requests()[0].has_filter());

  run = Mailfleet({"summary", "-o", "json", "--queue", "hold"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  ASSERT_EQ(Lines(run.out).size(), 1u);
  EXPECT_TRUE(IsJsonOf(Lines(run.out)[0], response));
  EXPECT_TRUE(service_.summary_requests()[1].has_filter());
}

class CliControllerListTest : public CliControllerTest {
 protected:
  void SetUp() override {
    CliControllerTest::SetUp();
    messages_ = SampleMessages(4, 1, kNow);
    for (size_t i = 0; i < messages_.size(); ++i) {
      messages_[i].set_gateway(i % 2 == 0 ? "gw1" : "gw3");
    }
    // gw2 fails on both pages: reported once.
    std::vector<v1::FleetListResponse> pages(2);
    for (int i = 0; i < 4; ++i) *pages[i / 2].add_messages() = messages_[i];
    *pages[0].add_failures() = Failure("gw2", "deadline exceeded");
    *pages[1].add_failures() = Failure("gw2", "deadline exceeded");
    service_.SetListPages(pages);
  }

  std::vector<v1::Message> messages_;
};

TEST_F(CliControllerListTest, TableHasGatewayColumnAndFailedGatewayOnStderr) {
  CliRun run = Mailfleet({"ls"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 6u) << run.out;
  EXPECT_THAT(lines[0], MatchesRegex("GATEWAY +QUEUE ID +QUEUE +AGE.*"));
  EXPECT_THAT(lines[1], StartsWith("gw1           " + messages_[0].queue_id()));
  EXPECT_THAT(lines[2], StartsWith("gw3           " + messages_[1].queue_id()));
  EXPECT_THAT(lines[5], StartsWith("-- 4 messages, "));
  EXPECT_THAT(Lines(run.err),
              ElementsAre("mailfleet: gateway gw2 (gw2.example:7443): "
                          "deadline exceeded",
                          "mailfleet: 1 gateway failed to answer: the listing may lack its messages"));
  ASSERT_EQ(service_.list_requests().size(), 2u);
  EXPECT_EQ(service_.list_requests()[1].page_token(), "1");
}

TEST_F(CliControllerListTest, JsonCarriesEachMessagesGateway) {
  CliRun run = Mailfleet({"ls", "-o", "json"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(lines[i], ProtobufJson(messages_[i]));
    EXPECT_THAT(lines[i], HasSubstr("\"gateway\":\"gw"));
  }
}

TEST_F(CliControllerListTest, NoFailureMeansExitZero) {
  std::vector<v1::FleetListResponse> pages(1);
  *pages[0].add_messages() = messages_[0];
  service_.SetListPages(pages);
  CliRun run = Mailfleet({"ls", "--all-gateways"});
  EXPECT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_TRUE(service_.list_requests()[0].selector().all());
}

TEST_F(CliControllerTest, ShowNeedsExactlyOneGateway) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"show", "ABC123"},
           {"show", "-g", "gw1", "-g", "gw2", "ABC123"},
           {"show", "-l", "site=ams", "ABC123"},
           {"show", "--all-gateways", "ABC123"}}) {
    CliRun run = Mailfleet(args);
    EXPECT_EQ(run.exit_code, kExitUsage);
    EXPECT_THAT(run.err, HasSubstr("exactly one -g NAME"));
  }
  EXPECT_TRUE(service_.get_requests().empty());
}

TEST_F(CliControllerTest, ShowAsksTheGatewayForTheMessage) {
  v1::Message envelope = SampleMessages(1, 1, kNow)[0];
  service_.SetMessage(envelope, "Subject: hi\r\n\r\nbody\r\n");
  CliRun run = Mailfleet({"show", "-g", "gw2", envelope.queue_id()});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("Subject: hi\r\n\r\nbody\r\n"));
  ASSERT_EQ(service_.get_requests().size(), 1u);
  EXPECT_EQ(service_.get_requests()[0].gateway(), "gw2");
  EXPECT_EQ(service_.get_requests()[0].request().queue_id(),
            envelope.queue_id());
}

TEST_F(CliControllerTest, ShowOfAnUnreachableGatewayDoesNotBlameTheController) {
  service_.SetFailure(grpc::Status(
      grpc::StatusCode::UNAVAILABLE,
      "gateway gw2 (10.0.0.2:7070): failed to connect to all addresses"));
  CliRun run = Mailfleet({"show", "-g", "gw2", "ABC123"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_EQ(run.err,
            "mailfleet: gateway gw2 (10.0.0.2:7070): failed to connect to all "
            "addresses\n");
}

TEST_F(CliControllerTest, ActionRowsComeInArrivalOrderAndAFailedGatewayExits1) {
  service_.SetActScript([](const v1::FleetActRequest& request) {
    // The order the gateways finish in, not the gateways file's.
    return std::vector<v1::GatewayActResult>{
        ActResult("gw3", request, {"AAA1", "AAA2"}),
        FailedActResult("gw1"),
        ActResult("gw2", request, {"BBB1"}, {"BBB2"})};
  });
  CliRun run =
      Mailfleet({"hold", "-l", "site=ams", "--queue", "deferred", "--yes"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 7u) << run.out;
  EXPECT_THAT(lines[0], MatchesRegex("GATEWAY +MATCHED +DONE +FAILED +ELAPSED "
                                     "+ERROR"));
  EXPECT_THAT(lines[1], MatchesRegex("gw3 +2 +2 +0 +250ms"));
  EXPECT_THAT(lines[2], MatchesRegex("gw1 +- +- +- +2s +connection refused"));
  EXPECT_THAT(lines[3], MatchesRegex("gw2 +2 +1 +1 +250ms"));
  EXPECT_EQ(lines[4], "could not hold:");
  EXPECT_THAT(lines[5], MatchesRegex("  gw2 +BBB2: postsuper: no such file"));
  EXPECT_EQ(lines[6],
            "hold: 3 gateways, 1 failed; 4 matched, 3 done, 1 failed");
  EXPECT_EQ(run.err,
            "mailfleet: could not hold 1 of 4 messages; 1 of 3 gateways "
            "failed\n");
  std::vector<v1::FleetActRequest> requests = service_.act_requests();
  ASSERT_EQ(requests.size(), 1u);
  const v1::FleetActRequest& sent = requests[0];
  EXPECT_EQ(sent.selector().label_selector(), "site=ams");
  EXPECT_EQ(sent.request().action(), v1::ACTION_HOLD);
  EXPECT_FALSE(sent.request().dry_run());
  EXPECT_EQ(sent.request().selector().filter().queues(0), v1::POSTFIX_DEFERRED);
}

TEST_F(CliControllerTest, ActionJsonIsOneResultPerLine) {
  std::vector<v1::GatewayActResult> sent;
  service_.SetActScript([&sent](const v1::FleetActRequest& request) {
    sent = {ActResult("gw1", request, {"AAA1"})};
    return sent;
  });
  CliRun run = Mailfleet({"delete", "-g", "gw1", "AAA1", "-o", "json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_THAT(Lines(run.out), ElementsAre(ProtobufJson(sent[0])));
  ASSERT_EQ(service_.act_requests().size(), 1u);
  EXPECT_EQ(service_.act_requests()[0].request().selector().queue_ids(0),
            "AAA1");
}

TEST_F(CliControllerTest, FilterActionCountsAsksThenActsOnTheCountedIds) {
  service_.SetActScript([](const v1::FleetActRequest& request) {
    if (request.request().dry_run()) {
      return std::vector<v1::GatewayActResult>{
          ActResult("gw2", request, {"BBB1"}),
          ActResult("gw1", request, {"AAA1", "AAA2"}),
          ActResult("gw3", request, {})};
    }
    const std::string& gateway = request.selector().names(0);
    const auto& ids = request.request().selector().queue_ids();
    return std::vector<v1::GatewayActResult>{ActResult(
        gateway, request, std::vector<std::string>(ids.begin(), ids.end()))};
  });
  const std::string yes = "y\n";
  CliRun run = Mailfleet({"requeue", "--all-gateways", "--match", "x"}, &yes);
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_EQ(run.err,
            absl::StrCat("requeue 3 messages on 2 gateways through ",
                         server_->address(), "? [y/N] "));
  std::vector<v1::FleetActRequest> requests = service_.act_requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_TRUE(requests[0].request().dry_run());
  EXPECT_TRUE(requests[0].selector().all());
  // Each gateway alone (at once, so in any order), with exactly the ids it
  // counted.
  std::map<std::string, v1::ActRequest> by_gateway;
  for (size_t i = 1; i < requests.size(); ++i) {
    ASSERT_EQ(requests[i].selector().names_size(), 1);
    by_gateway[requests[i].selector().names(0)] = requests[i].request();
  }
  ASSERT_EQ(by_gateway.size(), 2u);
  EXPECT_THAT(std::vector<std::string>(
                  by_gateway["gw2"].selector().queue_ids().begin(),
                  by_gateway["gw2"].selector().queue_ids().end()),
              ElementsAre("BBB1"));
  EXPECT_EQ(by_gateway["gw1"].selector().queue_ids_size(), 2);
  EXPECT_FALSE(by_gateway["gw1"].dry_run());
  EXPECT_THAT(Lines(run.out).back(),
              "requeue: 3 gateways, 0 failed; 3 matched, 3 done, 0 failed");
}

// A gateway that failed its dry run is left alone and counted as failed in
// the total; one that moved to another address since is not acted on.
TEST_F(CliControllerTest, ConfirmedActionTotalsEveryGatewayOfTheDryRun) {
  service_.SetActScript([](const v1::FleetActRequest& request) {
    if (request.request().dry_run()) {
      return std::vector<v1::GatewayActResult>{
          ActResult("gw2", request, {"BBB1"}), FailedActResult("gw1"),
          ActResult("gw3", request, {"CCC1"})};
    }
    const std::string& gateway = request.selector().names(0);
    const auto& ids = request.request().selector().queue_ids();
    v1::GatewayActResult result = ActResult(
        gateway, request, std::vector<std::string>(ids.begin(), ids.end()));
    if (gateway == "gw3") result.set_address("elsewhere.example:7443");
    return std::vector<v1::GatewayActResult>{result};
  });
  const std::string yes = "y\n";
  CliRun run = Mailfleet({"hold", "--all-gateways", "--match", "x"}, &yes);
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.out, HasSubstr("gw3 is now elsewhere.example:7443"));
  EXPECT_THAT(Lines(run.out).back(),
              "hold: 3 gateways, 2 failed; 1 matched, 1 done, 0 failed");
  EXPECT_THAT(run.err, HasSubstr("2 of 3 gateways failed"));
}

TEST_F(CliControllerTest, FilterActionNotConfirmedDoesNothing) {
  service_.SetActScript([](const v1::FleetActRequest& request) {
    return std::vector<v1::GatewayActResult>{
        ActResult("gw1", request, {"AAA1"})};
  });
  const std::string no = "n\n";
  CliRun run = Mailfleet({"delete", "-g", "gw1", "--queue", "hold"}, &no);
  EXPECT_EQ(run.exit_code, kExitFailure);
  EXPECT_THAT(run.err, HasSubstr("not confirmed: no message was deleted"));
  EXPECT_EQ(service_.act_requests().size(), 1u);
}

TEST_F(CliControllerTest, FlushPrintsARowPerGateway) {
  service_.SetFlushScript([](const v1::FleetFlushRequest&) {
    v1::GatewayFlushResult ok;
    ok.set_gateway("gw2");
    ok.mutable_elapsed()->set_seconds(1);
    v1::GatewayFlushResult failed;
    failed.set_gateway("gw1");
    *failed.mutable_failure() = Failure("gw1", "postqueue: fatal");
    return std::vector<v1::GatewayFlushResult>{ok, failed};
  });
  CliRun run = Mailfleet({"flush", "-g", "gw1", "-g", "gw2", "--site", "x.org"});
  EXPECT_EQ(run.exit_code, kExitFailure);
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], MatchesRegex("GATEWAY +ELAPSED +RESULT"));
  EXPECT_THAT(lines[1], MatchesRegex("gw2 +1s +flushed"));
  EXPECT_THAT(lines[2], MatchesRegex("gw1 +<1ms +postqueue: fatal"));
  EXPECT_EQ(run.err, "mailfleet: could not flush 1 of 2 gateways\n");
  ASSERT_EQ(service_.flush_requests().size(), 1u);
  EXPECT_EQ(service_.flush_requests()[0].request().site(), "x.org");
}

class CliControllerWatchTest : public CliControllerTest {
 protected:
  void SetUp() override {
    CliControllerTest::SetUp();
    v1::FleetWatchEvent snapshot;
    snapshot.mutable_time()->set_seconds(absl::ToUnixSeconds(kNow));
    *snapshot.mutable_snapshot()->add_gateways() =
        MakeGateway("gw1", v1::GATEWAY_CONNECTED, 12);
    *snapshot.mutable_snapshot()->add_gateways() =
        MakeGateway("gw2", v1::GATEWAY_CONNECTING, 0);
    v1::FleetWatchEvent changed;
    changed.mutable_time()->set_seconds(absl::ToUnixSeconds(kNow) + 5);
    *changed.mutable_gateway() = MakeGateway("gw2", v1::GATEWAY_UNREACHABLE, 0);
    changed.mutable_gateway()->set_last_error("connection refused");
    v1::FleetWatchEvent heartbeat;
    heartbeat.mutable_heartbeat();
    v1::FleetWatchEvent removed;
    removed.mutable_time()->set_seconds(absl::ToUnixSeconds(kNow) + 9);
    removed.set_removed("gw1");
    events_ = {snapshot, changed, heartbeat, removed};
    service_.SetWatchEvents(events_);
  }

  std::vector<v1::FleetWatchEvent> events_;
};

TEST_F(CliControllerWatchTest, PipedPrintsALinePerGatewayChange) {
  CliRun run = Mailfleet({"watch", "--events", "4"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  EXPECT_THAT(Lines(run.out),
              ElementsAre("12:00:00 snapshot 2 gateways",
                          "12:00:00 gw1 connected 12 messages 24K",
                          "12:00:00 gw2 connecting 0? messages 0",
                          "12:00:05 gw2 unreachable 0? messages 0 "
                          "(connection refused)",
                          "12:00:09 removed gw1"));
  EXPECT_TRUE(service_.AwaitWatchesCancelled(1, absl::Seconds(10)));
}

TEST_F(CliControllerWatchTest, JsonPrintsEveryEventAsALine) {
  CliRun run = Mailfleet({"watch", "-o", "json", "--events", "3", "-g", "gw2",
                          "--heartbeat", "5s"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(IsJsonOf(lines[i], events_[i]));
  ASSERT_EQ(service_.watch_requests().size(), 1u);
  EXPECT_EQ(service_.watch_requests()[0].selector().names(0), "gw2");
  EXPECT_EQ(service_.watch_requests()[0].heartbeat_interval().seconds(), 5);
}

TEST_F(CliControllerWatchTest, TerminalRedrawsTheGatewayTable) {
  std::ostringstream out, err;
  CliEnv env{&out, &err, kNow, absl::UTCTimeZone()};
  env.output_is_terminal = true;
  int exit_code = RunCli(
      {"--controller", server_->address(), "watch", "--events", "4"}, env);
  ASSERT_EQ(exit_code, kExitOk) << err.str();
  // The last screen: gw1 removed, gw2 unreachable with its error.
  const std::string screen = out.str().substr(out.str().rfind("\x1b[2J") + 4);
  std::vector<std::string> lines = Lines(screen);
  ASSERT_EQ(lines.size(), 4u) << screen;
  EXPECT_THAT(lines[0], StartsWith("controller "));
  EXPECT_THAT(lines[0], HasSubstr("1 gateways, updated 12:00:09"));
  EXPECT_THAT(lines[3], MatchesRegex("gw2 .*unreachable.*connection refused"));
}

}  // namespace
}  // namespace mailfleet::cli
