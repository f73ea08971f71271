// Metrics end to end: a private Postfix with deferred and held mail, its
// `mailfleet-agent` and a `mailfleet-controller` over it, each serving
// /metrics, and Debian's real Prometheus server scraping both every second.
// What Prometheus stored is compared with `postqueue -j`, before and after
// a hold through the CLI and the controller; and both binaries are checked
// to refuse a metrics address they cannot serve.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/substitute.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
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
using ::testing::IsEmpty;

constexpr char kPrometheusBin[] = "/usr/bin/prometheus";
constexpr char kGateway[] = "gw1";
constexpr int kMessages = 20;
// Held with postsuper before the agent starts, and then through the CLI.
constexpr int kHeldAtStart = 3;
constexpr int kHeldByCli = 4;
// The queues compared: both non-empty throughout.
const char* const kQueues[] = {"deferred", "hold"};

// The controller hears of a change within a heartbeat (1 s here).
constexpr absl::Duration kControllerSettles = absl::Seconds(15);
// Prometheus scrapes first about five seconds after it starts, then every
// second.
constexpr absl::Duration kScrapeDeadline = absl::Seconds(60);

// `count` distinct free ports: PickFreeLoopbackPort binds nothing, so two
// calls in a row may return the same one.
absl::StatusOr<std::vector<int>> FreePorts(int count) {
  std::set<int> ports;
  while (static_cast<int>(ports.size()) < count) {
    MF_ASSIGN_OR_RETURN(int port, PickFreeLoopbackPort());
    ports.insert(port);
  }
  return std::vector<int>(ports.begin(), ports.end());
}

// Messages per queue name, as `postqueue -j` lists them.
using QueueCounts = std::map<std::string, int64_t>;

int64_t CountOf(const QueueCounts& counts, const std::string& queue) {
  auto it = counts.find(queue);
  return it == counts.end() ? 0 : it->second;
}

absl::StatusOr<std::map<std::string, PostqueueEntry>> Postqueue(
    const PostfixInstance& postfix) {
  MF_ASSIGN_OR_RETURN(std::string json, postfix.PostqueueJson());
  return ParsePostqueueJson(json);
}

absl::StatusOr<QueueCounts> PostqueueCounts(const PostfixInstance& postfix) {
  MF_ASSIGN_OR_RETURN(auto entries, Postqueue(postfix));
  QueueCounts counts;
  for (const auto& [id, e] : entries) ++counts[e.queue_name];
  return counts;
}

// The first `n` deferred messages by id.
absl::StatusOr<std::vector<std::string>> DeferredIds(
    const PostfixInstance& postfix, int n) {
  MF_ASSIGN_OR_RETURN(auto entries, Postqueue(postfix));
  std::vector<std::string> ids;
  for (const auto& [id, e] : entries) {
    if (e.queue_name == "deferred" && static_cast<int>(ids.size()) < n) {
      ids.push_back(id);
    }
  }
  if (static_cast<int>(ids.size()) < n) {
    return absl::FailedPreconditionError(
        absl::StrCat("only ", ids.size(), " deferred messages"));
  }
  return ids;
}

// Returns once the controller has the gateway connected and reports for it
// the queues `postqueue -j` lists: the agent it heard them from has them
// too, and neither changes after, so every later scrape must show them.
absl::Status WaitForController(ControllerProcess& controller,
                               const QueueCounts& want) {
  std::string seen = "no answer";
  const bool settled = PollUntil(kControllerSettles, [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::ListGatewaysResponse list;
    grpc::Status s = controller.stub().ListGateways(&ctx, {}, &list);
    if (!s.ok() || list.gateways_size() != 1) {
      seen = absl::StrCat("ListGateways: ", s.error_message(), ", ",
                          list.gateways_size(), " gateways");
      return false;
    }
    const v1::Gateway& g = list.gateways(0);
    QueueCounts reported;
    for (const v1::QueueStats& q : g.summary().queues()) {
      reported[std::string(ProtoQueueKindName(q.queue()))] = q.messages();
    }
    seen = absl::StrCat(v1::GatewayState_Name(g.state()),
                        g.synced() ? ", synced" : ", not synced");
    bool same = g.state() == v1::GATEWAY_CONNECTED && g.synced();
    for (const char* queue : kQueues) {
      absl::StrAppend(&seen, ", ", queue, " ", CountOf(reported, queue), " of ",
                      CountOf(want, queue));
      same = same && CountOf(reported, queue) == CountOf(want, queue);
    }
    return same;
  });
  if (settled) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("the controller never showed postqueue's queues: ", seen));
}

// One series of an instant query's answer. Its time, the query's, is left
// out: ask timestamp(...) for a sample's own.
struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::string Describe(const std::vector<Sample>& samples) {
  std::vector<std::string> parts;
  for (const Sample& s : samples) {
    parts.push_back(absl::StrCat(
        "{", absl::StrJoin(s.labels, ",", absl::PairFormatter("=")), "} ",
        s.value));
  }
  return parts.empty() ? "no series" : absl::StrJoin(parts, "; ");
}

// libcurl's write callback: the body into a std::string.
size_t AppendToString(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// A Prometheus server started with `config_file`, its database and log
// under `dir`, serving its API on 127.0.0.1:`port`; stopped and reaped when
// it goes away. Create it on the test's main thread, like a ChildProcess:
// it is killed when that thread ends, so that no server outlives the test.
class PrometheusServer {
 public:
  PrometheusServer(const std::string& config_file, const std::string& dir,
                   int port)
      : address_(absl::StrCat("127.0.0.1:", port)),
        log_(dir + "/prometheus.log") {
    std::vector<std::string> args = {kPrometheusBin,
                                     "--config.file=" + config_file,
                                     "--storage.tsdb.path=" + dir + "/data",
                                     "--web.listen-address=" + address_};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // Its log goes to a file, shown only when the test fails.
    const int log_fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      if (log_fd >= 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    if (log_fd >= 0) close(log_fd);
  }
  // SIGTERM, then SIGKILL if it has not exited within ten seconds.
  ~PrometheusServer() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status;
    const bool exited = PollUntil(absl::Seconds(10), [&] {
      return waitpid(pid_, &status, WNOHANG) == pid_;
    });
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  const std::string& log() const { return log_; }

  // GET /api/v1/query?query=`promql`: the instant vector it answers.
  absl::StatusOr<std::vector<Sample>> Query(const std::string& promql) const {
    MF_ASSIGN_OR_RETURN(std::string body, Get(promql));
    google::protobuf::Struct answer;
    const auto parsed =
        google::protobuf::util::JsonStringToMessage(body, &answer);
    if (!parsed.ok()) {
      return absl::InternalError(
          absl::StrCat("not JSON (", parsed.ToString(), "): ", body));
    }
    const auto& fields = answer.fields();
    const auto status = fields.find("status");
    const auto data = fields.find("data");
    if (status == fields.end() || status->second.string_value() != "success" ||
        data == fields.end()) {
      return absl::InternalError(absl::StrCat(promql, ": ", body));
    }
    const auto& data_fields = data->second.struct_value().fields();
    const auto type = data_fields.find("resultType");
    const auto result = data_fields.find("result");
    if (type == data_fields.end() || type->second.string_value() != "vector" ||
        result == data_fields.end()) {
      return absl::InternalError(
          absl::StrCat(promql, ": not an instant vector: ", body));
    }
    std::vector<Sample> samples;
    for (const auto& series : result->second.list_value().values()) {
      const auto& series_fields = series.struct_value().fields();
      Sample sample;
      if (auto metric = series_fields.find("metric");
          metric != series_fields.end()) {
        for (const auto& [name, value] :
             metric->second.struct_value().fields()) {
          sample.labels[name] = value.string_value();
        }
      }
      // "value": [<unix seconds>, "<value>"]
      const auto value = series_fields.find("value");
      if (value == series_fields.end() ||
          value->second.list_value().values_size() != 2 ||
          !absl::SimpleAtod(value->second.list_value().values(1).string_value(),
                            &sample.value)) {
        return absl::InternalError(
            absl::StrCat(promql, ": a series without a value: ", body));
      }
      samples.push_back(std::move(sample));
    }
    return samples;
  }

  // The value of the query's only series.
  absl::StatusOr<double> Value(const std::string& promql) const {
    MF_ASSIGN_OR_RETURN(std::vector<Sample> samples, Query(promql));
    if (samples.size() != 1) {
      return absl::NotFoundError(absl::StrCat(promql, ": ", samples.size(),
                                              " series: ", Describe(samples)));
    }
    return samples[0].value;
  }

  // Returns once Prometheus has stored a scrape of each of the two targets
  // that started after `t`: every instant query from then on answers with
  // what they served after `t`.
  absl::Status WaitForScrapesAfter(absl::Time t) const {
    // Prometheus may move a scrape's timestamp back by up to 2 ms to align
    // it with the interval.
    const double after = absl::ToDoubleSeconds(t - absl::UnixEpoch()) + 0.01;
    std::string seen;
    const bool scraped = PollUntil(kScrapeDeadline, [&] {
      absl::StatusOr<std::vector<Sample>> stamps = Query("timestamp(up)");
      if (!stamps.ok()) {
        seen = stamps.status().ToString();
        return false;
      }
      seen = Describe(*stamps);
      return stamps->size() == 2 &&
             std::all_of(stamps->begin(), stamps->end(),
                         [&](const Sample& s) { return s.value > after; });
    });
    if (scraped) return absl::OkStatus();
    return absl::DeadlineExceededError(absl::StrCat(
        "no scrape of both targets after ", absl::FormatTime(t), " within ",
        absl::FormatDuration(kScrapeDeadline), "; timestamp(up): ", seen));
  }

 private:
  absl::StatusOr<std::string> Get(const std::string& promql) const {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
    char* escaped =
        curl_easy_escape(curl, promql.data(), static_cast<int>(promql.size()));
    const std::string url =
        absl::StrCat("http://", address_, "/api/v1/query?query=", escaped);
    curl_free(escaped);
    std::string body;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    // An http_proxy in the environment must not take loopback calls.
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendToString);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    const CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
      return absl::UnavailableError(
          absl::StrCat("GET ", url, ": ", curl_easy_strerror(rc)));
    }
    if (status != 200) {
      return absl::InternalError(
          absl::StrCat("GET ", url, ": HTTP ", status, ": ", body));
    }
    return body;
  }

  std::string address_;
  std::string log_;
  pid_t pid_ = -1;
};

class MetricsEndToEndTest : public ::testing::Test {
 protected:
  // Prometheus' log tells why it scraped nothing, or answered nothing.
  void TearDown() override {
    if (HasFailure() && !prometheus_log_.empty()) {
      std::cout << "---- " << prometheus_log_ << "\n"
                << ReadWholeFile(prometheus_log_) << "----\n";
    }
  }

  // Outlives the test's processes: the log is read after they are gone.
  TempDir dir_{"mailfleet-metrics-e2e"};
  std::string prometheus_log_;
};

void ExpectValue(const PrometheusServer& prometheus, const std::string& promql,
                 double want) {
  absl::StatusOr<double> got = prometheus.Value(promql);
  if (!got.ok()) {
    ADD_FAILURE() << got.status();
    return;
  }
  EXPECT_EQ(*got, want) << promql;
}

// Prometheus' latest samples of both targets against `postqueue -j`'s
// counts: the agent's own queues, and the controller's account of them.
void ExpectQueuesStored(const PrometheusServer& prometheus,
                        const QueueCounts& want) {
  for (const char* queue : kQueues) {
    ExpectValue(prometheus,
                absl::StrCat(R"(mailfleet_queue_messages{job="agent",queue=")",
                             queue, R"("})"),
                CountOf(want, queue));
    ExpectValue(prometheus,
                absl::StrCat(R"(mailfleet_controller_gateway_queue_messages{)",
                             R"(job="controller",gateway=")", kGateway,
                             R"(",queue=")", queue, R"("})"),
                CountOf(want, queue));
  }
  ExpectValue(prometheus,
              absl::StrCat(R"(mailfleet_controller_gateway_up{gateway=")",
                           kGateway, R"("})"),
              1);
  absl::StatusOr<std::vector<Sample>> up = prometheus.Query("up");
  ASSERT_TRUE(up.ok()) << up.status();
  std::map<std::string, double> by_job;
  for (const Sample& s : *up) by_job[s.labels.at("job")] = s.value;
  EXPECT_EQ(by_job,
            (std::map<std::string, double>{{"agent", 1}, {"controller", 1}}))
      << Describe(*up);
}

TEST_F(MetricsEndToEndTest,
       PrometheusStoresWhatPostqueueListsBeforeAndAfterAHold) {
  const absl::Time start = absl::Now();
  ASSERT_FALSE(dir_.path().empty());
  ASSERT_EQ(access(kPrometheusBin, X_OK), 0)
      << kPrometheusBin << " is missing: apt-get install prometheus";
  const std::string& dir = dir_.path();

  // Prometheus first: it runs its first scrape about five seconds after it
  // starts (its scrape manager applies targets on a 5 s tick), time in
  // which the rest starts. Its early scrapes find no target yet, or a queue
  // still filling: only scrapes after everything settled are looked at.
  auto ports = FreePorts(5);
  ASSERT_TRUE(ports.ok()) << ports.status();
  const int agent_port = (*ports)[0], controller_port = (*ports)[1];
  const std::string agent_metrics = absl::StrCat("127.0.0.1:", (*ports)[2]);
  const std::string controller_metrics =
      absl::StrCat("127.0.0.1:", (*ports)[3]);
  const int prometheus_port = (*ports)[4];
  const std::string config = dir + "/prometheus.yml";
  absl::Status s =
      WriteWholeFile(config, absl::Substitute(R"(global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: agent
    static_configs: [{targets: ['$0']}]
  - job_name: controller
    static_configs: [{targets: ['$1']}]
)",
                                         agent_metrics, controller_metrics));
  ASSERT_TRUE(s.ok()) << s;
  PrometheusServer prometheus(config, dir, prometheus_port);
  prometheus_log_ = prometheus.log();

  auto postfix = PostfixInstance::Create({});
  ASSERT_TRUE(postfix.ok()) << postfix.status();
  s = SendMessages((*postfix)->smtp_port(),
                   GenerateVariedMessages(kMessages, 17), 2);
  ASSERT_TRUE(s.ok()) << s;
  s = (*postfix)->WaitForQueueToSettle(absl::Minutes(1));
  ASSERT_TRUE(s.ok()) << s;
  // Held behind the agent's back: it finds them in its first scan.
  auto to_hold = DeferredIds(**postfix, kHeldAtStart);
  ASSERT_TRUE(to_hold.ok()) << to_hold.status();
  std::vector<std::string> postsuper = {"postsuper"};
  for (const std::string& id : *to_hold) {
    postsuper.insert(postsuper.end(), {"-h", id});
  }
  auto held = (*postfix)->RunTool(postsuper);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(held->exit_code, 0) << held->stderr_text;
  auto before = PostqueueCounts(**postfix);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(CountOf(*before, "hold"), kHeldAtStart);
  ASSERT_EQ(CountOf(*before, "deferred"), kMessages - kHeldAtStart);

  AgentProcess agent((*postfix)->config_dir(), agent_port,
                     {"--metrics-listen", agent_metrics});
  ASSERT_TRUE(agent.WaitUntilServing());
  const std::string gateways = dir + "/gateways.txt";
  s = WriteWholeFile(gateways,
                absl::StrCat("gateway { name: \"", kGateway, "\" address: \"",
                             agent.address(), "\" }\n"));
  ASSERT_TRUE(s.ok()) << s;
  ControllerProcess controller(gateways, controller_port,
                               {"--heartbeat", "1s", "--stale-after", "3s",
                                "--metrics-listen", controller_metrics});
  ASSERT_TRUE(controller.WaitUntilServing());
  s = WaitForController(controller, *before);
  ASSERT_TRUE(s.ok()) << s;
  const absl::Time settled = absl::Now();
  s = prometheus.WaitForScrapesAfter(settled);
  ASSERT_TRUE(s.ok()) << s;
  std::cout << "first scrapes stored after "
            << absl::FormatDuration(absl::Now() - start) << "\n";
  {
    SCOPED_TRACE("before the hold");
    ExpectQueuesStored(prometheus, *before);
    // Nothing acted on yet: what the hold adds below is all there is.
    auto actions = prometheus.Query("mailfleet_actions_total");
    ASSERT_TRUE(actions.ok()) << actions.status();
    EXPECT_THAT(*actions, IsEmpty()) << Describe(*actions);
    auto acts =
        prometheus.Query(R"(grpc_server_handled_total{grpc_method="Act"})");
    ASSERT_TRUE(acts.ok()) << acts.status();
    EXPECT_THAT(*acts, IsEmpty()) << Describe(*acts);
  }

  // The operator's way: the CLI, through the controller, to the agent.
  to_hold = DeferredIds(**postfix, kHeldByCli);
  ASSERT_TRUE(to_hold.ok()) << to_hold.status();
  std::vector<std::string> hold = {"--controller", controller.address(), "hold",
                                   "-g", kGateway};
  hold.insert(hold.end(), to_hold->begin(), to_hold->end());
  CliResult cli = Cli(hold);
  ASSERT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  auto after = PostqueueCounts(**postfix);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(CountOf(*after, "hold"), kHeldAtStart + kHeldByCli);
  s = WaitForController(controller, *after);
  ASSERT_TRUE(s.ok()) << s;
  s = prometheus.WaitForScrapesAfter(absl::Now());
  ASSERT_TRUE(s.ok()) << s;
  {
    SCOPED_TRACE("after the hold");
    ExpectQueuesStored(prometheus, *after);
    // One call each: the CLI's to the controller, the controller's to the
    // agent; both audited, both counted.
    for (const std::string job : {"agent", "controller"}) {
      SCOPED_TRACE(job);
      const std::string service = job == "agent"
                                      ? "mailfleet.v1.AgentService"
                                      : "mailfleet.v1.ControllerService";
      for (const std::string& promql :
           {absl::StrCat(R"(mailfleet_actions_total{job=")", job,
                         R"(",verb="hold",result="ok",dry_run="false"})"),
            absl::StrCat(R"(grpc_server_handled_total{job=")", job,
                         R"(",grpc_service=")", service,
                         R"(",grpc_method="Act",grpc_code="OK"})")}) {
        ExpectValue(prometheus, promql, 1);
      }
    }
    ExpectValue(prometheus,
                R"(mailfleet_action_messages_total{job="agent",verb="hold",)"
                R"(outcome="succeeded"})",
                kHeldByCli);
  }
  std::cout << "done after " << absl::FormatDuration(absl::Now() - start)
            << "\n";
}

// A listening socket on a free loopback port, closed when it goes away.
class BusyPort {
 public:
  BusyPort() {
    auto port = PickFreeLoopbackPort();
    if (!port.ok()) return;
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(*port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 &&
        bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        listen(fd_, 1) == 0) {
      port_ = *port;
    }
  }
  ~BusyPort() {
    if (fd_ >= 0) close(fd_);
  }
  BusyPort(const BusyPort&) = delete;
  BusyPort& operator=(const BusyPort&) = delete;

  // 0 if no port could be taken.
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(MetricsFlagTest, AgentAndControllerRefuseAMetricsAddressTheyCannotServe) {
  BusyPort busy;
  ASSERT_NE(busy.port(), 0);
  // The metrics endpoint starts first: if it did not fail, the missing
  // Postfix configuration or gateways file would, with another message.
  const std::vector<std::vector<std::string>> binaries = {
      {MAILFLEET_AGENT_BIN, "--listen", "127.0.0.1:1", "--postfix-config-dir",
       "/nonexistent"},
      {MAILFLEET_CONTROLLER_BIN, "--listen", "127.0.0.1:1", "--gateways",
       "/nonexistent"}};
  // Not an IP literal, a port out of range, a port taken.
  const std::vector<std::string> addresses = {
      "localhost:9", "127.0.0.1:99999",
      absl::StrCat("127.0.0.1:", busy.port())};
  RealProcessRunner runner;
  ProcessOptions options;
  options.timeout = absl::Seconds(10);
  for (const std::vector<std::string>& binary : binaries) {
    for (const std::string& address : addresses) {
      SCOPED_TRACE(absl::StrCat(binary[0], " --metrics-listen ", address));
      std::vector<std::string> args = binary;
      args.insert(args.end(), {"--metrics-listen", address});
      auto run = runner.Run(args, options);
      ASSERT_TRUE(run.ok()) << run.status();
      EXPECT_EQ(run->exit_code, 1);
      // One line, on standard error, where the daemons log.
      EXPECT_EQ(run->stdout_text, "");
      const std::string& output = run->stderr_text;
      EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
      EXPECT_THAT(output, HasSubstr(address));
    }
  }
}

}  // namespace
}  // namespace mailfleet::testing
