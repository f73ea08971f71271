// AgentClient against a fake agent on loopback: paging, limits, stream
// assembly, deadlines, watches and their cancellation, and errors kept as
// the agent sent them.
#include "client/agent_client.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/fake_agent_service.h"
#include "tests/client/sample_messages.h"

namespace mailfleet {
namespace {

v1::GetMessageRequest RequestFor(const std::string& id) {
  v1::GetMessageRequest request;
  request.set_queue_id(id);
  return request;
}

using ::mailfleet::testing::FakeAgentServer;
using ::mailfleet::testing::FakeAgentService;
using ::mailfleet::testing::SampleMessages;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class AgentClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeAgentServer>(&service_);
    ASSERT_FALSE(server_->address().empty());
  }

  std::unique_ptr<AgentClient> Client(AgentClientOptions options = {}) {
    absl::StatusOr<std::unique_ptr<AgentClient>> client =
        AgentClient::Connect(server_->address(), options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  std::vector<int> PageSizesAsked() const {
    std::vector<int> sizes;
    for (const auto& request : service_.list_requests()) {
      sizes.push_back(request.page_size());
    }
    return sizes;
  }

  std::vector<std::string> ListIds(AgentClient& client, int64_t limit,
                                   absl::Status* status) {
    std::vector<std::string> ids;
    *status = client.ListAll(v1::Filter(), limit, [&](const v1::Message& m) {
      ids.push_back(m.queue_id());
      return absl::OkStatus();
    });
    return ids;
  }

  FakeAgentService service_;
  std::unique_ptr<FakeAgentServer> server_;
};

TEST_F(AgentClientTest, ConnectRejectsEmptyAddressAndBadOptions) {
  EXPECT_EQ(AgentClient::Connect("").status().code(),
            absl::StatusCode::kInvalidArgument);
  AgentClientOptions options;
  options.list_page_size = 20000;
  EXPECT_EQ(AgentClient::Connect("127.0.0.1:1", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = AgentClientOptions();
  options.action_timeout = absl::ZeroDuration();
  EXPECT_EQ(AgentClient::Connect("127.0.0.1:1", options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(AgentClientTest, ListAllFollowsTokensToTheLastPage) {
  service_.SetMessages(SampleMessages(5, 1, absl::Now()));
  AgentClientOptions options;
  options.list_page_size = 2;
  std::unique_ptr<AgentClient> client = Client(options);
  absl::Status status;
  std::vector<std::string> ids = ListIds(*client, 0, &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(ids.size(), 5u);
  std::vector<std::string> tokens;
  for (const auto& request : service_.list_requests()) {
    tokens.push_back(request.page_token());
  }
  EXPECT_THAT(tokens, ElementsAre("", "2", "4"));
  EXPECT_THAT(PageSizesAsked(), ElementsAre(2, 2, 2));
}

TEST_F(AgentClientTest, ListAllAsksForNoMoreThanTheLimit) {
  service_.SetMessages(SampleMessages(5, 1, absl::Now()));
  AgentClientOptions options;
  options.list_page_size = 2;
  std::unique_ptr<AgentClient> client = Client(options);
  absl::Status status;
  std::vector<std::string> ids = ListIds(*client, 3, &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_THAT(PageSizesAsked(), ElementsAre(2, 1));
}

TEST_F(AgentClientTest, ListAllStopsAtTheCallbacksError) {
  service_.SetMessages(SampleMessages(5, 1, absl::Now()));
  std::unique_ptr<AgentClient> client = Client();
  int seen = 0;
  absl::Status status =
      client->ListAll(v1::Filter(), 0, [&](const v1::Message&) {
        return ++seen == 2 ? absl::DataLossError("disk full")
                           : absl::OkStatus();
      });
  EXPECT_EQ(status, absl::DataLossError("disk full"));
  EXPECT_EQ(seen, 2);
}

TEST_F(AgentClientTest, ListAllHalvesPagesThatAreTooLarge) {
  service_.SetMessages(SampleMessages(700, 1, absl::Now()));
  service_.SetMaxPageSize(1000);
  std::unique_ptr<AgentClient> client = Client();
  absl::Status status;
  std::vector<std::string> ids = ListIds(*client, 0, &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(ids.size(), 700u);
  EXPECT_THAT(PageSizesAsked(), ElementsAre(5000, 2500, 1250, 625, 625));
}

TEST_F(AgentClientTest, ListAllRefusesATokenThatDoesNotMove) {
  service_.SetMessages(SampleMessages(5, 1, absl::Now()));
  service_.SetStuckToken(true);
  AgentClientOptions options;
  options.list_page_size = 2;
  std::unique_ptr<AgentClient> client = Client(options);
  absl::Status status;
  ListIds(*client, 0, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("same page token twice"));
}

TEST_F(AgentClientTest, GrpcErrorsKeepCodeAndMessage) {
  service_.SetFailure(
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "viewer may not"));
  std::unique_ptr<AgentClient> client = Client();
  EXPECT_EQ(client->Summary(v1::SummaryRequest()).status(),
            absl::PermissionDeniedError("viewer may not"));
  EXPECT_EQ(client->ListPage(v1::ListRequest()).status(),
            absl::PermissionDeniedError("viewer may not"));
  EXPECT_EQ(client->FetchMessage("A1", false).status(),
            absl::PermissionDeniedError("viewer may not"));
}

TEST_F(AgentClientTest, UnaryCallsHaveADeadline) {
  service_.SetHangSummary(true);
  AgentClientOptions options;
  options.rpc_timeout = absl::Milliseconds(200);
  std::unique_ptr<AgentClient> client = Client(options);
  EXPECT_EQ(client->Summary(v1::SummaryRequest()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(AgentClientTest, ActPassesTheRequestAndTheAnswerThrough) {
  std::vector<v1::Message> messages = SampleMessages(3, 1, absl::Now());
  service_.SetMessages(messages);
  service_.SetActFailure(messages[1].queue_id(), "queue file is locked");
  std::unique_ptr<AgentClient> client = Client();
  v1::ActRequest request;
  request.set_action(v1::ACTION_DELETE);
  request.mutable_selector()->add_queue_ids(messages[0].queue_id());
  request.mutable_selector()->add_queue_ids(messages[1].queue_id());
  absl::StatusOr<v1::ActResponse> response = client->Act(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->action(), v1::ACTION_DELETE);
  EXPECT_EQ(response->matched(), 2);
  EXPECT_EQ(response->succeeded(), 1);
  EXPECT_EQ(response->failed(), 1);
  EXPECT_THAT(response->queue_ids(), ElementsAre(messages[0].queue_id()));
  ASSERT_EQ(response->failures_size(), 1);
  EXPECT_EQ(response->failures(0).reason(), "queue file is locked");
  ASSERT_EQ(service_.act_requests().size(), 1u);
  EXPECT_EQ(service_.act_requests()[0].SerializeAsString(),
            request.SerializeAsString());
}

TEST_F(AgentClientTest, ActAndFlushErrorsKeepCodeAndMessage) {
  std::unique_ptr<AgentClient> client = Client();
  v1::ActRequest act;
  act.set_action(v1::ACTION_HOLD);
  act.mutable_selector()->add_queue_ids("../x");
  EXPECT_EQ(
      client->Act(act).status(),
      absl::InvalidArgumentError(
          "queue id '../x' has invalid characters: expected [0-9A-Za-z]"));
  service_.SetFailure(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                   "the Postfix master is not running"));
  v1::FlushRequest flush;
  flush.set_all(true);
  EXPECT_EQ(client->Flush(flush).status(),
            absl::FailedPreconditionError("the Postfix master is not running"));
  ASSERT_EQ(service_.flush_requests().size(), 1u);
  EXPECT_TRUE(service_.flush_requests()[0].all());
}

TEST_F(AgentClientTest, ActionsWaitForTheActionDeadlineNotTheRpcOne) {
  service_.SetHangActions(true);
  AgentClientOptions options;
  options.rpc_timeout = absl::Milliseconds(100);
  options.action_timeout = absl::Milliseconds(800);
  std::unique_ptr<AgentClient> client = Client(options);
  const absl::Time start = absl::Now();
  v1::ActRequest act;
  act.set_action(v1::ACTION_HOLD);
  act.mutable_selector()->add_queue_ids("4B2F1A0F3E");
  EXPECT_EQ(client->Act(act).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  v1::FlushRequest flush;
  flush.set_all(true);
  EXPECT_EQ(client->Flush(flush).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // A deadline never passes early: both calls waited for their own.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1600));
  EXPECT_GE(AgentClientOptions().action_timeout, absl::Minutes(10));
}

TEST_F(AgentClientTest, GetMessageHandsOverEnvelopeThenChunksInOrder) {
  std::vector<v1::Message> messages = SampleMessages(3, 2, absl::Now());
  const std::string id = messages[1].queue_id();
  service_.SetMessages(messages);
  std::string content;
  for (int i = 0; i < 100000; ++i) content.push_back(static_cast<char>(i * 31));
  service_.SetContent(id, content);
  service_.SetChunkSize(30000);
  std::unique_ptr<AgentClient> client = Client();

  std::vector<std::string> events;
  std::string received;
  absl::Status status = client->GetMessage(
      RequestFor(id),
      [&](const v1::Message& envelope) {
        events.push_back("envelope " + envelope.queue_id());
      },
      [&](absl::string_view chunk) {
        events.push_back("chunk " + std::to_string(chunk.size()));
        received.append(chunk.data(), chunk.size());
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(events, ElementsAre("envelope " + id, "chunk 30000",
                                  "chunk 30000", "chunk 30000", "chunk 10000"));
  EXPECT_EQ(received, content);

  absl::StatusOr<v1::MessageWithContent> whole =
      client->FetchMessage(id, false);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->envelope().queue_id(), id);
  EXPECT_EQ(whole->content(), content);
}

TEST_F(AgentClientTest, GetMessageEnvelopeOnlyAsksForNoContent) {
  std::vector<v1::Message> messages = SampleMessages(1, 1, absl::Now());
  service_.SetMessages(messages);
  service_.SetContent(messages[0].queue_id(), "Subject: hi\r\n\r\nbody\r\n");
  std::unique_ptr<AgentClient> client = Client();
  absl::StatusOr<v1::MessageWithContent> whole =
      client->FetchMessage(messages[0].queue_id(), true);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->content(), "");
  ASSERT_EQ(service_.get_requests().size(), 1u);
  EXPECT_TRUE(service_.get_requests()[0].envelope_only());
}

TEST_F(AgentClientTest, ContentCallbackErrorCancelsTheStream) {
  std::vector<v1::Message> messages = SampleMessages(1, 1, absl::Now());
  service_.SetMessages(messages);
  service_.SetContent(messages[0].queue_id(), std::string(1 << 20, 'x'));
  service_.SetChunkSize(1024);
  std::unique_ptr<AgentClient> client = Client();
  int chunks = 0;
  absl::Status status = client->GetMessage(
      RequestFor(messages[0].queue_id()), [](const v1::Message&) {},
      [&](absl::string_view) {
        ++chunks;
        return absl::UnknownError("cannot write the output");
      });
  EXPECT_EQ(status, absl::UnknownError("cannot write the output"));
  EXPECT_EQ(chunks, 1);
}

TEST_F(AgentClientTest, UnknownIdIsNotFoundWithTheAgentsMessage) {
  std::unique_ptr<AgentClient> client = Client();
  absl::Status status = client->GetMessage(
      RequestFor("NOPE1"), [](const v1::Message&) {},
      [](absl::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(status, absl::NotFoundError(
                        "no message with queue id 'NOPE1' on this gateway"));
}

// A snapshot in one part, then `deltas` deltas.
std::vector<v1::WatchEvent> WatchScript(int deltas) {
  std::vector<v1::WatchEvent> events(1 + deltas);
  for (int i = 0; i <= deltas; ++i) {
    events[i].set_instance_id("i1");
    events[i].set_generation(10 + i);
  }
  events[0].mutable_snapshot()->set_last(true);
  for (int i = 1; i <= deltas; ++i) {
    v1::MessageChange* change = events[i].mutable_delta()->add_changes();
    change->set_kind(v1::MessageChange::ADDED);
    change->set_queue_id("A" + std::to_string(i));
  }
  return events;
}

TEST_F(AgentClientTest, WatchPassesEventsUntilCancelledFromAnotherThread) {
  service_.SetWatchEvents(WatchScript(2));
  std::unique_ptr<AgentClient> client = Client();
  v1::WatchRequest request;
  request.set_include_messages(true);
  request.mutable_filter()->add_queues(v1::POSTFIX_HOLD);
  request.mutable_heartbeat_interval()->set_seconds(5);
  WatchControl control;
  std::vector<int64_t> generations;
  absl::Notification all_seen;
  absl::Status status;
  std::thread watcher([&] {
    status = client->Watch(
        request,
        [&](const v1::WatchEvent& event) {
          generations.push_back(event.generation());
          if (generations.size() == 3) all_seen.Notify();
          return absl::OkStatus();
        },
        &control);
  });
  ASSERT_TRUE(all_seen.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // The stream stays open after the script, as the agent's does.
  EXPECT_EQ(service_.open_watches(), 1);
  EXPECT_TRUE(control.Cancel());
  watcher.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(control.cancelled());
  EXPECT_THAT(generations, ElementsAre(10, 11, 12));
  EXPECT_TRUE(service_.AwaitWatchesCancelled(1, absl::Seconds(10)));
  ASSERT_EQ(service_.watch_requests().size(), 1u);
  EXPECT_EQ(service_.watch_requests()[0].SerializeAsString(),
            request.SerializeAsString());
}

TEST_F(AgentClientTest, WatchHasNoDeadline) {
  service_.SetWatchEvents(WatchScript(0));
  AgentClientOptions options;
  options.rpc_timeout = absl::Milliseconds(100);
  options.stream_timeout = absl::Milliseconds(100);
  std::unique_ptr<AgentClient> client = Client(options);
  WatchControl control;
  absl::Notification snapshot_seen;
  absl::Status status;
  std::thread watcher([&] {
    status = client->Watch(
        v1::WatchRequest(),
        [&](const v1::WatchEvent&) {
          snapshot_seen.Notify();
          return absl::OkStatus();
        },
        &control);
  });
  ASSERT_TRUE(snapshot_seen.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // Well past every deadline the client has: the stream is still open.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(service_.open_watches(), 1);
  control.Cancel();
  watcher.join();
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(AgentClientTest, WatchCallbackErrorCancelsTheStreamAndIsReturned) {
  service_.SetWatchEvents(WatchScript(5));
  std::unique_ptr<AgentClient> client = Client();
  int seen = 0;
  absl::Status status =
      client->Watch(v1::WatchRequest(), [&](const v1::WatchEvent&) {
        return ++seen == 2 ? absl::DataLossError("generation went back")
                           : absl::OkStatus();
      });
  EXPECT_EQ(status, absl::DataLossError("generation went back"));
  EXPECT_EQ(seen, 2);
  EXPECT_TRUE(service_.AwaitWatchesCancelled(1, absl::Seconds(10)));
}

TEST_F(AgentClientTest, WatchCancelledFromItsCallbackSeesNoMoreEvents) {
  service_.SetWatchEvents(WatchScript(5));
  std::unique_ptr<AgentClient> client = Client();
  WatchControl control;
  int seen = 0;
  absl::Status status = client->Watch(
      v1::WatchRequest(),
      [&](const v1::WatchEvent&) {
        if (++seen == 2) control.Cancel();
        return absl::OkStatus();
      },
      &control);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(seen, 2);
  EXPECT_TRUE(service_.AwaitWatchesCancelled(1, absl::Seconds(10)));
}

TEST_F(AgentClientTest, WatchWithACancelledControlMakesNoCall) {
  std::unique_ptr<AgentClient> client = Client();
  WatchControl control;
  EXPECT_FALSE(control.Cancel());  // No watch in progress.
  int seen = 0;
  absl::Status status = client->Watch(
      v1::WatchRequest(),
      [&](const v1::WatchEvent&) {
        ++seen;
        return absl::OkStatus();
      },
      &control);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(seen, 0);
  EXPECT_TRUE(service_.watch_requests().empty());
}

TEST_F(AgentClientTest, WatchStreamErrorsKeepCodeAndMessage) {
  std::unique_ptr<AgentClient> client = Client();
  service_.SetFailure(
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "viewer may not"));
  const auto ignore = [](const v1::WatchEvent&) { return absl::OkStatus(); };
  EXPECT_EQ(client->Watch(v1::WatchRequest(), ignore),
            absl::PermissionDeniedError("viewer may not"));

  // Mid-stream: the events before the error are passed on.
  service_.SetFailure(grpc::Status::OK);
  service_.SetWatchEvents(
      WatchScript(1),
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent shutting down"));
  int seen = 0;
  EXPECT_EQ(client->Watch(v1::WatchRequest(),
                          [&](const v1::WatchEvent&) {
                            ++seen;
                            return absl::OkStatus();
                          }),
            absl::UnavailableError("agent shutting down"));
  EXPECT_EQ(seen, 2);

  // An agent that ends the stream cleanly ends the watch cleanly.
  service_.SetWatchEvents(WatchScript(1), grpc::Status::OK);
  EXPECT_TRUE(client->Watch(v1::WatchRequest(), ignore).ok());
}

}  // namespace
}  // namespace mailfleet
