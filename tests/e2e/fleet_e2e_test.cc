// The fleet end to end: three private Postfix instances, each with its own
// `mailfleet-agent` and MPA spool, one `mailfleet-controller` watching them,
// and the `mailfleet` CLI asking the controller; every connection mutual
// TLS with certificates from deploy/make-fleet-certs.sh. Every answer is
// checked against each instance's `postqueue -j` and the items written to
// its spool; then an agent is killed and restarted, and the controller
// itself.
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/mpa/spool_writer.h"
#include "common/os/process_runner.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mailfleet/v1/controller.grpc.pb.h"
#include "proto/queue_kind_proto.h"
#include "tests/e2e/agent_process.h"
#include "tests/e2e/controller_process.h"
#include "tests/e2e/poll.h"
#include "tests/e2e/postqueue_json.h"
#include "tests/e2e/support/loopback_ports.h"
#include "tests/e2e/support/message_generator.h"
#include "tests/e2e/support/postfix_instance.h"
#include "tests/e2e/support/smtp_sender.h"
#include "tests/testing/temp_dir.h"

namespace mailfleet::testing {
namespace {

using ::testing::HasSubstr;

// Small, so that pages cut across gateways and across each one's queue.
constexpr int kPageSize = 7;

// The recipients every gateway shares on some messages, and the regex that
// finds them: anchored, so that the near miss beside them (which a
// substring match would take) is left alone.
constexpr char kSharedRecipientRegex[] =
    R"(^(fleet|ops)-alerts@common\.example\.com$)";
const std::set<std::string>& SharedRecipients() {
  static const auto* const kSet = new std::set<std::string>{
      "fleet-alerts@common.example.com", "ops-alerts@common.example.com"};
  return *kSet;
}
constexpr char kNearMiss[] = "xfleet-alerts@common.example.com";

// How long the controller may take to show a change in the fleet (a moved
// message, an agent gone or back); with --heartbeat 1s and --stale-after 3s
// it should take a few seconds at most.
constexpr absl::Duration kFleetSettles = absl::Seconds(15);
// Any single call to the controller.
constexpr absl::Duration kCallDeadline = absl::Seconds(20);

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
}

// A message or spool item as the controller should list it.
struct Expected {
  v1::QueueKind queue = v1::QUEUE_KIND_UNSPECIFIED;
  std::string sender;
  std::set<std::string> recipients;
  bool operator==(const Expected& o) const {
    return std::tie(queue, sender, recipients) ==
           std::tie(o.queue, o.sender, o.recipients);
  }
};
std::ostream& operator<<(std::ostream& os, const Expected& e) {
  return os << ProtoQueueKindName(e.queue) << " from " << e.sender << " to "
            << e.recipients.size() << " recipients";
}

Expected FromMessage(const v1::Message& m) {
  Expected e{m.queue(), m.sender(), {}};
  for (const v1::Recipient& r : m.recipients()) {
    e.recipients.insert(r.address());
  }
  return e;
}

bool HasSharedRecipient(const std::set<std::string>& recipients) {
  for (const std::string& r : recipients) {
    if (SharedRecipients().count(r)) return true;
  }
  return false;
}

// `count` messages for the gateway `name`: the generator's content, with
// addresses of the gateway's own; every third message also goes to one of
// the shared recipients, every fifth to the near miss.
std::vector<TestMessage> GatewayMessages(const std::string& name, int count,
                                         uint32_t seed) {
  std::vector<TestMessage> messages = GenerateVariedMessages(count, seed);
  for (int i = 0; i < count; ++i) {
    TestMessage& m = messages[i];
    m.sender = absl::StrCat("sender", i, "@", name, ".example.org");
    m.recipients = {absl::StrCat("rcpt", i, "@", name, ".example.net")};
    if (i % 3 == 0) {
      m.recipients.push_back(*std::next(SharedRecipients().begin(), i % 2));
    }
    if (i % 5 == 1) m.recipients.push_back(kNearMiss);
  }
  return messages;
}

// The rows of the CLI's table in `out`, by their first cell, each cell
// under its column's heading. Only the leading columns that are never empty
// are read: cells are split at blanks.
std::map<std::string, std::map<std::string, std::string>> TableRows(
    const std::string& out) {
  std::vector<std::string> columns;
  std::map<std::string, std::map<std::string, std::string>> rows;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> cells =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (columns.empty()) {
      columns = cells;
      continue;
    }
    std::map<std::string, std::string>& row = rows[cells[0]];
    for (size_t i = 0; i < cells.size() && i < columns.size(); ++i) {
      row[columns[i]] = cells[i];
    }
  }
  return rows;
}

// A private Postfix filled with `messages` and settled (all deferred).
absl::StatusOr<std::unique_ptr<PostfixInstance>> FilledPostfix(
    const std::vector<TestMessage>& messages) {
  MF_ASSIGN_OR_RETURN(std::unique_ptr<PostfixInstance> postfix,
                      PostfixInstance::Create({}));
  MF_RETURN_IF_ERROR(SendMessages(postfix->smtp_port(), messages, 2));
  MF_RETURN_IF_ERROR(postfix->WaitForQueueToSettle(absl::Minutes(1)));
  return postfix;
}

// One gateway: its Postfix, its MPA spool, its agent. Members in the order
// they must be built; they go in reverse, the agent first.
struct Gateway {
  std::string name;
  std::string site;
  std::unique_ptr<PostfixInstance> postfix;
  std::unique_ptr<TempDir> spool;
  // Written to the spool at the start, by id.
  std::map<std::string, Expected> items;
  int agent_port = 0;
  // The agent's own certificate, and how the test calls it.
  TlsFiles tls;
  ClientIdentity client;
  std::unique_ptr<AgentProcess> agent;

  std::string address() const { return absl::StrCat("127.0.0.1:", agent_port); }

  // The old agent, if any, must be gone first: the new one takes its port.
  // It requires a client certificate from the fleet's CA (its default).
  void StartAgent() {
    agent.reset();
    std::vector<std::string> args = {"--mpa-spool", spool->path()};
    const std::vector<std::string> tls_flags = tls.Flags();
    args.insert(args.end(), tls_flags.begin(), tls_flags.end());
    agent = std::make_unique<AgentProcess>(postfix->config_dir(), agent_port,
                                           std::move(args), client);
  }

  absl::StatusOr<std::map<std::string, PostqueueEntry>> Postqueue() const {
    MF_ASSIGN_OR_RETURN(std::string json, postfix->PostqueueJson());
    return ParsePostqueueJson(json);
  }

  // What the gateway holds now, by id: postqueue -j's messages and the
  // spool's items.
  absl::StatusOr<std::map<std::string, Expected>> Holds() const {
    MF_ASSIGN_OR_RETURN(auto postqueue, Postqueue());
    std::map<std::string, Expected> all = items;
    for (const auto& [id, e] : postqueue) {
      MF_ASSIGN_OR_RETURN(v1::QueueKind queue,
                          ParseProtoQueueKind(e.queue_name));
      Expected& x = all[id];
      x.queue = queue;
      x.sender = e.sender;
      for (const PostqueueRecipient& r : e.recipients) {
        x.recipients.insert(r.address);
      }
    }
    return all;
  }

  // Postfix's deferred messages with a shared recipient: what a fleet hold
  // by kSharedRecipientRegex takes.
  absl::StatusOr<std::set<std::string>> HoldableShared() const {
    MF_ASSIGN_OR_RETURN(auto postqueue, Postqueue());
    std::set<std::string> ids;
    for (const auto& [id, e] : postqueue) {
      std::set<std::string> recipients;
      for (const PostqueueRecipient& r : e.recipients) {
        recipients.insert(r.address);
      }
      if (e.queue_name == "deferred" && HasSharedRecipient(recipients)) {
        ids.insert(id);
      }
    }
    return ids;
  }
};

// Two items waiting in mpa-outgoing and three in mpa-error, one of them
// for a shared recipient. The outgoing items have the same ids and
// received times on every gateway (only the gateway name orders them in
// the fleet's listing).
absl::Status WriteSpool(int gateway_index, Gateway* g) {
  for (const char* q : {"outgoing", "error", "spool", "respool", "tmp"}) {
    std::error_code ec;
    std::filesystem::create_directory(g->spool->path() + "/" + q, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("mkdir ", q, ": ", ec.message()));
    }
  }
  mpa::SpoolWriter writer(g->spool->path());
  struct Plan {
    QueueKind queue;
    uint64_t seed;
    int64_t index;
    bool shared;
  };
  const uint64_t own_seed = 100 + gateway_index;
  const Plan plans[] = {{QueueKind::kMpaOutgoing, 7, 0, false},
                        {QueueKind::kMpaOutgoing, 7, 1, false},
                        {QueueKind::kMpaError, own_seed, 2, false},
                        {QueueKind::kMpaError, own_seed, 3, false},
                        {QueueKind::kMpaError, own_seed, 4, true}};
  for (const Plan& p : plans) {
    mpa::SampleItem item = mpa::MakeSampleItem(p.seed, p.index, p.queue);
    item.envelope.sender = absl::StrCat("mpa@", g->name, ".example.org");
    item.envelope.recipients = {
        absl::StrCat("mpa", p.index, "@", g->name, ".example.net")};
    if (p.shared) {
      item.envelope.recipients.push_back(*SharedRecipients().begin());
    }
    MF_RETURN_IF_ERROR(
        writer.Write(p.queue, item.id, item.envelope, item.content));
    Expected& e = g->items[item.id];
    e.queue = QueueKindToProto(p.queue);
    e.sender = item.envelope.sender;
    e.recipients.insert(item.envelope.recipients.begin(),
                        item.envelope.recipients.end());
  }
  return absl::OkStatus();
}

int64_t QueueCount(const v1::QueueSummary& s, v1::QueueKind queue) {
  for (const v1::QueueStats& q : s.queues()) {
    if (q.queue() == queue) return q.messages();
  }
  return 0;
}

struct FleetListing {
  std::vector<v1::Message> messages;
  // The failures of every page, in order.
  std::vector<v1::GatewayFailure> failures;
  int pages = 0;
};

// The operator the test and its CLI runs act as.
constexpr char kOperator[] = "fleet-e2e";

// The state of the whole setup, shared by the suite's tests; each test
// leaves every agent running and the controller up.
struct FleetUnderTest {
  TempDir dir{"mailfleet-fleet-e2e"};
  // The fleet's CA and every party's certificate.
  FleetCertFiles certs;
  std::string gateways_file;
  std::vector<Gateway> gateways;
  int controller_port = 0;
  std::unique_ptr<ControllerProcess> controller;

  ClientIdentity OperatorClient() const {
    return ClientIdentity(ClientTls(certs.Operator(kOperator)));
  }
  // The CLI's flags before its command: the controller, over TLS with the
  // operator's certificate.
  std::vector<std::string> CliFlags() const {
    std::vector<std::string> flags = certs.Operator(kOperator).Flags();
    flags.insert(flags.begin(), {"--controller", controller->address()});
    return flags;
  }

  // The controller's certificate serves operators and is presented to the
  // agents, which know it by its name.
  void StartController() {
    controller.reset();
    std::vector<std::string> args = {"--heartbeat", "1s", "--stale-after",
                                     "3s"};
    const std::vector<std::string> tls_flags = certs.Controller().Flags();
    args.insert(args.end(), tls_flags.begin(), tls_flags.end());
    controller = std::make_unique<ControllerProcess>(
        gateways_file, controller_port, std::move(args), OperatorClient());
  }
  ~FleetUnderTest() {
    controller.reset();
    // Agents before their Postfix and spool.
    for (Gateway& g : gateways) g.agent.reset();
  }
};

class FleetEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const absl::Time start = absl::Now();
    fleet_ = new FleetUnderTest;
    ASSERT_FALSE(fleet_->dir.path().empty());
    struct Spec {
      const char* name;
      const char* site;
      int messages;
    };
    const Spec specs[] = {
        {"gw1", "ams", 30}, {"gw2", "fra", 36}, {"gw3", "ams", 42}};
    // The instances fill at once: most of the time is Postfix starting
    // and its first delivery attempts failing.
    std::vector<std::future<absl::StatusOr<std::unique_ptr<PostfixInstance>>>>
        filling;
    for (int i = 0; i < 3; ++i) {
      filling.push_back(std::async(
          std::launch::async, FilledPostfix,
          GatewayMessages(specs[i].name, specs[i].messages, 40 + i)));
    }
    // While Postfix starts: the fleet's certificates, as an administrator
    // would make them.
    fleet_->certs.dir = fleet_->dir.path() + "/pki";
    RealProcessRunner runner;
    absl::StatusOr<ProcessResult> made =
        runner.Run({MAILFLEET_MAKE_FLEET_CERTS, fleet_->certs.dir, "--agent",
                    specs[0].name, "--agent", specs[1].name, "--agent",
                    specs[2].name, "--operator", kOperator},
                   {});
    ASSERT_TRUE(made.ok()) << made.status();
    ASSERT_EQ(made->exit_code, 0) << made->stdout_text << made->stderr_text;
    fleet_->gateways.resize(3);
    for (int i = 0; i < 3; ++i) {
      auto postfix = filling[i].get();
      ASSERT_TRUE(postfix.ok()) << specs[i].name << ": " << postfix.status();
      Gateway& g = fleet_->gateways[i];
      g.name = specs[i].name;
      g.site = specs[i].site;
      g.postfix = *std::move(postfix);
    }
    std::string file;
    for (int i = 0; i < 3; ++i) {
      Gateway& g = fleet_->gateways[i];
      g.spool = std::make_unique<TempDir>("mailfleet-fleet-spool");
      ASSERT_FALSE(g.spool->path().empty());
      const absl::Status spool = WriteSpool(i, &g);
      ASSERT_TRUE(spool.ok()) << spool;
      auto port = PickFreeLoopbackPort();
      ASSERT_TRUE(port.ok()) << port.status();
      g.agent_port = *port;
      g.tls = fleet_->certs.Agent(g.name);
      g.client = fleet_->OperatorClient();
      g.StartAgent();
      absl::StrAppend(&file, "gateway { name: \"", g.name, "\" address: \"",
                      g.address(), "\" labels { key: \"site\" value: \"",
                      g.site, "\" } }\n");
    }
    for (Gateway& g : fleet_->gateways) {
      ASSERT_TRUE(g.agent->WaitUntilServing()) << g.name;
    }
    fleet_->gateways_file = fleet_->dir.path() + "/gateways.txt";
    std::ofstream(fleet_->gateways_file) << file;
    auto port = PickFreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status();
    fleet_->controller_port = *port;
    fleet_->StartController();
    ASSERT_TRUE(fleet_->controller->WaitUntilServing());
    std::cout << "fleet set up in " << absl::FormatDuration(absl::Now() - start)
              << "\n";
  }
  static void TearDownTestSuite() {
    delete fleet_;
    fleet_ = nullptr;
  }

  // Every test starts with the whole fleet connected and current, even
  // after a test that failed with an agent or the controller down.
  void SetUp() override {
    ASSERT_NE(fleet_, nullptr);
    ASSERT_NE(fleet_->controller, nullptr) << "the suite's setup failed";
    for (Gateway& g : fleet_->gateways) {
      ASSERT_NE(g.agent, nullptr) << "the suite's setup failed";
      if (!g.agent->running()) {
        g.StartAgent();
        ASSERT_TRUE(g.agent->WaitUntilServing()) << g.name;
      }
    }
    if (!fleet_->controller->running()) {
      fleet_->StartController();
      ASSERT_TRUE(fleet_->controller->WaitUntilServing());
    }
    AwaitFleetCurrent();
  }

  std::vector<Gateway>& gateways() { return fleet_->gateways; }
  v1::ControllerService::Stub& controller() {
    return fleet_->controller->stub();
  }

  absl::StatusOr<v1::ListGatewaysResponse> ListGateways() {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::ListGatewaysResponse resp;
    MF_RETURN_IF_ERROR(FromGrpc(controller().ListGateways(&ctx, {}, &resp)));
    return resp;
  }

  // The gateway named `name` in the controller's list; a default one if it
  // is missing.
  static v1::Gateway Named(const v1::ListGatewaysResponse& list,
                           const std::string& name) {
    for (const v1::Gateway& g : list.gateways()) {
      if (g.name() == name) return g;
    }
    return {};
  }

  // Whether the controller shows every gateway connected, synced, and
  // counting exactly what it holds (postqueue -j and spool), queue by
  // queue.
  bool FleetCurrent(std::string* why) {
    auto list = ListGateways();
    if (!list.ok()) {
      *why = list.status().ToString();
      return false;
    }
    for (const Gateway& g : gateways()) {
      const v1::Gateway got = Named(*list, g.name);
      auto holds = g.Holds();
      if (!holds.ok()) {
        *why = holds.status().ToString();
        return false;
      }
      std::map<v1::QueueKind, int64_t> per_queue;
      for (const auto& [id, e] : *holds) ++per_queue[e.queue];
      std::map<v1::QueueKind, int64_t> counted;
      for (const v1::QueueStats& q : got.summary().queues()) {
        if (q.messages() != 0) counted[q.queue()] = q.messages();
      }
      if (got.state() != v1::GATEWAY_CONNECTED || !got.synced() ||
          counted != per_queue) {
        *why = absl::StrCat(
            g.name, " is ", v1::GatewayState_Name(got.state()),
            got.synced() ? ", synced" : ", not synced", ", counts ",
            QueueCount(got.summary(), v1::POSTFIX_DEFERRED), " deferred and ",
            QueueCount(got.summary(), v1::POSTFIX_HOLD), " held of ",
            per_queue[v1::POSTFIX_DEFERRED], " and ",
            per_queue[v1::POSTFIX_HOLD], "; last error: ", got.last_error());
        return false;
      }
    }
    return true;
  }
  void AwaitFleetCurrent() {
    std::string why;
    ASSERT_TRUE(PollUntil(kFleetSettles, [&] { return FleetCurrent(&why); }))
        << "the controller never showed the fleet as it is: " << why;
  }

  // Every page of the fleet's listing of `filter`.
  absl::StatusOr<FleetListing> ListFleet(const v1::Filter& filter = {}) {
    FleetListing all;
    v1::FleetListRequest req;
    *req.mutable_filter() = filter;
    req.set_page_size(kPageSize);
    do {
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      v1::FleetListResponse resp;
      MF_RETURN_IF_ERROR(FromGrpc(controller().List(&ctx, req, &resp)));
      ++all.pages;
      if (resp.messages_size() > kPageSize) {
        return absl::InternalError(absl::StrCat(
            "page ", all.pages, " holds ", resp.messages_size(), " messages"));
      }
      // The fleet holds about a hundred messages: seven pages and a few.
      if (all.pages > 100) {
        return absl::InternalError(absl::StrCat(
            "the listing never ends: page ", all.pages, " brought ",
            resp.messages_size(), " messages and ", resp.failures_size(),
            " failures (the first: ",
            resp.failures().empty() ? "none" : resp.failures(0).error(), ")"));
      }
      // Later pages ask only the gateways that have more to give.
      const int asked = resp.gateways_asked();
      if (all.pages == 1 ? asked != static_cast<int>(gateways().size())
                         : asked < 1) {
        return absl::InternalError(
            absl::StrCat("page ", all.pages, " asked ", asked, " gateways"));
      }
      all.messages.insert(all.messages.end(), resp.messages().begin(),
                          resp.messages().end());
      all.failures.insert(all.failures.end(), resp.failures().begin(),
                          resp.failures().end());
      req.set_page_token(resp.next_page_token());
    } while (!req.page_token().empty());
    return all;
  }

  // Every result of a fleet action on all gateways, in the order they came.
  absl::StatusOr<std::vector<v1::GatewayActResult>> ActOnFleet(
      const v1::ActRequest& request) {
    v1::FleetActRequest req;
    req.mutable_selector()->set_all(true);
    *req.mutable_request() = request;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    std::unique_ptr<grpc::ClientReader<v1::GatewayActResult>> stream =
        controller().Act(&ctx, req);
    std::vector<v1::GatewayActResult> results;
    v1::GatewayActResult result;
    while (stream->Read(&result)) results.push_back(result);
    MF_RETURN_IF_ERROR(FromGrpc(stream->Finish()));
    return results;
  }

  absl::StatusOr<v1::FleetSummaryResponse> FleetSummary(
      const v1::Filter* filter = nullptr) {
    v1::FleetSummaryRequest req;
    if (filter != nullptr) *req.mutable_filter() = *filter;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::FleetSummaryResponse resp;
    MF_RETURN_IF_ERROR(FromGrpc(controller().Summary(&ctx, req, &resp)));
    return resp;
  }

  static v1::Filter SharedRecipientFilter() {
    v1::Filter f;
    f.set_pattern(kSharedRecipientRegex);
    f.set_regex(true);
    f.add_fields(v1::MATCH_FIELD_RECIPIENT);
    return f;
  }
  static v1::ActRequest HoldShared(bool dry_run) {
    v1::ActRequest req;
    req.set_action(v1::ACTION_HOLD);
    *req.mutable_selector()->mutable_filter() = SharedRecipientFilter();
    req.set_dry_run(dry_run);
    return req;
  }

  // The listing of every gateway in `expected` (what each holds), checked
  // against `listing`: the same ids, each as its gateway holds it, in the
  // fleet's order (arrival, gateway, queue id), and nothing of any other
  // gateway.
  void ExpectListingIs(
      const FleetListing& listing,
      const std::map<std::string, std::map<std::string, Expected>>& expected) {
    std::map<std::string, std::map<std::string, Expected>> listed;
    for (const v1::Message& m : listing.messages) {
      EXPECT_TRUE(
          listed[m.gateway()].emplace(m.queue_id(), FromMessage(m)).second)
          << m.queue_id() << " listed twice for " << m.gateway();
    }
    // Each difference on its own line: a whole map of a hundred messages
    // would hide it.
    for (const auto& [name, holds] : listed) {
      EXPECT_EQ(expected.count(name), 1u)
          << "listed for " << name << ": " << holds.size();
    }
    size_t total = 0;
    for (const auto& [name, holds] : expected) {
      total += holds.size();
      const std::map<std::string, Expected>& got = listed[name];
      for (const auto& [id, e] : holds) {
        auto it = got.find(id);
        if (it == got.end()) {
          ADD_FAILURE() << name << ": " << id << " (" << e << ") not listed";
        } else {
          EXPECT_EQ(it->second, e) << name << ": " << id;
        }
      }
      for (const auto& [id, e] : got) {
        EXPECT_EQ(holds.count(id), 1u)
            << name << ": " << id << " (" << e << ") listed";
      }
    }
    EXPECT_EQ(listing.messages.size(), total);
    EXPECT_GE(listing.pages,
              static_cast<int>((total + kPageSize - 1) / kPageSize));

    auto key = [](const v1::Message& m) {
      return std::make_tuple(m.arrival_time().seconds(),
                             m.arrival_time().nanos(), m.gateway(),
                             m.queue_id());
    };
    for (size_t i = 1; i < listing.messages.size(); ++i) {
      EXPECT_LT(key(listing.messages[i - 1]), key(listing.messages[i]))
          << "out of order at " << i << ": "
          << listing.messages[i - 1].gateway() << "/"
          << listing.messages[i - 1].queue_id() << " before "
          << listing.messages[i].gateway() << "/"
          << listing.messages[i].queue_id();
    }
  }

  static FleetUnderTest* fleet_;
};
FleetUnderTest* FleetEndToEndTest::fleet_ = nullptr;

TEST_F(FleetEndToEndTest,
       ListGatewaysShowsEachGatewayConnectedWithWhatItHolds) {
  auto list = ListGateways();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->gateways_size(), 3);
  for (int i = 0; i < 3; ++i) {
    const Gateway& g = gateways()[i];
    const v1::Gateway& got = list->gateways(i);  // in the file's order
    EXPECT_EQ(got.name(), g.name);
    EXPECT_EQ(got.address(), g.address());
    auto site = got.labels().find("site");
    EXPECT_TRUE(site != got.labels().end() && site->second == g.site) << g.name;
    EXPECT_EQ(got.state(), v1::GATEWAY_CONNECTED);
    EXPECT_TRUE(got.synced());
    EXPECT_FALSE(got.agent().instance_id().empty());
    EXPECT_EQ(got.agent().queue_directory(), g.postfix->queue_dir());
    EXPECT_TRUE(got.has_last_heard());

    auto postqueue = g.Postqueue();
    ASSERT_TRUE(postqueue.ok()) << postqueue.status();
    const v1::QueueSummary& s = got.summary();
    EXPECT_EQ(s.total_messages(),
              static_cast<int64_t>(postqueue->size() + g.items.size()))
        << g.name;
    EXPECT_EQ(QueueCount(s, v1::POSTFIX_DEFERRED),
              static_cast<int64_t>(postqueue->size()));
    EXPECT_EQ(QueueCount(s, v1::MPA_OUTGOING), 2);
    EXPECT_EQ(QueueCount(s, v1::MPA_ERROR), 3);
    EXPECT_EQ(s.mpa_throttle().error_items(), 3);
  }
}

TEST_F(FleetEndToEndTest, SummaryAddsUpTheGatewaysAndAsksThemWithAFilter) {
  auto summary = FleetSummary();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->failures_size(), 0);
  ASSERT_EQ(summary->gateways_size(), 3);
  int64_t total = 0, bytes = 0;
  for (int i = 0; i < 3; ++i) {
    auto holds = gateways()[i].Holds();
    ASSERT_TRUE(holds.ok()) << holds.status();
    total += holds->size();
    EXPECT_EQ(summary->gateways(i).name(), gateways()[i].name);
    EXPECT_EQ(summary->gateways(i).summary().total_messages(),
              static_cast<int64_t>(holds->size()));
    bytes += summary->gateways(i).summary().total_bytes();
  }
  EXPECT_EQ(summary->total().total_messages(), total);
  EXPECT_EQ(summary->total().total_bytes(), bytes);
  EXPECT_EQ(summary->total().mpa_throttle().error_items(), 9);

  // Filtered, each agent counts its own: the shared recipients' Postfix
  // messages and the one spool item for them.
  const v1::Filter filter = SharedRecipientFilter();
  auto filtered = FleetSummary(&filter);
  ASSERT_TRUE(filtered.ok()) << filtered.status();
  EXPECT_EQ(filtered->failures_size(), 0);
  ASSERT_EQ(filtered->gateways_size(), 3);
  int64_t matching = 0;
  for (int i = 0; i < 3; ++i) {
    auto shared = gateways()[i].HoldableShared();
    ASSERT_TRUE(shared.ok()) << shared.status();
    ASSERT_FALSE(shared->empty());
    EXPECT_EQ(filtered->gateways(i).summary().total_messages(),
              static_cast<int64_t>(shared->size()) + 1)
        << gateways()[i].name;
    matching += shared->size() + 1;
  }
  EXPECT_EQ(filtered->total().total_messages(), matching);
}

TEST_F(FleetEndToEndTest,
       ListIsTheUnionOfEveryGatewaysQueueInFleetOrderAcrossPages) {
  std::map<std::string, std::map<std::string, Expected>> expected;
  for (const Gateway& g : gateways()) {
    auto holds = g.Holds();
    ASSERT_TRUE(holds.ok()) << holds.status();
    expected[g.name] = *holds;
  }
  auto listing = ListFleet();
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_TRUE(listing->failures.empty()) << listing->failures[0].error();
  ExpectListingIs(*listing, expected);

  // The spool items with one id on every gateway come out by gateway name.
  std::vector<std::string> same_id;
  for (const v1::Message& m : listing->messages) {
    if (m.queue_id() == "mpa-7-0") same_id.push_back(m.gateway());
  }
  EXPECT_EQ(same_id, (std::vector<std::string>{"gw1", "gw2", "gw3"}));
}

TEST_F(FleetEndToEndTest,
       HoldByRegexHoldsExactlyTheMatchingMessagesOnEveryGateway) {
  std::map<std::string, std::map<std::string, PostqueueEntry>> before;
  std::map<std::string, std::set<std::string>> shared;
  for (const Gateway& g : gateways()) {
    auto q = g.Postqueue();
    ASSERT_TRUE(q.ok()) << q.status();
    before[g.name] = *q;
    auto s = g.HoldableShared();
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_FALSE(s->empty()) << g.name;
    shared[g.name] = *s;
  }

  auto results = ActOnFleet(HoldShared(/*dry_run=*/false));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 3u);
  std::set<std::string> answered;
  for (const v1::GatewayActResult& r : *results) {
    answered.insert(r.gateway());
    ASSERT_FALSE(r.has_failure()) << r.gateway() << ": " << r.failure().error();
    const std::set<std::string>& want = shared[r.gateway()];
    EXPECT_FALSE(r.response().dry_run());
    EXPECT_EQ(r.response().matched(), static_cast<int64_t>(want.size()))
        << r.gateway();
    EXPECT_EQ(r.response().succeeded(), static_cast<int64_t>(want.size()))
        << r.gateway();
    EXPECT_EQ(r.response().failed(), 0) << r.gateway();
    EXPECT_EQ(std::set<std::string>(r.response().queue_ids().begin(),
                                    r.response().queue_ids().end()),
              want)
        << r.gateway();
  }
  EXPECT_EQ(answered, (std::set<std::string>{"gw1", "gw2", "gw3"}));

  // Postfix's own account: the matching messages in hold, nothing else
  // moved, nothing gone.
  for (const Gateway& g : gateways()) {
    auto after = g.Postqueue();
    ASSERT_TRUE(after.ok()) << after.status();
    ASSERT_EQ(after->size(), before[g.name].size()) << g.name;
    for (const auto& [id, e] : before[g.name]) {
      ASSERT_EQ(after->count(id), 1u) << g.name << " lost " << id;
      EXPECT_EQ(after->at(id).queue_name,
                shared[g.name].count(id) ? "hold" : e.queue_name)
          << g.name << " " << id;
    }
  }
  // The controller's summaries follow.
  std::string why;
  EXPECT_TRUE(PollUntil(kFleetSettles, [&] {
    auto list = ListGateways();
    if (!list.ok()) return false;
    for (const Gateway& g : gateways()) {
      const int64_t held =
          QueueCount(Named(*list, g.name).summary(), v1::POSTFIX_HOLD);
      why =
          absl::StrCat(g.name, " holds ", held, " of ", shared[g.name].size());
      if (held != static_cast<int64_t>(shared[g.name].size())) return false;
    }
    return true;
  })) << why;

  // The operator's way back: the CLI through the controller.
  std::vector<std::string> release = fleet_->CliFlags();
  release.insert(release.end(),
                 {"release", "--all-gateways", "--match", kSharedRecipientRegex,
                  "--regex", "--field", "recipient", "--yes"});
  CliResult cli = Cli(release);
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  const std::map<std::string, std::map<std::string, std::string>> rows =
      TableRows(cli.out);
  for (const Gateway& g : gateways()) {
    const std::string n = absl::StrCat(shared[g.name].size());
    const std::map<std::string, std::string> want = {
        {"GATEWAY", g.name}, {"MATCHED", n}, {"DONE", n}, {"FAILED", "0"}};
    auto row = rows.find(g.name);
    ASSERT_TRUE(row != rows.end()) << "no row for " << g.name << " in:\n"
                                   << cli.out;
    for (const auto& [column, value] : want) {
      auto cell = row->second.find(column);
      EXPECT_TRUE(cell != row->second.end() && cell->second == value)
          << g.name << " " << column << " is not " << value << " in:\n"
          << cli.out;
    }
  }
  EXPECT_THAT(cli.out, HasSubstr("release: 3 gateways, 0 failed"));
  for (const Gateway& g : gateways()) {
    auto after = g.Postqueue();
    ASSERT_TRUE(after.ok()) << after.status();
    for (const auto& [id, e] : before[g.name]) {
      ASSERT_EQ(after->count(id), 1u) << g.name << " lost " << id;
      EXPECT_EQ(after->at(id).queue_name, e.queue_name) << g.name << " " << id;
    }
  }
  EXPECT_TRUE(PollUntil(kFleetSettles, [&] { return FleetCurrent(&why); }))
      << "after the release: " << why;
}

TEST_F(FleetEndToEndTest,
       AKilledAgentIsAnErrorRowWhileTheOthersCarryOnAndItComesBack) {
  Gateway& victim = gateways()[1];
  auto list = ListGateways();
  ASSERT_TRUE(list.ok()) << list.status();
  const std::string old_instance =
      Named(*list, victim.name).agent().instance_id();
  ASSERT_FALSE(old_instance.empty());

  victim.agent->Kill();
  const absl::Time killed = absl::Now();
  v1::Gateway seen;
  ASSERT_TRUE(PollUntil(kFleetSettles,
                        [&] {
                          auto list = ListGateways();
                          if (!list.ok()) return false;
                          seen = Named(*list, victim.name);
                          return seen.state() == v1::GATEWAY_UNREACHABLE &&
                                 !seen.last_error().empty();
                        }))
      << "still " << v1::GatewayState_Name(seen.state());
  std::cout << victim.name << " unreachable after "
            << absl::FormatDuration(absl::Now() - killed) << ": "
            << seen.last_error() << "\n";
  EXPECT_THAT(seen.last_error(), HasSubstr(victim.address()));

  // An action: an error row for the victim, the others answer in full.
  std::map<std::string, std::map<std::string, PostqueueEntry>> queues;
  for (const Gateway& g : gateways()) {
    auto q = g.Postqueue();
    ASSERT_TRUE(q.ok()) << q.status();
    queues[g.name] = *q;
  }
  auto results = ActOnFleet(HoldShared(/*dry_run=*/true));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 3u);
  for (const v1::GatewayActResult& r : *results) {
    if (r.gateway() == victim.name) {
      ASSERT_TRUE(r.has_failure());
      EXPECT_FALSE(r.has_response());
      EXPECT_EQ(r.failure().gateway(), victim.name);
      EXPECT_NE(r.failure().code(), 0);
      EXPECT_THAT(r.failure().error(), HasSubstr(victim.address()));
      continue;
    }
    ASSERT_FALSE(r.has_failure()) << r.gateway() << ": " << r.failure().error();
    const auto* g = &gateways()[r.gateway() == "gw1" ? 0 : 2];
    auto shared = g->HoldableShared();
    ASSERT_TRUE(shared.ok()) << shared.status();
    EXPECT_TRUE(r.response().dry_run());
    EXPECT_EQ(r.response().matched(), static_cast<int64_t>(shared->size()))
        << r.gateway();
  }
  for (const Gateway& g : gateways()) {
    auto q = g.Postqueue();
    ASSERT_TRUE(q.ok()) << q.status();
    ASSERT_EQ(q->size(), queues[g.name].size()) << g.name;
    for (const auto& [id, e] : *q) {
      EXPECT_EQ(e.queue_name, queues[g.name][id].queue_name)
          << "a dry run moved " << id;
    }
  }

  // A listing: the victim among the failures, the others' messages whole.
  std::map<std::string, std::map<std::string, Expected>> expected;
  for (const Gateway& g : gateways()) {
    if (&g == &victim) continue;
    auto holds = g.Holds();
    ASSERT_TRUE(holds.ok()) << holds.status();
    expected[g.name] = *holds;
  }
  auto listing = ListFleet();
  EXPECT_TRUE(listing.ok()) << listing.status();
  if (listing.ok()) {
    EXPECT_FALSE(listing->failures.empty());
    for (const v1::GatewayFailure& f : listing->failures) {
      EXPECT_EQ(f.gateway(), victim.name);
      EXPECT_EQ(f.address(), victim.address());
      EXPECT_NE(f.code(), 0);
    }
    ExpectListingIs(*listing, expected);
  }

  // The summary leaves out what it no longer knows to be current.
  auto summary = FleetSummary();
  ASSERT_TRUE(summary.ok()) << summary.status();
  int64_t others = 0;
  for (const auto& [name, holds] : expected) others += holds.size();
  EXPECT_EQ(summary->total().total_messages(), others);
  ASSERT_EQ(summary->failures_size(), 1);
  EXPECT_EQ(summary->failures(0).gateway(), victim.name);

  // Back on the same port: a new instance of the agent, connected again.
  victim.StartAgent();
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(victim.agent->WaitUntilServing());
  ASSERT_TRUE(PollUntil(kFleetSettles,
                        [&] {
                          auto list = ListGateways();
                          if (!list.ok()) return false;
                          seen = Named(*list, victim.name);
                          return seen.state() == v1::GATEWAY_CONNECTED &&
                                 seen.synced();
                        }))
      << "still " << v1::GatewayState_Name(seen.state()) << ": "
      << seen.last_error();
  std::cout << victim.name << " connected again after "
            << absl::FormatDuration(absl::Now() - restarted) << "\n";
  EXPECT_NE(seen.agent().instance_id(), old_instance);
  EXPECT_FALSE(seen.agent().instance_id().empty());
  EXPECT_GE(seen.reconnects(), 1);
}

TEST_F(FleetEndToEndTest, ARestartedControllerShowsTheSameFleet) {
  auto before = ListGateways();
  ASSERT_TRUE(before.ok()) << before.status();

  const absl::Time stopping = absl::Now();
  fleet_->controller->Stop();
  std::cout << "controller stopped in "
            << absl::FormatDuration(absl::Now() - stopping) << "\n";
  fleet_->StartController();
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(fleet_->controller->WaitUntilServing());
  AwaitFleetCurrent();
  std::cout << "controller current again after "
            << absl::FormatDuration(absl::Now() - restarted) << "\n";

  auto after = ListGateways();
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->gateways_size(), before->gateways_size());
  for (int i = 0; i < after->gateways_size(); ++i) {
    const v1::Gateway& a = after->gateways(i);
    const v1::Gateway& b = before->gateways(i);
    EXPECT_EQ(a.name(), b.name());
    EXPECT_EQ(a.state(), v1::GATEWAY_CONNECTED) << a.name();
    EXPECT_EQ(a.agent().instance_id(), b.agent().instance_id()) << a.name();
    EXPECT_EQ(a.reconnects(), 0) << a.name();
    EXPECT_EQ(a.summary().total_messages(), b.summary().total_messages())
        << a.name();
    EXPECT_EQ(a.summary().total_bytes(), b.summary().total_bytes()) << a.name();
    EXPECT_EQ(a.summary().oldest_queue_id(), b.summary().oldest_queue_id())
        << a.name();
    for (v1::QueueKind q : {v1::POSTFIX_DEFERRED, v1::POSTFIX_HOLD,
                            v1::MPA_OUTGOING, v1::MPA_ERROR}) {
      EXPECT_EQ(QueueCount(a.summary(), q), QueueCount(b.summary(), q))
          << a.name() << " " << ProtoQueueKindName(q);
    }
  }
}

// The fleet's listeners speak only TLS: the answers of the tests above came
// over it, and a plaintext client gets no further than the handshake.
TEST_F(FleetEndToEndTest, NoListenerOfTheFleetAnswersInPlaintext) {
  const ClientIdentity plaintext;
  for (const Gateway& g : gateways()) {
    auto stub = v1::AgentService::NewStub(plaintext.Channel(g.address()));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::SummaryResponse resp;
    EXPECT_EQ(stub->Summary(&ctx, {}, &resp).error_code(),
              grpc::StatusCode::UNAVAILABLE)
        << g.name;
  }
  auto stub = v1::ControllerService::NewStub(
      plaintext.Channel(fleet_->controller->address()));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::ListGatewaysResponse resp;
  EXPECT_EQ(stub->ListGateways(&ctx, {}, &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// The fleet runs without --tokens: the test's calls get in as the local
// operator, and a call that brings a token is refused rather than have its
// token ignored.
TEST_F(FleetEndToEndTest, AServerWithoutTokensRefusesACallWithOne) {
  ClientIdentity with_token = fleet_->OperatorClient();
  with_token.token = "a-token-nobody-issued";
  for (const Gateway& g : gateways()) {
    auto stub = v1::AgentService::NewStub(with_token.Channel(g.address()));
    grpc::ClientContext ctx;
    with_token.Prepare(&ctx);
    SetDeadline(&ctx);
    v1::SummaryResponse resp;
    const grpc::Status s = stub->Summary(&ctx, {}, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << g.name;
    EXPECT_THAT(s.error_message(), HasSubstr("no --tokens")) << g.name;
  }
  auto stub = v1::ControllerService::NewStub(
      with_token.Channel(fleet_->controller->address()));
  grpc::ClientContext ctx;
  with_token.Prepare(&ctx);
  SetDeadline(&ctx);
  v1::ListGatewaysResponse resp;
  const grpc::Status s = stub->ListGateways(&ctx, {}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("no --tokens"));
}

}  // namespace
// Without --tls-ca the controller calls its agents in plaintext: a gateway
// off loopback needs --insecure, and the controller refuses to start
// without it (before calling anything: no packet leaves loopback).
TEST(FleetPlaintextTest, AGatewayOffLoopbackNeedsInsecure) {
  TempDir dir{"mailfleet-fleet-plaintext"};
  const std::string file = dir.path() + "/gateways.txt";
  std::ofstream(file) << "gateway { name: \"gw-far\" address: \"192.0.2.7:7070\" }\n";
  RealProcessRunner runner;
  absl::StatusOr<ProcessResult> run = runner.Run(
      {MAILFLEET_CONTROLLER_BIN, "--listen", "127.0.0.1:0", "--gateways", file}, {});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 1);
  EXPECT_THAT(run->stdout_text + run->stderr_text,
              HasSubstr("gateway gw-far: 192.0.2.7:7070 is not a loopback address"));
}

}  // namespace mailfleet::testing
